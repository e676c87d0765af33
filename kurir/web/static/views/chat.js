// One conversation: history pages (newest first, older ones on scrolling up), live
// messages, read ticks, replies, edits, deletes, reactions, forwards, pins, typing, files,
// bot keyboards and commands; or, for a channel post, its comments thread.
import { h, clear, toast, popover, closePopover } from '../dom.js';
import { randomId } from '../api.js';
import { t, errorText } from '../i18n.js';
import { parseMarkdown, renderText, dayKey, dayLabel, timeLabel, whenLabel, sizeLabel, preview, safeUrl } from '../format.js';
import { avatar } from './main.js';
import { ChatInfo, forwardTo } from './groups.js';

const PAGE = 50;
const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
const EMOJI = ['😀', '😁', '😂', '🙂', '😉', '😊', '😍', '😘', '😎', '🤔', '😴', '😢', '😡', '👍', '👎', '👏', '🙏', '💪', '🎉', '❤️', '🔥', '✨', '✅', '👋'];
const TYPING_EVERY = 5000;
const TYPING_SHOWN = 6000;
const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

export class Conversation {
  constructor(main, target) {
    this.main = main;
    this.session = main.session;
    this.me = main.me;
    this.target = target;
    this.chat = target.chat || null;
    this.peer = target.user || null;
    this.chatId = this.chat ? this.chat.id : null;
    // a channel post's comments: they live in its discussion group, under the post's copy
    this.thread = target.thread || null;
    if (this.thread) {
      const r = this.thread.post.replies;
      this.chat = { id: r.chat_id, type: 'supergroup', title: this.thread.channel.title };
      this.chatId = r.chat_id;
      this.rootId = r.root_id;
    }
    this.info = null;
    this.commands = [];
    this.hoverRow = null;        // the message row under the pointer
    this.focusRow = null;        // the message row holding the focus
    this.toolbar = null;         // the one set of message actions, in one of those rows
    this.items = new Map();      // message id -> {m, el}
    this.hasMore = true;
    this.loading = false;
    this.replyTo = null;
    this.editing = null;
    this.typers = new Map();     // user id -> timer
    this.lastTypingSent = 0;
    this.dead = false;
    this.build();
  }

  matches(m) {
    if (this.chatId !== m.chat_id) return false;
    return !this.thread || m.thread_id === this.rootId || m.reply_to === this.rootId;
  }

  // ---- building ---------------------------------------------------------------------------

  build() {
    this.title = h('h2', { class: 'chat-title', id: 'chat-title' }, this.titleText());
    this.subtitle = h('p', { class: 'chat-sub' });
    this.joinBar = h('div', { class: 'join-bar', hidden: true }, h('button', { type: 'button', class: 'primary', onclick: () => this.join() }, t('joinChannel')));
    this.readOnly = h('p', { class: 'join-bar muted', hidden: true }, t('readOnly'));
    this.infoBtn = h('button', { type: 'button', class: 'ghost info-btn', 'aria-label': t('chatInfo'), title: t('chatInfo'), hidden: true, onclick: () => this.openInfo() }, 'i');
    const back = this.thread
      ? h('button', { type: 'button', class: 'ghost back always', 'aria-label': t('back'), onclick: () => this.main.open({ chat: this.thread.channel }) }, '←')
      : h('button', { type: 'button', class: 'ghost back', 'aria-label': t('back'), onclick: () => this.main.closeConversation() }, '←');
    const header = h('header', { class: 'chat-head' },
      back,
      avatar(this.titleText(), this.thread ? this.thread.channel.id : this.chatId || (this.peer && this.peer.id)),
      h('div', { class: 'chat-names' }, this.title, this.subtitle),
      this.infoBtn);
    this.pinned = h('section', { class: 'pinned', 'aria-label': t('pinnedMessage'), hidden: true });
    this.log = h('div', { class: 'log', role: 'log', 'aria-label': t('messages'), tabindex: '0' });
    this.log.addEventListener('scroll', () => { if (this.log.scrollTop < 200) this.loadOlder(); });
    this.bindActions();
    this.typingLine = h('p', { class: 'typing', 'aria-live': 'polite' });
    this.uploads = h('div', { class: 'uploads' });
    this.bar = h('div', { class: 'compose-bar', hidden: true });
    this.keyboard = h('div', { class: 'reply-keyboard', role: 'group', 'aria-label': t('botKeyboard'), hidden: true });
    this.input = h('textarea', { class: 'input', rows: '1', 'aria-label': t('message'), placeholder: t('message') });
    this.input.addEventListener('keydown', (e) => this.onInputKey(e));
    this.input.addEventListener('input', () => { this.autosize(); this.typed(); });
    this.file = h('input', { type: 'file', multiple: true, class: 'visually-hidden', 'aria-label': t('file'), tabindex: '-1' });
    this.file.addEventListener('change', () => { const files = [...this.file.files]; this.file.value = ''; this.sendFiles(files); });
    const tool = (label, icon, fn) => h('button', { type: 'button', class: 'tool', 'aria-label': label, title: label, onclick: fn }, icon);
    this.emojiBtn = tool(t('emoji'), '☺', () => this.emojiPicker());
    const tools = h('div', { class: 'tools pop-host' },
      tool(t('bold'), h('b', null, 'B'), () => this.wrap('**', '**')),
      tool(t('italic'), h('i', null, 'I'), () => this.wrap('__', '__')),
      tool(t('code'), h('code', null, '<>'), () => this.wrap('`', '`')),
      tool(t('link'), '↗', () => this.link()),
      this.emojiBtn);
    this.cmdBtn = h('button', { type: 'button', class: 'tool', 'aria-label': t('commands'), title: t('commands'), 'aria-haspopup': 'menu', hidden: true, onclick: () => this.commandsMenu() }, '/');
    this.composer = h('div', { class: 'composer' },
      tools,
      h('div', { class: 'compose-row pop-host' },
        h('button', { type: 'button', class: 'tool attach', 'aria-label': t('attach'), title: t('attach'), onclick: () => this.file.click() }, '+'),
        this.cmdBtn,
        this.file,
        this.input,
        h('button', { type: 'button', class: 'primary send', onclick: () => this.send() }, t('send'))));
    this.drop = h('div', { class: 'drop-hint', 'aria-hidden': 'true' }, t('dropHere'));
    this.el = h('div', { class: 'conversation' }, header, this.pinned, this.log, this.typingLine, this.uploads, this.bar, this.keyboard,
      this.composer, this.joinBar, this.readOnly, this.drop);
    this.el.addEventListener('dragover', (e) => { if (this.canPost() && hasFiles(e)) { e.preventDefault(); this.el.classList.add('dragging'); } });
    this.el.addEventListener('dragleave', (e) => { if (!this.el.contains(e.relatedTarget)) this.el.classList.remove('dragging'); });
    this.el.addEventListener('drop', (e) => {
      this.el.classList.remove('dragging');
      if (!hasFiles(e)) return;
      e.preventDefault();
      this.sendFiles([...e.dataTransfer.files]);
    });
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && (this.replyTo || this.editing)) { this.cancelBar(); this.input.focus(); }
    });
  }

  titleText() {
    return this.chat ? this.chat.title : (this.peer ? this.peer.display_name : '');
  }

  setChat(chat) {
    if (this.thread) return;
    this.chat = Object.assign(this.chat || {}, chat);
    this.chatId = chat.id;
    this.title.textContent = this.titleText();
    this.updateHeader();
  }

  async start() {
    this.updateHeader();
    const c = this.chat;
    if (c && c.role === 'admin' && !c.admin_rights && (c.type === 'channel' || c.type === 'supergroup')) {
      // the dialog list leaves an admin's rights out; they decide the composer and the actions
      this.session.call('chats.get', { chat_id: c.id }).then((chat) => { if (!this.dead) this.setChat(chat); }, () => {});
    }
    if (this.chatId) {
      await this.loadOlder(true);
      this.markRead();
    } else {
      this.log.append(h('p', { class: 'hint center' }, t('startOfChat')));
      this.hasMore = false;
    }
    if (!this.dead && window.matchMedia('(min-width: 700px)').matches) this.input.focus();
  }

  reload() {
    this.items.clear();
    clear(this.log);
    this.hasMore = true;
    this.loadOlder(true);
  }

  destroy() {
    this.dead = true;
    closePopover();
    if (this.info) this.info.close();
    for (const timer of this.typers.values()) clearTimeout(timer);
  }

  canPost() {
    if (this.thread) return true;
    if (!this.chat) return !!this.peer;
    if (this.chat.type === 'channel') {
      return this.chat.role === 'owner' || !!(this.chat.admin_rights && this.chat.admin_rights.post_messages);
    }
    return this.chat.status === undefined || this.chat.status === 'member' || this.chat.status === 'admin' || this.chat.status === 'creator';
  }

  async updateHeader() {
    const chat = this.chat;
    const isMember = !chat || this.thread || chat.status === 'member' || chat.role;
    const canJoin = !!chat && (chat.type === 'channel' || chat.type === 'supergroup') && !isMember;
    this.joinBar.hidden = !canJoin;
    this.composer.hidden = canJoin || !this.canPost();
    this.readOnly.hidden = canJoin || this.canPost();
    this.infoBtn.hidden = !chat || chat.type === 'private' || !!this.thread || canJoin;
    if (this.thread) { this.subtitle.textContent = t('commentsTitle'); return; }
    this.setPinned(chat ? chat.pinned_message_id : 0);
    if (chat && chat.type !== 'private') {
      const n = chat.member_count;
      this.subtitle.textContent = n ? t(chat.type === 'channel' ? 'subscribers' : 'members', n) : t(chat.type === 'channel' ? 'channel' : 'group');
      return;
    }
    const peerId = this.peer ? this.peer.id : chat && chat.peer_id;
    if (!peerId) return;
    this.peerId = peerId;
    try {
      const u = await this.session.call('users.get', { user_id: peerId });
      this.main.users.set(u.id, u);
      this.peer = u;
      if (u.is_bot) this.loadCommands(u.id);
    } catch (e) { /* keep what we have */ }
    this.peerStatusChanged(peerId);
  }

  openInfo() {
    if (this.info) { this.info.close(); return; }
    this.info = new ChatInfo(this, this.infoBtn);
  }

  /** A bot's commands (bots.getInfo) behind a "Commands" button next to the composer. */
  async loadCommands(botId) {
    try {
      const info = await this.session.call('bots.getInfo', { bot_id: botId });
      this.commands = (info && info.commands) || [];
    } catch (e) {
      this.commands = [];
    }
    if (!this.dead) this.cmdBtn.hidden = !this.commands.length;
  }

  commandsMenu() {
    popover(this.cmdBtn, this.commands.map((c) => h('button', { type: 'button', role: 'menuitem',
      onclick: () => { closePopover(); this.sendText(`/${c.command}`); } },
    h('strong', null, `/${c.command}`), ' ', h('span', { class: 'muted' }, c.description))), { label: t('commands') });
  }

  // ---- pins -------------------------------------------------------------------------------

  canPin() {
    const c = this.chat;
    if (this.thread) return false;
    if (!c || c.type === 'private') return true;
    if (c.role === 'owner' || (c.type === 'group' && c.role === 'admin')) return true;
    return !!(c.admin_rights && c.admin_rights.pin_messages);
  }

  /** The bar at the top with the pinned message's text (0: none). */
  async setPinned(id) {
    if (this.chat) this.chat.pinned_message_id = id || null;
    this.pinnedId = id || 0;
    if (!id) { clear(this.pinned); this.pinned.hidden = true; return; }
    let m = this.items.has(id) ? this.items.get(id).m : null;
    if (!m) {
      try {
        const res = await this.session.call('messages.getMessages', { chat_id: this.chatId, message_ids: [id] });
        m = (Array.isArray(res) ? res : res.messages || [])[0];
      } catch (e) { m = null; }
    }
    if (this.dead || this.pinnedId !== id) return;
    clear(this.pinned);
    this.pinned.hidden = !m;
    if (!m) return;
    this.pinned.append(
      h('button', { type: 'button', class: 'pinned-text', onclick: () => this.jumpTo(id) },
        h('strong', { 'aria-hidden': 'true' }, t('pinnedMessage')), h('span', null, preview(m))),
      this.canPin() ? h('button', { type: 'button', class: 'ghost', 'aria-label': t('unpin'), title: t('unpin'), onclick: () => this.pin(m, true) }, '✕') : null);
  }

  async pin(m, unpin) {
    try {
      await this.session.call('messages.pin', { chat_id: m.chat_id, message_id: m.id, unpin });
      this.setPinned(unpin ? 0 : m.id);
    } catch (e) {
      toast(errorText(e));
    }
  }

  peerStatusChanged(userId) {
    if (userId !== this.peerId || this.dead) return;
    const live = this.main.userStatus.get(userId);
    const u = this.main.users.get(userId);
    if (u && u.is_bot) { this.subtitle.textContent = 'bot'; return; }
    if (live && live.online) { this.subtitle.textContent = t('peerOnline'); return; }
    const seen = (live && live.last_seen) || (u && u.last_seen);
    this.subtitle.textContent = seen ? t('lastSeen', whenLabel(seen)) : t('lastSeenLongAgo');
  }

  async join() {
    try {
      await this.session.call('channels.join', { channel_id: this.chatId });
      const chat = await this.session.call('chats.get', { chat_id: this.chatId });
      if (chat.pts !== undefined) this.session.knowChannel(chat.id, chat.pts);
      this.setChat(chat);
      this.main.loadDialogs();
    } catch (e) {
      toast(errorText(e));
    }
  }

  // ---- history ----------------------------------------------------------------------------

  oldestId() {
    let min = Infinity;
    for (const id of this.items.keys()) if (id < min) min = id;
    return min === Infinity ? 0 : min;
  }

  newestId() {
    let max = 0;
    for (const id of this.items.keys()) if (id > max) max = id;
    return max;
  }

  async loadOlder(first = false) {
    if (this.loading || !this.hasMore || !this.chatId) return;
    this.loading = true;
    const spinner = h('p', { class: 'hint center loading' }, t('loadingOlder'));
    this.log.prepend(spinner);
    try {
      const params = this.thread ? { chat_id: this.thread.channel.id, message_id: this.thread.post.id, limit: PAGE } : { chat_id: this.chatId, limit: PAGE };
      if (!first) params.offset_id = this.oldestId();
      const res = await this.session.call(this.thread ? 'messages.getReplies' : 'messages.getHistory', params);
      if (this.dead) return;
      const msgs = res.messages || [];
      if (msgs.length < PAGE) this.hasMore = false;
      const before = this.log.scrollHeight - this.log.scrollTop;
      for (const m of msgs) if (!this.items.has(m.id)) this.items.set(m.id, { m, el: this.renderMessage(m) });
      spinner.remove();
      this.layout();
      this.updateKeyboard();
      if (first) this.scrollToBottom();
      else this.log.scrollTop = this.log.scrollHeight - before;
      this.countViews(msgs.map((m) => m.id));
    } catch (e) {
      spinner.remove();
      if (e.code === 403 || e.type === 'CHAT_NOT_FOUND') this.hasMore = false;
      else toast(errorText(e));
    } finally {
      this.loading = false;
    }
    // a short first page may not fill the view: keep going until it scrolls
    if (!this.dead && this.hasMore && this.log.scrollHeight <= this.log.clientHeight + 200) this.loadOlder();
  }

  /** Put the messages in order with date separators and album grids (elements are reused). */
  layout() {
    const ids = [...this.items.keys()].sort((a, b) => a - b);
    const nodes = [];
    if (!this.hasMore) nodes.push(this.startNote || (this.startNote = this.thread ? this.threadRoot() : h('p', { class: 'hint center' }, t('startOfChat'))));
    let day = null;
    let album = null;
    for (const id of ids) {
      const { m, el } = this.items.get(id);
      const k = dayKey(m.date);
      if (k !== day) {
        day = k;
        album = null;
        nodes.push(h('div', { class: 'day', role: 'separator' }, h('span', null, dayLabel(m.date))));
      }
      const albumId = m.media && m.media.album_id;
      if (albumId) {
        if (!album || album.dataset.album !== String(albumId)) {
          album = h('div', { class: `album${m.from_id === this.me.id ? ' own' : ''}`, dataset: { album: String(albumId) } });
          nodes.push(album);
        }
        album.append(el);
      } else {
        album = null;
        nodes.push(el);
      }
    }
    const loading = this.log.querySelector('.loading');
    clear(this.log);
    if (loading) this.log.append(loading);
    this.log.append(...nodes);
  }

  nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 120;
  }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // ---- live changes -----------------------------------------------------------------------

  addMessage(m) {
    if (this.items.has(m.id)) { this.updateMessage(m); return; }
    const stick = this.nearBottom() || m.from_id === this.me.id;
    this.items.set(m.id, { m, el: this.renderMessage(m) });
    this.layout();
    if (stick) this.scrollToBottom();
    if (m.from_id !== this.me.id) {
      this.clearTyping(m.from_id);
      this.markRead();
      this.countViews([m.id]);
    }
    this.updateKeyboard();
  }

  /** A channel's posts count their views when shown (messages.getViews). */
  async countViews(ids) {
    if (!this.chat || this.chat.type !== 'channel' || this.thread || !ids.length) return;
    try {
      const views = await this.session.call('messages.getViews', { chat_id: this.chatId, message_ids: ids.slice(0, 100) });
      for (const v of views) {
        const item = this.items.get(v.id);
        if (item && item.m.views !== v.views) this.updateMessage(Object.assign({}, item.m, { views: v.views }));
      }
    } catch (e) { /* counters only */ }
  }

  updateMessage(m) {
    const item = this.items.get(m.id);
    if (!item) return;
    const el = this.renderMessage(m);
    const old = item.el;
    old.replaceWith(el);
    item.m = m;
    item.el = el;
    if (this.hoverRow === old) this.hoverRow = el;
    if (this.focusRow === old) this.focusRow = el;
    if (this.toolbar && old.contains(this.toolbar)) { this.toolbar = null; this.placeActions(); }
    this.updateKeyboard();
  }

  removeMessages(ids) {
    for (const id of ids) {
      const item = this.items.get(id);
      if (item) { item.el.remove(); this.items.delete(id); }
    }
    this.placeActions();
    this.layout();
    this.updateKeyboard();
  }

  outboxRead(maxId) {
    if (this.chat) this.chat.read_outbox_max_id = Math.max(this.chat.read_outbox_max_id || 0, maxId);
    for (const { m, el } of this.items.values()) {
      if (m.from_id === this.me.id) {
        const ticks = el.querySelector('.ticks');
        if (ticks) this.setTicks(ticks, m);
      }
    }
  }

  setReactions(messageId, reactions) {
    const item = this.items.get(messageId);
    if (!item) return;
    item.m = Object.assign({}, item.m, { reactions });
    this.updateMessage(item.m);
  }

  /** messages.read when this conversation is on screen and has something unread. */
  markRead() {
    if (this.dead || this.thread || !this.joinBar.hidden || !this.chatId || document.visibilityState !== 'visible' || !this.main.isChatVisible()) return;
    let max = 0;
    for (const { m } of this.items.values()) if (m.from_id !== this.me.id && m.id > max) max = m.id;
    const d = this.main.dialogs.get(this.chatId);
    const readTo = Math.max((d && d.chat.read_inbox_max_id) || 0, this.readSent || 0);
    if (max <= readTo && !(d && d.unread_count)) return;
    const target = Math.max(max, this.newestId());
    this.readSent = target;
    this.session.call('messages.read', { chat_id: this.chatId, max_id: target }).catch(() => {});
    this.main.readLocally(this.chatId, target);
  }

  // ---- typing -----------------------------------------------------------------------------

  typed() {
    if (!this.chatId || !this.input.value) return;
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_EVERY) return;
    this.lastTypingSent = now;
    this.session.call('messages.setTyping', { chat_id: this.chatId, action: 'typing' }).catch(() => {});
  }

  async showTyping(userId, action) {
    clearTimeout(this.typers.get(userId));
    if (action === 'cancel') { this.clearTyping(userId); return; }
    this.typers.set(userId, setTimeout(() => this.clearTyping(userId), TYPING_SHOWN));
    await this.main.user(userId);
    this.renderTyping();
  }

  clearTyping(userId) {
    clearTimeout(this.typers.get(userId));
    if (this.typers.delete(userId)) this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typers.keys()].map((id) => (this.main.users.get(id) || {}).display_name || '…');
    this.typingLine.textContent = names.length ? t('typing', names.join(', ')) : '';
  }

  // ---- one message ------------------------------------------------------------------------

  /** A message row: the article holds what the message says (media, text, inline
   * buttons); sender, quote, time, ticks, reactions and actions sit around it. */
  renderMessage(m) {
    const own = m.from_id === this.me.id;
    if (m.action) {
      return h('div', { class: 'msg service', dataset: { id: m.id } }, h('span', { role: 'article' }, preview(m)));
    }
    const bubble = h('div', { class: 'bubble' });
    if (this.chat && this.chat.type !== 'private' && !own && this.chat.type !== 'channel') {
      const name = h('span', { class: 'sender' }, '');
      this.main.user(m.from_id).then((u) => { name.textContent = u ? u.display_name : ''; });
      bubble.append(name);
    }
    if (m.reply_to && !(this.thread && m.reply_to === this.rootId)) bubble.append(this.renderQuote(m.reply_to));
    const body = h('div', { role: 'article', class: 'body' });
    if (m.fwd_from) body.append(this.renderForwarded(m.fwd_from));
    if (m.media) body.append(this.renderMedia(m));
    if (m.text) body.append(h('div', { class: 'text' }, renderText(m.text, m.entities)));
    const markup = m.reply_markup;
    if (markup && markup.inline_keyboard) body.append(this.renderInlineKeyboard(m, markup.inline_keyboard));
    if (typeof m.views === 'number' || (m.replies && m.replies.chat_id)) body.append(this.renderPostFooter(m));
    bubble.append(body);
    const meta = h('span', { class: 'meta' },
      m.edit_date ? h('span', { class: 'edited' }, t('edited')) : null,
      h('time', { datetime: new Date(m.date * 1000).toISOString() }, timeLabel(m.date)));
    if (own) {
      const ticks = h('span', { class: 'ticks' });
      this.setTicks(ticks, m);
      meta.append(ticks);
    }
    bubble.append(meta);
    const el = h('div', { class: `msg${own ? ' own' : ''}`, dataset: { id: m.id }, tabindex: '-1' }, bubble);
    if (m.reactions && m.reactions.length) el.append(this.renderReactions(m));
    return el;
  }

  /** The post a comments thread is about, on top of it (it has no actions here). */
  threadRoot() {
    const post = this.thread.post;
    const body = h('div', { role: 'article', class: 'body' });
    if (post.media) body.append(this.renderMedia(post));
    if (post.text) body.append(h('div', { class: 'text' }, renderText(post.text, post.entities)));
    return h('div', { class: 'msg service thread-root' }, h('div', { class: 'bubble' }, body));
  }

  /** "Forwarded from <name>": the channel it came from, else its author. */
  renderForwarded(fwd) {
    const line = h('span', { class: 'fwd' }, t('forwardedFrom', fwd.from_name || '…'));
    const show = (name) => { if (name) line.textContent = t('forwardedFrom', name); };
    if (fwd.from_name) return line;
    const known = fwd.chat_id && this.main.dialogs.get(fwd.chat_id);
    if (known && known.chat.type === 'channel') show(known.chat.title);
    else if (fwd.chat_id) {
      this.session.call('chats.get', { chat_id: fwd.chat_id })
        .then((c) => show(c.type === 'channel' ? c.title : null), () => null)
        .then(() => { if (line.textContent.endsWith('…')) this.main.user(fwd.from_id).then((u) => show(u && u.display_name)); });
    } else this.main.user(fwd.from_id).then((u) => show(u && u.display_name));
    return line;
  }

  /** A channel post's views and, with a discussion group, its "<n> comments" button. */
  renderPostFooter(m) {
    const foot = h('div', { class: 'post-foot' });
    if (typeof m.views === 'number') foot.append(h('span', { class: 'views', role: 'img', 'aria-label': t('views', m.views) }, `👁 ${m.views}`));
    if (m.replies && m.replies.chat_id && !this.thread) {
      const channel = this.chat;
      foot.append(h('button', { type: 'button', class: 'comments small', onclick: () => this.main.open({ thread: { channel, post: m } }) },
        t('comments', m.replies.count || 0)));
    }
    return foot;
  }

  setTicks(el, m) {
    const read = this.chat && m.id <= (this.chat.read_outbox_max_id || 0);
    el.textContent = read ? '✓✓' : '✓';
    el.classList.toggle('read', !!read);
    el.setAttribute('aria-label', read ? t('read') : t('sent'));
    el.setAttribute('role', 'img');
  }

  renderQuote(replyId) {
    const quote = h('button', { type: 'button', class: 'quote', onclick: () => this.jumpTo(replyId) }, '…');
    const fill = (m) => {
      clear(quote);
      if (!m) { quote.append('…'); return; }
      const author = h('span', { class: 'quote-author' }, '');
      this.main.user(m.from_id).then((u) => { author.textContent = u ? u.display_name : ''; });
      quote.append(author, h('span', { class: 'quote-text' }, preview(m)));
    };
    const known = this.items.get(replyId);
    if (known) fill(known.m);
    else {
      this.session.call('messages.getMessages', { chat_id: this.chatId, message_ids: [replyId] })
        .then((res) => fill((Array.isArray(res) ? res : res.messages || [])[0]), () => fill(null));
    }
    return quote;
  }

  jumpTo(id) {
    const item = this.items.get(id);
    if (!item) return;
    item.el.scrollIntoView({ block: 'center' });
    item.el.classList.add('flash');
    setTimeout(() => item.el.classList.remove('flash'), 1200);
  }

  renderMedia(m) {
    const media = m.media;
    if (media.kind === 'photo') {
      const thumbs = (media.thumbs || []).filter((x) => x.width >= 320).sort((a, b) => a.width - b.width);
      const source = thumbs.length ? thumbs[0] : media;
      const img = h('img', { class: 'photo', alt: media.name || t('photo'), width: source.width || media.width, height: source.height || media.height });
      this.session.fileUrl(source.file_id).then((url) => { img.src = url; }, () => img.classList.add('broken'));
      const open = h('button', { type: 'button', class: 'photo-link', 'aria-label': t('photo'),
        onclick: () => this.session.fileUrl(media.file_id).then((url) => window.open(url, '_blank', 'noopener')) }, img);
      return open;
    }
    const icon = { video: '▶', audio: '♫', voice: '♪' }[media.kind] || '⎙';
    const name = media.name || t(media.kind === 'document' ? 'document' : media.kind);
    const link = h('a', { class: 'doc', href: '#', download: name },
      h('span', { class: 'doc-icon', 'aria-hidden': 'true' }, icon),
      h('span', { class: 'doc-name' }, name),
      h('span', { class: 'doc-size' }, media.size ? sizeLabel(media.size) : ''));
    link.addEventListener('click', async (e) => {
      if (link.dataset.ready) return;
      e.preventDefault();
      try {
        const url = await this.session.fileUrl(media.file_id);
        link.href = url;
        link.dataset.ready = '1';
        link.click();
      } catch (err) {
        toast(errorText(err));
      }
    });
    return link;
  }

  renderInlineKeyboard(m, rows) {
    const box = h('div', { class: 'inline-kb' });
    for (const row of rows) {
      const line = h('div', { class: 'kb-row' });
      for (const b of row) {
        if (b.url) {
          const href = safeUrl(b.url);
          line.append(href ? h('a', { class: 'kb-btn', href, target: '_blank', rel: 'noopener noreferrer' }, b.text) : h('span', { class: 'kb-btn' }, b.text));
        } else {
          line.append(h('button', { type: 'button', class: 'kb-btn', onclick: (e) => this.press(m, b, e.currentTarget) }, b.text));
        }
      }
      box.append(line);
    }
    return box;
  }

  async press(m, button, el) {
    if (button.callback_data === undefined) { if (button.text) this.sendText(button.text); return; }
    el.disabled = true;
    try {
      const answer = await this.session.call('messages.getBotCallbackAnswer', { chat_id: m.chat_id, message_id: m.id, data: button.callback_data });
      if (answer && answer.message) toast(answer.message);
      if (answer && answer.url && safeUrl(answer.url)) window.open(safeUrl(answer.url), '_blank', 'noopener');
    } catch (e) {
      toast(errorText(e));
    } finally {
      el.disabled = false;
    }
  }

  /** The reply keyboard of the newest message that has one (until one removes it). */
  updateKeyboard() {
    clear(this.keyboard);
    const ids = [...this.items.keys()].sort((a, b) => b - a);
    let markup = null;
    for (const id of ids) {
      const { m } = this.items.get(id);
      const r = m.reply_markup;
      if (!r || m.from_id === this.me.id) continue;
      if (r.keyboard) { markup = r; break; }
      if (r.remove_keyboard) break;
    }
    this.keyboard.hidden = !markup;
    if (!markup) return;
    for (const row of markup.keyboard) {
      const line = h('div', { class: 'kb-row' });
      for (const b of row) {
        const text = typeof b === 'string' ? b : b.text;
        line.append(h('button', { type: 'button', class: 'kb-btn', onclick: () => this.sendText(text) }, text));
      }
      this.keyboard.append(line);
    }
  }

  renderReactions(m) {
    const mine = this.main.myReactions.get(`${m.chat_id}:${m.id}`);
    const row = h('div', { class: 'reactions', role: 'group', 'aria-label': t('reactions') });
    for (const r of m.reactions) {
      const chosen = r.emoji === mine || r.chosen;
      row.append(h('button', { type: 'button', class: `chip${chosen ? ' chosen' : ''}`, 'aria-pressed': chosen ? 'true' : 'false',
        'aria-label': `${r.emoji} ${r.count}`, onclick: () => this.react(m, chosen ? null : r.emoji) }, `${r.emoji} ${r.count}`));
    }
    return row;
  }

  renderActions(m, own) {
    const act = (label, icon, fn) => h('button', { type: 'button', class: 'act', 'aria-label': label, title: label, 'aria-haspopup': fn.popup ? 'menu' : null, onclick: (e) => fn(e.currentTarget) }, icon);
    const reactFn = (anchor) => popover(anchor, REACTIONS.map((e) => h('button', { type: 'button', role: 'menuitem', class: 'emoji', 'aria-label': e, onclick: () => { closePopover(); this.react(m, e); } }, e)), { label: t('react') });
    reactFn.popup = true;
    const delFn = (anchor) => popover(anchor, [
      h('button', { type: 'button', role: 'menuitem', onclick: () => { closePopover(); this.remove(m, false); } }, t('deleteForMe')),
      (own || this.canDeleteOthers()) ? h('button', { type: 'button', role: 'menuitem', class: 'danger', onclick: () => { closePopover(); this.remove(m, true); } }, t('deleteForAll')) : null,
    ], { label: t('del') });
    delFn.popup = true;
    const pinned = this.pinnedId === m.id;
    return h('div', { class: 'actions pop-host', role: 'group', 'aria-label': t('messageActions') },
      this.canPost() && !this.composer.hidden ? act(t('reply'), '↩', () => this.startReply(m)) : null,
      act(t('react'), '☺', reactFn),
      act(t('forward'), '↪', () => forwardTo(this.main, m)),
      this.canPin() ? act(pinned ? t('unpin') : t('pin'), '📌', () => this.pin(m, pinned)) : null,
      own && m.text !== undefined && !m.media ? act(t('edit'), '✎', () => this.startEdit(m)) : null,
      act(t('del'), '✕', delFn));
  }

  // ---- the message actions: one set, in the message pointed at, focused or tapped ---------
  // (kept out of the other messages so that the log reads, and announces, only what they say)

  bindActions() {
    const rowOf = (el) => (el && el.closest ? el.closest('.msg:not(.service)') : null);
    this.log.addEventListener('mouseover', (e) => {
      const row = rowOf(e.target);
      if (row && row !== this.hoverRow) { this.hoverRow = row; this.placeActions(); }
    });
    this.log.addEventListener('mouseleave', () => { this.hoverRow = null; this.placeActions(); });
    this.log.addEventListener('focusin', (e) => {
      const row = rowOf(e.target);
      if (row !== this.focusRow) { this.focusRow = row; this.placeActions(); }
    });
    this.log.addEventListener('focusout', (e) => {
      if (!this.log.contains(e.relatedTarget)) { this.focusRow = null; this.placeActions(); }
    });
    // Up/Down (Home/End) move between messages; Tab then reaches the focused one's actions
    this.log.addEventListener('keydown', (e) => {
      if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(e.key)) return;
      if (e.target !== this.log && !e.target.classList.contains('msg')) return;
      const rows = [...this.log.querySelectorAll('.msg')];
      if (!rows.length) return;
      let i = rows.indexOf(e.target);
      if (e.key === 'Home') i = 0;
      else if (e.key === 'End' || i < 0) i = rows.length - 1;
      else i = Math.max(0, Math.min(rows.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
      e.preventDefault();
      rows[i].focus();
      rows[i].scrollIntoView({ block: 'nearest' });
    });
  }

  placeActions() {
    const row = this.focusRow || this.hoverRow;
    if (row && this.toolbar && row.contains(this.toolbar)) return;
    if (this.toolbar) {
      if (this.toolbar.querySelector('.popover')) closePopover();
      this.toolbar.remove();
      this.toolbar = null;
    }
    if (!row || !row.isConnected || this.dead) return;
    const item = this.items.get(Number(row.dataset.id));
    if (!item || item.el !== row) return;
    this.toolbar = this.renderActions(item.m, item.m.from_id === this.me.id);
    row.append(this.toolbar);
  }

  canDeleteOthers() {
    const c = this.chat;
    return !!c && (c.type === 'private' || c.role === 'owner' || !!(c.admin_rights && c.admin_rights.delete_messages));
  }

  async react(m, emoji) {
    try {
      await this.session.call('messages.react', { chat_id: m.chat_id, message_id: m.id, emoji });
      this.main.myReactions.set(`${m.chat_id}:${m.id}`, emoji);
    } catch (e) {
      toast(errorText(e));
    }
  }

  async remove(m, revoke) {
    try {
      await this.session.call('messages.delete', { chat_id: m.chat_id, message_ids: [m.id], revoke });
      this.removeMessages([m.id]);
      this.main.refreshSoon();
    } catch (e) {
      toast(errorText(e));
    }
  }

  // ---- composing --------------------------------------------------------------------------

  startReply(m) {
    this.editing = null;
    this.replyTo = m;
    this.showBar(t('replyingTo'), preview(m));
    this.input.focus();
  }

  startEdit(m) {
    this.replyTo = null;
    this.editing = m;
    this.showBar(t('editing'), preview(m));
    this.input.value = toMarkdown(m.text || '', m.entities);
    this.autosize();
    this.input.focus();
  }

  showBar(label, text) {
    clear(this.bar);
    this.bar.append(
      h('div', { class: 'bar-quote' }, h('strong', null, label), h('span', null, text)),
      h('button', { type: 'button', class: 'ghost', 'aria-label': t('cancel'), onclick: () => { this.cancelBar(); this.input.focus(); } }, '✕'));
    this.bar.hidden = false;
  }

  cancelBar() {
    if (this.editing) this.input.value = '';
    this.replyTo = null;
    this.editing = null;
    this.bar.hidden = true;
    this.autosize();
  }

  onInputKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.send();
    }
  }

  autosize() {
    this.input.rows = Math.min(8, Math.max(1, this.input.value.split('\n').length));
  }

  wrap(before, after) {
    const el = this.input;
    const { selectionStart: s, selectionEnd: e, value } = el;
    el.value = value.slice(0, s) + before + value.slice(s, e) + after + value.slice(e);
    el.focus();
    el.setSelectionRange(s + before.length, e + before.length);
    this.autosize();
  }

  link() {
    const url = window.prompt(t('linkPrompt'), 'https://');
    if (!url || !safeUrl(url)) { this.input.focus(); return; }
    const el = this.input;
    const { selectionStart: s, selectionEnd: e, value } = el;
    const label = value.slice(s, e) || url;
    el.value = `${value.slice(0, s)}[${label}](${url})${value.slice(e)}`;
    el.focus();
    this.autosize();
  }

  emojiPicker() {
    popover(this.emojiBtn, EMOJI.map((e) => h('button', { type: 'button', class: 'emoji', 'aria-label': e, onclick: () => this.insert(e) }, e)),
      { label: t('emoji'), role: 'dialog' });
  }

  insert(text) {
    const el = this.input;
    const { selectionStart: s, selectionEnd: e, value } = el;
    el.value = value.slice(0, s) + text + value.slice(e);
    el.setSelectionRange(s + text.length, s + text.length);
  }

  async send() {
    const raw = this.input.value;
    if (!raw.trim()) return;
    const { text, entities } = parseMarkdown(raw.trim());
    if (!text.trim()) return;
    if (this.editing) {
      const m = this.editing;
      try {
        const res = await this.session.call('messages.edit', { chat_id: m.chat_id, message_id: m.id, text, entities: entities.length ? entities : null });
        this.updateMessage(res);
        this.input.value = '';
        this.cancelBar();
      } catch (e) {
        toast(errorText(e));
      }
      return;
    }
    this.input.value = '';
    this.autosize();
    const ok = await this.sendText(text, entities);
    if (!ok) { this.input.value = raw; this.autosize(); }
  }

  /** The address of a new message: the chat, or the user whose private chat it makes. */
  peerParams() {
    return this.chatId ? { chat_id: this.chatId } : { user_id: this.peer.id };
  }

  async sendText(text, entities) {
    const params = { ...this.peerParams(), text, random_id: randomId() };
    if (entities && entities.length) params.entities = entities;
    if (this.replyTo) params.reply_to = this.replyTo.id;
    else if (this.thread) params.reply_to = this.rootId;
    try {
      const m = await this.sendInto('messages.send', params);
      this.replyTo = null;
      this.bar.hidden = true;
      this.lastTypingSent = 0;
      await this.adopt(m);
      return true;
    } catch (e) {
      toast(errorText(e));
      return false;
    }
  }

  /** Send; a comment from someone not yet in the discussion group joins it first. */
  async sendInto(method, params) {
    try {
      return await this.session.call(method, params);
    } catch (e) {
      if (!this.thread || (e.type !== 'CHAT_NOT_FOUND' && e.type !== 'CHAT_WRITE_FORBIDDEN')) throw e;
      await this.session.call('channels.join', { channel_id: this.chatId });
      return this.session.call(method, params);
    }
  }

  /** A message we sent: show it now (its update will find it already there). */
  async adopt(m) {
    if (!this.chatId) {
      this.chatId = m.chat_id;
      clear(this.log);
      const d = await this.main.ensureDialog(m.chat_id);
      if (d) this.setChat(d.chat);
      this.hasMore = false;
    }
    if (this.chatId === m.chat_id) this.addMessage(m);
    const d = this.main.dialogs.get(m.chat_id);
    if (d && (!d.last_message || m.id >= d.last_message.id)) {
      d.last_message = m;
      d.order = m.date * 1e6 + m.id;
      this.main.renderDialogs();
    }
  }

  // ---- files ------------------------------------------------------------------------------

  async sendFiles(files) {
    if (!files.length || !this.canPost()) return;
    const uploaded = [];
    await Promise.all(files.map(async (f) => {
      const bar = h('progress', { role: 'progressbar', max: '1', value: '0', 'aria-label': t('uploading', f.name) });
      const row = h('div', { class: 'upload' }, h('span', { class: 'upload-name' }, f.name), bar);
      this.uploads.append(row);
      try {
        const res = await this.session.upload(f, (p) => { bar.value = p; });
        uploaded.push({ file: f, res });
      } catch (e) {
        toast(`${t('uploadFailed')}: ${f.name}`);
      } finally {
        row.remove();
      }
    }));
    uploaded.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file));
    const kindOf = (f) => (PHOTO_TYPES.includes(f.type) ? 'photo' : f.type.startsWith('video/') ? 'video' : 'document');
    try {
      if (uploaded.length > 1 && uploaded.length <= 10 && uploaded.every((u) => ['photo', 'video'].includes(kindOf(u.file)))) {
        const items = uploaded.map((u) => ({ file_id: u.res.file_id, kind: kindOf(u.file), random_id: randomId() }));
        const res = await this.session.call('messages.sendAlbum', { ...this.peerParams(), items });
        for (const m of (Array.isArray(res) ? res : res.messages || [])) await this.adopt(m);
        return;
      }
      for (const u of uploaded) {
        const params = { ...this.peerParams(), file_id: u.res.file_id, kind: kindOf(u.file), random_id: randomId() };
        if (this.replyTo) params.reply_to = this.replyTo.id;
        if (!params.reply_to && this.thread) params.reply_to = this.rootId;
        const m = await this.sendInto('messages.sendMedia', params);
        this.replyTo = null;
        this.bar.hidden = true;
        await this.adopt(m);
      }
    } catch (e) {
      toast(errorText(e));
    }
  }
}

function hasFiles(e) {
  return !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
}

/** Entities back into the composer's markdown, for editing (the kinds it can write). */
function toMarkdown(text, entities) {
  const marks = { bold: ['**', '**'], italic: ['__', '__'], code: ['`', '`'] };
  const inserts = [];
  for (const e of entities || []) {
    const pair = e.type === 'text_link' ? ['[', `](${e.url})`] : marks[e.type];
    if (!pair) continue;
    inserts.push([e.offset, pair[0], 0], [e.offset + e.length, pair[1], 1]);
  }
  inserts.sort((a, b) => b[0] - a[0] || a[2] - b[2]);
  let out = text;
  for (const [at, s] of inserts) out = out.slice(0, at) + s + out.slice(at);
  return out;
}
