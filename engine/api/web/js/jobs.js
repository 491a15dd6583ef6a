// The job panel (route #/jobs/NAME, a drawer over the graph): the job's inputs and outputs,
// what blocks it, a Trigger button (operator token) and its builds, newest first, paged with
// "Load older"; the first page refreshes on every poll, rows update in place.

import { get, post, enc } from './api.js';
import { action } from './actions.js';
import { h, setText, timeAgo, fmtDuration, elapsed, refreshAgo } from './dom.js';
import { statusPill, updatePill } from './status.js';

const PAGE = 20;

export class JobPanel {
  constructor(job) {
    this.job = job;
    this.rows = new Map();
    this.nextBefore = undefined;
    this.el = this.render();
  }

  render() {
    const j = this.job;
    const inputs = h(
      'ul',
      { class: 'plain' },
      j.inputs.map((i) =>
        h(
          'li',
          {},
          h('a', { href: `#/resources/${enc(i.resource)}`, text: i.resource }),
          i.name !== i.resource ? ` as ${i.name}` : '',
          i.passed.length ? h('span', { class: 'muted', text: ` passed ${i.passed.join(', ')}` }) : '',
          i.trigger ? h('span', { class: 'badge', text: 'trigger' }) : '',
        ),
      ),
    );
    const outputs = j.outputs.length ? h('p', {}, 'Puts ', j.outputs.map((o, k) => [k ? ', ' : '', h('a', { href: `#/resources/${enc(o)}`, text: o })])) : null;
    this.blocked = h('p', { class: 'blocked', hidden: true });
    const trigger = h('button', { type: 'button', class: 'btn', testid: `trigger-${j.name}`, text: 'Trigger build' });
    const message = h('p', { class: 'action-msg', role: 'status', 'aria-live': 'polite' });
    action(trigger, message, {
      reason: `Triggering ${j.name} needs a token with role operator or approver.`,
      call: () => post(`/jobs/${enc(j.name)}/trigger`),
      success: (b) => `Queued build #${b.number}.`,
      then: () => this.refresh(),
    });
    this.tbody = h('tbody');
    this.more = h('button', { type: 'button', class: 'btn subtle', text: 'Load older builds', hidden: true, on: { click: () => this.loadOlder() } });
    this.empty = h('p', { class: 'muted', text: 'No builds yet.', hidden: true });
    return h(
      'div',
      { class: 'panel-body', testid: 'job-panel' },
      h('p', { class: 'muted' }, `Environment `, h('strong', { text: j.environment }), j.serial ? ' · serial' : ''),
      h('h3', { text: 'Inputs' }),
      inputs,
      outputs,
      this.blocked,
      h('div', { class: 'actions' }, trigger),
      message,
      h('h3', { text: 'Builds' }),
      (this.table = h(
        'table',
        { class: 'table builds', testid: 'builds-table' },
        h('thead', {}, h('tr', {}, ['Build', 'Status', 'Created', 'Duration', 'Reason'].map((t) => h('th', { scope: 'col', text: t })))),
        this.tbody,
      )),
      this.empty,
      this.more,
    );
  }

  /** Shows the job's blocker from GET /jobs. */
  setJobState(jobState) {
    const msg = jobState && jobState.blocked ? jobState.blocked.message : '';
    setText(this.blocked, msg ? `Blocked: ${msg}` : '');
    this.blocked.hidden = !msg;
  }

  row(b) {
    let r = this.rows.get(b.id);
    if (!r) {
      const pill = statusPill(b.status);
      const duration = h('td', { class: 'num' });
      const tr = h(
        'tr',
        { testid: `build-row-${b.number}` },
        h('td', {}, h('a', { href: `#/builds/${b.id}`, testid: `build-link-${b.number}`, text: `#${b.number}` })),
        h('td', {}, pill),
        h('td', {}, timeAgo(b.created_at)),
        duration,
        h('td', { class: 'reason', text: b.reason || '' }),
      );
      r = { tr, pill, duration };
      this.rows.set(b.id, r);
    }
    updatePill(r.pill, b.status);
    setText(r.duration, fmtDuration(elapsed(b.started_at, b.finished_at)));
    return r;
  }

  /** Fetches the first page and merges it in (new builds on top). */
  async refresh() {
    const page = await get(`/jobs/${enc(this.job.name)}/builds?limit=${PAGE}`);
    let anchor = this.tbody.firstChild;
    for (const b of page.builds) {
      const known = this.rows.has(b.id);
      const r = this.row(b);
      if (!known) this.tbody.insertBefore(r.tr, anchor);
      anchor = r.tr.nextSibling;
    }
    if (this.nextBefore === undefined) {
      this.nextBefore = page.next_before;
    }
    this.more.hidden = !this.nextBefore;
    this.empty.hidden = this.rows.size > 0;
    this.table.hidden = this.rows.size === 0;
    refreshAgo(this.tbody);
  }

  async loadOlder() {
    if (!this.nextBefore) return;
    const page = await get(`/jobs/${enc(this.job.name)}/builds?limit=${PAGE}&before=${this.nextBefore}`);
    for (const b of page.builds) if (!this.rows.has(b.id)) this.tbody.append(this.row(b).tr);
    this.nextBefore = page.next_before;
    this.more.hidden = !this.nextBefore;
  }
}
