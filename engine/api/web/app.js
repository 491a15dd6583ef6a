// The dashboard's entry point: loads the pipeline, owns the hash routes (#/, #/jobs/NAME,
// #/environments/NAME, #/builds/ID, #/resources/NAME), the top bar (live state, token) and the
// side drawer, and feeds the graph from the poller. Timings of the first render and of each poll
// update are kept in `window.lockgateMetrics` (read by the browser tests).

import { get, onReadUnauthorized, access } from './js/api.js';
import { h, replace, setText, fmtAgo } from './js/dom.js';
import { getToken, forgetToken, askToken, onTokenChange, initTokenDialog } from './js/token.js';
import { every, tick, startPolling, onPollState, setPaused } from './js/poller.js';
import { PipelineView } from './js/graph.js';
import { JobPanel } from './js/jobs.js';
import { EnvironmentPanel } from './js/environment.js';
import { BuildPage } from './js/build.js';
import { ResourcePage } from './js/resource.js';

const metrics = (window.lockgateMetrics = { firstRender: null, updates: [], polls: 0, edgeDraws: [] });

const app = document.getElementById('app');
const state = { pipeline: null, view: null, page: null, panel: null, jobs: [], envs: [], ticks: 0 };

const pipelineHost = h('div', { class: 'pipeline-host' });
const drawer = h('aside', { class: 'drawer', hidden: true, testid: 'drawer', 'aria-labelledby': 'drawer-title' });
const pageHost = h('div', { class: 'page-host', hidden: true });

/* ---------- top bar: live state and token ---------- */

function initTopbar() {
  const live = document.getElementById('live');
  onPollState(({ lastOk, lastError, paused }) => {
    let text;
    let cls;
    if (paused) [text, cls] = ['paused: needs a token', 'warn'];
    else if (document.hidden) [text, cls] = ['paused while hidden', 'idle'];
    else if (lastError && lastError.status === 0) [text, cls] = ['server unreachable', 'bad'];
    else if (lastError) [text, cls] = [`error: ${lastError.message}`, 'bad'];
    else [text, cls] = [`live · updated ${fmtAgo(lastOk) || 'just now'}`, 'ok'];
    setText(live, text);
    live.className = `live ${cls}`;
  });
  const set = document.getElementById('token-set');
  const forget = document.getElementById('token-forget');
  const label = document.getElementById('token-label');
  const show = (has) => {
    set.hidden = has;
    forget.hidden = !has;
    setText(label, has ? 'token set for this tab' : '');
  };
  show(Boolean(getToken()));
  onTokenChange(show);
  set.addEventListener('click', async () => {
    // Resumes polling when it paused for want of a token to read.
    if (await askToken('Enter a bearer token (from the server’s token file) for this tab.')) setPaused(false);
  });
  forget.addEventListener('click', () => {
    forgetToken();
    if (access.readsNeedToken) location.hash = '#/';
  });
}

/* ---------- routes ---------- */

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { kind: parts[0] || '', name: parts.slice(1).join('/') };
}

function closeDrawer() {
  state.panel = null;
  drawer.hidden = true;
  drawer.replaceChildren();
  app.classList.remove('with-drawer');
}

function openDrawer(title, subtitle, panel) {
  state.panel = panel;
  const heading = h('h2', { id: 'drawer-title', tabindex: '-1', text: title });
  const close = h('a', { class: 'btn subtle close', href: '#/', testid: 'drawer-close', 'aria-label': 'Close panel', text: '✕' });
  replace(drawer, h('header', { class: 'drawer-head' }, h('div', {}, h('p', { class: 'eyebrow', text: subtitle }), heading), close), panel.el);
  drawer.hidden = false;
  app.classList.add('with-drawer');
  heading.focus({ preventScroll: true });
}

async function route() {
  if (!state.pipeline) return;
  const { kind, name } = parseRoute();
  if (state.page) {
    state.page.stop();
    state.page = null;
  }
  if (kind === 'builds' || kind === 'resources') {
    closeDrawer();
    pipelineHost.hidden = true;
    pageHost.hidden = false;
    const page = kind === 'builds' ? new BuildPage(Number(name)) : new ResourcePage(name);
    state.page = page;
    replace(pageHost, page.el);
    document.title = `${kind === 'builds' ? `Build ${name}` : name} · Lockgate`;
    const heading = page.el.querySelector('h1');
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
    page.start();
    return;
  }
  pageHost.hidden = true;
  pageHost.replaceChildren();
  if (pipelineHost.hidden) state.ticks = 0; // back from a page: refresh the resources too
  pipelineHost.hidden = false;
  document.title = 'Lockgate';
  state.view.scheduleEdges();
  if (kind === 'jobs') {
    const job = state.pipeline.jobs.find((j) => j.name === name);
    if (!job) return notFound(`No job “${name}” in this pipeline.`);
    const panel = new JobPanel(job);
    openDrawer(job.name, 'Job', panel);
    reveal(`job-${job.name}`);
    state.view.select(`job:${job.name}`);
    panel.setJobState(state.jobs.find((j) => j.name === name));
    panel.refresh().catch(() => {});
  } else if (kind === 'environments') {
    const index = state.pipeline.environments.findIndex((e) => e.name === name);
    if (index < 0) return notFound(`No environment “${name}” in this pipeline.`);
    const panel = new EnvironmentPanel(state.pipeline.environments[index], index);
    openDrawer(name, 'Environment', panel);
    reveal(`lane-${name}`);
    state.view.select(`lane:${name}`);
    const known = state.envs.find((e) => e.environment === name);
    if (known) panel.apply(known);
    panel.refresh().catch(() => {});
  } else {
    closeDrawer();
    state.view.select(null);
  }
  tick();
}

/** Scrolls the graph so the element with `data-testid=id` is visible beside the drawer. */
function reveal(id) {
  requestAnimationFrame(() => {
    const el = pipelineHost.querySelector(`[data-testid="${CSS.escape(id)}"]`);
    if (el) el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  });
}

function notFound(message) {
  const panel = { el: h('p', { class: 'action-msg error', text: message }), refresh: async () => {} };
  openDrawer('Not found', '', panel);
}

/* ---------- polling the graph ---------- */

async function pollPipeline() {
  if (pipelineHost.hidden) return;
  const fetchStart = performance.now();
  const wantResources = state.ticks++ % 3 === 0;
  const [jobs, envs, resources] = await Promise.all([get('/jobs'), get('/environments'), wantResources ? get('/resources') : null]);
  const applyStart = performance.now();
  state.jobs = jobs;
  state.envs = envs;
  const changed = state.view.update(jobs, envs);
  if (resources) state.view.updateResources(resources);
  const panel = state.panel;
  if (panel instanceof JobPanel) {
    panel.setJobState(jobs.find((j) => j.name === panel.job.name));
    await panel.refresh();
  } else if (panel instanceof EnvironmentPanel) {
    const env = envs.find((e) => e.environment === panel.env.name);
    if (env) panel.apply(env);
  }
  const applyEnd = performance.now();
  metrics.polls += 1;
  if (changed) {
    metrics.updates.push({ at: applyEnd, changed, fetch_ms: applyStart - fetchStart, apply_ms: applyEnd - applyStart });
    if (metrics.updates.length > 500) metrics.updates.shift();
  }
}

/* ---------- start ---------- */

async function boot() {
  const t0 = performance.now();
  // The statuses load while the graph is built: both are needed for the first full render.
  const statuses = Promise.all([get('/jobs'), get('/environments'), get('/resources')]).catch(() => null);
  let pipeline;
  try {
    pipeline = await get('/pipeline');
  } catch (e) {
    if (e.status === 401) return locked(e);
    replace(app, h('section', { class: 'page' }, h('h1', { text: 'Cannot load the pipeline' }), h('p', { class: 'action-msg error', role: 'alert', text: e.explain ? e.explain() : String(e) }), h('button', { type: 'button', class: 'btn', text: 'Retry', on: { click: boot } })));
    return;
  }
  const t1 = performance.now();
  state.pipeline = pipeline;
  state.view = new PipelineView(pipeline);
  state.view.onDraw = (ms) => {
    metrics.edgeDraws.push(ms);
    if (metrics.edgeDraws.length > 500) metrics.edgeDraws.shift();
  };
  pipelineHost.replaceChildren(state.view.el, drawer);
  replace(app, pipelineHost, pageHost);
  const t2 = performance.now();
  const data = await statuses;
  const t3 = performance.now();
  if (data) {
    const [jobs, envs, resources] = data;
    state.jobs = jobs;
    state.envs = envs;
    state.view.update(jobs, envs);
    state.view.updateResources(resources);
  }
  state.view.drawEdges(); // the first layout of the whole graph
  const t4 = performance.now();
  metrics.firstRender = { at: t4, fetch_ms: t1 - t0 + (t3 - t2), build_ms: t2 - t1, apply_and_layout_ms: t4 - t3, jobs: pipeline.jobs.length };
  document.body.dataset.ready = 'true';
  state.ticks = 1;
  every(pollPipeline);
  window.addEventListener('hashchange', route);
  route();
  startPolling(2000);
}

let askedAndCancelled = false;
/** Reads need a token (`--protect-reads`): ask for one (again, saying why, after a wrong one)
 *  until the pipeline loads or the dialog is cancelled; the page offers a button then. */
async function locked(err) {
  const ask = async () => {
    const rejected = Boolean(getToken());
    if (rejected) forgetToken();
    const token = await askToken('This server protects reads: enter a bearer token (any role) to see the pipeline.', rejected ? err.explain() : '');
    if (token) boot();
    else askedAndCancelled = true;
  };
  const enter = h('button', { type: 'button', class: 'btn primary', testid: 'enter-token', text: 'Enter token', on: { click: ask } });
  replace(app, h('section', { class: 'page locked', testid: 'locked' }, h('h1', { text: 'A token is needed' }), h('p', { text: 'This Lockgate server answers reads only with a bearer token.' }), enter));
  if (!askedAndCancelled) ask();
}

/** Reads answered 401 while the page shows (the token was forgotten or is no longer known):
 *  polling pauses and the page asks for a token once — the other reads of the same poll, and
 *  any that answer while the dialog is open, do not ask again. Cancelled, the page stays
 *  paused until "Set token". */
let askingToRead = false;
onReadUnauthorized(async (err) => {
  if (!state.pipeline || askingToRead) return;
  askingToRead = true;
  setPaused(true);
  const token = await askToken('The server needs a valid token to read (it runs with protected reads).', getToken() ? err.explain() : '');
  askingToRead = false;
  if (!token) return;
  setPaused(false);
  if (state.page) route();
});

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !drawer.hidden && !document.querySelector('dialog[open]')) location.hash = '#/';
});

initTopbar();
initTokenDialog();
boot();
