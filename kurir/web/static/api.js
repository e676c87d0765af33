// The client of kurir's API: HTTP calls with the session's token, file uploads and
// downloads, and the live WebSocket that keeps the app in step with the server by pts.

export class ApiError extends Error {
  constructor(error) {
    super(error.message || error.type);
    this.code = error.code;
    this.type = error.type;
    this.retryAfter = error.retry_after;
  }
}

const BASE = '/api/v1/';

/** One call without a session (auth.register / auth.login). */
export async function anonymousCall(method, params) {
  return request(method, params, null);
}

async function request(method, params, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(BASE + method, { method: 'POST', headers, body: JSON.stringify(params || {}) });
  } catch (e) {
    throw new ApiError({ code: 0, type: 'NETWORK', message: String(e) });
  }
  let body;
  try {
    body = await res.json();
  } catch (e) {
    throw new ApiError({ code: res.status, type: 'BAD_RESPONSE', message: res.statusText });
  }
  if (!body.ok) throw new ApiError(body.error || { code: res.status, type: 'UNKNOWN' });
  return body.result;
}

/** A random_id in JavaScript's safe integer range (the server takes any signed 64-bit). */
export function randomId() {
  return Math.floor(Math.random() * 2 ** 52) + 1;
}

/**
 * The signed-in session: calls, files and the live connection.
 * Events (EventTarget): 'update' (detail: Update, in pts order), 'channelupdate'
 * (detail: {channelId, update}), 'channelreset' (detail: channelId, too long a gap),
 * 'event' (typing, user_status…), 'status' (detail: 'online'|'connecting'|'offline'),
 * 'loggedout' (the session was ended, here or elsewhere).
 */
export class Session extends EventTarget {
  constructor(token, user) {
    super();
    this.token = token;
    this.user = user;
    this.ptsKey = `kurir.pts.${user.id}`;
    this.chanKey = `kurir.cpts.${user.id}`;
    this.pts = Number(localStorage.getItem(this.ptsKey) || 0);
    this.channelPts = JSON.parse(localStorage.getItem(this.chanKey) || '{}');
    this.ws = null;
    this.status = 'offline';
    this.attempt = 0;
    this.timer = null;
    this.closed = false;
    this.syncing = null;       // the running getDifference, if any
    this.syncAgain = false;
    this.pending = new Map();  // pushes that came ahead of their turn, by pts
    this.chanSyncing = new Map();
    this.blobs = new Map();    // file_id -> Promise<blob: URL>
    this._onWake = () => this.check();
    this._onOffline = () => this.dropped();
    window.addEventListener('online', this._onWake);
    window.addEventListener('offline', this._onOffline);
    document.addEventListener('visibilitychange', this._onWake);
  }

  async call(method, params) {
    try {
      return await request(method, params, this.token);
    } catch (e) {
      if (e.type === 'AUTH_KEY_INVALID' && !this.closed) this.loggedOut();
      throw e;
    }
  }

  // ---- sync state -------------------------------------------------------------------------

  /** Start from the server's current pts when this device has none stored. */
  async init() {
    if (!localStorage.getItem(this.ptsKey)) {
      const state = await this.call('updates.getState', {});
      this.setPts(state.pts);
    }
  }

  setPts(pts) {
    this.pts = pts;
    localStorage.setItem(this.ptsKey, String(pts));
  }

  /** Follow a channel from this pts unless a later one is known already. */
  knowChannel(channelId, pts) {
    if (this.channelPts[channelId] === undefined || this.channelPts[channelId] < pts) {
      this.setChannelPts(channelId, pts);
    }
  }

  setChannelPts(channelId, pts) {
    this.channelPts[channelId] = pts;
    localStorage.setItem(this.chanKey, JSON.stringify(this.channelPts));
  }

  // ---- the live connection ----------------------------------------------------------------

  connect() {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) return;
    // while the browser says it is offline, say so (but still try: loopback may work)
    this.setStatus(navigator.onLine ? 'connecting' : 'offline');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}${BASE}ws?token=${encodeURIComponent(this.token)}&pts=${this.pts}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.setStatus('online');
      this.catchUp();
    };
    ws.onmessage = (e) => { if (this.ws === ws) this.onFrame(e.data); };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 4001) { this.loggedOut(); return; }
      this.setStatus('offline');
      this.schedule();
    };
  }

  /** Exponential backoff: 0.5 s doubling to 30 s, each wait between half and all of it. */
  schedule() {
    if (this.closed || this.timer) return;
    const base = Math.min(30, 0.5 * 2 ** this.attempt);
    this.attempt += 1;
    const wait = base * (0.5 + Math.random() * 0.5);
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, wait * 1000);
  }

  /** Back online, or the tab shown again: reconnect now rather than at the next backoff. */
  check() {
    if (this.closed) return;
    if (!navigator.onLine) { this.dropped(); return; }
    if (document.visibilityState === 'hidden') return;
    if (!this.ws || this.ws.readyState === WebSocket.CLOSED || this.ws.readyState === WebSocket.CLOSING) {
      this.attempt = 0;
      clearTimeout(this.timer);
      this.timer = null;
      this.connect();
    }
  }

  /** The network went away: a socket may not notice for minutes, so give it up now and
   * reconnect (with getDifference) when the browser is back online. */
  dropped() {
    if (this.closed || !this.ws) { this.setStatus('offline'); return; }
    const ws = this.ws;
    this.ws = null;
    try { ws.close(); } catch (e) { /* already closing */ }
    this.setStatus('offline');
    this.schedule();
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: status }));
  }

  onFrame(text) {
    let frame;
    try { frame = JSON.parse(text); } catch (e) { return; }
    if (frame.update) this.push(frame.update);
    else if (frame.channel_update) this.pushChannel(frame.channel_id, frame.channel_update);
    else if (frame.event) this.dispatchEvent(new CustomEvent('event', { detail: frame.event }));
  }

  // ---- the user's updates, strictly in pts order ------------------------------------------

  push(update) {
    if (update.pts <= this.pts) return;
    if (update.pts === this.pts + 1) {
      this.apply(update);
      this.drain();
      return;
    }
    this.pending.set(update.pts, update);
    this.catchUp();
  }

  apply(update) {
    this.setPts(update.pts);
    try {
      this.dispatchEvent(new CustomEvent('update', { detail: update }));
    } catch (e) {
      console.error(e);
    }
  }

  drain() {
    for (const pts of [...this.pending.keys()]) if (pts <= this.pts) this.pending.delete(pts);
    while (this.pending.has(this.pts + 1)) {
      const u = this.pending.get(this.pts + 1);
      this.pending.delete(u.pts);
      this.apply(u);
    }
  }

  /** updates.getDifference from the last applied pts until `more` is false (one at a time). */
  catchUp() {
    if (this.syncing) { this.syncAgain = true; return this.syncing; }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          for (;;) {
            const diff = await this.call('updates.getDifference', { pts: this.pts, limit: 500 });
            for (const u of diff.updates) if (u.pts === this.pts + 1) this.apply(u);
            if (!diff.updates.length && diff.state.pts > this.pts) this.setPts(diff.state.pts);
            this.drain();
            if (!diff.more) break;
          }
        } while (this.syncAgain);
        await this.catchUpChannels();
      } catch (e) {
        console.warn('getDifference failed', e);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  // ---- channels: each in its own pts order --------------------------------------------------

  pushChannel(channelId, update) {
    const known = this.channelPts[channelId];
    if (known === undefined) {
      // followed since this socket opened (just joined): take it as the start
      this.setChannelPts(channelId, update.pts);
      this.dispatchEvent(new CustomEvent('channelupdate', { detail: { channelId, update } }));
      return;
    }
    if (update.pts <= known) return;
    if (update.pts === known + 1) {
      this.setChannelPts(channelId, update.pts);
      this.dispatchEvent(new CustomEvent('channelupdate', { detail: { channelId, update } }));
      return;
    }
    this.channelCatchUp(channelId);
  }

  async catchUpChannels() {
    await Promise.all(Object.keys(this.channelPts).map((id) => this.channelCatchUp(Number(id))));
  }

  channelCatchUp(channelId) {
    if (this.chanSyncing.has(channelId)) return this.chanSyncing.get(channelId);
    const run = (async () => {
      try {
        for (;;) {
          const from = this.channelPts[channelId] || 0;
          const diff = await this.call('updates.getChannelDifference', { channel_id: channelId, pts: from, limit: 500 });
          if (diff.too_long) {
            this.setChannelPts(channelId, diff.pts);
            this.dispatchEvent(new CustomEvent('channelreset', { detail: { channelId, messages: diff.messages || [] } }));
            break;
          }
          for (const update of diff.updates) {
            if (update.pts !== (this.channelPts[channelId] || 0) + 1) continue;
            this.setChannelPts(channelId, update.pts);
            this.dispatchEvent(new CustomEvent('channelupdate', { detail: { channelId, update } }));
          }
          if (diff.pts > (this.channelPts[channelId] || 0) && !diff.updates.length) this.setChannelPts(channelId, diff.pts);
          if (diff.final !== false) break;
        }
      } catch (e) {
        if (e.type === 'CHAT_NOT_FOUND' || e.code === 403) {
          delete this.channelPts[channelId];
          localStorage.setItem(this.chanKey, JSON.stringify(this.channelPts));
        } else {
          console.warn('getChannelDifference failed', e);
        }
      } finally {
        this.chanSyncing.delete(channelId);
      }
    })();
    this.chanSyncing.set(channelId, run);
    return run;
  }

  // ---- files ------------------------------------------------------------------------------

  /** Upload a File in parts (upload.start / PUT parts / upload.finish); onProgress(0..1). */
  async upload(file, onProgress) {
    const start = await this.call('upload.start', { name: file.name || 'file', size: file.size, mime_type: file.type || '' });
    const partSize = start.part_size;
    const parts = Math.max(1, Math.ceil(file.size / partSize));
    let done = 0;
    for (let i = 0; i < parts; i++) {
      const blob = file.slice(i * partSize, Math.min(file.size, (i + 1) * partSize));
      await this.putPart(start.upload_id, i, blob, (loaded) => onProgress && onProgress((done + loaded) / file.size));
      done += blob.size;
      if (onProgress) onProgress(done / file.size);
    }
    return this.call('upload.finish', { upload_id: start.upload_id });
  }

  putPart(uploadId, part, blob, onLoaded) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', `${BASE}upload/${encodeURIComponent(uploadId)}/${part}`);
      xhr.setRequestHeader('Authorization', `Bearer ${this.token}`);
      xhr.upload.onprogress = (e) => onLoaded(e.loaded);
      xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new ApiError({ code: xhr.status, type: 'UPLOAD_FAILED' })));
      xhr.onerror = () => reject(new ApiError({ code: 0, type: 'NETWORK' }));
      xhr.send(blob);
    });
  }

  /** A blob: URL for a file, fetched once with the token. */
  fileUrl(fileId) {
    if (!this.blobs.has(fileId)) {
      const p = fetch(`${BASE}files/${encodeURIComponent(fileId)}`, { headers: { Authorization: `Bearer ${this.token}` } })
        .then((res) => {
          if (!res.ok) throw new ApiError({ code: res.status, type: 'FILE_UNAVAILABLE' });
          return res.blob();
        })
        .then((blob) => URL.createObjectURL(blob));
      p.catch(() => this.blobs.delete(fileId));
      this.blobs.set(fileId, p);
    }
    return this.blobs.get(fileId);
  }

  // ---- the end ----------------------------------------------------------------------------

  loggedOut() {
    if (this.closed) return;
    this.close();
    this.dispatchEvent(new CustomEvent('loggedout'));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this._onWake);
    window.removeEventListener('offline', this._onOffline);
    document.removeEventListener('visibilitychange', this._onWake);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(1000); }
    for (const p of this.blobs.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
    this.blobs.clear();
    this.setStatus('offline');
  }
}
