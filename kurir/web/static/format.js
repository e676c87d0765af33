// Text formatting: the composer's tiny markdown (**b**, __i__, `c`, [t](url)) turned into
// Telegram-style entities, and entities rendered back into DOM nodes. Offsets and lengths are
// in UTF-16 code units, which is what JavaScript string indices already are.
import { h } from './dom.js';
import { locale, t } from './i18n.js';

const MARKS = [['**', 'bold'], ['__', 'italic']];

/** Parse the markdown; returns {text, entities}. Unclosed marks stay as typed. */
export function parseMarkdown(src) {
  const out = { text: '', entities: [] };
  parseInto(src, out);
  out.entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return out;
}

function parseInto(src, out) {
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end > i + 1) {
        const body = src.slice(i + 1, end);
        out.entities.push({ type: 'code', offset: out.text.length, length: body.length });
        out.text += body;
        i = end + 1;
        continue;
      }
    }
    if (c === '[') {
      const m = /^\[([^\]\n]+)\]\(([^)\s]+)\)/.exec(src.slice(i));
      if (m && safeUrl(m[2])) {
        const start = out.text.length;
        parseInto(m[1], out);
        out.entities.push({ type: 'text_link', offset: start, length: out.text.length - start, url: m[2] });
        i += m[0].length;
        continue;
      }
    }
    let matched = false;
    for (const [mark, type] of MARKS) {
      if (src.startsWith(mark, i)) {
        const end = src.indexOf(mark, i + mark.length);
        if (end > i + mark.length) {
          const start = out.text.length;
          parseInto(src.slice(i + mark.length, end), out);
          if (out.text.length > start) out.entities.push({ type, offset: start, length: out.text.length - start });
          i = end + mark.length;
          matched = true;
        }
        break;
      }
    }
    if (matched) continue;
    out.text += c;
    i += 1;
  }
}

export function safeUrl(url) {
  try {
    const u = new URL(url, location.href);
    return ['http:', 'https:', 'mailto:', 'tg:'].includes(u.protocol) ? u.href : null;
  } catch (e) {
    return null;
  }
}

const TAGS = { bold: 'strong', italic: 'em', underline: 'u', strikethrough: 's', code: 'code', pre: 'pre', spoiler: 'span' };

/** Message text with its entities as DOM nodes (nested entities by splitting at every edge). */
export function renderText(text, entities) {
  const frag = document.createDocumentFragment();
  if (!entities || !entities.length) { frag.append(text); return frag; }
  const cuts = new Set([0, text.length]);
  for (const e of entities) { cuts.add(Math.max(0, e.offset)); cuts.add(Math.min(text.length, e.offset + e.length)); }
  const points = [...cuts].sort((a, b) => a - b);
  for (let k = 0; k < points.length - 1; k++) {
    const a = points[k]; const b = points[k + 1];
    if (a >= b) continue;
    let node = document.createTextNode(text.slice(a, b));
    for (const e of entities) {
      if (e.offset <= a && e.offset + e.length >= b) node = wrap(node, e, text);
    }
    frag.append(node);
  }
  return frag;
}

function wrap(node, e, text) {
  if (e.type === 'text_link' || e.type === 'url') {
    const href = safeUrl(e.type === 'url' ? text.substr(e.offset, e.length) : e.url);
    return href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, node) : node;
  }
  if (e.type === 'mention') return h('span', { class: 'mention' }, node);
  const tag = TAGS[e.type];
  return tag ? h(tag, e.type === 'spoiler' ? { class: 'spoiler' } : null, node) : node;
}

// ---- dates ----------------------------------------------------------------------------------

export function dayKey(unix) {
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(unix) {
  const d = new Date(unix * 1000);
  const now = new Date();
  const y = new Date(now); y.setDate(now.getDate() - 1);
  if (dayKey(unix) === dayKey(now / 1000)) return t('today');
  if (dayKey(unix) === dayKey(y / 1000)) return t('yesterday');
  return d.toLocaleDateString(locale(), { day: 'numeric', month: 'long', year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric' });
}

export function timeLabel(unix) {
  return new Date(unix * 1000).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });
}

/** A short stamp for the dialog list: time today, else the date. */
export function shortStamp(unix) {
  if (dayKey(unix) === dayKey(Date.now() / 1000)) return timeLabel(unix);
  return new Date(unix * 1000).toLocaleDateString(locale(), { day: 'numeric', month: 'short' });
}

export function whenLabel(unix) {
  if (!unix) return '';
  return `${dayLabel(unix)} ${timeLabel(unix)}`;
}

export function sizeLabel(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A one-line preview of a message for the dialog list and reply quotes. */
export function preview(m) {
  if (!m) return '';
  if (m.text) return m.text.replace(/\s+/g, ' ').slice(0, 120);
  if (m.media) return m.media.kind === 'document' ? (m.media.name || t('document')) : (t(m.media.kind) || t('media'));
  if (m.action) return typeof m.action === 'string' ? m.action : (m.action.type || '').replace(/_/g, ' ');
  return '';
}
