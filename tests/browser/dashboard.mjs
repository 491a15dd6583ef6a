// Browser test of the dashboard on the cloud-gov example (run by tests/e2e/browser.rs): the
// pipeline graph (three lanes in order, the jobs in their lanes, six resources, `passed` edges),
// production waiting for approval, a build page with log lines and a report table, a resource
// page, the "why not promoted" panel, then Approve with the token and — without reloading —
// the approved candidate arriving in production. Screenshots go to $ARTIFACTS.
//   env: LOCKGATE_URL (server base URL), LOCKGATE_TOKEN (approver token), ARTIFACTS (dir)

import { env, open, log, assert, waitFor } from './lib.mjs';

const url = env('LOCKGATE_URL').replace(/\/$/, '');
const token = env('LOCKGATE_TOKEN');
const artifacts = env('ARTIFACTS', 'artifacts/dashboard');
const ENVIRONMENTS = ['development', 'staging', 'production'];
const RESOURCES = ['app-release', 'os-image', 'config', 'development-env', 'staging-env', 'production-env'];
const tid = (id) => `[data-testid="${id}"]`;

const t = await open({ artifacts });
const { page } = t;

await t.run(async () => {
  // 1. The graph.
  await page.goto(`${url}/`);
  await waitFor(page, 'the dashboard to render the pipeline', () => document.body.dataset.ready === 'true');
  await page.evaluate(() => {
    window.__sameDocument = 'no reload since the start of the test';
  });
  const lanes = await page.$$eval('[data-testid^="lane-"]', (els) => els.map((e) => ({ id: e.dataset.testid, x: e.getBoundingClientRect().left })));
  assert(JSON.stringify(lanes.map((l) => l.id)) === JSON.stringify(ENVIRONMENTS.map((e) => `lane-${e}`)), `lanes ${JSON.stringify(lanes.map((l) => l.id))}, expected development, staging, production`);
  assert(lanes[0].x < lanes[1].x && lanes[1].x < lanes[2].x, `lanes are not left to right: ${JSON.stringify(lanes)}`);
  for (const e of ENVIRONMENTS) {
    assert((await page.locator(`${tid(`lane-${e}`)} ${tid(`job-deploy-${e}`)}`).count()) === 1, `job deploy-${e} is not in lane ${e}`);
  }
  const resources = await page.$$eval(`${tid('resources')} [data-testid^="resource-"]`, (els) => els.map((e) => e.dataset.testid.slice('resource-'.length)));
  assert(JSON.stringify([...resources].sort()) === JSON.stringify([...RESOURCES].sort()), `resources ${JSON.stringify(resources)}, expected ${JSON.stringify(RESOURCES)}`);
  const resX = await page.locator(tid('resources')).evaluate((e) => e.getBoundingClientRect().right);
  assert(resX <= lanes[0].x, 'the resources are not left of the lanes');
  const edges = await page.$$eval('svg.edges path.edge', (ps) => ps.map((p) => `${p.dataset.from}>${p.dataset.to}:${p.getAttribute('class')}`));
  for (const [from, to] of [['deploy-development', 'deploy-staging'], ['deploy-staging', 'deploy-production']]) {
    assert(edges.some((e) => e.startsWith(`job:${from}>job:${to}:`) && e.includes('passed')), `no passed edge ${from} → ${to} among ${JSON.stringify(edges)}`);
  }
  assert(edges.some((e) => e.startsWith('res:app-release>job:deploy-development')), 'no edge app-release → deploy-development');
  log(`graph: lanes ${ENVIRONMENTS.join(' → ')}, ${resources.length} resources, ${edges.length} edges`);

  await waitFor(page, 'production to wait for approval', () => {
    const w = document.querySelector('[data-testid="waits-production"]');
    return w && !w.hidden && /waits for approval/.test(w.textContent);
  }, undefined, 30000);
  const candidate = await page.locator(tid('env-next-production')).getAttribute('data-candidate');
  assert(candidate, 'production shows no next candidate');
  const stagingStatus = await page.locator(tid('job-deploy-staging')).getAttribute('data-status');
  assert(stagingStatus === 'succeeded', `deploy-staging shows status ${stagingStatus}, expected succeeded`);
  log(`production: candidate #${candidate} waits for approval`);
  await t.screenshot('pipeline');

  // 2. A job's builds, then a build page with its log and test reports.
  await page.click(tid('job-deploy-staging'));
  await waitFor(page, 'the builds of deploy-staging', () => document.querySelector('[data-testid="builds-table"] tbody tr a'));
  await t.screenshot('job-deploy-staging');
  await page.locator(`${tid('builds-table')} tbody tr a`).first().click();
  await waitFor(page, 'the build page', () => document.querySelector('[data-testid="build-page"]'));
  await waitFor(page, 'log lines', () => document.querySelectorAll('[data-testid="build-log"] .line').length > 0, undefined, 20000);
  await waitFor(page, 'a test report table', () => document.querySelectorAll('[data-testid="report-table"] tbody tr').length > 0, undefined, 20000);
  const lines = await page.locator(`${tid('build-log')} .line`).count();
  const cases = await page.locator(`${tid('report-table')} tbody tr`).count();
  const buildStatus = await page.locator(tid('build-status')).getAttribute('data-status');
  assert(buildStatus === 'succeeded', `the build page shows status ${buildStatus}`);
  log(`build page: ${lines} log lines, ${cases} test cases`);
  await t.screenshot('build', { fullPage: true });

  // 3. A resource page with its versions.
  await page.goto(`${url}/#/resources/app-release`).catch(() => {});
  await waitFor(page, 'the versions of app-release', () => document.querySelectorAll('[data-testid="versions-table"] tbody tr').length > 0);
  await t.screenshot('resource-app-release');

  // That goto changed only the hash: still the same document.
  assert(await page.evaluate(() => Boolean(window.__sameDocument)), 'the page reloaded on a hash change');

  // 4. The "why not promoted" panel of production, Approve with the token.
  await page.click('a[href="#/"]');
  await page.click(tid('why-production'));
  await waitFor(page, 'the Approve button of production', () => {
    const b = document.querySelector('[data-testid="approve-production"]');
    return b && b.offsetParent !== null;
  });
  const blockers = await page.locator(tid('blockers-production')).innerText();
  assert(/waits for approval/.test(blockers), `the why panel does not say it waits for approval: ${blockers}`);
  await t.screenshot('why-production');
  await page.click(tid('approve-production'));
  await page.locator(tid('token-input')).waitFor({ state: 'visible' });
  await page.fill(tid('token-input'), token);
  await t.screenshot('token-dialog');
  await page.click(tid('token-submit'));
  await waitFor(page, 'the approval to be confirmed', () => /approved for production by \S+/.test(document.querySelector('[data-testid="approve-message-production"]').textContent), undefined, 15000);
  log(`approved candidate #${candidate}`);
  await t.screenshot('approved');

  // 5. Without reloading: the candidate arrives in production.
  await page.click(tid('drawer-close'));
  await waitFor(
    page,
    `candidate #${candidate} to run in production and deploy-production to succeed (no reload)`,
    (id) => {
      const current = document.querySelector('[data-testid="env-current-production"]');
      const job = document.querySelector('[data-testid="job-deploy-production"]');
      return current && current.dataset.candidate === id && job && job.dataset.status === 'succeeded';
    },
    candidate,
    90000,
  );
  assert(await page.evaluate(() => Boolean(window.__sameDocument)), 'the page reloaded');
  const prod = await page.locator(tid('lane-production')).innerText();
  log(`production runs candidate #${candidate}; lane: ${prod.replace(/\s+/g, ' ').slice(0, 160)}`);
  await t.screenshot('production-deployed');

  // 6. The why panel after the arrival, and the page on a narrow screen.
  await page.click(tid('why-production'));
  await waitFor(page, 'the why panel to show what runs', (id) => document.querySelector('[data-testid="why-current-production"]')?.dataset.candidate === id, candidate);
  await t.screenshot('why-production-after');
  await page.setViewportSize({ width: 900, height: 700 });
  await page.click(tid('drawer-close'));
  await t.screenshot('narrow');
});
