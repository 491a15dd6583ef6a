// DOM helpers: building elements (text only, never HTML from data), in-place updates that touch
// the page only when a value changed, and the formatting of times and durations.

/** Creates `<tag>` with attributes and children. `attrs`: `class`, `text`, `dataset`, `on`
 *  (event → handler), `hidden`, any other key as an attribute; children: nodes or strings. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element with attributes. */
export function svg(tag, attrs = {}) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
  }
  return el;
}

function applyAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === 'testid') el.setAttribute('data-testid', value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
}

/** Appends children (nodes, strings, arrays, null skipped). */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Sets `el.textContent` only when it changes (no layout work otherwise). */
export function setText(el, text) {
  const s = text === null || text === undefined ? '' : String(text);
  if (el.textContent !== s) el.textContent = s;
}

/** Sets or removes attribute `name` only when it changes. */
export function setAttr(el, name, value) {
  if (value === null || value === undefined || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== String(value)) {
    el.setAttribute(name, String(value));
  }
}

/** Shows or hides `el` (the `hidden` attribute). */
export function show(el, visible) {
  if (el.hidden === visible) el.hidden = !visible;
}

const pad = (n) => String(n).padStart(2, '0');

/** `2026-11-26 20:31:05` in local time, or `—`. */
export function fmtTime(ms) {
  if (!ms) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `1.2 s`, `3m 04s`, `2h 05m`. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(Math.floor(s % 60))}s`;
  return `${Math.floor(m / 60)}h ${pad(m % 60)}m`;
}

/** `just now`, `12s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** The duration of something that started at `start` and finished at `end` (or runs now). */
export function elapsed(start, end) {
  if (!start) return null;
  return (end || Date.now()) - start;
}

/** A `<time>` element showing `ms` relative to now, with the absolute time as its title. */
export function timeAgo(ms) {
  const el = h('time', { class: 'ago', datetime: ms ? new Date(ms).toISOString() : '', title: fmtTime(ms) });
  el.dataset.at = ms || '';
  el.textContent = fmtAgo(ms);
  return el;
}

/** Refreshes every relative `<time class="ago">` under `root`. */
export function refreshAgo(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time.ago')) {
    const at = Number(el.dataset.at);
    if (at) setText(el, fmtAgo(at, now));
  }
}

/** Runs `load()`; when it fails, shows why in `errorEl` (saying what to do about a 401 or 403)
 *  and resolves to false. */
export async function loadOrShow(errorEl, load) {
  try {
    await load();
    return true;
  } catch (e) {
    setText(errorEl, e.explain ? e.explain() : String(e));
    errorEl.hidden = false;
    return false;
  }
}
