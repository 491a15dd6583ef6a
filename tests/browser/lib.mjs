// Shared helpers of the browser tests: launching headless Chromium through playwright-core,
// environment variables, numbered screenshots, step logging and failing with a clear message
// (and a `failure.png`).

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** A required environment variable. */
export function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') fail(`environment variable ${name} is not set`);
  return v;
}

export function fail(message) {
  const err = new Error(message);
  err.expected = true;
  throw err;
}

export function assert(cond, message) {
  if (!cond) fail(message);
}

/** Opens Chromium and a 1366×768 page that records console errors and CSP violations. */
export async function open({ artifacts, width = 1366, height = 768 }) {
  fs.mkdirSync(artifacts, { recursive: true });
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[13]/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  let shot = 0;
  const t = {
    browser,
    page,
    problems,
    /** Saves `NN-name.png` into the artifacts directory. */
    async screenshot(name, opts = {}) {
      shot += 1;
      const file = path.join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file, ...opts });
      log(`screenshot ${file}`);
      return file;
    },
    /** Runs `body`; on failure saves failure.png, prints the reason and exits non-zero. */
    async run(body) {
      const started = Date.now();
      try {
        await body();
        if (problems.length) fail(`the page reported errors:\n  ${problems.join('\n  ')}`);
        log(`passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        await browser.close();
        process.exit(0);
      } catch (e) {
        console.error(`FAILED: ${e.expected ? e.message : e.stack || e}`);
        if (problems.length) console.error(`page problems:\n  ${problems.join('\n  ')}`);
        try {
          const file = path.join(artifacts, 'failure.png');
          await page.screenshot({ path: file, fullPage: true });
          console.error(`screenshot of the failure: ${file}`);
          const text = await page.evaluate(() => document.body.innerText.slice(0, 1500));
          console.error(`--- page text (start)\n${text}\n---`);
        } catch (e2) {
          console.error(`(no failure screenshot: ${e2.message})`);
        }
        await browser.close().catch(() => {});
        process.exit(1);
      }
    },
  };
  return t;
}

export function log(message) {
  console.log(`[${new Date().toISOString().slice(11, 23)}] ${message}`);
}

/** Waits for `fn(arg)` to be truthy in the page (checked every `polling` ms, or `'raf'`: every
 *  frame), failing with `what` after `timeout` ms. */
export async function waitFor(page, what, fn, arg, timeout = 15000, polling = 250) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling });
  } catch (e) {
    fail(`timed out after ${timeout / 1000} s waiting for ${what}`);
  }
}
