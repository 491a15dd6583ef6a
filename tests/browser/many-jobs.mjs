// Browser test of the dashboard on a generated pipeline of many jobs (run by
// tests/e2e/browser.rs): every job node renders, live updates arrive without a reload, and the
// time of the first full render and of each poll update is measured and printed as one JSON
// line on stdout. Only functional things are asserted, no time thresholds.
//   env: LOCKGATE_URL, ARTIFACTS (dir), EXPECT_JOBS (default 200), TRIGGER_JOB and
//   LOCKGATE_TOKEN (an operator token): a job the test triggers through the API, so that an
//   update is certain to arrive even when every build already finished.

import { env, open, log, assert, waitFor } from './lib.mjs';

const url = env('LOCKGATE_URL').replace(/\/$/, '');
const artifacts = env('ARTIFACTS', 'artifacts/many-jobs');
const expected = Number(env('EXPECT_JOBS', '200'));
const triggerJob = process.env.TRIGGER_JOB || '';
const token = process.env.LOCKGATE_TOKEN || '';
const JOBS = '[data-testid="pipeline-graph"] a.node.job';

const t = await open({ artifacts });
const { page } = t;

await t.run(async () => {
  // Long tasks (main thread busy > 50 ms) from the very start of the page.
  await page.addInitScript(() => {
    window.__longTasks = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, ms: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      /* not supported */
    }
  });
  const navStarted = Date.now();
  await page.goto(`${url}/`);
  await waitFor(page, 'the dashboard to render the pipeline', () => document.body.dataset.ready === 'true', undefined, 60000);
  const wallFirstRender = Date.now() - navStarted;
  const count = await page.locator(JOBS).count();
  assert(count === expected, `${count} job nodes rendered, expected ${expected}`);
  const lanes = await page.$$eval('[data-testid^="lane-"]', (els) => els.map((e) => `${e.dataset.env}:${e.querySelectorAll('a.node.job').length}`));
  const edges = await page.$$eval('svg.edges path.edge', (ps) => ps.length);
  const first = await page.evaluate(() => ({ ...window.lockgateMetrics.firstRender, dom_nodes: document.getElementsByTagName('*').length }));
  log(`${count} job nodes in lanes ${lanes.join(', ')}, ${edges} edges; first render at ${first.at.toFixed(0)} ms after navigation start`);
  await t.screenshot('many-jobs');

  // A live update: some job's status changes in place, without a reload.
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const before = await page.$$eval(JOBS, (els) => Object.fromEntries(els.map((e) => [e.dataset.job, `${e.dataset.status}${e.querySelector('.build-no').textContent}`])));
  let triggerToDomMs = null;
  if (triggerJob) {
    const started = Date.now();
    const res = await fetch(`${url}/api/v1/jobs/${encodeURIComponent(triggerJob)}/trigger`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    const body = await res.text();
    assert(res.status === 201, `triggering ${triggerJob} answered ${res.status}: ${body}`);
    const build = JSON.parse(body);
    await waitFor(
      page,
      `job ${triggerJob} to show build #${build.number} (triggered through the API)`,
      ([job, n]) => document.querySelector(`[data-testid="job-${job}"] .build-no`)?.textContent === `#${n}`,
      [triggerJob, build.number],
      30000,
    );
    triggerToDomMs = Date.now() - started;
    log(`${triggerJob} #${build.number} appeared ${triggerToDomMs} ms after the trigger`);
  }
  await waitFor(
    page,
    'a job node to change status through a poll update',
    (prev) => [...document.querySelectorAll('[data-testid="pipeline-graph"] a.node.job')].some((e) => prev[e.dataset.job] !== `${e.dataset.status}${e.querySelector('.build-no').textContent}`),
    before,
    90000,
  );
  const updateSeen = Date.now();
  // Keep watching a few more polls for the numbers.
  await page.waitForTimeout(8000);
  assert(await page.evaluate(() => window.__sameDocument === true), 'the page reloaded');
  const m = await page.evaluate(() => ({ updates: window.lockgateMetrics.updates, polls: window.lockgateMetrics.polls, edgeDraws: window.lockgateMetrics.edgeDraws, longTasks: window.__longTasks || [] }));
  assert(m.updates.length > 0, 'no poll update changed the graph');
  const changedNow = await page.$$eval(JOBS, (els) => els.filter((e) => e.dataset.status !== 'none').length);
  await t.screenshot('after-updates');

  // Still responsive: open the panel of a job with builds, down in the graph, until its builds
  // show (with the keyboard: a box that moves while the pointer aims at it cannot make this miss).
  const clickStart = Date.now();
  const withBuilds = (await page.$$eval(JOBS, (els) => els.filter((e) => e.dataset.status !== 'none').map((e) => e.dataset.job))).at(-1);
  await page.locator(`[data-testid="job-${withBuilds}"]`).press('Enter');
  await waitFor(page, 'the job panel', () => document.querySelector('[data-testid="builds-table"] tbody tr'), undefined, 15000, 'raf');
  const panelMs = Date.now() - clickStart;
  await t.screenshot('job-panel');

  // A second load, with the browser's cache warm and most builds done.
  await page.reload();
  await waitFor(page, 'the dashboard to render again after a reload', () => document.body.dataset.ready === 'true', undefined, 60000);
  assert((await page.locator(JOBS).count()) === expected, 'not every job node rendered after the reload');
  const again = await page.evaluate(() => window.lockgateMetrics.firstRender);

  const stat = (xs) => {
    if (!xs.length) return null;
    const s = [...xs].sort((a, b) => a - b);
    return { median: round(s[Math.floor(s.length / 2)]), max: round(s[s.length - 1]) };
  };
  const round = (x) => Math.round(x * 10) / 10;
  const result = {
    test: 'many-jobs',
    jobs: count,
    edges,
    dom_nodes: first.dom_nodes,
    first_render_ms: round(first.at),
    first_render_fetch_ms: round(first.fetch_ms),
    first_render_build_dom_ms: round(first.build_ms),
    first_render_apply_and_layout_ms: round(first.apply_and_layout_ms),
    first_render_wall_ms: wallFirstRender,
    reload_first_render_ms: round(again.at),
    polls: m.polls,
    poll_updates: m.updates.length,
    update_apply_ms: stat(m.updates.map((u) => u.apply_ms)),
    update_fetch_ms: stat(m.updates.map((u) => u.fetch_ms)),
    edge_redraw_ms: stat(m.edgeDraws || []),
    nodes_changed_per_update: stat(m.updates.map((u) => u.changed)),
    jobs_with_builds: changedNow,
    long_tasks_after_first_render: m.longTasks.filter((x) => x.start > first.at).length,
    long_tasks_while_polling: m.longTasks.filter((x) => x.start > first.at + 1000).length,
    long_task_max_ms: stat(m.longTasks.map((x) => x.ms))?.max ?? 0,
    open_job_panel_ms: panelMs,
    first_update_wait_ms: updateSeen - navStarted - wallFirstRender,
    trigger_to_dom_ms: triggerToDomMs,
  };
  console.log(JSON.stringify(result));
});
