// How versions and candidates read: a short form (`1.1.0`, `a1b2c3d`) with the full form as a
// tooltip, for version objects from the API and the `resource {k: v, …}` strings of candidates.

import { h } from './dom.js';

const PREFERRED = ['version', 'number', 'release', 'tag', 'ref', 'sha', 'commit', 'revision', 'serial', 'digest'];

/** The short form of a version map `{k: v}`. */
export function shortVersion(map) {
  if (!map || typeof map !== 'object') return String(map ?? '');
  const key = PREFERRED.find((k) => k in map) || Object.keys(map).sort()[0];
  if (key === undefined) return '{}';
  const value = String(map[key]);
  return /^[0-9a-f]{20,}$/i.test(value) ? value.slice(0, 8) : value;
}

/** `k: v, k2: v2`. */
export const fullVersion = (map) =>
  Object.entries(map || {})
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');

/** Parses a candidate's `resource {k: v, …}` string into `{ resource, map }`. */
export function parseCandidateVersion(text) {
  const m = /^(\S+) \{(.*)\}$/s.exec(text);
  if (!m) return { resource: text, map: null, text };
  const map = {};
  for (const part of m[2].split(', ')) {
    const i = part.indexOf(': ');
    if (i > 0) map[part.slice(0, i)] = part.slice(i + 2);
  }
  return { resource: m[1], map, text };
}

/** A chip `resource short-version` with the full version as tooltip. */
export function versionChip(text) {
  const { resource, map } = parseCandidateVersion(text);
  if (!map) return h('span', { class: 'chip', title: text, text });
  return h('span', { class: 'chip', title: text }, h('span', { class: 'chip-key', text: resource }), ' ', h('span', { class: 'chip-val', text: shortVersion(map) }));
}

/** `['app-release 1.1.0', 'os-image 1.0.0', …]` for a candidate summary. */
export function candidateParts(candidate) {
  if (!candidate) return [];
  return candidate.versions.map((t) => {
    const { resource, map } = parseCandidateVersion(t);
    return map ? `${resource} ${shortVersion(map)}` : t;
  });
}

/** `app-release 1.1.0 · os-image 1.0.0 · …` for a candidate summary. */
export const candidateLine = (candidate) => candidateParts(candidate).join(' · ');
