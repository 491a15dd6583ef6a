// Test step `release-check`: judges the release file an environment runs (a `key: value`
// manifest such as `name: web\nversion: 1.4.2\nstatus: ok`) and returns one suite of cases:
//   - the file exists and is not empty,
//   - it is at most `max_bytes` long,
//   - each field of `fields` is present,
//   - its `version:` is a semantic version, equal to the content of `expect_version_file`,
//   - it contains none of the strings of `forbid`.
// Built into a WASI p2 component by jco componentize (StarlingMonkey); see build.sh.

import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

const VERSION = '0.1.0';

const CONFIG_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    suite: { type: 'string', default: 'release-check', description: 'Suite name in the report' },
    file: { type: 'string', description: '<input>/<path> of the release file to judge' },
    fields: {
      type: 'array',
      items: { type: 'string' },
      default: ['name', 'version'],
      description: 'Fields the release file must have',
    },
    expect_version_file: {
      type: 'string',
      description: '<input>/<path> of a file holding the version the release must have',
    },
    forbid: {
      type: 'array',
      items: { type: 'string' },
      default: [],
      description: 'Strings the release file must not contain (markers of a broken release)',
    },
    max_bytes: { type: 'integer', minimum: 1, default: 1048576 },
  },
  required: ['file'],
  additionalProperties: false,
};

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

// ---- plugin errors: a thrown `{tag, val}` becomes the `err` of the WIT result -------------

const invalidConfig = (message) => ({ tag: 'invalid-config', val: message });
const notFound = (message) => ({ tag: 'not-found', val: message });
const failed = (message) => ({ tag: 'failed', val: message });

// ---- files, through wasi:filesystem ------------------------------------------------------

let preopens = null;

// The WASI error code of a failed filesystem call (`no-entry`, `access`, ...).
function errorCode(e) {
  if (e && typeof e === 'object' && 'payload' in e) return e.payload;
  return typeof e === 'string' ? e : String(e && e.message ? e.message : e);
}

// `/inputs/<name>/<path>` -> [preopened directory descriptor, path relative to it].
function resolve(path) {
  if (preopens === null) preopens = getDirectories();
  let best = null;
  for (const [descriptor, mount] of preopens) {
    const m = mount.replace(/\/+$/, '');
    if ((path === m || path.startsWith(m + '/')) && (best === null || m.length > best[1].length)) {
      best = [descriptor, m];
    }
  }
  if (best === null) return null;
  return [best[0], path.slice(best[1].length + 1) || '.'];
}

// The bytes of the file at `path`, at most `limit` + 1 of them; `null` when it does not exist.
function readFile(path, limit) {
  const found = resolve(path);
  if (found === null) return null;
  const [dir, relative] = found;
  let file;
  try {
    file = dir.openAt({ symlinkFollow: true }, relative, {}, { read: true });
  } catch (e) {
    if (errorCode(e) === 'no-entry') return null;
    throw failed(`opening ${path}: ${errorCode(e)}`);
  }
  const chunks = [];
  let total = 0;
  for (;;) {
    let chunk, eof;
    try {
      [chunk, eof] = file.read(65536n, BigInt(total));
    } catch (e) {
      throw failed(`reading ${path}: ${errorCode(e)}`);
    }
    chunks.push(chunk);
    total += chunk.length;
    if (eof || chunk.length === 0 || total > limit) break;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

// `<input>/<relative path>` -> `/inputs/<input>/<relative path>`, refusing `..` and absolute paths.
function inputFile(reference, field) {
  const parts = typeof reference === 'string' ? reference.split('/') : [];
  if (parts.length < 2 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw invalidConfig(
      `${field}: \`${reference}\` must be a relative path \`<input>/<file>\` without \`.\` or \`..\``,
    );
  }
  return `/inputs/${reference}`;
}

// ---- configuration -------------------------------------------------------------------------

function parseConfig(text) {
  let config;
  try {
    config = text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    throw invalidConfig(`config: not valid JSON: ${e.message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw invalidConfig('config: expected an object');
  }
  const known = Object.keys(CONFIG_SCHEMA.properties);
  for (const key of Object.keys(config)) {
    if (!known.includes(key)) {
      throw invalidConfig(`config.${key} is not a known field (known: ${known.join(', ')})`);
    }
  }
  const strings = (key, fallback) => {
    const value = config[key] ?? fallback;
    if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) {
      throw invalidConfig(`config.${key} must be a list of strings`);
    }
    return value;
  };
  if (config.file === undefined) throw invalidConfig('config.file is required');
  const maxBytes = config.max_bytes ?? 1048576;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw invalidConfig('config.max_bytes must be a positive integer');
  }
  const suite = config.suite ?? 'release-check';
  if (typeof suite !== 'string' || suite === '') {
    throw invalidConfig('config.suite must be a non-empty string');
  }
  return {
    suite,
    file: inputFile(config.file, 'config.file'),
    fields: strings('fields', ['name', 'version']),
    expectVersionFile:
      config.expect_version_file === undefined
        ? null
        : inputFile(config.expect_version_file, 'config.expect_version_file'),
    forbid: strings('forbid', []),
    maxBytes,
  };
}

// `key: value` lines -> Map (the first occurrence of a key wins; `#` starts a comment line).
function parseFields(text) {
  const fields = new Map();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const colon = trimmed.indexOf(':');
    if (colon <= 0) continue;
    const key = trimmed.slice(0, colon).trim();
    if (!fields.has(key)) fields.set(key, trimmed.slice(colon + 1).trim());
  }
  return fields;
}

// ---- the test ----------------------------------------------------------------------------

function runChecks(config) {
  const cases = [];
  const timed = (name, check) => {
    const start = Date.now();
    let status, message;
    try {
      [status, message] = check();
    } catch (e) {
      [status, message] = ['errored', e && e.val ? e.val : String(e)];
    }
    cases.push({
      name,
      status,
      durationMs: BigInt(Math.max(0, Date.now() - start)),
      message: message ?? undefined,
    });
  };
  const skip = (name, why) =>
    cases.push({ name, status: 'skipped', durationMs: 0n, message: why });

  const bytes = readFile(config.file, config.maxBytes);
  const display = config.file.replace(/^\/inputs\//, '');
  timed('release file exists', () => {
    if (bytes === null) return ['failed', `${display} does not exist`];
    if (bytes.length === 0) return ['failed', `${display} is empty`];
    return ['passed', `${display}: ${bytes.length} bytes`];
  });
  if (bytes === null || bytes.length === 0) {
    const why = `no release file at ${display}`;
    skip('size within limit', why);
    for (const f of config.fields) skip(`has field ${f}`, why);
    if (config.expectVersionFile !== null) skip('runs the expected version', why);
    for (const s of config.forbid) skip(`does not contain ${JSON.stringify(s)}`, why);
    return cases;
  }
  timed('size within limit', () =>
    bytes.length > config.maxBytes
      ? ['failed', `${display} is larger than max_bytes (${config.maxBytes})`]
      : ['passed', `${bytes.length} <= ${config.maxBytes} bytes`],
  );
  const text = new TextDecoder().decode(bytes.subarray(0, config.maxBytes));
  const fields = parseFields(text);
  for (const f of config.fields) {
    timed(`has field ${f}`, () =>
      fields.has(f) && fields.get(f) !== ''
        ? ['passed', `${f}: ${fields.get(f)}`]
        : ['failed', `${display} has no \`${f}:\` line`],
    );
  }
  if (config.expectVersionFile !== null) {
    timed('runs the expected version', () => {
      const expected = readFile(config.expectVersionFile, 4096);
      if (expected === null) {
        return ['errored', `${config.expectVersionFile} does not exist`];
      }
      const want = new TextDecoder().decode(expected).trim();
      const have = fields.get('version');
      if (have === undefined) return ['failed', `${display} has no \`version:\` line`];
      if (!SEMVER.test(have)) return ['failed', `version \`${have}\` is not a semantic version`];
      return have === want
        ? ['passed', `version ${have}`]
        : ['failed', `runs version ${have}, expected ${want}`];
    });
  }
  for (const s of config.forbid) {
    timed(`does not contain ${JSON.stringify(s)}`, () => {
      const at = text.indexOf(s);
      if (at < 0) return ['passed', undefined];
      const line = text.slice(0, at).split('\n').length;
      return ['failed', `${display}:${line} contains ${JSON.stringify(s)}`];
    });
  }
  return cases;
}

export const testOps = {
  describe() {
    return {
      name: 'release-check',
      version: VERSION,
      kind: 'test-step',
      summary: 'Checks the release file an environment runs: fields, version, forbidden markers',
      sourceSchema: undefined,
      getParamsSchema: undefined,
      putParamsSchema: undefined,
      configSchema: JSON.stringify(CONFIG_SCHEMA),
      capabilities: { network: [], env: [], dirs: [] },
    };
  },

  run(configText) {
    const config = parseConfig(configText);
    const cases = runChecks(config);
    const bad = cases.filter((c) => c.status === 'failed' || c.status === 'errored').length;
    console.log(`${config.suite}: ${cases.length} case(s), ${bad} failing`);
    return { suites: [{ name: config.suite, cases }] };
  },
};
