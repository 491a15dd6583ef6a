// word-count: a Lockgate task. It reads a text file from an input directory and writes a report of
// its lines, words and bytes into the output directory `output`.
//
// What it sees (see Lockgate's docs/tasks.md): argument 0 is the step's name, then the step's
// `args`; the step's `params` are environment variables; each input, output and cache is the
// directory `/<name>` (inputs read-only). console.log goes to the build log. Returning from
// `run` passes the step; throwing fails the build (the program's exit code is 1).
//
// The JavaScript engine (StarlingMonkey) has no file API: arguments, environment and files come
// from the WASI interfaces the world in wit/world.wit imports.
import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.12';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

// The file read when neither an argument nor the `INPUT` param names one.
const DEFAULT_INPUT = 'input/data.txt';
// The output directory (the task's `outputs: [{name: output}]`).
const OUTPUT_DIR = 'output';

// The preopened directory holding `path` (`input/data.txt` or `/input/data.txt`) and the path
// inside it.
function locate(path) {
  const parts = path.replace(/^\/+/, '').split('/');
  const dir = getDirectories().find(([, name]) => name.replace(/^\/+/, '') === parts[0]);
  if (!dir || parts.length < 2) throw new Error(`no directory \`${parts[0]}\` (not an input or output of this task)`);
  return [dir[0], parts.slice(1).join('/')];
}

// A WASI error (thrown with its error code as payload) as text.
const why = (e) => (e && e.payload !== undefined ? String(e.payload) : e && e.message ? e.message : String(e));

function readText(path) {
  let file;
  try {
    const [dir, rel] = locate(path);
    file = dir.openAt({}, rel, {}, { read: true });
  } catch (e) {
    throw new Error(`cannot read ${path}: ${why(e)}`);
  }
  const chunks = [];
  let offset = 0n;
  for (;;) {
    const [data, end] = file.read(65536n, offset);
    chunks.push(data);
    offset += BigInt(data.length);
    if (end || data.length === 0) break;
  }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return [new TextDecoder().decode(all), all.length];
}

function writeText(path, text) {
  try {
    const [dir, rel] = locate(path);
    const file = dir.openAt({}, rel, { create: true, truncate: true }, { write: true });
    const bytes = new TextEncoder().encode(text);
    let offset = 0;
    while (offset < bytes.length) {
      offset += Number(file.write(bytes.subarray(offset), BigInt(offset)));
    }
  } catch (e) {
    throw new Error(`cannot write ${path}: ${why(e)}`);
  }
}

function main(me, input) {
  console.log(`${me}: reading ${input}`);
  const [text, size] = readText(input);
  const words = text.split(/\s+/).filter((w) => w.length > 0).length;
  if (words === 0) throw new Error(`${input} is empty`);
  const lines = text.split('\n').length - 1;
  console.log(`${me}: ${lines} lines, ${words} words, ${size} bytes`);
  const out = `${OUTPUT_DIR}/report.txt`;
  writeText(out, `file: ${input}\nlines: ${lines}\nwords: ${words}\nbytes: ${size}\n`);
  console.log(`${me}: wrote ${out}`);
}

export const run = {
  run() {
    const [argv0, arg1] = getArguments();
    const me = argv0 || 'word-count';
    const env = new Map(getEnvironment());
    // The file to read: the first argument, else the `INPUT` param, else the default.
    const input = arg1 || env.get('INPUT') || DEFAULT_INPUT;
    try {
      main(me, input);
    } catch (e) {
      console.error(`${me}: error: ${e.message}`);
      // An error from `run`: the program fails (exit code 1) and with it the build.
      throw e;
    }
  },
};
