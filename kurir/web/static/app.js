// The app's entry: theme, the stored session, and the switch between the auth and main screens.
import { Session, anonymousCall } from './api.js';
import { h, clear, toast } from './dom.js';
import { t, errorText } from './i18n.js';
import { mountMain } from './views/main.js';

const SESSION_KEY = 'kurir.session';
const THEME_KEY = 'kurir.theme';
const root = document.getElementById('app');
// an invite link (/+<hash>) is answered once the person is logged in
let inviteHash = location.pathname.startsWith('/+') ? decodeURIComponent(location.pathname.slice(2)) : null;

export function applyTheme(theme) {
  if (theme === 'light' || theme === 'dark') {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem(THEME_KEY, theme);
  } else {
    delete document.documentElement.dataset.theme;
    localStorage.removeItem(THEME_KEY);
  }
}

export function currentTheme() {
  return localStorage.getItem(THEME_KEY) || 'system';
}

applyTheme(currentTheme());

function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom(e|ium)\//.test(ua) ? 'Chromium' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return `kurir web, ${browser}${os ? ` on ${os}` : ''}`;
}

let field = 0;
function labelled(label, input) {
  const id = `f${++field}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

/** Sign up (shown first) or log in. */
function showAuth(mode = 'signup', notice = '') {
  document.title = t('app');
  clear(root);
  const signup = mode === 'signup';
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: signup ? 'new-password' : 'current-password' });
  const display = signup ? h('input', { name: 'display_name', autocomplete: 'name', required: true }) : null;
  const error = h('p', { class: 'error', role: 'alert' }, notice);
  const submit = h('button', { type: 'submit', class: 'primary' }, signup ? t('signUp') : t('logIn'));
  const form = h('form', { class: 'auth-form', novalidate: true },
    h('h1', null, signup ? t('signUpTitle') : t('logInTitle')),
    labelled(t('username'), username),
    signup && labelled(t('displayName'), display),
    labelled(t('password'), password),
    error,
    submit,
    h('button', { type: 'button', class: 'link', onclick: () => showAuth(signup ? 'login' : 'signup') },
      signup ? t('haveAccount') : t('createAccount')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      const params = { username: username.value.trim(), password: password.value, device: deviceName() };
      if (signup) params.display_name = display.value.trim() || params.username;
      const res = await anonymousCall(signup ? 'auth.register' : 'auth.login', params);
      localStorage.setItem(SESSION_KEY, JSON.stringify({ token: res.token, user: res.user }));
      await start();
    } catch (err) {
      error.textContent = errorText(err);
      submit.disabled = false;
    }
  });
  root.append(h('main', { class: 'auth' }, h('div', { class: 'brand', 'aria-hidden': 'true' }, '✉ kurir'), form));
  username.focus();
}

let session = null;

async function start() {
  const stored = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
  if (!stored || !stored.token) { showAuth(); return; }
  session = new Session(stored.token, stored.user);
  const mine = session;
  session.addEventListener('loggedout', () => { if (!mine.leaving) endSession(t('loggedOutElsewhere')); });
  try {
    await session.init();
    const me = await session.call('users.get', { user_id: stored.user.id });
    session.user = me;
  } catch (e) {
    if (session.closed) return;
    if (e.type !== 'NETWORK') { endSession(''); return; }
    toast(errorText(e));
  }
  const main = mountMain(root, session, { logout, applyTheme, currentTheme });
  session.connect();
  if (inviteHash) {
    main.invite(inviteHash);
    inviteHash = null;
  }
}

function endSession(notice) {
  if (session) session.close();
  session = null;
  localStorage.removeItem(SESSION_KEY);
  showAuth('login', notice);
}

async function logout() {
  session.leaving = true;
  try { await session.call('auth.logout', {}); } catch (e) { /* ended anyway */ }
  endSession('');
}

start();
