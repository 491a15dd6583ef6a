// The pipeline graph: resources in the left column, jobs in one lane per environment (in the
// pipeline's order), edges for `passed` (job → job) and for direct gets (resource → job), job
// colours by last build status, and in each lane header the candidate that runs, the newest
// qualified one and the next one (with "waits for approval").
// Rendered once from GET /pipeline; `update()` then touches only the nodes whose data changed.

import { h, svg, setText, setAttr, show, timeAgo, fmtAgo } from './dom.js';
import { statusPill, updatePill, jobStatus, legend } from './status.js';
import { candidateParts, shortVersion, fullVersion } from './versions.js';

/** Whether an environment's status says a candidate waits at its approval gate. */
export const waitsForApproval = (env) => Boolean(env && env.next && env.blockers.some((b) => /waits for approval/.test(b)));

/** Depth of each job inside its lane: 0 without `passed` jobs of the same lane, else one more
 *  than the deepest of them. */
function depths(pipeline) {
  const jobs = new Map(pipeline.jobs.map((j) => [j.name, j]));
  const memo = new Map();
  const depth = (name, seen = new Set()) => {
    if (memo.has(name)) return memo.get(name);
    const job = jobs.get(name);
    let d = 0;
    if (job && !seen.has(name)) {
      seen.add(name);
      for (const input of job.inputs) {
        for (const from of input.passed) {
          const up = jobs.get(from);
          if (up && up.environment === job.environment) d = Math.max(d, depth(from, seen) + 1);
        }
      }
    }
    memo.set(name, d);
    return d;
  };
  for (const j of pipeline.jobs) depth(j.name);
  return memo;
}

/** The edges to draw: `passed` (deduplicated per pair of jobs) and resource → job for gets
 *  without `passed`. */
function edgeList(pipeline) {
  const out = new Map();
  for (const e of pipeline.edges) {
    const key = `job:${e.from}>job:${e.to}`;
    if (!out.has(key)) out.set(key, { from: `job:${e.from}`, to: `job:${e.to}`, kind: 'passed', resources: [] });
    out.get(key).resources.push(e.resource);
  }
  for (const j of pipeline.jobs) {
    for (const input of j.inputs) {
      if (input.passed.length) continue;
      const key = `res:${input.resource}>job:${j.name}`;
      if (!out.has(key)) out.set(key, { from: `res:${input.resource}`, to: `job:${j.name}`, kind: input.trigger ? 'trigger' : 'get', resources: [input.resource] });
    }
  }
  return [...out.values()];
}

export class PipelineView {
  constructor(pipeline) {
    this.pipeline = pipeline;
    this.jobNodes = new Map();
    this.resNodes = new Map();
    this.lanes = new Map();
    this.edges = edgeList(pipeline);
    this.edgePaths = [];
    this.el = this.render();
    this.layoutPending = false;
    // Any box changing size (a note appearing, a lane header growing) moves the edges' ends.
    const resize = new ResizeObserver(() => this.scheduleEdges());
    resize.observe(this.graph);
    for (const el of this.el.querySelectorAll('.node, .lane-head')) resize.observe(el);
  }

  render() {
    const p = this.pipeline;
    const d = depths(p);
    this.svg = svg('svg', { class: 'edges', 'aria-hidden': 'true' });
    const resCol = h('section', { class: 'column resources-col', 'aria-label': 'Resources', testid: 'resources' }, h('header', { class: 'col-head' }, h('h2', { text: 'Resources' }), h('span', { class: 'muted', text: `${p.resources.length}` })));
    const resBody = h('div', { class: 'col-body' });
    for (const r of p.resources) resBody.append(this.resourceNode(r));
    resCol.append(resBody);

    const lanes = p.environments.map((env, i) => {
      const jobs = p.jobs.filter((j) => j.environment === env.name);
      const stages = [];
      for (const j of jobs) {
        const k = d.get(j.name) || 0;
        (stages[k] ||= []).push(j);
      }
      const body = h('div', { class: 'lane-body' }, stages.filter(Boolean).map((s) => h('div', { class: 'stage' }, s.map((j) => this.jobNode(j)))));
      if (!jobs.length) body.append(h('p', { class: 'muted empty', text: 'No jobs in this environment.' }));
      const lane = h('section', { class: 'column lane', testid: `lane-${env.name}`, dataset: { env: env.name, index: i }, 'aria-label': `Environment ${env.name}` }, this.laneHead(env, i), body);
      return lane;
    });

    // Large pipelines get smaller nodes so more of them fit on a laptop screen.
    const compact = p.jobs.length > 40;
    this.graph = h('div', { class: compact ? 'graph compact' : 'graph', testid: 'pipeline-graph' }, this.svg, resCol, lanes);
    const summary = h('p', { class: 'summary muted', testid: 'pipeline-summary', text: `${p.environments.length} environments · ${p.jobs.length} jobs · ${p.resources.length} resources` });
    return h('section', { class: 'pipeline-view', 'aria-label': 'Pipeline' }, h('div', { class: 'toolbar' }, summary, legend()), h('div', { class: 'graph-scroll', tabindex: '-1' }, this.graph));
  }

  resourceNode(r) {
    const latest = h('span', { class: 'node-meta muted', text: r.type });
    const el = h(
      'a',
      { class: 'node resource', href: `#/resources/${encodeURIComponent(r.name)}`, testid: `resource-${r.name}`, dataset: { key: `res:${r.name}` } },
      h('span', { class: 'node-title', text: r.name }),
      latest,
    );
    el.addEventListener('mouseenter', () => this.highlight(`res:${r.name}`, true));
    el.addEventListener('mouseleave', () => this.highlight(`res:${r.name}`, false));
    this.resNodes.set(r.name, { el, latest, type: r.type, sig: '' });
    return el;
  }

  jobNode(j) {
    const pill = statusPill('none');
    const number = h('span', { class: 'build-no' });
    const ago = timeAgo(0);
    // Always there (empty when nothing blocks the job): boxes keep one height, the graph does
    // not shift under the pointer when a note comes or goes.
    const note = h('span', { class: 'node-note' });
    const title = h('span', { class: 'node-title', text: j.name });
    const el = h(
      'a',
      { class: 'node job s-none', href: `#/jobs/${encodeURIComponent(j.name)}`, testid: `job-${j.name}`, dataset: { key: `job:${j.name}`, status: 'none', job: j.name } },
      title,
      h('span', { class: 'node-meta' }, pill, number, ago),
      note,
    );
    el.addEventListener('mouseenter', () => this.highlight(`job:${j.name}`, true));
    el.addEventListener('mouseleave', () => this.highlight(`job:${j.name}`, false));
    el.addEventListener('focus', () => this.highlight(`job:${j.name}`, true));
    el.addEventListener('blur', () => this.highlight(`job:${j.name}`, false));
    this.jobNodes.set(j.name, { el, pill, number, ago, note, sig: '' });
    return el;
  }

  laneHead(env, index) {
    const name = env.name;
    const badges = h('span', { class: 'badges' });
    if (env.approval === 'required') badges.append(h('span', { class: 'badge approval', text: 'approval required' }));
    if (env.soak_ms) badges.append(h('span', { class: 'badge', text: `soak ${Math.round(env.soak_ms / 60000)}m` }));
    const row = (label, key) => {
      const value = h('span', { class: 'cand-id', testid: `env-${key}-${name}` });
      const line = h('span', { class: 'cand-versions' });
      const el = h('div', { class: `cand ${key}` }, h('dt', { text: label }), h('dd', {}, value, line));
      return { el, value, line };
    };
    const rows = { current: row('runs', 'current'), qualified: row('qualified', 'qualified'), next: row('next', 'next') };
    const waiting = h('p', { class: 'waiting', testid: `waits-${name}`, hidden: true });
    const blocker = h('p', { class: 'lane-blocker muted', hidden: true });
    const why = h('a', { class: 'why-link', href: `#/environments/${encodeURIComponent(name)}`, testid: `why-${name}`, text: index === 0 ? 'Details' : 'Why not promoted?' });
    why.dataset.label = why.textContent;
    const lane = { rows, waiting, blocker, why, sig: '' };
    this.lanes.set(name, lane);
    return h(
      'header',
      { class: 'lane-head' },
      h('div', { class: 'lane-title' }, h('span', { class: 'lane-step', 'aria-hidden': 'true', text: String(index + 1) }), h('h2', { text: name }), badges),
      h('dl', { class: 'cands', testid: `env-candidate-${name}` }, rows.current.el, rows.qualified.el, rows.next.el),
      waiting,
      blocker,
      why,
    );
  }

  /** Applies GET /jobs and GET /environments; returns how many nodes changed. */
  update(jobs, environments) {
    let changed = 0;
    if (jobs) for (const j of jobs) changed += this.updateJob(j);
    if (environments) for (const e of environments) changed += this.updateLane(e);
    const now = Date.now();
    for (const n of this.jobNodes.values()) {
      const at = Number(n.ago.dataset.at);
      if (at) setText(n.ago, fmtAgo(at, now));
    }
    return changed;
  }

  updateJob(j) {
    const n = this.jobNodes.get(j.name);
    if (!n) return 0;
    const b = j.last_build;
    const sig = JSON.stringify([b && b.id, b && b.status, j.blocked && j.blocked.message]);
    if (sig === n.sig) return 0;
    n.sig = sig;
    const status = jobStatus(j);
    if (n.el.dataset.status !== status) {
      n.el.className = `node job s-${status}`;
      n.el.dataset.status = status;
    }
    updatePill(n.pill, status);
    setText(n.number, b ? `#${b.number}` : '');
    const at = b ? b.finished_at || b.started_at || b.created_at : 0;
    n.ago.dataset.at = at || '';
    setAttr(n.ago, 'title', at ? new Date(at).toLocaleString() : null);
    setText(n.ago, fmtAgo(at));
    const note = j.blocked ? shortBlocker(j.blocked) : '';
    setText(n.note, note);
    setAttr(n.note, 'title', j.blocked ? j.blocked.message : null);
    setAttr(n.el, 'aria-label', `job ${j.name}: ${status === 'none' ? 'no builds yet' : `build #${b.number} ${status}`}${note ? `, ${note}` : ''}`);
    return 1;
  }

  updateLane(env) {
    const lane = this.lanes.get(env.environment);
    if (!lane) return 0;
    const sig = JSON.stringify(env);
    if (sig === lane.sig) return 0;
    lane.sig = sig;
    for (const key of ['current', 'qualified', 'next']) {
      const c = env[key];
      const r = lane.rows[key];
      setText(r.value, c ? `#${c.id}` : '—');
      setAttr(r.value, 'data-candidate', c ? c.id : null);
      const same = key === 'qualified' && c && env.current && env.current.id === c.id;
      const sig = c ? `${c.id}${same}` : '';
      if (r.line.dataset.sig !== sig) {
        r.line.dataset.sig = sig;
        r.line.replaceChildren(...(same ? [h('span', { class: 'v', text: '(what runs)' })] : c ? candidateParts(c).map((t) => h('span', { class: 'v', text: t })) : []));
      }
      setAttr(r.line, 'title', c ? c.versions.join('\n') : null);
      show(r.el, key !== 'next' || Boolean(c));
    }
    const waits = waitsForApproval(env);
    setText(lane.waiting, waits ? `Candidate #${env.next.id} waits for approval` : '');
    show(lane.waiting, waits);
    const first = !waits && env.next && env.blockers.length ? env.blockers[0].split('\n')[0] : '';
    setText(lane.blocker, first);
    lane.blocker.classList.toggle('bad', /\b(failed|errored)\b/.test(first));
    show(lane.blocker, Boolean(first));
    lane.why.classList.toggle('primary', waits);
    setText(lane.why, waits ? 'Review and approve…' : lane.why.dataset.label);
    return 1;
  }

  /** Applies GET /resources (latest and pinned versions). */
  updateResources(resources) {
    for (const r of resources) {
      const n = this.resNodes.get(r.name);
      if (!n) continue;
      const sig = JSON.stringify([r.latest && r.latest.id, r.pinned && r.pinned.id]);
      if (sig === n.sig) continue;
      n.sig = sig;
      const parts = [n.type];
      if (r.role === 'shared') parts.push('shared');
      if (r.latest) parts.push(shortVersion(r.latest.version));
      if (r.pinned) parts.push(`pinned ${shortVersion(r.pinned.version)}`);
      setText(n.latest, parts.join(' · '));
      setAttr(n.latest, 'title', r.latest ? `latest: ${fullVersion(r.latest.version)}${r.pinned ? `\npinned: ${fullVersion(r.pinned.version)}` : ''}` : null);
      n.el.classList.toggle('pinned', Boolean(r.pinned));
      n.el.classList.toggle('shared', r.role === 'shared');
    }
  }

  scheduleEdges() {
    if (this.layoutPending) return;
    this.layoutPending = true;
    requestAnimationFrame(() => {
      this.layoutPending = false;
      this.drawEdges();
    });
  }

  /** Measures every node once, then draws all edges into the SVG layer. */
  drawEdges() {
    if (!this.graph.isConnected || this.graph.offsetParent === null) return;
    const started = performance.now();
    const box = this.graph.getBoundingClientRect();
    const pos = new Map();
    const measure = (key, el) => {
      const r = el.getBoundingClientRect();
      pos.set(key, { left: r.left - box.left, right: r.right - box.left, y: r.top - box.top + Math.min(r.height / 2, 22) });
    };
    for (const [name, n] of this.jobNodes) measure(`job:${name}`, n.el);
    for (const [name, n] of this.resNodes) measure(`res:${name}`, n.el);
    const width = this.graph.scrollWidth;
    const height = this.graph.scrollHeight;
    this.svg.setAttribute('width', width);
    this.svg.setAttribute('height', height);
    this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const defs = svg('defs');
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M0,0 L8,4 L0,8 z', class: 'arrow' }));
    defs.append(marker);
    const frag = document.createDocumentFragment();
    frag.append(defs);
    this.edgePaths = [];
    for (const e of this.edges) {
      const a = pos.get(e.from);
      const b = pos.get(e.to);
      if (!a || !b) continue;
      const x1 = a.right;
      const x2 = b.left - 2;
      const dx = Math.max(24, Math.abs(x2 - x1) / 2);
      const d = `M${x1},${a.y} C${x1 + dx},${a.y} ${x2 - dx},${b.y} ${x2},${b.y}`;
      const path = svg('path', { d, class: `edge ${e.kind}`, 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to });
      const title = svg('title');
      title.textContent = e.kind === 'passed' ? `${e.to.slice(4)} gets ${e.resources.join(', ')} passed ${e.from.slice(4)}` : `${e.to.slice(4)} gets ${e.from.slice(4)}${e.kind === 'trigger' ? ' (trigger)' : ''}`;
      path.append(title);
      frag.append(path);
      this.edgePaths.push(path);
    }
    this.svg.replaceChildren(frag);
    this.svg.dataset.edges = String(this.edgePaths.length);
    if (this.onDraw) this.onDraw(performance.now() - started);
  }

  /** Marks the job (`job:NAME`) or lane (`lane:ENV`) whose panel is open; `null` clears. */
  select(key) {
    for (const el of this.graph.querySelectorAll('.selected')) el.classList.remove('selected');
    if (!key) return;
    const [kind, name] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const node = kind === 'job' ? this.jobNodes.get(name)?.el : this.graph.querySelector(`[data-testid="lane-${CSS.escape(name)}"] .lane-head`);
    if (node) node.classList.add('selected');
  }

  highlight(key, on) {
    this.graph.classList.toggle('focusing', on);
    for (const p of this.edgePaths) {
      if (p.dataset.from === key || p.dataset.to === key) p.classList.toggle('hl', on);
    }
  }
}

/** A few words for a job node from its blocker (the full message is the tooltip). */
function shortBlocker(blocked) {
  const kind = blocked.detail && blocked.detail.kind;
  if (kind === 'approval') return 'waits for approval';
  if (kind === 'soak') return 'soaking';
  if (kind === 'no_inputs') return 'waiting for inputs';
  if (kind === 'manual_only') return 'manual trigger only';
  return blocked.message;
}
