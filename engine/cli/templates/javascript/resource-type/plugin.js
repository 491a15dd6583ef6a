// Resource type `{{name}}`: every file of a granted directory whose name starts with
// `source.prefix` is a version `{file: <name>}`, ordered by name.
//
// A starting point: change check/get/put to talk to your system. Throw
// `{tag: 'invalid-config' | 'not-found' | 'failed', val: message}` to return an error.

import { log } from 'lockgate:plugin/host@0.1.0';
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

/** The names in the directory `path`. */
function listDir(path) {
  const stream = open(path, { directory: true }, { read: true }).readDirectory();
  const names = [];
  for (let entry = stream.readDirectoryEntry(); entry; entry = stream.readDirectoryEntry()) {
    names.push(entry.name);
  }
  return names;
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

/** Creates or replaces the file `path` with `bytes`. */
function writeFile(path, bytes) {
  const file = open(path, { create: true, truncate: true }, { write: true });
  let at = 0;
  while (at < bytes.length) {
    at += Number(file.write(bytes.subarray(at), BigInt(at)));
  }
}

// ---- the resource type -------------------------------------------------------------------

const SOURCE_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    dir: { type: 'string', pattern: '^/dirs/', description: 'e.g. /dirs/releases' },
    prefix: { type: 'string', default: '', description: 'Only files starting with it' },
  },
  required: ['dir'],
  additionalProperties: false,
};

const PUT_PARAMS_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: { file: { type: 'string', description: '<input>/<path> to publish' } },
  required: ['file'],
  additionalProperties: false,
};

const invalidConfig = (val) => ({ tag: 'invalid-config', val });
const notFound = (val) => ({ tag: 'not-found', val });
const failed = (val) => ({ tag: 'failed', val });

function jsonObject(text, what) {
  let value;
  try {
    value = JSON.parse(text || '{}');
  } catch (e) {
    throw invalidConfig(`${what}: not valid JSON: ${e.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidConfig(`${what}: expected an object`);
  }
  return value;
}

function parseSource(text) {
  const source = jsonObject(text, 'source');
  if (typeof source.dir !== 'string' || !source.dir.startsWith('/dirs/')) {
    throw invalidConfig('source.dir must be a granted directory /dirs/<name>');
  }
  const prefix = source.prefix ?? '';
  if (typeof prefix !== 'string' || prefix.includes('/')) {
    throw invalidConfig('source.prefix must be a string without `/`');
  }
  return { dir: source.dir.replace(/\/+$/, ''), prefix };
}

function files({ dir, prefix }) {
  let names;
  try {
    names = listDir(dir);
  } catch (e) {
    if (errorCode(e) === 'no-entry') throw notFound(`${dir} does not exist: is it granted?`);
    throw failed(`listing ${dir}: ${errorCode(e)}`);
  }
  return names.filter((n) => n.startsWith(prefix) && !n.startsWith('.')).sort();
}

const fileOf = (version) => (version ?? []).find((p) => p.name === 'file')?.value;

export const resourceOps = {
  describe() {
    return {
      name: '{{name}}',
      version: '0.1.0',
      kind: 'resource-type',
      summary: 'Files of a granted directory, one version each',
      sourceSchema: JSON.stringify(SOURCE_SCHEMA),
      getParamsSchema: undefined,
      putParamsSchema: JSON.stringify(PUT_PARAMS_SCHEMA),
      configSchema: undefined,
      capabilities: { network: [], env: [], dirs: [] },
    };
  },

  check(sourceText, from) {
    const source = parseSource(sourceText);
    let names = files(source);
    const start = names.indexOf(fileOf(from));
    names = start >= 0 ? names.slice(start) : names.slice(-1);
    log('debug', `${source.dir}: ${names.length} version(s)`);
    return names.map((file) => [{ name: 'file', value: file }]);
  },

  get(sourceText, version, _params) {
    const source = parseSource(sourceText);
    const name = fileOf(version);
    if (!files(source).includes(name)) throw notFound(`version ${name} is not in ${source.dir}`);
    try {
      const bytes = readFile(`${source.dir}/${name}`);
      writeFile(`/output/${name}`, bytes);
      return {
        version: [{ name: 'file', value: name }],
        metadata: [{ name: 'size', value: String(bytes.length) }],
      };
    } catch (e) {
      throw failed(`fetching ${name}: ${errorCode(e)}`);
    }
  },

  put(sourceText, paramsText) {
    const source = parseSource(sourceText);
    const reference = jsonObject(paramsText, 'params').file;
    const parts = typeof reference === 'string' ? reference.split('/') : [];
    if (parts.length < 2 || parts.some((p) => p === '' || p === '.' || p === '..')) {
      throw invalidConfig('params.file must be <input>/<path>');
    }
    let bytes;
    try {
      bytes = readFile(`/inputs/${reference}`);
    } catch (e) {
      if (errorCode(e) === 'no-entry') throw notFound(`params.file: ${reference} does not exist`);
      throw failed(`reading ${reference}: ${errorCode(e)}`);
    }
    const last = parts[parts.length - 1];
    const name = last.startsWith(source.prefix) ? last : source.prefix + last;
    try {
      writeFile(`${source.dir}/${name}`, bytes);
    } catch (e) {
      throw failed(`writing ${source.dir}/${name}: ${errorCode(e)} (granted writable?)`);
    }
    log('info', `published ${source.dir}/${name}`);
    return { version: [{ name: 'file', value: name }], metadata: [{ name: 'from', value: reference }] };
  },
};
