// Browser test of the dashboard's actions and tokens (run by tests/e2e/browser.rs) on the
// cloud-gov example, served with `--tokens` and `--protect-reads`, production already running
// candidate FIRST_CANDIDATE (app 1.0.0, approved by the Rust side):
//   1. nothing shows before a token; an unknown token is refused with the API's message; the
//      viewer token shows the graph;
//   2. as viewer, Trigger is refused (403, shown in the page) and queues nothing;
//   3. "Forget token", then as operator: Trigger (the build appears on the job box without a
//      reload), Check now on app-release after app-1.1.0.tgz was added (the version appears),
//      Disable / Enable and Pin / Unpin of that version;
//   4. as operator, Approve is refused (403); as approver, Approve lets the 1.1.0 candidate into
//      production, then Roll back (after its confirm step) re-deploys FIRST_CANDIDATE.
// Screenshots go to $ARTIFACTS (failure.png when a step fails).
//   env: LOCKGATE_URL, VIEWER_TOKEN, OPERATOR_TOKEN, APPROVER_TOKEN, RELEASES_DIR (the
//        example's work/releases), FIRST_CANDIDATE (the candidate production runs), ARTIFACTS

import fs from 'node:fs';
import path from 'node:path';
import { env, open, log, assert, fail, waitFor } from './lib.mjs';

const url = env('LOCKGATE_URL').replace(/\/$/, '');
const VIEWER = env('VIEWER_TOKEN');
const OPERATOR = env('OPERATOR_TOKEN');
const APPROVER = env('APPROVER_TOKEN');
const releases = env('RELEASES_DIR');
const first = env('FIRST_CANDIDATE');
const artifacts = env('ARTIFACTS', 'artifacts/operator');
const tid = (id) => `[data-testid="${id}"]`;

/** GET /api/v1PATH with `token`, straight from node (not through the page). */
async function api(p, token) {
  const r = await fetch(`${url}/api/v1${p}`, { headers: { Authorization: `Bearer ${token}` } });
  const text = await r.text();
  if (!r.ok) fail(`GET /api/v1${p} answered ${r.status}: ${text}`);
  return JSON.parse(text);
}

const t = await open({ artifacts });
const { page } = t;

/** The token dialog's state. */
const dialog = () =>
  page.evaluate(() => ({
    open: document.getElementById('token-dialog').open,
    reason: document.getElementById('token-reason').textContent,
    error: document.getElementById('token-error').hidden ? '' : document.getElementById('token-error').textContent,
  }));

/** Enters `token` in the open token dialog. */
async function enterToken(token) {
  try {
    await page.fill(tid('token-input'), token, { timeout: 5000 });
    await page.click(tid('token-submit'), { timeout: 5000 });
  } catch (e) {
    fail(`cannot enter a token: the token dialog did not stay open (${e.message.split('\n')[0]}); dialog ${JSON.stringify(await dialog())}`);
  }
}

/** "Forget token" in the top bar, then `token` in the dialog the page opens (reads are
 *  protected: it cannot poll without one); waits until polling resumed with it. */
async function switchToken(token, role) {
  await page.click(tid('forget-token'));
  await waitFor(page, 'the page to ask for a token to read after "Forget token"', () => {
    const d = document.getElementById('token-dialog');
    return d.open && /needs a valid token to read/.test(document.getElementById('token-reason').textContent);
  });
  const state = await page.evaluate(() => ({
    stored: sessionStorage.getItem('lockgate.token'),
    setVisible: !document.querySelector('[data-testid="set-token"]').hidden,
    forgetHidden: document.querySelector('[data-testid="forget-token"]').hidden,
    live: document.getElementById('live').textContent,
  }));
  assert(state.stored === null, `"Forget token" left a token in sessionStorage: ${state.stored}`);
  assert(state.setVisible && state.forgetHidden, `the top bar does not offer "Set token" after "Forget token": ${JSON.stringify(state)}`);
  await enterToken(token);
  await waitFor(
    page,
    `the dialog to close and polling to resume with the ${role} token`,
    (tok) => !document.getElementById('token-dialog').open && sessionStorage.getItem('lockgate.token') === tok && /^live/.test(document.getElementById('live').textContent),
    token,
  );
  log(`switched to the ${role} token`);
}

/** The text of the action message in the open job panel / why panel / resource page. */
const text = (selector) => page.locator(selector).innerText();

/** Waits for the message at `selector` to match `re` (and have class `cls`); returns its text. */
async function message(selector, re, cls, what) {
  await waitFor(
    page,
    what,
    ([sel, src, c]) => {
      const el = document.querySelector(sel);
      return el && new RegExp(src).test(el.textContent) && el.classList.contains(c);
    },
    [selector, re.source, cls],
  );
  return text(selector);
}

/** The `data-testid` of the versions-table row whose full version contains `needle`. */
const versionRow = (needle) =>
  page.evaluate((n) => {
    for (const tr of document.querySelectorAll('[data-testid="versions-table"] tbody tr')) {
      if (tr.cells[1] && tr.cells[1].textContent.includes(n)) return tr.dataset.testid;
    }
    return null;
  }, needle);

/** Waits until the version row `rowId` reads `state` in its State column. */
async function rowState(rowId, state, what) {
  await waitFor(page, what, ([id, s]) => document.querySelector(`[data-testid="${id}"] td.state`)?.textContent === s, [rowId, state]);
}

/** The app-release version 1.1.0 as the API has it. */
async function version110() {
  const page1 = await api('/resources/app-release/versions?limit=50', OPERATOR);
  return page1.versions.find((v) => v.version.version === '1.1.0');
}

await t.run(async () => {
  /* ---------- 1. Protected reads: a token first ---------- */
  await page.goto(`${url}/`);
  await waitFor(page, 'the page to say a token is needed (data-testid="locked") and ask for it', () => {
    const locked = document.querySelector('[data-testid="locked"]');
    return locked && locked.offsetParent !== null && document.getElementById('token-dialog').open;
  });
  const before = await page.evaluate(() => ({
    graph: document.querySelectorAll('[data-testid="pipeline-graph"], [data-testid^="job-"], [data-testid^="lane-"], [data-testid^="resource-"]').length,
    ready: document.body.dataset.ready || '',
    enter: Boolean(document.querySelector('[data-testid="enter-token"]')),
  }));
  assert(before.graph === 0 && before.ready === '', `the page shows pipeline data before a token was given: ${JSON.stringify(before)}`);
  assert(before.enter, 'the locked page has no "Enter token" button');
  const asked = await dialog();
  assert(/protects reads/.test(asked.reason), `the token dialog does not say why it asks: ${asked.reason}`);
  await t.screenshot('locked');

  await enterToken('not-a-known-token');
  await waitFor(page, 'an unknown token to be refused with the 401 message in the dialog', () => {
    const err = document.getElementById('token-error');
    return document.getElementById('token-dialog').open && !err.hidden && /does not accept this token \(401\)/.test(err.textContent);
  });
  const refused = await dialog();
  assert(/unknown bearer token/.test(refused.error), `the refusal does not carry the API's message: ${refused.error}`);
  assert((await page.locator(tid('pipeline-graph')).count()) === 0, 'the graph shows after an unknown token');
  assert(await page.evaluate(() => sessionStorage.getItem('lockgate.token') === null), 'the unknown token was kept in sessionStorage');
  log(`unknown token refused: ${refused.error}`);
  await t.screenshot('unknown-token');

  await enterToken(VIEWER);
  await waitFor(page, 'the graph after the viewer token', () => document.body.dataset.ready === 'true' && document.querySelector('[data-testid="job-deploy-development"]'));
  await page.evaluate(() => {
    window.__sameDocument = 'no reload since the viewer token';
  });
  assert(!(await dialog()).open, 'the token dialog is still open');
  assert((await page.locator('[data-testid^="lane-"]').count()) === 3, 'the graph does not show three lanes');
  const label = await page.locator('#token-label').innerText();
  assert(label === 'token set for this tab', `the top bar says "${label}" with a token set`);
  await waitFor(page, 'production to run the first candidate', (id) => document.querySelector('[data-testid="env-current-production"]')?.dataset.candidate === id, first);
  log('viewer token accepted: graph shown');
  await t.screenshot('viewer-graph');

  /* ---------- 2. Viewer: Trigger is refused, nothing queued ---------- */
  const buildsBefore = (await api('/builds?limit=200', VIEWER)).builds;
  await page.click(tid('job-deploy-development'));
  await waitFor(page, 'the builds of deploy-development', () => document.querySelector('[data-testid="builds-table"] tbody tr a'));
  await page.click(tid('trigger-deploy-development'));
  const jobMsg = `${tid('job-panel')} .action-msg`;
  const denied = await message(jobMsg, /role is too low for this \(403\)/, 'error', 'the 403 message of Trigger as viewer');
  assert(/has role `viewer`; this needs `operator`/.test(denied), `the 403 message does not say which role is needed: ${denied}`);
  assert(!(await dialog()).open, 'a 403 opened the token dialog');
  const buildsAfter = (await api('/builds?limit=200', VIEWER)).builds;
  assert(
    buildsAfter.length === buildsBefore.length && buildsAfter[0]?.id === buildsBefore[0]?.id,
    `a build was queued although Trigger was refused: ${buildsBefore.length} builds before, ${buildsAfter.length} after (newest ${JSON.stringify(buildsAfter[0])})`,
  );
  log(`viewer: ${denied}`);
  await t.screenshot('viewer-trigger-403');

  /* ---------- 3. Operator: trigger, check, disable/enable, pin/unpin ---------- */
  await switchToken(OPERATOR, 'operator');
  await t.screenshot('operator-token');
  await page.click(tid('job-deploy-development'));
  await waitFor(page, 'the builds of deploy-development', () => document.querySelector('[data-testid="builds-table"] tbody tr a'));
  const boxBefore = await page.locator(`${tid('job-deploy-development')} .build-no`).innerText();
  await page.click(tid('trigger-deploy-development'));
  const queued = await message(jobMsg, /^Queued build #\d+\.$/, 'ok', 'Trigger as operator to queue a build');
  const number = queued.match(/#(\d+)/)[1];
  assert(`#${number}` !== boxBefore, `the queued build #${number} is the one the box showed before`);
  await waitFor(
    page,
    `build #${number} on the deploy-development box and in its builds table, succeeded (no reload)`,
    (n) => {
      const box = document.querySelector('[data-testid="job-deploy-development"]');
      return box.querySelector('.build-no').textContent === `#${n}` && box.dataset.status === 'succeeded' && document.querySelector(`[data-testid="build-row-${n}"]`);
    },
    number,
    30000,
  );
  assert(await page.evaluate(() => Boolean(window.__sameDocument)), 'the page reloaded');
  log(`operator: queued deploy-development #${number} (the box showed ${boxBefore || 'nothing'} before)`);
  await t.screenshot('operator-triggered');

  await page.click(tid('resource-app-release'));
  await waitFor(page, 'the versions of app-release', () => document.querySelectorAll('[data-testid="versions-table"] tbody tr').length > 0);
  assert(await versionRow('version: 1.0.0'), 'app-release 1.0.0 is not in the versions table');
  assert(!(await versionRow('version: 1.1.0')), 'app-release 1.1.0 shows before it was released');
  fs.writeFileSync(path.join(releases, 'app-1.1.0.tgz'), 'app 1.1.0');
  await page.click(tid('check-resource'));
  const checked = await message(tid('resource-message'), /^Check done: 1 new version\(s\)\.$/, 'ok', 'Check now to find app-1.1.0.tgz');
  await waitFor(page, 'app-release 1.1.0 in the versions table', () =>
    [...document.querySelectorAll('[data-testid="versions-table"] tbody tr')].some((tr) => tr.cells[1].textContent.includes('version: 1.1.0')),
  );
  const row = await versionRow('version: 1.1.0');
  const top = await page.locator(`${tid('versions-table')} tbody tr`).first().getAttribute('data-testid');
  assert(top === row, `1.1.0 (${row}) is not the newest row (${top})`);
  await rowState(row, 'enabled', '1.1.0 to read enabled');
  log(`operator: ${checked} → ${row}`);
  await t.screenshot('checked-1.1.0');

  const rowButton = (name) => page.locator(tid(row)).getByRole('button', { name, exact: true });
  await rowButton('Disable').click();
  await message(tid('resource-message'), /^Disabled 1\.1\.0\.$/, 'ok', 'Disable to be confirmed');
  await rowState(row, 'disabled', '1.1.0 to be marked disabled');
  assert(await page.locator(tid(row)).evaluate((tr) => tr.classList.contains('disabled')), 'the disabled row is not styled as disabled');
  assert((await rowButton('Enable').count()) === 1, 'the disabled row offers no Enable');
  assert((await version110())?.disabled === true, `the API does not have 1.1.0 disabled: ${JSON.stringify(await version110())}`);
  log('operator: disabled 1.1.0');
  await t.screenshot('disabled-1.1.0');

  await rowButton('Enable').click();
  await message(tid('resource-message'), /^Enabled 1\.1\.0\.$/, 'ok', 'Enable to be confirmed');
  await rowState(row, 'enabled', '1.1.0 to be enabled again');
  assert(await page.locator(tid(row)).evaluate((tr) => !tr.classList.contains('disabled')), 'the enabled row is still styled as disabled');
  assert((await version110())?.disabled === false, 'the API still has 1.1.0 disabled');
  log('operator: enabled 1.1.0');
  await t.screenshot('enabled-1.1.0');

  await rowButton('Pin').click();
  await message(tid('resource-message'), /^Pinned 1\.1\.0: every input of app-release gets exactly this version\.$/, 'ok', 'Pin to be confirmed');
  await rowState(row, 'pinned', '1.1.0 to be marked pinned');
  await waitFor(page, 'the Unpin button and the pinned version in the facts', () => {
    const facts = document.querySelector('[data-testid="resource-page"] dl.facts').textContent;
    return !document.querySelector('[data-testid="unpin-resource"]').hidden && facts.includes('Pinnedfile: app-1.1.0.tgz, version: 1.1.0');
  });
  assert((await rowButton('Pin').count()) === 0, 'the pinned row still offers Pin');
  const pinned = (await api('/resources', OPERATOR)).find((r) => r.name === 'app-release').pinned;
  assert(pinned?.version?.version === '1.1.0', `the API does not have 1.1.0 pinned: ${JSON.stringify(pinned)}`);
  log('operator: pinned 1.1.0');
  await t.screenshot('pinned-1.1.0');

  await page.click(tid('unpin-resource'));
  await message(tid('resource-message'), /^Unpinned: jobs take the newest version again\.$/, 'ok', 'Unpin to be confirmed');
  await rowState(row, 'enabled', '1.1.0 to be unpinned');
  await waitFor(page, 'the Unpin button to go and the facts to say "not pinned"', () => {
    const facts = document.querySelector('[data-testid="resource-page"] dl.facts').textContent;
    return document.querySelector('[data-testid="unpin-resource"]').hidden && facts.includes('Pinnednot pinned');
  });
  assert((await rowButton('Pin').count()) === 1, 'the unpinned row offers no Pin');
  const unpinned = (await api('/resources', OPERATOR)).find((r) => r.name === 'app-release').pinned;
  assert(unpinned === null, `the API still has a pin: ${JSON.stringify(unpinned)}`);
  log('operator: unpinned');
  await t.screenshot('unpinned');
  assert(await page.evaluate(() => Boolean(window.__sameDocument)), 'the page reloaded');

  /* ---------- 4. Approve: operator refused, approver lets 1.1.0 in; roll back ---------- */
  await page.click('.crumbs a[href="#/"]');
  await waitFor(
    page,
    'production to wait for the approval of a candidate with app-release 1.1.0',
    (firstId) => {
      const w = document.querySelector('[data-testid="waits-production"]');
      const next = document.querySelector('[data-testid="env-next-production"]');
      const line = next?.nextElementSibling?.textContent || '';
      return w && !w.hidden && next.dataset.candidate && next.dataset.candidate !== firstId && line.includes('app-release 1.1.0');
    },
    first,
    60000,
  );
  const second = await page.locator(tid('env-next-production')).getAttribute('data-candidate');
  log(`production: candidate #${second} (app 1.1.0) waits for approval`);
  await t.screenshot('waits-1.1.0');

  const openWhy = async () => {
    await page.click(tid('why-production'));
    await waitFor(page, `the Approve button of candidate #${second}`, (id) => {
      const b = document.querySelector('[data-testid="approve-production"]');
      return b && b.offsetParent !== null && b.dataset.candidate === id;
    }, second);
  };
  await openWhy();
  await page.click(tid('approve-production'));
  const approveMsg = tid('approve-message-production');
  const notApprover = await message(approveMsg, /role is too low for this \(403\)/, 'error', 'the 403 message of Approve as operator');
  assert(/has role `operator`; this needs `approver`/.test(notApprover), `the 403 message does not say which role is needed: ${notApprover}`);
  const stillWaits = await api('/environments/production/why', OPERATOR);
  assert(String(stillWaits.current?.id) === first && String(stillWaits.next?.id) === second, `a refused approval changed production: ${JSON.stringify(stillWaits)}`);
  log(`operator: ${notApprover}`);
  await t.screenshot('operator-approve-403');

  await switchToken(APPROVER, 'approver');
  const prodBefore = await page.locator(`${tid('job-deploy-production')} .build-no`).innerText();
  await openWhy();
  await page.click(tid('approve-production'));
  const approved = await message(approveMsg, new RegExp(`^Candidate #${second} approved for production by alice`), 'ok', 'the approval as approver');
  log(`approver: ${approved}`);
  await t.screenshot('approved-1.1.0');
  await page.click(tid('drawer-close'));
  await waitFor(
    page,
    `candidate #${second} to run in production and a new deploy-production build (after ${prodBefore}) to succeed (no reload)`,
    ([id, before]) => {
      const job = document.querySelector('[data-testid="job-deploy-production"]');
      const n = job.querySelector('.build-no').textContent;
      return document.querySelector('[data-testid="env-current-production"]')?.dataset.candidate === id && n && n !== before && job.dataset.status === 'succeeded';
    },
    [second, prodBefore],
    60000,
  );
  const deployedBuild = await page.locator(`${tid('job-deploy-production')} .build-no`).innerText();
  log(`production runs candidate #${second} (deploy-production ${deployedBuild})`);
  await t.screenshot('production-1.1.0');

  await page.click(tid('why-production'));
  await waitFor(page, 'the why panel of production to show what runs', (id) => document.querySelector('[data-testid="why-current-production"]')?.dataset.candidate === id, second);
  await page.click(tid('rollback-production'));
  const confirm = page.locator(tid('rollback-confirm-production'));
  await confirm.waitFor({ state: 'visible' });
  assert(await page.locator(tid('rollback-production')).isHidden(), 'the Roll back button stays while it asks to confirm');
  const notYet = await api('/environments/production/why', APPROVER);
  assert(String(notYet.current?.id) === second, `production changed before the rollback was confirmed: ${JSON.stringify(notYet.current)}`);
  await t.screenshot('rollback-confirm');
  await confirm.click();
  const rollbackMsg = `${tid('why-panel-production')} .rollback-box .action-msg`;
  const rolled = await message(rollbackMsg, new RegExp(`^Rolling back to candidate #${first}: deploy-production #\\d+ queued\\.$`), 'ok', 'the rollback to be queued');
  const rollbackBuild = rolled.match(/deploy-production #(\d+)/)[1];
  assert(await page.locator(tid('rollback-production')).isVisible(), 'the Roll back button did not come back after the rollback');
  log(`approver: ${rolled}`);
  await t.screenshot('rolled-back');
  await page.click(tid('drawer-close'));
  await waitFor(
    page,
    `production to run candidate #${first} again with rollback build deploy-production #${rollbackBuild} succeeded (no reload)`,
    ([id, n]) => {
      const job = document.querySelector('[data-testid="job-deploy-production"]');
      return document.querySelector('[data-testid="env-current-production"]')?.dataset.candidate === id && job.querySelector('.build-no').textContent === `#${n}` && job.dataset.status === 'succeeded';
    },
    [first, rollbackBuild],
    60000,
  );
  const runs = await page.locator(tid('env-current-production')).evaluate((el) => el.nextElementSibling.textContent);
  assert(runs.includes('app-release 1.0.0'), `production's lane does not show app 1.0.0 running: ${runs}`);
  assert(await page.evaluate(() => Boolean(window.__sameDocument)), 'the page reloaded');
  log(`production runs candidate #${first} again (${runs})`);
  await t.screenshot('production-rolled-back');
  console.log(JSON.stringify({ first: Number(first), second: Number(second), rollback_build: Number(rollbackBuild), triggered_build: Number(number) }));
});
