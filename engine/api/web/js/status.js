// Build statuses: their order, labels and the colour legend. Colour is never the only signal:
// every status is also written out as text (and a symbol).

import { h } from './dom.js';

export const STATUSES = [
  ['succeeded', 'succeeded', '✓'],
  ['failed', 'failed', '✗'],
  ['errored', 'errored', '!'],
  ['started', 'running', '▶'],
  ['pending', 'pending', '…'],
  ['aborted', 'aborted', '■'],
  ['interrupted', 'interrupted', '↻'],
  ['none', 'no builds yet', '○'],
];

const BY_NAME = new Map(STATUSES.map(([name, label, symbol]) => [name, { label, symbol }]));

/** The status of a job from its last build (`none` without builds). */
export const jobStatus = (job) => (job && job.last_build ? job.last_build.status : 'none');

export const statusLabel = (s) => (BY_NAME.get(s) || { label: s }).label;
export const statusSymbol = (s) => (BY_NAME.get(s) || { symbol: '•' }).symbol;

/** A small status pill: symbol and text, coloured by `s-STATUS`. */
export function statusPill(status) {
  const el = h('span', { class: `pill s-${status}`, dataset: { status } });
  el.append(h('span', { class: 'sym', 'aria-hidden': 'true', text: statusSymbol(status) }), h('span', { class: 'label', text: statusLabel(status) }));
  return el;
}

/** Updates a pill made by `statusPill` in place. */
export function updatePill(el, status) {
  if (el.dataset.status === status) return;
  el.dataset.status = status;
  el.className = `pill s-${status}`;
  el.querySelector('.sym').textContent = statusSymbol(status);
  el.querySelector('.label').textContent = statusLabel(status);
}

/** The colour legend. */
export function legend() {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Status colours', testid: 'legend' },
    STATUSES.map(([name, label, symbol]) =>
      h('li', { class: `s-${name}` }, h('span', { class: 'swatch', 'aria-hidden': 'true', text: symbol }), label),
    ),
  );
}
