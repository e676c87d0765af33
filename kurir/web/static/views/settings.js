// Settings: profile (display name, bio), sessions with "Terminate", language and theme.
import { h, clear, toast } from '../dom.js';
import { t, errorText, LANGUAGES, getLang, setLang } from '../i18n.js';
import { whenLabel } from '../format.js';

let n = 0;
function field(label, input) {
  const id = `s${++n}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

export function openSettings(main) {
  const { session, app } = main;
  const me = session.user;
  const name = h('input', { value: me.display_name || '', maxlength: '256', autocomplete: 'name' });
  const bio = h('textarea', { rows: '2', maxlength: '256' });
  bio.value = me.bio || '';
  const note = h('p', { class: 'note', 'aria-live': 'polite' });
  const profile = h('form', { class: 'settings-block' },
    h('h3', null, t('profile')),
    field(t('displayName'), name),
    field(t('bio'), bio),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('save')), note));
  profile.addEventListener('submit', async (e) => {
    e.preventDefault();
    note.textContent = '';
    try {
      const res = await session.call('account.updateProfile', { display_name: name.value.trim() || null, bio: bio.value });
      if (res && typeof res === 'object') Object.assign(me, res);
      else Object.assign(me, { display_name: name.value.trim() || me.display_name, bio: bio.value });
      note.textContent = t('saved');
    } catch (err) {
      note.textContent = errorText(err);
    }
  });

  const sessions = h('ul', { class: 'sessions', 'aria-label': t('sessions') });
  async function loadSessions() {
    try {
      const list = await session.call('account.getSessions', {});
      clear(sessions);
      for (const s of list) {
        sessions.append(h('li', null,
          h('div', { class: 'session-info' },
            h('strong', null, s.device || t('unknownDevice')),
            h('span', { class: 'muted' }, s.current ? t('thisDevice') : t('lastActive', whenLabel(s.last_active)))),
          s.current ? null : h('button', { type: 'button', class: 'danger small', onclick: async (e) => {
            e.currentTarget.disabled = true;
            try {
              await session.call('account.terminateSession', { session_id: s.session_id });
            } catch (err) {
              toast(errorText(err));
            }
            loadSessions();
          } }, t('terminate'))));
      }
    } catch (err) {
      toast(errorText(err));
    }
  }
  loadSessions();

  const lang = h('select', null, LANGUAGES.map(([code, label]) => h('option', { value: code, selected: code === getLang() }, label)));
  const theme = h('select', null, [['system', t('themeSystem')], ['light', t('themeLight')], ['dark', t('themeDark')]]
    .map(([v, label]) => h('option', { value: v, selected: v === app.currentTheme() }, label)));
  theme.addEventListener('change', () => app.applyTheme(theme.value));

  const dialog = h('dialog', { class: 'settings', 'aria-labelledby': 'settings-title' },
    h('div', { class: 'settings-head' },
      h('h2', { id: 'settings-title' }, t('settings')),
      h('button', { type: 'button', class: 'ghost', 'aria-label': t('close'), onclick: () => dialog.close() }, '✕')),
    profile,
    h('section', { class: 'settings-block' }, h('h3', null, t('sessions')), sessions),
    h('section', { class: 'settings-block' },
      h('h3', null, `${t('language')} · ${t('theme')}`),
      field(t('language'), lang),
      field(t('theme'), theme)));
  lang.addEventListener('change', () => {
    setLang(lang.value);
    dialog.close();
    main.remount();
    openSettings(main);
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
