// Lockgate's JavaScript script runner: a `wasi:cli/command` component (StarlingMonkey, built by
// jco componentize) that runs a script kept in a repository.
//
//     argv: <task name> <script.js> [script arguments...]
//
// The script is read from the task's file system (relative paths are relative to the working
// directory `/`, where the task's inputs, outputs and caches are mounted as `<name>`) and run as a
// CommonJS module body — `require`, `module`, `exports`, `__filename`, `__dirname` — inside an
// async function, so top-level `await` works. It gets a Node-like subset, documented in README.md:
// `process` (argv, env, exit, exitCode, cwd, stdout/stderr.write), `require('fs')` (synchronous
// functions over wasi:filesystem), `require('path')`, `require('crypto')` (createHash sha256/sha1,
// randomUUID, randomBytes), `require('./local.js')` / `.json`, and StarlingMonkey's web globals
// (console, TextEncoder/TextDecoder, URL, atob/btoa, crypto.subtle, fetch, setTimeout, ...).
//
// Exit codes: the script's end (its awaits and the timers it set done) → `process.exitCode` (0);
// `process.exit(n)` → n (0–255; a code that is not an integer in that range → 1); an uncaught
// error (thrown, or the rejection of the script's own top-level promise) → its stack on stderr
// and 1. The code goes through `wasi:cli/exit.exit-with-code` (WASI 0.2.12), so the host sees it.

import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.12';
import { exitWithCode } from 'wasi:cli/exit@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';
import { getStderr } from 'wasi:cli/stderr@0.2.12';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ------------------------------------------------------------------------------------------
// Output and exit.
// ------------------------------------------------------------------------------------------

function writeStream(stream, data) {
  let bytes = typeof data === 'string' ? encoder.encode(data) : toBytes(data);
  // blocking-write-and-flush takes at most 4096 bytes at a time.
  while (bytes.length > 0) {
    const n = Math.min(bytes.length, 4096);
    stream.blockingWriteAndFlush(bytes.subarray(0, n));
    bytes = bytes.subarray(n);
  }
  return true;
}

let stdoutStream = null;
let stderrStream = null;
const stdout = { write: (data) => writeStream(stdoutStream ??= getStdout(), data), isTTY: false };
const stderr = { write: (data) => writeStream(stderrStream ??= getStderr(), data), isTTY: false };

function exitNow(code) {
  const c = Number.isInteger(code) && code >= 0 && code <= 255 ? code : 1;
  exitWithCode(c); // does not return
}

function reportError(e) {
  let text;
  if (e instanceof Error) {
    const stack = typeof e.stack === 'string' ? e.stack.trimEnd() : '';
    const frames = stack ? indent(stack) : '';
    text = `Uncaught ${e.name}: ${e.message}` + (frames ? `\n${frames}` : '');
  } else {
    let shown;
    try {
      shown = typeof e === 'string' ? JSON.stringify(e) : String(e);
    } catch (_) {
      shown = Object.prototype.toString.call(e);
    }
    text = `Uncaught ${shown}`;
  }
  stderr.write(text + '\n');
}

// The script's frames only: the runner's own (runner.js, and the bindings jco generated) are
// left out, as Node leaves out its internals.
function indent(stack) {
  return stack
    .split('\n')
    .filter((line) => line && !/@runner\.js:|initializer\.js:|^eval@|@self-hosted:/.test(line))
    .map((line) => '    at ' + line)
    .join('\n');
}

// ------------------------------------------------------------------------------------------
// Paths.
// ------------------------------------------------------------------------------------------

function normalize(p) {
  const absolute = p.startsWith('/');
  const out = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (absolute) return '/' + joined;
  return joined === '' ? '.' : joined;
}

const path = {
  sep: '/',
  delimiter: ':',
  normalize,
  isAbsolute: (p) => String(p).startsWith('/'),
  join: (...parts) => normalize(parts.filter((p) => p !== '').join('/') || '.'),
  resolve: (...parts) => {
    let p = '';
    for (const part of parts) {
      if (part === '') continue;
      p = String(part).startsWith('/') ? String(part) : p === '' ? part : p + '/' + part;
    }
    return normalize(p.startsWith('/') ? p : '/' + p);
  },
  dirname: (p) => {
    const n = normalize(p);
    const i = n.lastIndexOf('/');
    if (i < 0) return '.';
    return i === 0 ? '/' : n.slice(0, i);
  },
  basename: (p, ext) => {
    const n = normalize(p);
    let b = n.slice(n.lastIndexOf('/') + 1);
    if (ext && b.endsWith(ext) && b !== ext) b = b.slice(0, -ext.length);
    return b;
  },
  extname: (p) => {
    const b = path.basename(p);
    const i = b.lastIndexOf('.');
    return i <= 0 ? '' : b.slice(i);
  },
  relative: (from, to) => {
    const a = path.resolve(from).split('/').filter(Boolean);
    const b = path.resolve(to).split('/').filter(Boolean);
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
  },
};
path.posix = path;

// ------------------------------------------------------------------------------------------
// fs: synchronous functions over wasi:filesystem.
// ------------------------------------------------------------------------------------------

const ERRNO = {
  'no-entry': ['ENOENT', 'no such file or directory'],
  access: ['EACCES', 'permission denied'],
  'not-permitted': ['EPERM', 'operation not permitted'],
  'read-only': ['EROFS', 'read-only file system'],
  exist: ['EEXIST', 'file already exists'],
  'not-directory': ['ENOTDIR', 'not a directory'],
  'is-directory': ['EISDIR', 'illegal operation on a directory'],
  'not-empty': ['ENOTEMPTY', 'directory not empty'],
  'insufficient-space': ['ENOSPC', 'no space left on device'],
  'quota': ['EDQUOT', 'disk quota exceeded'],
  'invalid': ['EINVAL', 'invalid argument'],
  'cross-device': ['EXDEV', 'cross-device link not permitted'],
  'bad-descriptor': ['EBADF', 'bad file descriptor'],
};

function fsError(e, syscall, p) {
  const kind = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  const [code, text] = ERRNO[kind] ?? ['EIO', `i/o error (${String(kind)})`];
  const err = new Error(`${code}: ${text}, ${syscall} '${p}'`);
  err.code = code;
  err.syscall = syscall;
  err.path = p;
  return err;
}

// The preopened directories, longest name first: [descriptor, '/name'].
let preopens = null;
function mounts() {
  if (preopens === null) {
    preopens = getDirectories()
      .map(([d, name]) => [d, normalize(name.startsWith('/') ? name : '/' + name)])
      .sort((a, b) => b[1].length - a[1].length);
  }
  return preopens;
}

// [descriptor, path relative to it] for path `p`, or throws ENOENT.
function locate(p, syscall) {
  const abs = path.resolve(String(p));
  for (const [d, name] of mounts()) {
    if (abs === name) return [d, '.'];
    if (name === '/' || abs.startsWith(name + '/')) {
      return [d, name === '/' ? abs.slice(1) || '.' : abs.slice(name.length + 1)];
    }
  }
  throw fsError('no-entry', syscall, p);
}

function call(syscall, p, f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && e.code) throw e;
    throw fsError(e, syscall, p);
  }
}

function toBytes(data) {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return encoder.encode(String(data));
}

function encodingOf(options) {
  if (typeof options === 'string') return options;
  return options && options.encoding ? options.encoding : null;
}

function decode(bytes, encoding) {
  if (!encoding) return bytes;
  const e = encoding.toLowerCase();
  if (e === 'utf8' || e === 'utf-8') return decoder.decode(bytes);
  if (e === 'base64') return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));
  if (e === 'hex') return hex(bytes);
  if (e === 'latin1' || e === 'binary') return Array.from(bytes, (b) => String.fromCharCode(b)).join('');
  throw new Error(`unsupported encoding '${encoding}' (utf8, hex, base64, latin1)`);
}

function readAll(file) {
  const chunks = [];
  let offset = 0n;
  let total = 0;
  for (;;) {
    const [buf, eof] = file.read(1048576n, offset);
    if (buf.length > 0) {
      chunks.push(buf);
      total += buf.length;
      offset += BigInt(buf.length);
    }
    if (eof || buf.length === 0) break;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function writeAll(file, bytes, offset) {
  let at = 0;
  while (at < bytes.length) {
    const n = Number(file.write(bytes.subarray(at, at + 1048576), offset + BigInt(at)));
    at += n;
  }
}

function statOf(s) {
  const ms = (t) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanoseconds / 1e6) : 0);
  return {
    size: Number(s.size),
    type: s.type,
    mtimeMs: ms(s.dataModificationTimestamp),
    mtime: new Date(ms(s.dataModificationTimestamp)),
    isFile: () => s.type === 'regular-file',
    isDirectory: () => s.type === 'directory',
    isSymbolicLink: () => s.type === 'symbolic-link',
  };
}

function open(p, syscall, openFlags, descriptorFlags) {
  const [d, rel] = locate(p, syscall);
  return call(syscall, p, () => d.openAt({ symlinkFollow: true }, rel, openFlags, descriptorFlags));
}

const fs = {
  readFileSync(p, options) {
    const file = open(p, 'open', {}, { read: true });
    return decode(call('read', p, () => readAll(file)), encodingOf(options));
  },
  writeFileSync(p, data, options) {
    const flag = options && typeof options === 'object' ? options.flag : undefined;
    if (flag === 'a') return fs.appendFileSync(p, data);
    const file = open(p, 'open', { create: true, truncate: true }, { write: true });
    call('write', p, () => writeAll(file, toBytes(data), 0n));
  },
  appendFileSync(p, data) {
    const file = open(p, 'open', { create: true }, { write: true });
    const size = call('stat', p, () => file.stat().size);
    call('write', p, () => writeAll(file, toBytes(data), size));
  },
  existsSync(p) {
    try {
      fs.statSync(p);
      return true;
    } catch (_) {
      return false;
    }
  },
  statSync(p) {
    const [d, rel] = locate(p, 'stat');
    return statOf(call('stat', p, () => d.statAt({ symlinkFollow: true }, rel)));
  },
  lstatSync(p) {
    const [d, rel] = locate(p, 'lstat');
    return statOf(call('lstat', p, () => d.statAt({}, rel)));
  },
  readdirSync(p, options) {
    const dir = open(p, 'scandir', { directory: true }, { read: true });
    const names = [];
    const entries = [];
    call('scandir', p, () => {
      const stream = dir.readDirectory();
      for (;;) {
        const entry = stream.readDirectoryEntry();
        if (!entry) break;
        names.push(entry.name);
        entries.push(entry);
      }
    });
    if (options && options.withFileTypes) {
      return entries
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((e) => ({
          name: e.name,
          isFile: () => e.type === 'regular-file',
          isDirectory: () => e.type === 'directory',
          isSymbolicLink: () => e.type === 'symbolic-link',
        }));
    }
    return names.sort();
  },
  mkdirSync(p, options) {
    const recursive = options && options.recursive;
    if (!recursive) {
      const [d, rel] = locate(p, 'mkdir');
      call('mkdir', p, () => d.createDirectoryAt(rel));
      return undefined;
    }
    const abs = path.resolve(String(p));
    const parts = abs.split('/').filter(Boolean);
    let made;
    for (let i = 1; i <= parts.length; i++) {
      const sub = '/' + parts.slice(0, i).join('/');
      let found = null;
      try {
        found = fs.statSync(sub);
      } catch (_) {
        found = null;
      }
      if (found) {
        if (!found.isDirectory()) throw fsError('not-directory', 'mkdir', p);
        continue;
      }
      const [d, rel] = locate(sub, 'mkdir');
      call('mkdir', p, () => d.createDirectoryAt(rel));
      made ??= sub;
    }
    return made;
  },
  unlinkSync(p) {
    const [d, rel] = locate(p, 'unlink');
    call('unlink', p, () => d.unlinkFileAt(rel));
  },
  rmdirSync(p) {
    const [d, rel] = locate(p, 'rmdir');
    call('rmdir', p, () => d.removeDirectoryAt(rel));
  },
  rmSync(p, options) {
    let st;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      if (options && options.force && e.code === 'ENOENT') return;
      throw e;
    }
    if (st.isDirectory()) {
      if (!(options && options.recursive)) throw fsError('is-directory', 'rm', p);
      for (const name of fs.readdirSync(p)) fs.rmSync(path.join(String(p), name), options);
      fs.rmdirSync(p);
    } else {
      fs.unlinkSync(p);
    }
  },
  renameSync(from, to) {
    const [d1, r1] = locate(from, 'rename');
    const [d2, r2] = locate(to, 'rename');
    call('rename', from, () => d1.renameAt(r1, d2, r2));
  },
  copyFileSync(from, to) {
    fs.writeFileSync(to, fs.readFileSync(from));
  },
};
fs.promises = {};
for (const name of ['readFile', 'writeFile', 'appendFile', 'stat', 'lstat', 'readdir', 'mkdir', 'unlink', 'rmdir', 'rm', 'rename', 'copyFile']) {
  fs.promises[name] = async (...args) => fs[name + 'Sync'](...args);
}
fs.promises.access = async (p) => {
  fs.statSync(p);
};

// ------------------------------------------------------------------------------------------
// crypto: synchronous sha256 and sha1 (createHash), plus the web crypto object.
// ------------------------------------------------------------------------------------------

function hex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// Pads a message as SHA-1 and SHA-256 do: 0x80, zeros, the bit length big-endian.
function pad(bytes) {
  const len = bytes.length;
  const total = Math.ceil((len + 9) / 64) * 64;
  const out = new Uint8Array(total);
  out.set(bytes);
  out[len] = 0x80;
  const view = new DataView(out.buffer);
  view.setUint32(total - 8, Math.floor(len / 0x20000000));
  view.setUint32(total - 4, (len * 8) >>> 0);
  return view;
}

function sha256(bytes) {
  const view = pad(bytes);
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < view.byteLength; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + s1 + ch + K256[i] + w[i]) >>> 0;
      const s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (s0 + maj) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]);
  return out;
}

function sha1(bytes) {
  const view = pad(bytes);
  const h = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  const w = new Uint32Array(80);
  const rotl = (x, n) => (x << n) | (x >>> (32 - n));
  for (let off = 0; off < view.byteLength; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 80; i++) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    let [a, b, c, d, e] = h;
    for (let i = 0; i < 80; i++) {
      let f, k;
      if (i < 20) [f, k] = [(b & c) | (~b & d), 0x5a827999];
      else if (i < 40) [f, k] = [b ^ c ^ d, 0x6ed9eba1];
      else if (i < 60) [f, k] = [(b & c) | (b & d) | (c & d), 0x8f1bbcdc];
      else [f, k] = [b ^ c ^ d, 0xca62c1d6];
      const t = (rotl(a, 5) + f + e + k + w[i]) >>> 0;
      e = d;
      d = c;
      c = rotl(b, 30) >>> 0;
      b = a;
      a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
  }
  const out = new Uint8Array(20);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 5; i++) ov.setUint32(i * 4, h[i]);
  return out;
}

const HASHES = { sha256, 'sha-256': sha256, sha1, 'sha-1': sha1 };

function createHash(algorithm) {
  const fn = HASHES[String(algorithm).toLowerCase()];
  if (!fn) throw new Error(`Digest method not supported: ${algorithm} (sha256, sha1; others through crypto.subtle.digest)`);
  const parts = [];
  const hash = {
    update(data, encoding) {
      parts.push(typeof data === 'string' && encoding === 'hex'
        ? Uint8Array.from(data.match(/../g) ?? [], (x) => parseInt(x, 16))
        : toBytes(data));
      return hash;
    },
    digest(encoding) {
      let total = 0;
      for (const p of parts) total += p.length;
      const all = new Uint8Array(total);
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      return decode(fn(all), encoding);
    },
  };
  return hash;
}

const nodeCrypto = {
  createHash,
  randomUUID: () => globalThis.crypto.randomUUID(),
  randomBytes: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
  getRandomValues: (a) => globalThis.crypto.getRandomValues(a),
  subtle: globalThis.crypto ? globalThis.crypto.subtle : undefined,
  webcrypto: globalThis.crypto,
};

// ------------------------------------------------------------------------------------------
// process, require and the script.
// ------------------------------------------------------------------------------------------

// Compiles a CommonJS body as Node does: the wrapper on the body's first line, so line numbers
// in stacks and syntax errors are the file's own; `async`, so top-level `await` works.
function compileModule(source, file, isAsync) {
  const head = `(${isAsync ? 'async ' : ''}function (exports, require, module, __filename, __dirname, process) {`;
  try {
    return (0, eval)(`${head}${source}\n})\n//# sourceURL=${file}`);
  } catch (e) {
    if (e instanceof SyntaxError && typeof e.lineNumber === 'number') {
      // The parser stopped before the sourceURL: say where, in the file's own terms.
      const column = e.lineNumber === 1 ? e.columnNumber - head.length : e.columnNumber;
      e.message += ` (${file}:${e.lineNumber}:${column})`;
    }
    throw e;
  }
}

function makeProcess(argv, env) {
  const proc = {
    argv,
    argv0: argv[0],
    env,
    exitCode: undefined,
    platform: 'wasi',
    version: 'v0.0.0-lockgate',
    versions: {},
    stdout,
    stderr,
    cwd: () => '/',
    exit(code) {
      exitNow(code === undefined ? (proc.exitCode ?? 0) : Number(code));
    },
    hrtime: {
      bigint: () => BigInt(Math.round(performance.now() * 1e6)),
    },
  };
  return proc;
}

function makeRequire(dir, proc, cache) {
  const builtins = {
    fs,
    path,
    crypto: nodeCrypto,
    process: proc,
  };
  return function require(id) {
    const name = String(id).replace(/^node:/, '');
    if (Object.prototype.hasOwnProperty.call(builtins, name)) return builtins[name];
    if (!(name.startsWith('./') || name.startsWith('../') || name.startsWith('/'))) {
      throw new Error(`Cannot find module '${id}': the runner provides fs, path, crypto and process, and files (./x.js, ./x.json)`);
    }
    const base = path.resolve(dir, name);
    const candidates = [base, base + '.js', base + '.json', path.join(base, 'index.js')];
    const file = candidates.find((c) => {
      try {
        return fs.statSync(c).isFile();
      } catch (_) {
        return false;
      }
    });
    if (!file) throw new Error(`Cannot find module '${id}' (from ${dir})`);
    if (cache.has(file)) return cache.get(file).exports;
    const module = { exports: {}, filename: file, id: file };
    cache.set(file, module);
    const source = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.json')) {
      module.exports = JSON.parse(source);
      return module.exports;
    }
    const fn = compileModule(source, file, false);
    fn.call(module.exports, module.exports, makeRequire(path.dirname(file), proc, cache), module, file, path.dirname(file), proc);
    return module.exports;
  };
}

// Timers: StarlingMonkey's event loop runs while `run`'s promise is pending, so the runner keeps
// it pending until the script's top-level code is done and no timer it set is left (Node waits
// for its timers too; an interval never cleared runs until the task's deadline).
const live = new Set();
let idle = null;
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realSetInterval = globalThis.setInterval;
const realClearInterval = globalThis.clearInterval;

function settle() {
  if (live.size === 0 && idle) {
    const resolve = idle;
    idle = null;
    resolve();
  }
}

function guarded(fn, args) {
  try {
    if (typeof fn === 'function') fn(...args);
  } catch (e) {
    // An error thrown by a timer's callback is uncaught, as in Node: the script fails.
    reportError(e);
    exitNow(1);
  }
}

globalThis.setTimeout = (fn, ms, ...args) => {
  const id = realSetTimeout(() => {
    live.delete(id);
    guarded(fn, args);
    settle();
  }, ms);
  live.add(id);
  return id;
};
globalThis.clearTimeout = (id) => {
  realClearTimeout(id);
  live.delete(id);
  settle();
};
globalThis.setInterval = (fn, ms, ...args) => {
  const id = realSetInterval(() => guarded(fn, args), ms);
  live.add(id);
  return id;
};
globalThis.clearInterval = (id) => {
  realClearInterval(id);
  live.delete(id);
  settle();
};

async function main() {
  const args = getArguments();
  const script = args[1];
  if (!script) {
    stderr.write('usage: <task> <script.js> [arguments...]  (give the script in the task\'s `args`)\n');
    exitNow(2);
  }
  const env = Object.create(null);
  for (const [k, v] of getEnvironment()) env[k] = v;
  const proc = makeProcess([args[0], script, ...args.slice(2)], env);
  globalThis.process = proc;

  let source;
  try {
    source = fs.readFileSync(script, 'utf8');
  } catch (e) {
    stderr.write(`lockgate-javascript: cannot open the script '${script}': ${e.message}\n`);
    exitNow(2);
  }
  if (source.startsWith('#!')) source = '//' + source.slice(2);
  const file = path.resolve(script);
  const dir = path.dirname(file);
  const module = { exports: {}, filename: file, id: '.' };
  const cache = new Map([[file, module]]);
  const require = makeRequire(dir, proc, cache);
  require.main = module;

  const body = compileModule(source, script, true);
  await body.call(module.exports, module.exports, require, module, file, dir, proc);
  while (live.size > 0) {
    await new Promise((resolve) => {
      idle = resolve;
    });
  }
  const code = proc.exitCode ?? 0;
  if (Number(code) !== 0) exitNow(Number(code));
}

export const run = {
  // Returns a promise: the event loop runs (timers, fetches, `await`s) until it settles.
  async run() {
    try {
      await main();
    } catch (e) {
      reportError(e);
      exitNow(1);
    }
  },
};
