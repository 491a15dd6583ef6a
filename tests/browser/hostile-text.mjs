// Browser test of the dashboard with hostile text (run by tests/e2e/browser.rs): a version
// whose value is HTML, script and a terminal escape sequence is shown as text on the resource
// page and in the graph, never parsed: no element is created from it and no script runs.
//   env: LOCKGATE_URL, ARTIFACTS (dir), RESOURCE (the resource), NEEDLE (a piece of the text).

import { env, open, log, assert, waitFor } from './lib.mjs';

const url = env('LOCKGATE_URL').replace(/\/$/, '');
const artifacts = env('ARTIFACTS', 'artifacts/hostile-text');
const resource = env('RESOURCE');
const needle = env('NEEDLE');

const t = await open({ artifacts });
const { page } = t;

await t.run(async () => {
  let dialogs = 0;
  page.on('dialog', async (d) => {
    dialogs += 1;
    await d.dismiss();
  });
  await page.goto(`${url}/#/resources/${resource}`);
  await waitFor(page, `the versions of ${resource}`, () => document.querySelectorAll('[data-testid="versions-table"] tbody tr').length > 0);
  const table = page.locator('[data-testid="versions-table"]');
  const text = await table.innerText();
  assert(text.includes(needle), `the versions table does not show the text as text: ${text}`);
  const injected = await table.evaluate((e) => e.querySelectorAll('img, script, b, iframe').length);
  assert(injected === 0, `${injected} elements were made from the version's text`);
  const pwned = await page.evaluate(() => window.__pwned);
  assert(pwned === undefined, `a script from the version's text ran (window.__pwned = ${pwned})`);
  // The graph's resource box shows its newest version too.
  await page.goto(`${url}/#/`);
  await waitFor(page, 'the pipeline graph', () => document.body.dataset.ready === 'true');
  const graphInjected = await page.evaluate(() => document.querySelectorAll('[data-testid="pipeline-graph"] img, [data-testid="pipeline-graph"] script').length);
  assert(graphInjected === 0, `${graphInjected} elements were made from the version's text in the graph`);
  assert(dialogs === 0, `${dialogs} dialogs were opened by the version's text`);
  await t.screenshot('hostile-text');
  log(`the version's text is shown as text (${text.length} characters in the table), nothing injected`);
});
