// Test step `{{name}}`: one test case per check of `config.checks`, each asserting that a file
// of the inputs exists and, optionally, contains a string.
//
// A starting point: change `run` to judge your environment. Failing cases go into the report;
// throw `{tag: 'invalid-config', val: message}` only when the tests cannot run at all.

import { inputs, log } from 'lockgate:plugin/host@0.1.0';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

// ---- files of the sandbox, through wasi:filesystem -----------------------------------------
// The granted directories are preopened at `/inputs/<name>`, `/output`, `/cache` and
// `/dirs/<name>`.

let preopens = null;

/** The WASI error code of a failed filesystem call (`no-entry`, `access`, ...). */
function errorCode(e) {
  if (e && typeof e === 'object' && 'payload' in e) return e.payload;
  return typeof e === 'string' ? e : String(e && e.message ? e.message : e);
}

/** `/dirs/x/a/b` -> [descriptor of the preopen `/dirs/x`, `a/b`], or null when not granted. */
function resolve(path) {
  if (preopens === null) preopens = getDirectories();
  let best = null;
  for (const [descriptor, mount] of preopens) {
    const m = mount.replace(/\/+$/, '');
    if ((path === m || path.startsWith(m + '/')) && (best === null || m.length > best[1].length)) {
      best = [descriptor, m];
    }
  }
  return best === null ? null : [best[0], path.slice(best[1].length + 1) || '.'];
}

function open(path, openFlags, flags) {
  const found = resolve(path);
  if (found === null) throw Object.assign(new Error(`${path} is not granted`), { payload: 'no-entry' });
  return found[0].openAt({ symlinkFollow: true }, found[1], openFlags, flags);
}

/** The bytes of the file `path`. */
function readFile(path) {
  const file = open(path, {}, { read: true });
  const chunks = [];
  let total = 0;
  for (;;) {
    const [chunk, eof] = file.read(65536n, BigInt(total));
    chunks.push(chunk);
    total += chunk.length;
    if (eof || chunk.length === 0) break;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

// ---- the test step ------------------------------------------------------------------------

const CONFIG_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    suite: { type: 'string', default: '{{name}}' },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          file: { type: 'string', description: '<input>/<path>' },
          contains: { type: 'string' },
        },
        required: ['file'],
        additionalProperties: false,
      },
    },
  },
  required: ['checks'],
  additionalProperties: false,
};

const invalidConfig = (val) => ({ tag: 'invalid-config', val });

function parseConfig(text) {
  let config;
  try {
    config = JSON.parse(text || '{}');
  } catch (e) {
    throw invalidConfig(`config: not valid JSON: ${e.message}`);
  }
  if (config === null || typeof config !== 'object' || !Array.isArray(config.checks)) {
    throw invalidConfig('config.checks must be a list');
  }
  config.checks.forEach((check, i) => {
    const parts = typeof check?.file === 'string' ? check.file.split('/') : [];
    if (parts.length < 2 || parts.some((p) => p === '' || p === '.' || p === '..')) {
      throw invalidConfig(`config.checks[${i}].file must be <input>/<path>`);
    }
  });
  return config;
}

function judge(check) {
  let text;
  try {
    text = new TextDecoder().decode(readFile(`/inputs/${check.file}`));
  } catch (e) {
    if (errorCode(e) === 'no-entry') return ['failed', `${check.file} does not exist`];
    return ['errored', `${check.file}: ${errorCode(e)}`];
  }
  if (check.contains !== undefined && !text.includes(check.contains)) {
    return ['failed', `${check.file} does not contain ${JSON.stringify(check.contains)}`];
  }
  return ['passed', undefined];
}

export const testOps = {
  describe() {
    return {
      name: '{{name}}',
      version: '0.1.0',
      kind: 'test-step',
      summary: 'Checks that files of the inputs exist and contain what they should',
      sourceSchema: undefined,
      getParamsSchema: undefined,
      putParamsSchema: undefined,
      configSchema: JSON.stringify(CONFIG_SCHEMA),
      capabilities: { network: [], env: [], dirs: [] },
    };
  },

  run(configText) {
    const config = parseConfig(configText);
    const cases = config.checks.map((check) => {
      const start = Date.now();
      const [status, message] = judge(check);
      return {
        name: check.name ?? check.file,
        status,
        durationMs: BigInt(Date.now() - start),
        message,
      };
    });
    log('info', `${cases.length} case(s) run on inputs ${inputs().join(', ')}`);
    return { suites: [{ name: config.suite ?? '{{name}}', cases }] };
  },
};
