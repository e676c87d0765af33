// Groups and channels: the "New group" and "New channel" dialogs, the "Chat info" panel
// (members, admins, adding people, the invite link, leaving), "Forward to", and joining by
// an invite link. Each talks to the API and hands the resulting chat back to the main screen.
import { h, clear, toast, modal, field } from '../dom.js';
import { randomId } from '../api.js';
import { t, errorText } from '../i18n.js';
import { avatar } from './main.js';

/** A searchbox "Add people" whose results are checkboxes named by display name; the
 * people ticked stay listed (first) while the query changes. */
function peoplePicker(main, exclude = new Set()) {
  const selected = new Map();   // user id -> User
  let found = [];
  let timer = null;
  const search = h('input', { type: 'search', 'aria-label': t('addPeople'), placeholder: t('addPeople'), autocomplete: 'off' });
  const list = h('ul', { class: 'picks' });
  const count = h('p', { class: 'note', 'aria-live': 'polite' });
  function render() {
    clear(list);
    const shown = [...selected.values(), ...found.filter((u) => !selected.has(u.id))];
    for (const u of shown) {
      const box = h('input', { type: 'checkbox', checked: selected.has(u.id) });
      box.addEventListener('change', () => {
        if (box.checked) selected.set(u.id, u); else selected.delete(u.id);
        count.textContent = selected.size ? t('selected', selected.size) : '';
      });
      list.append(h('li', null, h('label', { class: 'pick' }, box, avatar(u.display_name, u.id), h('span', null, u.display_name)),
        h('span', { class: 'muted' }, `@${u.username}`)));
    }
  }
  search.addEventListener('input', () => {
    clearTimeout(timer);
    const q = search.value.trim();
    if (!q) { found = []; render(); return; }
    timer = setTimeout(async () => {
      const users = await main.session.call('users.search', { query: q, limit: 20 }).catch(() => []);
      if (q !== search.value.trim()) return;
      for (const u of users) main.users.set(u.id, u);
      found = users.filter((u) => u.id !== main.me.id && !exclude.has(u.id));
      render();
    }, 200);
  });
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') e.preventDefault(); });
  return { el: h('div', { class: 'picker' }, search, count, list), selected, focus: () => search.focus() };
}

function formDialog(title, fields, submitLabel, run) {
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const form = h('form', { class: 'settings-block' }, fields, error, h('div', { class: 'row' }, submit));
  const dialog = modal(title, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      await run();
      dialog.close();
    } catch (err) {
      error.textContent = errorText(err);
      submit.disabled = false;
    }
  });
  return dialog;
}

/** "New group": chats.createGroup {title, user_ids}, then the group opens. */
export function newGroup(main) {
  const title = h('input', { maxlength: '128', required: true });
  const picker = peoplePicker(main);
  formDialog(t('newGroup'), [field(t('groupName'), title), picker.el], t('create'), async () => {
    const chat = await main.session.call('chats.createGroup', { title: title.value.trim(), user_ids: [...picker.selected.keys()] });
    main.adoptChat(chat);
  });
  title.focus();
}

/** "New channel": channels.create {title, broadcast: true, username?, about}. */
export function newChannel(main) {
  const title = h('input', { maxlength: '128', required: true });
  const username = h('input', { autocapitalize: 'none', spellcheck: 'false', placeholder: t('optional') });
  const about = h('textarea', { rows: '2', maxlength: '255' });
  formDialog(t('newChannel'), [field(t('channelName'), title), field(t('publicLink'), username), field(t('description'), about)], t('create'), async () => {
    const params = { title: title.value.trim(), broadcast: true, about: about.value.trim() };
    const name = username.value.trim().replace(/^@/, '').replace(/^.*\//, '');
    if (name) params.username = name;
    const chat = await main.session.call('channels.create', params);
    main.adoptChat(chat);
  });
  title.focus();
}

/** "Forward to": the chats one may post in, as buttons named by title. */
export function forwardTo(main, m) {
  const list = h('ul', { class: 'dialogs forward-list' });
  const dialog = modal(t('forwardTo'), list);
  for (const d of main.sortedDialogs()) {
    const c = d.chat;
    if (c.type === 'channel' && !(c.role === 'owner' || (c.admin_rights && c.admin_rights.post_messages))) continue;
    list.append(h('li', null, h('button', { type: 'button', class: 'dialog result', onclick: async () => {
      try {
        await main.session.call('messages.forward', { from_chat_id: m.chat_id, message_ids: [m.id], chat_id: c.id, random_ids: [randomId()] });
        dialog.close();
        toast(t('forwarded'));
      } catch (e) {
        toast(errorText(e));
      }
    } }, h('span', { class: 'dialog-title' }, c.title), avatar(c.title, c.id))));
  }
  const first = list.querySelector('button');
  if (first) first.focus();
}

/** Opened at /+<hash>: the chat's title and "Join" (chats.joinByInvite); then it opens. */
export async function showInvite(main, hash) {
  const done = () => { if (location.pathname !== '/') history.replaceState(null, '', '/'); };
  let preview;
  try {
    preview = await main.session.call('chats.checkInvite', { hash });
  } catch (e) {
    done();
    toast(errorText(e));
    return;
  }
  const join = h('button', { type: 'button', class: 'primary' }, t('joinChannel'));
  const dialog = modal(preview.title,
    h('div', { class: 'settings-block' },
      h('p', { class: 'muted' }, t('invitation'), ' · ', t('members', preview.member_count)),
      h('div', { class: 'row' }, join)));
  dialog.addEventListener('close', done);
  join.addEventListener('click', async () => {
    join.disabled = true;
    try {
      let chat;
      try {
        chat = await main.session.call('chats.joinByInvite', { hash });
      } catch (e) {
        if (e.type !== 'USER_ALREADY_PARTICIPANT') throw e;
        chat = await main.session.call('chats.get', { chat_id: preview.chat_id });
      }
      done();
      dialog.close();
      main.adoptChat(chat);
    } catch (e) {
      toast(errorText(e));
      join.disabled = false;
    }
  });
  join.focus();
}

const isChannel = (chat) => chat.type === 'channel' || chat.type === 'supergroup';
const GROUP_ADMIN = { change_info: true, delete_messages: true, ban_users: true, invite_users: true, pin_messages: true };
const CHANNEL_ADMIN = { change_info: true, post_messages: true, edit_messages: true, delete_messages: true, invite_users: true };
// The rights the "Admin rights" dialog offers, in its order; the second is the label's key.
const RIGHTS = [
  ['change_info', 'rightChangeInfo'], ['post_messages', 'rightPostMessages', true],
  ['edit_messages', 'rightEditMessages', true], ['delete_messages', 'rightDeleteMessages'],
  ['ban_users', 'rightBanUsers'], ['invite_users', 'rightInviteUsers'], ['pin_messages', 'rightPinMessages'],
  ['add_admins', 'rightAddAdmins'],
];

/** Whether the viewer holds an admin right in a channel or supergroup (the owner holds all). */
export function holds(chat, right) {
  return chat.role === 'owner' || !!(chat.admin_rights && chat.admin_rights[right]);
}

/** "Admin rights": a checkbox per right (only those the granter holds can be given, as the
 * server insists), then "Save" -> channels.editAdmin with all eight flags. */
function adminRightsDialog(main, chat, m, done) {
  const channel = chat.type === 'channel';
  const current = m.role === 'admin' && m.admin_rights ? m.admin_rights : (channel ? CHANNEL_ADMIN : GROUP_ADMIN);
  const boxes = new Map();
  const list = h('div', { class: 'rights' });
  for (const [right, label, channelOnly] of RIGHTS) {
    if (channelOnly && !channel) continue;
    const mine = holds(chat, right);
    const box = h('input', { type: 'checkbox', checked: mine && !!current[right], disabled: !mine });
    boxes.set(right, box);
    list.append(h('label', { class: 'pick' }, box, h('span', null, t(label))));
  }
  formDialog(t('adminRights'), [list], t('save'), async () => {
    const rights = {};
    for (const [right] of RIGHTS) rights[right] = !!(boxes.get(right) && boxes.get(right).checked);
    await main.session.call('channels.editAdmin', { channel_id: chat.id, user_id: m.user_id, rights });
    done();
  });
  const first = list.querySelector('input:not([disabled])');
  if (first) first.focus();
}

/** The "Chat info" side panel of a conversation. */
export class ChatInfo {
  constructor(conv, anchor) {
    this.conv = conv;
    this.main = conv.main;
    this.session = conv.session;
    this.anchor = anchor;
    this.chat = conv.chat;
    const head = h('h3', null, this.chat.title);
    this.count = h('p', { class: 'muted' });
    this.about = h('p', { class: 'about' });
    this.tools = h('div', { class: 'row wrap' });
    this.box = h('div', { class: 'info-box' });
    this.members = h('ul', { class: 'members', 'aria-label': t('membersList') });
    this.el = h('aside', { class: 'info-panel', 'aria-label': t('chatInfo'), tabindex: '-1' },
      h('div', { class: 'settings-head' }, head,
        h('button', { type: 'button', class: 'ghost', 'aria-label': t('close'), onclick: () => this.close() }, '✕')),
      this.count, this.about, this.tools, this.box,
      h('h4', null, t('membersList')), this.members);
    this.el.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); this.close(); } });
    conv.el.append(this.el);
    this.el.focus();
    this.refresh();
  }

  close() {
    this.el.remove();
    if (this.conv.info === this) this.conv.info = null;
    if (this.anchor.isConnected) this.anchor.focus();
  }

  get admin() { return this.chat.role === 'owner' || this.chat.role === 'admin'; }

  async refresh() {
    try {
      this.chat = await this.session.call('chats.get', { chat_id: this.chat.id });
      this.conv.setChat(this.chat);
    } catch (e) { /* keep the known one */ }
    const chat = this.chat;
    this.about.textContent = chat.about || '';
    this.renderTools();
    const list = await this.loadMembers();
    const n = chat.member_count || list.length;
    this.count.textContent = t(chat.type === 'channel' ? 'subscribers' : 'members', n);
    await Promise.all(list.map((m) => this.main.user(m.user_id)));
    clear(this.members);
    for (const m of list) this.members.append(this.memberItem(m));
  }

  async loadMembers() {
    const chat = this.chat;
    try {
      if (!isChannel(chat)) return await this.session.call('chats.getMembers', { chat_id: chat.id });
      // a channel's subscribers are for admins who may invite (the server's rule); others see its admins
      const all = chat.type !== 'channel' || holds(chat, 'invite_users');
      return await this.session.call('channels.getParticipants', { channel_id: chat.id, filter: all ? 'recent' : 'admins', limit: 200 });
    } catch (e) {
      return [];
    }
  }

  renderTools() {
    const chat = this.chat;
    clear(this.tools);
    const canAdd = this.admin || chat.type === 'supergroup';
    if (canAdd) this.tools.append(h('button', { type: 'button', onclick: () => this.showAdd() }, t('addMember')));
    if (this.admin) this.tools.append(h('button', { type: 'button', onclick: () => this.showInvite() }, t('inviteLink')));
    this.tools.append(h('button', { type: 'button', class: 'danger', onclick: () => this.leave() }, t('leave')));
  }

  memberItem(m) {
    const u = this.main.users.get(m.user_id) || { display_name: String(m.user_id) };
    const nameId = `mem-${this.chat.id}-${m.user_id}`;
    const mine = m.user_id === this.main.me.id;
    const act = (label, fn) => h('button', { type: 'button', class: 'small', onclick: (e) => this.act(e.currentTarget, fn) }, label);
    const controls = [];
    const chat = this.chat;
    const other = !mine && m.role !== 'owner';
    if (isChannel(chat)) {
      // channels and supergroups: each admin power needs its right (add_admins, ban_users)
      if (other && holds(chat, 'add_admins')) {
        const edit = () => adminRightsDialog(this.main, chat, m, () => this.refresh());
        if (m.role === 'admin') {
          controls.push(h('button', { type: 'button', class: 'small', onclick: edit }, t('editRights')));
          controls.push(act(t('removeAdmin'), () => this.session.call('channels.editAdmin', { channel_id: chat.id, user_id: m.user_id, rights: {} })));
        } else {
          controls.push(h('button', { type: 'button', class: 'small', onclick: edit }, t('makeAdmin')));
        }
      }
      if (other && holds(chat, 'ban_users')) {
        controls.push(act(t('remove'), () => this.session.call('channels.editBanned', { channel_id: chat.id, user_id: m.user_id, banned: { view_messages: true } })));
      }
    } else if (this.admin && other) {
      controls.push(act(t(m.role === 'admin' ? 'removeAdmin' : 'makeAdmin'),
        () => this.session.call('chats.editAdmin', { chat_id: chat.id, user_id: m.user_id, is_admin: m.role !== 'admin' })));
      controls.push(act(t('remove'), () => this.session.call('chats.removeMember', { chat_id: chat.id, user_id: m.user_id })));
    }
    return h('li', { 'aria-labelledby': nameId },
      avatar(u.display_name, m.user_id),
      h('span', { class: 'member-name' }, h('span', { id: nameId }, u.display_name),
        m.role !== 'member' ? h('span', { class: 'muted' }, ` · ${t(m.role)}`) : null),
      h('span', { class: 'row' }, controls));
  }

  async act(button, fn) {
    button.disabled = true;
    try {
      await fn();
      await this.refresh();
    } catch (e) {
      toast(errorText(e));
      button.disabled = false;
    }
  }

  showAdd() {
    clear(this.box);
    const picker = peoplePicker(this.main);
    const add = h('button', { type: 'button', class: 'primary', onclick: async () => {
      const ids = [...picker.selected.keys()];
      if (!ids.length) return;
      add.disabled = true;
      try {
        if (isChannel(this.chat)) await this.session.call('channels.invite', { channel_id: this.chat.id, user_ids: ids });
        else for (const id of ids) await this.session.call('chats.addMember', { chat_id: this.chat.id, user_id: id });
        clear(this.box);
        await this.refresh();
      } catch (e) {
        toast(errorText(e));
        add.disabled = false;
      }
    } }, t('add'));
    this.box.append(picker.el, h('div', { class: 'row' }, add));
    picker.focus();
  }

  async showInvite() {
    clear(this.box);
    try {
      const invite = await this.session.call('chats.exportInvite', { chat_id: this.chat.id });
      const link = h('input', { readonly: true, value: `${location.origin}/+${invite.hash}`, 'aria-label': t('inviteLink') });
      const copy = h('button', { type: 'button', onclick: async () => {
        link.select();
        try { await navigator.clipboard.writeText(link.value); } catch (e) { document.execCommand('copy'); }
        toast(t('copied'));
      } }, t('copy'));
      this.box.append(h('div', { class: 'row' }, link, copy));
      link.focus();
      link.select();
    } catch (e) {
      toast(errorText(e));
    }
  }

  async leave() {
    const chat = this.chat;
    try {
      if (isChannel(chat)) await this.session.call('channels.leave', { channel_id: chat.id });
      else await this.session.call('chats.leave', { chat_id: chat.id });
      this.main.forget(chat.id);
    } catch (e) {
      toast(errorText(e));
    }
  }
}
