// Structured test reports (GET /builds/{id}/reports) as tables: one section per test step with
// its verdict and counts, one table per suite with each case's status, duration and message.

import { h, fmtDuration } from './dom.js';

const CASE_SYMBOL = { passed: '✓', failed: '✗', skipped: '–', errored: '!' };

/** The reports of a build; `steps` names the test step of each report. */
export function renderReports(reports, steps) {
  if (!reports.length) return h('p', { class: 'muted', text: 'This build has no test reports (yet).' });
  const stepName = new Map(steps.map((s) => [s.id, s]));
  return h(
    'div',
    { class: 'reports' },
    reports.map((r) => {
      const step = stepName.get(r.step_id);
      const cases = r.report.suites.flatMap((s) => s.cases);
      const count = (st) => cases.filter((c) => c.status === st).length;
      const counts = ['passed', 'failed', 'errored', 'skipped']
        .map((st) => [st, count(st)])
        .filter(([, n]) => n)
        .map(([st, n]) => `${n} ${st}`)
        .join(' · ');
      const title = step ? step.name : `step ${r.step_id}`;
      return h(
        'section',
        { class: `report ${r.passed ? 'passed' : 'failed'}`, testid: `report-${title}` },
        h(
          'header',
          { class: 'report-head' },
          h('h3', {}, h('span', { class: 'muted', text: 'test ' }), title),
          h('span', { class: `pill s-${r.passed ? 'succeeded' : 'failed'}` }, h('span', { class: 'sym', 'aria-hidden': 'true', text: r.passed ? '✓' : '✗' }), h('span', { class: 'label', text: r.passed ? 'passed' : 'failed' })),
          h('span', { class: 'muted', text: counts || 'no cases' }),
        ),
        r.report.suites.map((suite) =>
          h(
            'table',
            { class: 'table report-table', testid: 'report-table' },
            h('caption', { text: `suite ${suite.name}` }),
            h('thead', {}, h('tr', {}, ['Case', 'Status', 'Duration', 'Message'].map((t) => h('th', { scope: 'col', text: t })))),
            h(
              'tbody',
              {},
              suite.cases.map((c) =>
                h(
                  'tr',
                  { class: `case-${c.status}` },
                  h('td', { text: c.name }),
                  h('td', {}, h('span', { class: `case-status c-${c.status}` }, h('span', { 'aria-hidden': 'true', text: `${CASE_SYMBOL[c.status] || '•'} ` }), c.status)),
                  h('td', { class: 'num', text: fmtDuration(c.duration_ms) }),
                  h('td', { class: 'msg', text: c.message || '' }),
                ),
              ),
            ),
          ),
        ),
      );
    }),
  );
}
