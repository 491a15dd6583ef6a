// The resource page (route #/resources/NAME): type, check interval, latest and pinned version,
// "Check now", and its versions newest first (paged with "Load older"), each with Pin / Unpin and
// Disable / Enable (operator token). The first page refreshes on every poll.

import { get, post, del, enc } from './api.js';
import { withToken } from './actions.js';
import { h, setText, replace, timeAgo, refreshAgo, loadOrShow } from './dom.js';
import { fullVersion, shortVersion } from './versions.js';
import { every } from './poller.js';

const PAGE = 25;

/** `60000ms` → `1m`. */
function interval(text) {
  const m = /^(\d+)ms$/.exec(text);
  if (!m) return text;
  const ms = Number(m[1]);
  if (ms % 3600000 === 0) return `${ms / 3600000}h`;
  if (ms % 60000 === 0) return `${ms / 60000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return text;
}

export class ResourcePage {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
    this.pinnedId = null;
    this.nextBefore = undefined;
    this.stops = [];
    this.el = this.render();
  }

  render() {
    this.facts = h('dl', { class: 'facts' });
    this.msg = h('p', { class: 'action-msg', role: 'status', 'aria-live': 'polite', testid: 'resource-message' });
    const check = h('button', { type: 'button', class: 'btn', testid: 'check-resource', text: 'Check now' });
    check.addEventListener('click', () => this.run(check, `Checking ${this.name} needs a token with role operator.`, () => post(`/resources/${enc(this.name)}/check`), (a) => `Check done: ${a.new_versions} new version(s).`));
    this.unpin = h('button', { type: 'button', class: 'btn', testid: 'unpin-resource', text: 'Unpin', hidden: true });
    this.unpin.addEventListener('click', () => this.run(this.unpin, `Unpinning ${this.name} needs a token with role operator.`, () => del(`/resources/${enc(this.name)}/pin`), () => 'Unpinned: jobs take the newest version again.'));
    this.tbody = h('tbody');
    this.more = h('button', { type: 'button', class: 'btn subtle', text: 'Load older versions', hidden: true, on: { click: () => this.loadOlder() } });
    this.empty = h('p', { class: 'muted', text: 'No versions found yet.', hidden: true });
    this.error = h('p', { class: 'action-msg error', role: 'alert', hidden: true });
    return h(
      'article',
      { class: 'page resource-page', testid: 'resource-page' },
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/', text: 'Pipeline' }), ' / resources'),
      h('header', { class: 'page-head' }, h('h1', { text: this.name })),
      this.error,
      this.facts,
      h('div', { class: 'actions' }, check, this.unpin),
      this.msg,
      h(
        'section',
        { class: 'card', 'aria-label': 'Versions' },
        h('h2', { text: 'Versions' }),
        h('table', { class: 'table versions', testid: 'versions-table' }, h('thead', {}, h('tr', {}, ['Version', 'Details', 'First seen', 'State', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))), this.tbody),
        this.empty,
        this.more,
      ),
    );
  }

  async start() {
    if (!(await loadOrShow(this.error, () => this.refresh()))) return;
    this.stops.push(every(() => this.refresh()));
  }

  stop() {
    for (const s of this.stops) s();
  }

  /** Runs an action with a token and reports its outcome. */
  async run(button, reason, call, success) {
    button.disabled = true;
    this.msg.classList.remove('ok', 'error');
    setText(this.msg, '');
    try {
      const r = await withToken(reason, call);
      if (r.ok !== undefined) {
        this.msg.classList.add('ok');
        setText(this.msg, success(r.ok));
        await this.refresh();
      } else if (r.error) {
        this.msg.classList.add('error');
        setText(this.msg, r.error.explain());
      }
    } finally {
      button.disabled = false;
    }
  }

  async refresh() {
    const [all, page] = await Promise.all([get('/resources'), get(`/resources/${enc(this.name)}/versions?limit=${PAGE}`)]);
    const r = all.find((x) => x.name === this.name);
    if (r) {
      this.pinnedId = r.pinned ? r.pinned.id : null;
      const fact = (k, v) => h('div', {}, h('dt', { text: k }), h('dd', { text: v }));
      const sig = JSON.stringify(r);
      if (sig !== this.factsSig) {
        this.factsSig = sig;
        replace(
          this.facts,
          fact('Type', r.type),
          fact('Promotion', { promoted: 'promoted: its versions walk through the environments', shared: 'shared: serves every environment, not promoted', local: 'used in one environment' }[r.role] || r.role),
          fact('Checked', r.check_every === 'never' ? 'on demand (webhook or check)' : `every ${interval(r.check_every)}`),
          fact('Webhook', r.webhook ? 'enabled' : 'off'),
          fact('Latest', r.latest ? fullVersion(r.latest.version) : '—'),
          fact('Pinned', r.pinned ? fullVersion(r.pinned.version) : 'not pinned'),
        );
      }
      this.unpin.hidden = !r.pinned;
    }
    let anchor = this.tbody.firstChild;
    for (const v of page.versions) {
      const known = this.rows.has(v.id);
      const row = this.row(v);
      if (!known) this.tbody.insertBefore(row.tr, anchor);
      anchor = row.tr.nextSibling;
    }
    for (const row of this.rows.values()) this.updateState(row);
    if (this.nextBefore === undefined) this.nextBefore = page.next_before;
    this.more.hidden = !this.nextBefore;
    this.empty.hidden = this.rows.size > 0;
    refreshAgo(this.tbody);
  }

  row(v) {
    let row = this.rows.get(v.id);
    if (row) {
      row.v = v;
      return row;
    }
    const state = h('td', { class: 'state' });
    const pin = h('button', { type: 'button', class: 'btn small', text: 'Pin' });
    const toggle = h('button', { type: 'button', class: 'btn small' });
    const meta = v.metadata.length ? h('div', { class: 'muted small', text: v.metadata.map((m) => `${m.name}: ${m.value}`).join(' · ') }) : null;
    const tr = h(
      'tr',
      { testid: `version-${v.id}` },
      h('td', {}, h('code', { title: fullVersion(v.version), text: shortVersion(v.version) })),
      h('td', {}, h('div', { class: 'small', text: fullVersion(v.version) }), meta),
      h('td', {}, timeAgo(v.first_seen_at)),
      state,
      h('td', { class: 'row-actions' }, pin, toggle),
    );
    row = { tr, state, pin, toggle, v };
    pin.addEventListener('click', () => this.run(pin, `Pinning ${this.name} needs a token with role operator.`, () => post(`/resources/${enc(this.name)}/pin`, { version: row.v.version }), () => `Pinned ${shortVersion(row.v.version)}: every input of ${this.name} gets exactly this version.`));
    toggle.addEventListener('click', () => {
      const disable = !row.v.disabled;
      this.run(toggle, `Changing versions of ${this.name} needs a token with role operator.`, () => post(`/resources/${enc(this.name)}/versions/${disable ? 'disable' : 'enable'}`, { version: row.v.version }), () => `${disable ? 'Disabled' : 'Enabled'} ${shortVersion(row.v.version)}.`);
    });
    this.rows.set(v.id, row);
    return row;
  }

  updateState(row) {
    const pinned = row.v.id === this.pinnedId;
    const words = [];
    if (pinned) words.push('pinned');
    if (row.v.disabled) words.push('disabled');
    setText(row.state, words.join(' · ') || 'enabled');
    row.tr.classList.toggle('disabled', row.v.disabled);
    row.tr.classList.toggle('pinned', pinned);
    row.pin.hidden = pinned;
    setText(row.toggle, row.v.disabled ? 'Enable' : 'Disable');
  }

  async loadOlder() {
    if (!this.nextBefore) return;
    const page = await get(`/resources/${enc(this.name)}/versions?limit=${PAGE}&before=${this.nextBefore}`);
    for (const v of page.versions) {
      if (!this.rows.has(v.id)) {
        const row = this.row(v);
        this.tbody.append(row.tr);
        this.updateState(row);
      }
    }
    this.nextBefore = page.next_before;
    this.more.hidden = !this.nextBefore;
  }
}
