// The build page (route #/builds/ID): header (job, number, status, times, reason, inputs and
// outputs), its steps, the live log (appended as it arrives, following the bottom unless the
// reader scrolled up) and the structured test reports. Polls build, steps and reports while
// the build runs.

import { get, enc } from './api.js';
import { h, setText, replace, fmtTime, fmtDuration, elapsed, loadOrShow } from './dom.js';
import { statusPill, updatePill } from './status.js';
import { renderReports } from './reports.js';
import { followLogs } from './logs.js';
import { fullVersion, shortVersion } from './versions.js';
import { every } from './poller.js';

export class BuildPage {
  constructor(id) {
    this.id = id;
    this.steps = new Map();
    this.sig = { build: '', steps: '', reports: '' };
    this.stops = [];
    this.el = this.render();
  }

  render() {
    this.title = h('h1', { text: `Build ${this.id}` });
    this.crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/', text: 'Pipeline' }));
    this.pill = statusPill('pending');
    this.pill.setAttribute('data-testid', 'build-status');
    this.facts = h('dl', { class: 'facts' });
    this.io = h('div', { class: 'io' });
    this.stepList = h('ol', { class: 'steps', testid: 'build-steps' });
    this.log = h('div', { class: 'log', testid: 'build-log', role: 'log', 'aria-label': 'Build log', tabindex: '0' });
    this.logState = h('p', { class: 'muted log-state', role: 'status', text: 'Connecting to the log…' });
    this.reports = h('div', { testid: 'build-reports' }, h('p', { class: 'muted', text: 'Loading reports…' }));
    this.error = h('p', { class: 'action-msg error', role: 'alert', hidden: true });
    return h(
      'article',
      { class: 'page build-page', testid: 'build-page' },
      this.crumbs,
      h('header', { class: 'page-head' }, this.title, this.pill),
      this.error,
      this.facts,
      this.io,
      h('div', { class: 'build-grid' }, h('section', { class: 'card steps-card', 'aria-label': 'Steps' }, h('h2', { text: 'Steps' }), this.stepList), h('section', { class: 'card log-card', 'aria-label': 'Log' }, h('h2', { text: 'Log' }), this.log, this.logState)),
      h('section', { class: 'card', 'aria-label': 'Test reports' }, h('h2', { text: 'Test reports' }), this.reports),
    );
  }

  async start() {
    if (!(await loadOrShow(this.error, () => this.refresh()))) return;
    this.stops.push(
      followLogs(this.id, {
        onLines: (lines) => this.appendLines(lines),
        onEnd: (info) => {
          setText(this.logState, info.shutdown ? 'The server stopped; reload to continue following.' : `End of log — the build ${info.status}.`);
          this.refresh().catch(() => {});
        },
      }),
    );
    const unpoll = every(async () => {
      if (this.finished) return;
      await this.refresh();
    });
    this.stops.push(unpoll);
  }

  stop() {
    for (const s of this.stops) s();
    this.stops = [];
  }

  async refresh() {
    const [build, steps, reports] = await Promise.all([get(`/builds/${this.id}`), get(`/builds/${this.id}/steps`), get(`/builds/${this.id}/reports`)]);
    this.finished = build.finished;
    this.applyBuild(build);
    this.applySteps(steps);
    const sig = JSON.stringify(reports);
    if (sig !== this.sig.reports) {
      this.sig.reports = sig;
      replace(this.reports, renderReports(reports, steps));
    }
  }

  applyBuild(b) {
    updatePill(this.pill, b.status);
    const sig = JSON.stringify(b);
    if (sig === this.sig.build) return;
    this.sig.build = sig;
    document.title = `${b.job} #${b.number} ${b.status} · Lockgate`;
    setText(this.title, `${b.job} #${b.number}`);
    replace(this.crumbs, h('a', { href: '#/', text: 'Pipeline' }), ' / ', h('a', { href: `#/jobs/${enc(b.job)}`, text: b.job }), ' / ', h('span', { 'aria-current': 'page', text: `#${b.number}` }));
    const fact = (k, v) => h('div', {}, h('dt', { text: k }), h('dd', { text: v }));
    replace(
      this.facts,
      fact('Created', fmtTime(b.created_at)),
      fact('Started', fmtTime(b.started_at)),
      fact('Finished', fmtTime(b.finished_at)),
      fact('Duration', fmtDuration(elapsed(b.started_at, b.finished_at))),
      fact('Reason', b.reason || '—'),
      b.node ? fact('Node', b.node) : null,
      b.retry_of ? fact('Retry of', `build ${b.retry_of}`) : null,
    );
    const versions = (title, list) =>
      list.length
        ? h(
            'section',
            { class: 'card io-card', 'aria-label': title },
            h('h2', { text: title }),
            h(
              'table',
              { class: 'table' },
              h('tbody', {}, list.map((v) => h('tr', {}, h('td', {}, h('a', { href: `#/resources/${enc(v.resource)}`, text: v.name && v.name !== v.resource ? `${v.name} (${v.resource})` : v.resource })), h('td', { title: fullVersion(v.version) }, h('code', { text: shortVersion(v.version) })), h('td', { class: 'muted small', text: fullVersion(v.version) })))),
            ),
          )
        : null;
    replace(this.io, versions('Inputs', b.inputs || []), versions('Outputs', b.outputs || []));
  }

  applySteps(steps) {
    steps = [...steps].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
    for (const s of steps) this.steps.set(s.id, s);
    const sig = JSON.stringify(steps);
    if (sig === this.sig.steps) return;
    this.sig.steps = sig;
    replace(
      this.stepList,
      steps.map((s) =>
        h(
          'li',
          { class: `step s-${s.status}`, testid: `step-${s.id}` },
          statusPill(s.status === 'running' ? 'started' : s.status),
          h('span', { class: 'step-kind', text: s.kind }),
          h('span', { class: 'step-name', text: s.name }),
          h('span', { class: 'muted num', text: fmtDuration(elapsed(s.started_at, s.finished_at)) }),
          s.error ? h('p', { class: 'step-error', text: s.error }) : null,
        ),
      ),
    );
  }

  appendLines(lines) {
    const box = this.log;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    const frag = document.createDocumentFragment();
    for (const l of lines) {
      const step = this.steps.get(l.step_id);
      frag.append(
        h(
          'div',
          { class: `line ${streamClass(l.stream)}`, title: l.stream },
          h('span', { class: 'ln-time', text: fmtTime(l.at).slice(11) }),
          h('span', { class: 'ln-step', text: step ? step.name : l.step_id ? `step ${l.step_id}` : '' }),
          h('span', { class: 'ln-text', text: l.text }),
        ),
      );
    }
    box.append(frag);
    setText(this.logState, this.finished ? '' : 'Following the log…');
    if (atBottom) box.scrollTop = box.scrollHeight;
  }
}

/** `plugin:warn` → `st-plugin-warn`; stderr and errors stand out. */
function streamClass(stream) {
  const s = String(stream || '');
  if (/err/.test(s)) return 'st-error';
  if (/warn/.test(s)) return 'st-warn';
  if (s === 'engine') return 'st-engine';
  return 'st-plugin';
}
