// A tiny element builder: h('button', {class: 'x', onclick: f, 'aria-label': 'Send'}, 'text', child)
// Properties starting with "on" become listeners; no inline handlers, so the strict CSP holds.
import { t } from './i18n.js';

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let toastBox = null;

/** A short notice at the bottom of the screen (bot callback answers, errors). */
export function toast(text, ms = 4000) {
  if (!toastBox) {
    toastBox = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const item = h('div', { class: 'toast' }, text);
  toastBox.append(item);
  setTimeout(() => item.remove(), ms);
}

let openPop = null;

/** A small popup (menu or picker) under `anchor`; Esc or a click elsewhere closes it and
 * gives focus back to the anchor. Returns the close function. */
export function popover(anchor, content, { label, role = 'menu' } = {}) {
  closePopover();
  const box = h('div', { class: 'popover', role, 'aria-label': label }, content);
  const host = anchor.closest('.pop-host') || anchor.parentElement;
  host.append(box);
  anchor.setAttribute('aria-expanded', 'true');
  const onKey = (e) => {
    if (e.key === 'Escape') { e.stopPropagation(); close(); anchor.focus(); }
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp' || e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      const items = [...box.querySelectorAll('button')];
      const i = items.indexOf(document.activeElement);
      const step = e.key === 'ArrowDown' || e.key === 'ArrowRight' ? 1 : -1;
      const next = items[(i + step + items.length) % items.length];
      if (next) { e.preventDefault(); next.focus(); }
    }
  };
  const onDown = (e) => { if (!box.contains(e.target) && e.target !== anchor && !anchor.contains(e.target)) close(); };
  function close() {
    box.remove();
    anchor.setAttribute('aria-expanded', 'false');
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('pointerdown', onDown, true);
    if (openPop === close) openPop = null;
  }
  document.addEventListener('keydown', onKey, true);
  document.addEventListener('pointerdown', onDown, true);
  openPop = close;
  const first = box.querySelector('button');
  if (first) first.focus();
  return close;
}

export function closePopover() {
  if (openPop) openPop();
}

let fieldSeq = 0;

/** A labelled form field (the label names the control). */
export function field(label, input) {
  const id = `d${++fieldSeq}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

/** A modal <dialog> named by its heading, with a close button; removed once closed.
 * Returns the dialog (call .close() to dismiss it). */
export function modal(title, ...content) {
  const headId = `m${++fieldSeq}`;
  const dialog = h('dialog', { class: 'settings', 'aria-labelledby': headId },
    h('div', { class: 'settings-head' },
      h('h2', { id: headId }, title),
      h('button', { type: 'button', class: 'ghost', 'aria-label': t('close'), onclick: () => dialog.close() }, '✕')),
    content);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
