// files: Node-only file access for the CLI: read a model from a path, find its tokenizer.
// (Browsers and Deno pass bytes to parseLlama2c / Llama2cTokenizer.fromBytes themselves.)
import { readFileSync, readdirSync, statSync, existsSync, mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, dirname, basename } from 'node:path';
import { parseLlama2c } from './llama2c.js';
import { readHfModel, type ModelDir } from './hf.js';
import type { ByteSource } from './safetensors.js';
import { Llama2cTokenizer } from './tokenizer.js';
import type { Checkpoint } from './config.js';
import { fail } from './errors.js';

/** a Hugging Face directory (config.json + safetensors) or a llama2.c .bin file */
export async function readModel(path: string): Promise<Checkpoint> {
  if (!existsSync(path)) fail(`model '${path}' does not exist`, 'pass --model PATH to a Hugging Face model directory or a llama2.c .bin checkpoint');
  if (statSync(path).isDirectory()) return readHfModel(nodeDir(path));
  return parseLlama2c(new Uint8Array(readFileSync(path)), path);
}

/** random-access reads from a file, so a large safetensors file is never read whole */
export async function fileSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  return {
    size,
    read: async (offset, length) => {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) fail(`${path}: unexpected end of file at byte ${offset + got}`, 'the file was truncated while reading');
        got += bytesRead;
      }
      return buf;
    },
    close: () => fh.close(),
  };
}

export function nodeDir(path: string): ModelDir {
  return {
    name: path,
    exists: async (f) => existsSync(join(path, f)),
    readText: async (f) => readFileSync(join(path, f), 'utf8'),
    source: (f) => fileSource(join(path, f)),
  };
}

/**
 * Write files (each as parts) into dir atomically: everything goes to a temporary sibling
 * directory first, which then replaces dir, so a crash never leaves a half-written model.
 */
export function writeDirAtomic(dir: string, files: Record<string, Uint8Array[]>, hook?: (point: 'write' | 'swap') => void): void {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  let first = true;
  for (const [name, parts] of Object.entries(files)) {
    const fd = openSync(join(tmp, name), 'w');
    try { for (const p of parts) writeSync(fd, p); fsyncSync(fd); } finally { closeSync(fd); }
    if (first) { hook?.('write'); first = false; }
  }
  const old = join(dirname(dir), `.${basename(dir)}.old-${process.pid}`);
  if (existsSync(dir)) renameSync(dir, old);
  hook?.('swap');
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

const TOKENIZER_NAMES = ['tok512.bin', 'tokenizer.bin', 'tokenizer.model', 'tokenizer.json'];

/** --tokenizer PATH (a file, or a directory holding one), else a tokenizer file beside the model */
export async function readTokenizer(explicit: string | undefined, modelPath: string, vocabSize: number): Promise<Llama2cTokenizer> {
  let path = explicit;
  if (path && existsSync(path) && statSync(path).isDirectory()) path = TOKENIZER_NAMES.map((n) => join(path!, n)).find(existsSync) ?? path;
  if (!path) {
    const dir = statSync(modelPath).isDirectory() ? modelPath : dirname(modelPath);
    path = TOKENIZER_NAMES.map((n) => join(dir, n)).find(existsSync);
    if (!path) fail(`no tokenizer found beside the model (looked for ${TOKENIZER_NAMES.join(', ')} in ${dir})`, 'pass --tokenizer PATH');
  }
  if (!existsSync(path)) fail(`tokenizer '${path}' does not exist`, 'pass --tokenizer PATH to a llama2.c tokenizer .bin');
  if (path.endsWith('.model') || path.endsWith('.json')) {
    fail(`tokenizer '${path}': SentencePiece .model and tokenizer.json files are not read by this version`,
      'pass the llama2.c tokenizer .bin of the same vocabulary (e.g. --tokenizer tok512.bin)');
  }
  return Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(path)), { vocabSize });
}

// tokenizer files that travel with a model: HF names, plus llama2.c's beside a .bin checkpoint
const HF_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json',
  'vocab.json', 'merges.txt', 'tokenizer.bin', 'generation_config.json'];

/** tokenizer files of a model (dir or beside a .bin) as {name in the output: bytes} */
export function tokenizerFiles(modelPath: string): Record<string, Uint8Array[]> {
  const out: Record<string, Uint8Array[]> = {};
  if (!existsSync(modelPath)) return out;
  const isDir = statSync(modelPath).isDirectory();
  const dir = isDir ? modelPath : dirname(modelPath);
  for (const f of HF_TOKENIZER_FILES) if (existsSync(join(dir, f))) out[f] = [readFileSync(join(dir, f))];
  if (isDir) {
    // llama2.c tokenizers carried by an earlier inherit/train (tok512.bin etc.)
    for (const f of readdirSync(dir)) if (/^tok.*\.bin$/.test(f)) out[f] = [readFileSync(join(dir, f))];
  } else {
    // llama2.c: tok512.bin keeps its name (our CLI finds it), tok512.model becomes tokenizer.model (transformers reads it)
    if (existsSync(join(dir, 'tok512.bin'))) out['tok512.bin'] = [readFileSync(join(dir, 'tok512.bin'))];
    if (!out['tokenizer.model'] && existsSync(join(dir, 'tok512.model'))) out['tokenizer.model'] = [readFileSync(join(dir, 'tok512.model'))];
  }
  return out;
}
