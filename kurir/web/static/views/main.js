// The main screen: header, search, dialog list and the open conversation; it applies the
// live updates from the session to all of them.
import { h, clear, toast } from '../dom.js';
import { t, errorText } from '../i18n.js';
import { preview, shortStamp } from '../format.js';
import { Conversation } from './chat.js';
import { openSettings } from './settings.js';
import { newGroup, newChannel, showInvite } from './groups.js';

export function avatar(title, id) {
  const letters = (title || '?').trim().split(/\s+/).slice(0, 2).map((w) => [...w][0] || '').join('').toUpperCase();
  return h('span', { class: `avatar c${Math.abs(Number(id) || 0) % 8}`, 'aria-hidden': 'true' }, letters || '?');
}

export function mountMain(root, session, app) {
  const ctx = new Main(root, session, app);
  ctx.mount();
  ctx.loadDialogs();
  return ctx;
}

class Main {
  constructor(root, session, app) {
    this.root = root;
    this.session = session;
    this.app = app;
    this.me = session.user;
    this.dialogs = new Map();   // chat id -> {chat, last_message, unread_count, order}
    this.users = new Map();     // id -> User (display names, last seen)
    this.users.set(this.me.id, this.me);
    this.userStatus = new Map(); // id -> {online, last_seen} from events
    this.myReactions = new Map(); // "chat:msg" -> emoji
    this.conversation = null;
    this.query = '';
    this.refreshTimer = null;
    session.addEventListener('update', (e) => this.onUpdate(e.detail, false));
    session.addEventListener('channelupdate', (e) => this.onUpdate(e.detail.update, true));
    session.addEventListener('channelreset', (e) => this.onChannelReset(e.detail.channelId));
    session.addEventListener('event', (e) => this.onEvent(e.detail));
    session.addEventListener('status', (e) => this.showStatus(e.detail));
    document.addEventListener('visibilitychange', () => { if (this.conversation) this.conversation.markRead(); });
  }

  // ---- layout -----------------------------------------------------------------------------

  mount() {
    clear(this.root);
    document.title = t('app');
    this.status = h('span', { class: 'conn', role: 'status', 'aria-label': t('connection') });
    this.showStatus(this.session.status);
    this.search = h('input', { type: 'search', class: 'search', 'aria-label': t('search'), placeholder: t('search'), autocomplete: 'off' });
    this.search.addEventListener('input', () => this.onSearchInput());
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { this.search.value = ''; this.onSearchInput(); }
      if (e.key === 'ArrowDown') { const b = this.sidebar.querySelector('li button'); if (b) { e.preventDefault(); b.focus(); } }
    });
    this.results = h('ul', { class: 'results', 'aria-label': t('searchResults'), hidden: true });
    this.chatList = h('ul', { class: 'dialogs', 'aria-label': t('chats') });
    this.empty = h('p', { class: 'hint' }, t('noChats'));
    for (const list of [this.results, this.chatList]) list.addEventListener('keydown', (e) => this.listKeys(e, list));
    this.sidebar = h('nav', { class: 'sidebar', 'aria-label': t('chats') },
      h('div', { class: 'search-row' }, this.search), this.results, this.chatList, this.empty);
    this.pane = h('section', { class: 'pane' }, h('p', { class: 'placeholder' }, t('selectChat')));
    const header = h('header', { class: 'topbar' },
      h('h1', { class: 'logo' }, t('app')),
      this.status,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'ghost', onclick: () => newGroup(this) }, t('newGroup')),
      h('button', { type: 'button', class: 'ghost', onclick: () => newChannel(this) }, t('newChannel')),
      h('button', { type: 'button', class: 'ghost', onclick: () => this.openSettings() }, t('settings')),
      h('button', { type: 'button', class: 'ghost', onclick: () => this.app.logout() }, t('logOut')));
    this.shell = h('div', { class: 'main', dataset: { view: 'list' } }, header, h('div', { class: 'columns' }, this.sidebar, this.pane));
    this.root.append(this.shell);
    this.renderDialogs();
  }

  /** Language switched: build everything again in the new language, keeping the state. */
  remount() {
    const open = this.conversation && this.conversation.target;
    if (this.conversation) this.conversation.destroy();
    this.conversation = null;
    this.mount();
    if (open) this.open(open);
  }

  showStatus(status) {
    if (!this.status) return;
    this.status.textContent = status === 'online' ? t('online') : status === 'connecting' ? t('connecting') : t('offline');
    this.status.dataset.state = status;
  }

  showView(view) {
    this.shell.dataset.view = view;
    if (view === 'chat' && this.conversation) this.conversation.markRead();
  }

  isChatVisible() {
    return this.shell.dataset.view === 'chat' || window.matchMedia('(min-width: 700px)').matches;
  }

  /** Up/Down move between the buttons of a list; Enter opens (they are buttons). */
  listKeys(e, list) {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
    const items = [...list.querySelectorAll(':scope > li > button')];
    if (!items.length) return;
    const i = items.indexOf(document.activeElement);
    let next;
    if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = items.length - 1;
    else next = Math.max(0, Math.min(items.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
    if (e.key === 'ArrowUp' && i === 0 && list === this.results) { e.preventDefault(); this.search.focus(); return; }
    e.preventDefault();
    items[next].focus();
  }

  async openSettings() {
    openSettings(this);
  }

  // ---- dialogs ----------------------------------------------------------------------------

  async loadDialogs() {
    try {
      const list = await this.session.call('messages.getDialogs', { limit: 100 });
      const fresh = new Map();
      list.forEach((d, i) => {
        const old = this.dialogs.get(d.chat.id);
        d.order = d.last_message ? d.last_message.date * 1e6 + d.last_message.id : (old ? old.order : (Date.now() / 1000) * 1e6 - i);
        fresh.set(d.chat.id, d);
        if (d.chat.pts !== undefined && (d.chat.type === 'channel' || d.chat.type === 'supergroup')) {
          this.session.knowChannel(d.chat.id, d.chat.pts);
        }
      });
      this.dialogs = fresh;
      this.renderDialogs();
      if (this.conversation && this.conversation.chatId && fresh.has(this.conversation.chatId)) {
        this.conversation.setChat(fresh.get(this.conversation.chatId).chat);
      }
    } catch (e) {
      toast(errorText(e));
    }
  }

  /** Several updates may want a fresh list: ask once, a moment later. */
  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.loadDialogs(), 300);
  }

  sortedDialogs() {
    return [...this.dialogs.values()].sort((a, b) => b.order - a.order);
  }

  renderDialogs() {
    if (!this.chatList) return;
    const focused = document.activeElement && document.activeElement.closest('.dialogs li');
    const focusedId = focused && focused.dataset.chat;
    clear(this.chatList);
    for (const d of this.sortedDialogs()) this.chatList.append(this.dialogItem(d));
    this.empty.hidden = this.dialogs.size > 0 || !!this.query;
    if (focusedId) {
      const again = this.chatList.querySelector(`li[data-chat="${focusedId}"] button`);
      if (again) again.focus();
    }
  }

  dialogItem(d) {
    const chat = d.chat;
    const current = this.conversation && this.conversation.chatId === chat.id;
    const last = d.last_message;
    const own = last && last.from_id === this.me.id;
    return h('li', { dataset: { chat: chat.id } },
      h('button', { type: 'button', class: `dialog${current ? ' current' : ''}`, 'aria-current': current ? 'true' : null,
        onclick: () => this.open({ chat }) },
      h('span', { class: 'dialog-title' }, chat.title),
      avatar(chat.title, chat.id),
      h('span', { class: 'dialog-time' }, last ? shortStamp(last.date) : ''),
      h('span', { class: 'dialog-preview' }, own ? `${t('you')}: ` : '', preview(last)),
      // the count is read as text ("2 unread"); the badge itself is only its picture
      d.unread_count > 0 ? [h('span', { class: 'badge', 'aria-hidden': 'true' }, String(d.unread_count)),
        h('span', { class: 'visually-hidden' }, ` ${t('unread', d.unread_count)}`)] : null));
  }

  /** A chat made or joined here: list it, follow it if it has its own pts, and open it. */
  adoptChat(chat) {
    if (chat.pts !== undefined && chat.pts !== null) this.session.knowChannel(chat.id, chat.pts);
    const old = this.dialogs.get(chat.id);
    this.dialogs.set(chat.id, old ? Object.assign(old, { chat }) : { chat, last_message: null, unread_count: 0, order: (Date.now() / 1000) * 1e6 });
    this.renderDialogs();
    this.open({ chat });
    this.refreshSoon();
  }

  /** A chat left or lost: out of the list, and closed if it was open. */
  forget(chatId) {
    this.dialogs.delete(chatId);
    this.renderDialogs();
    if (this.conversation && this.conversation.chatId === chatId) {
      this.conversation.destroy();
      this.conversation = null;
      clear(this.pane);
      this.pane.append(h('p', { class: 'placeholder' }, t('selectChat')));
      this.showView('list');
    }
  }

  invite(hash) {
    showInvite(this, hash);
  }

  /** Add a chat we learned of from an update; fetch it once. */
  async ensureDialog(chatId) {
    if (this.dialogs.has(chatId)) return this.dialogs.get(chatId);
    try {
      const chat = await this.session.call('chats.get', { chat_id: chatId });
      if (!this.dialogs.has(chatId)) {
        this.dialogs.set(chatId, { chat, last_message: null, unread_count: 0, order: (Date.now() / 1000) * 1e6 });
      }
      return this.dialogs.get(chatId);
    } catch (e) {
      return null;
    }
  }

  // ---- search -----------------------------------------------------------------------------

  onSearchInput() {
    this.query = this.search.value.trim();
    clearTimeout(this.searchTimer);
    if (!this.query) {
      this.results.hidden = true;
      clear(this.results);
      this.chatList.hidden = false;
      this.renderDialogs();
      return;
    }
    this.chatList.hidden = true;
    this.empty.hidden = true;
    this.results.hidden = false;
    this.renderResults([], [], true);
    this.searchTimer = setTimeout(() => this.runSearch(this.query), 250);
  }

  async runSearch(q) {
    const [users, channels] = await Promise.all([
      this.session.call('users.search', { query: q, limit: 20 }).catch(() => []),
      this.session.call('channels.search', { query: q, limit: 20 }).catch(() => []),
    ]);
    if (q !== this.query) return;
    for (const u of users) this.users.set(u.id, u);
    this.renderResults(users, channels, false);
  }

  renderResults(users, channels, pending) {
    clear(this.results);
    const q = this.query.toLowerCase();
    const seenChats = new Set();
    const peers = new Set();
    for (const d of this.sortedDialogs()) {
      if (!d.chat.title.toLowerCase().includes(q)) continue;
      seenChats.add(d.chat.id);
      if (d.chat.peer_id) peers.add(d.chat.peer_id);
      this.results.append(this.resultItem(d.chat.title, d.chat.id, d.chat.type, () => this.pick({ chat: d.chat })));
    }
    for (const d of this.dialogs.values()) if (d.chat.peer_id) peers.add(d.chat.peer_id);
    for (const u of users) {
      if (u.id === this.me.id) continue;
      if (peers.has(u.id)) {
        const d = [...this.dialogs.values()].find((x) => x.chat.peer_id === u.id);
        if (d && !seenChats.has(d.chat.id)) {
          seenChats.add(d.chat.id);
          this.results.append(this.resultItem(u.display_name, u.id, `@${u.username}`, () => this.pick({ chat: d.chat })));
        }
        continue;
      }
      this.results.append(this.resultItem(u.display_name, u.id, `@${u.username}`, () => this.pick({ user: u })));
    }
    for (const c of channels) {
      if (seenChats.has(c.id)) continue;
      seenChats.add(c.id);
      const known = this.dialogs.get(c.id);
      this.results.append(this.resultItem(c.title, c.id, c.username ? `@${c.username}` : t(c.type === 'channel' ? 'channel' : 'group'),
        () => this.pick({ chat: known ? known.chat : c })));
    }
    if (!this.results.children.length && !pending) this.results.append(h('li', { class: 'hint' }, t('noResults')));
  }

  resultItem(name, id, sub, onpick) {
    return h('li', null, h('button', { type: 'button', class: 'dialog result', 'aria-label': name, onclick: onpick },
      h('span', { class: 'dialog-title' }, name), avatar(name, id),
      h('span', { class: 'dialog-preview' }, sub === 'private' ? '' : sub)));
  }

  pick(target) {
    this.search.value = '';
    this.onSearchInput();
    this.open(target);
  }

  // ---- the conversation -------------------------------------------------------------------

  /** target: {chat} or {user} (a private chat that may not exist yet). */
  open(target) {
    if (target.user) {
      const d = [...this.dialogs.values()].find((x) => x.chat.peer_id === target.user.id);
      if (d) target = { chat: d.chat };
    }
    if (this.conversation) this.conversation.destroy();
    clear(this.pane);
    this.conversation = new Conversation(this, target);
    this.pane.append(this.conversation.el);
    this.showView('chat');
    this.renderDialogs();
    this.conversation.start();
  }

  closeConversation() {
    this.showView('list');
    const b = this.conversation && this.chatList.querySelector(`li[data-chat="${this.conversation.chatId}"] button`);
    if (b) b.focus();
  }

  /** The conversation read up to max_id: the dialog has nothing unread below it. */
  readLocally(chatId, maxId) {
    const d = this.dialogs.get(chatId);
    if (!d) return;
    d.chat.read_inbox_max_id = Math.max(d.chat.read_inbox_max_id || 0, maxId);
    if (!d.last_message || maxId >= d.last_message.id) d.unread_count = 0;
    this.renderDialogs();
  }

  async user(id) {
    if (this.users.has(id)) return this.users.get(id);
    if (!this.userFetches) this.userFetches = new Map();
    if (!this.userFetches.has(id)) {
      this.userFetches.set(id, this.session.call('users.get', { user_id: id }).then((u) => { this.users.set(id, u); return u; }, () => null));
    }
    return this.userFetches.get(id);
  }

  // ---- live -------------------------------------------------------------------------------

  async onUpdate(u, fromChannel) {
    const conv = this.conversation;
    switch (u.type) {
      case 'new_message': {
        const m = u.message;
        let d = this.dialogs.get(m.chat_id);
        if (!d) d = await this.ensureDialog(m.chat_id);
        if (!d) return;
        if (!d.last_message || m.id > d.last_message.id) {
          const open = conv && conv.chatId === m.chat_id && document.visibilityState === 'visible' && this.isChatVisible();
          if (m.from_id !== this.me.id && !open && m.id > (d.chat.read_inbox_max_id || 0)) d.unread_count += 1;
          d.last_message = m;
          d.order = m.date * 1e6 + m.id;
        }
        this.renderDialogs();
        if (conv && conv.matches(m)) conv.addMessage(m);
        if (m.action) this.refreshSoon();
        break;
      }
      case 'edit_message': {
        const m = u.message;
        const d = this.dialogs.get(m.chat_id);
        if (d && d.last_message && d.last_message.id === m.id) { d.last_message = m; this.renderDialogs(); }
        if (conv && conv.chatId === m.chat_id) conv.updateMessage(m);
        break;
      }
      case 'delete_messages': {
        const d = this.dialogs.get(u.chat_id);
        if (conv && conv.chatId === u.chat_id) conv.removeMessages(u.message_ids);
        if (d && d.last_message && u.message_ids.includes(d.last_message.id)) this.refreshSoon();
        else if (d && d.unread_count) this.refreshSoon();
        break;
      }
      case 'read_history': {
        const d = this.dialogs.get(u.chat_id);
        if (u.user_id === this.me.id) {
          if (d) {
            d.chat.read_inbox_max_id = Math.max(d.chat.read_inbox_max_id || 0, u.max_id);
            if (!d.last_message || u.max_id >= d.last_message.id) d.unread_count = 0;
            else this.refreshSoon();
            this.renderDialogs();
          }
        } else {
          if (d) d.chat.read_outbox_max_id = Math.max(d.chat.read_outbox_max_id || 0, u.max_id);
          if (conv && conv.chatId === u.chat_id) conv.outboxRead(u.max_id);
        }
        break;
      }
      case 'reaction': {
        if (u.user_id === this.me.id) this.myReactions.set(`${u.chat_id}:${u.message_id}`, u.emoji || null);
        if (conv && conv.chatId === u.chat_id) conv.setReactions(u.message_id, u.reactions);
        break;
      }
      case 'chat_member': {
        if (u.user_id === this.me.id && (u.status === 'left' || u.status === 'kicked' || u.status === 'banned')) {
          this.forget(u.chat_id);
        } else {
          if (u.user_id === this.me.id) {
            // one's own promotion or demotion: its rights count now (the dialog list omits them)
            const patch = { role: u.role, admin_rights: u.rights || null };
            const d = this.dialogs.get(u.chat_id);
            if (d) Object.assign(d.chat, patch);
            if (conv && conv.chatId === u.chat_id) conv.setChat({ ...conv.chat, ...patch });
          }
          this.refreshSoon();
        }
        break;
      }
      case 'pinned_message': {
        const d = this.dialogs.get(u.chat_id);
        if (d) d.chat.pinned_message_id = u.message_id || null;
        if (conv && conv.chatId === u.chat_id) conv.setPinned(u.message_id);
        break;
      }
      default:
        if (!fromChannel) this.refreshSoon();
    }
  }

  onChannelReset(channelId) {
    this.refreshSoon();
    if (this.conversation && this.conversation.chatId === channelId) this.conversation.reload();
  }

  onEvent(ev) {
    if (ev.type === 'typing' && this.conversation && this.conversation.chatId === ev.chat_id && ev.user_id !== this.me.id) {
      this.conversation.showTyping(ev.user_id, ev.action);
    } else if (ev.type === 'user_status') {
      this.userStatus.set(ev.user_id, { online: ev.online, last_seen: ev.last_seen });
      const known = this.users.get(ev.user_id);
      if (known) known.last_seen = ev.last_seen;
      if (this.conversation) this.conversation.peerStatusChanged(ev.user_id);
    }
  }
}
