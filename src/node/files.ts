// files: Node-only file access for the CLI: read a model from a path, find its tokenizer.
// (Browsers and Deno pass bytes to parseLlama2c / Llama2cTokenizer.fromBytes themselves.)
import { readFileSync, readdirSync, statSync, existsSync, mkdirSync, openSync, readSync, writeSync, fsyncSync, closeSync, renameSync, rmSync, realpathSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, dirname, basename, sep } from 'node:path';
import { parseLlama2c } from '../formats/llama2c.js';
import { readHfModel, readHfConfig, openHfModel, hfSlices, type ModelDir } from '../formats/hf.js';
import { selectLayers, firstBlocks } from '../model/surgery.js';
import { Model } from '../model/model.js';
import type { Gpu } from '../gpu/gpu.js';
import type { ByteSource } from '../formats/safetensors.js';
import { writeSafetensors, type TensorWrite, type FileSink } from '../formats/stwrite.js';
import { tokenizerFromFiles, TOKENIZER_FILES, isTokenizerBin, isTokenizerFile, type Tokenizer } from '../tokenizers/load.js';
import { hfTokenizerFiles } from '../tokenizers/export.js';
import { parseShard, SHARD_MAGIC } from '../data/shard.js';
import { listShards, openShards } from './pack.js';
import type { TrainData } from '../train/trainer.js';
import type { Checkpoint, ModelConfig } from '../model/config.js';
import { fail, InherituneError } from '../util/errors.js';
import { Progress } from '../util/progress.js';

/** a Hugging Face directory (config.json + safetensors) or a llama2.c .bin file */
export async function readModel(path: string): Promise<Checkpoint> {
  if (!existsSync(path)) fail(`model '${path}' does not exist`, 'pass --model PATH to a Hugging Face model directory or a llama2.c .bin checkpoint');
  if (statSync(path).isDirectory()) return readHfModel(nodeDir(path));
  notInsideModelDir(path);
  try {
    return parseLlama2c(new Uint8Array(readFileSync(path)), path);
  } catch (e) {
    // any other file of a model directory (tokenizer.json, pytorch_model.bin): not a checkpoint, but its directory is
    if (e instanceof InherituneError && existsSync(join(dirname(path), 'config.json'))) {
      // (what the header read is worth saying only of a .bin, which may be a damaged llama2.c checkpoint)
      const why = path.endsWith('.bin') ? ` (${e.message.split('\n')[0]})` : '';
      fail(`model '${path}' is not a llama2.c checkpoint${why}, and it is a file inside the Hugging Face model directory '${dirname(path)}'`,
        `pass the directory '${dirname(path)}' itself, not a file in it`);
    }
    throw e;
  }
}

// the files of a Hugging Face model directory that are never a model by themselves
const HF_DIR_FILE = /^config\.json$|\.safetensors$|\.safetensors\.index\.json$/;

/**
 * The one check of every model path that is a file (readModel, so readModelConfig and loadModel too):
 * config.json or a safetensors file is part of a model directory, and the directory is what to pass.
 * (Checked by name before reading: a safetensors file may be gigabytes.)
 */
function notInsideModelDir(path: string): void {
  if (HF_DIR_FILE.test(basename(path))) passTheDirectory(path);
}

function passTheDirectory(path: string): never {
  const dir = dirname(path);
  if (existsSync(join(dir, 'config.json'))) {
    fail(`model '${path}' is a file inside the Hugging Face model directory '${dir}'`, `pass the directory '${dir}' itself, not a file in it`);
  }
  return fail(`model '${path}' is one file of a Hugging Face model, and '${dir}' has no config.json beside it`,
    'pass the model directory that holds config.json and the safetensors files (or a llama2.c .bin checkpoint)');
}

/** a model's config without its weights (a llama2.c .bin is read whole: its header is its config) */
export async function readModelConfig(path: string): Promise<ModelConfig> {
  if (existsSync(path) && statSync(path).isDirectory()) return readHfConfig(nodeDir(path));
  return (await readModel(path)).config;
}

/**
 * A model on the GPU from a path, cut to its first `layers` blocks if given: a Hugging Face directory is
 * uploaded tensor by tensor in its stored dtype and widened on the GPU (Model.load: no whole-model copy
 * on the CPU, and only the blocks kept are read); a llama2.c .bin is read, passed through `prepare`
 * (e.g. toRotateHalf), cut and uploaded.
 */
export async function loadModel(gpu: Gpu, path: string, opts: { prepare?: (ck: Checkpoint) => Checkpoint; layers?: number; progress?: ((s: string) => void) | null } = {}): Promise<Model> {
  if (!(existsSync(path) && statSync(path).isDirectory())) {
    const ck = (opts.prepare ?? ((c: Checkpoint) => c))(await readModel(path));
    return Model.create(gpu, opts.layers === undefined ? ck : selectLayers(ck, firstBlocks(opts.layers, ck.config.nLayers)));
  }
  const { config, weights } = await openHfModel(nodeDir(path));
  try {
    const kept = opts.layers === undefined ? config : { ...config, nLayers: firstBlocks(opts.layers, config.nLayers).length };
    const bar = new Progress('load', 1, opts.progress ?? null);
    return await Model.load(gpu, kept, hfSlices(kept, weights), path, (d, t) => { bar.total = t; bar.update(d, 'tensors'); });
  } finally {
    await weights.close();
  }
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

/**
 * dir/f, for a file the directory names itself (index shards, tokenizer files): f must be a plain name,
 * and a link may not lead out of the directory (but for a huggingface_hub snapshot's links into its blobs/)
 */
export function inside(dir: string, f: string): string {
  if (!/^[^/\\]+$/.test(f) || f === '.' || f === '..') {
    fail(`${dir}: '${f}' is not a file name inside the model directory`, 'model directories name their files by plain names (no paths)');
  }
  const p = join(dir, f);
  if (existsSync(p)) {
    const real = realpathSync(p), root = realpathSync(dir);
    // a huggingface_hub cache snapshot (<repo>/snapshots/<sha>/) links its files into <repo>/blobs/
    const blobs = basename(dirname(root)) === 'snapshots' ? join(dirname(dirname(root)), 'blobs') + sep : null;
    if (!real.startsWith(root + sep) && !(blobs && real.startsWith(blobs))) fail(`${p} is a link that leaves ${dir} (it points at ${real})`, 'copy the file into the model directory instead of linking outside it');
  }
  return p;
}

export function nodeDir(path: string): ModelDir {
  return {
    name: path,
    exists: async (f) => existsSync(inside(path, f)),
    readText: async (f) => readFileSync(inside(path, f), 'utf8'),
    source: (f) => fileSource(inside(path, f)),
  };
}

/**
 * Write files (each as parts) into dir atomically: everything goes to a temporary sibling
 * directory first, which then replaces dir, so a crash never leaves a half-written model.
 */
export function writeDirAtomic(dir: string, files: Record<string, Uint8Array[]>, hook?: (point: 'write' | 'swap') => void): void {
  const tmp = freshTmp(dir);
  let first = true;
  for (const [name, parts] of Object.entries(files)) {
    const fd = openSync(join(tmp, name), 'w');
    try { for (const p of parts) writeSync(fd, p); fsyncSync(fd); } finally { closeSync(fd); }
    if (first) { hook?.('write'); first = false; }
  }
  swapIn(tmp, dir, hook);
}

/**
 * writeDirAtomic for a model directory whose weights are written tensor by tensor (src/formats/stwrite.ts:
 * model.safetensors, or shards + model.safetensors.index.json above maxShardSize bytes). Returns the
 * weight files' names.
 */
export async function writeModelDirAtomic(dir: string, files: Record<string, Uint8Array[]>, writes: TensorWrite[], maxShardSize?: number,
                                         progress?: ((s: string) => void) | null): Promise<string[]> {
  const tmp = freshTmp(dir);
  try {
    for (const [name, parts] of Object.entries(files)) {
      const fd = openSync(join(tmp, name), 'w');
      try { for (const p of parts) writeSync(fd, p); fsyncSync(fd); } finally { closeSync(fd); }
    }
    const bar = new Progress('write', writes.length, progress ?? null);
    const names = await writeSafetensors(writes, (f) => fileSink(inside(tmp, f)), { maxShardSize, onTensor: (d) => bar.update(d, 'tensors') });
    swapIn(tmp, dir);
    return names;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** appended writes to a new file, fsynced on close */
export async function fileSink(path: string): Promise<FileSink> {
  const fh = await open(path, 'w');
  return {
    write: async (b) => {
      for (let at = 0; at < b.byteLength;) at += (await fh.write(b, at, b.byteLength - at)).bytesWritten;
    },
    close: async () => { try { await fh.sync(); } finally { await fh.close(); } },
  };
}

/** an empty temporary sibling of dir */
function freshTmp(dir: string): string {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

/** tmp replaces dir (what was there is removed) */
function swapIn(tmp: string, dir: string, hook?: (point: 'write' | 'swap') => void): void {
  const old = join(dirname(dir), `.${basename(dir)}.old-${process.pid}`);
  if (existsSync(dir)) renameSync(dir, old);
  hook?.('swap');
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** write a small file whole or not at all (a temporary sibling, then a rename): run.json, report.json */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** the tokenizer files of a directory, as tokenizerFromFiles takes them */
function tokenizerFilesIn(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const f of readdirSync(dir)) {
    if (isTokenizerFile(f)) out[f] = new Uint8Array(readFileSync(inside(dir, f)));
  }
  // a llama2.c tokenizer.bin beside a llama2.c model wins: llama2.c checkpoints were trained and
  // evaluated with run.c's encoding (SentencePiece's own differs on runs of spaces)
  const bin = Object.keys(out).find(isTokenizerBin);
  return bin ? { [bin]: out[bin] } : out;
}

/**
 * --tokenizer PATH (a file, or a directory of tokenizer files), else the tokenizer files of the model's
 * directory (or beside a .bin). Every format of src/tokenizers/load.ts.
 */
export async function readTokenizer(explicit: string | undefined, modelPath: string, vocabSize?: number,
  opts: { splitSpecialTokens?: boolean } = {}): Promise<Tokenizer> {
  let files: Record<string, Uint8Array>;
  if (explicit) {
    if (!existsSync(explicit)) fail(`tokenizer '${explicit}' does not exist`, 'pass --tokenizer PATH to a tokenizer file or a model directory');
    if (statSync(explicit).isDirectory()) files = tokenizerFilesIn(explicit);
    else {
      const dir = dirname(explicit);
      let name = basename(explicit);
      // a SentencePiece model or an HF tokenizer.json under another name (tok512.model, gpt2-tokenizer.json)
      if (name.endsWith('.model')) name = 'tokenizer.model';
      else if (name.endsWith('.json') && !['vocab.json', 'encoder.json', 'tokenizer_config.json'].includes(name)) name = 'tokenizer.json';
      files = { [name]: new Uint8Array(readFileSync(explicit)) };
      // a GPT-2 vocabulary file needs its merges partner beside it
      const partner: Record<string, string> = { 'vocab.json': 'merges.txt', 'merges.txt': 'vocab.json', 'encoder.json': 'vocab.bpe', 'vocab.bpe': 'encoder.json' };
      if (partner[name] && existsSync(join(dir, partner[name]))) files[partner[name]] = new Uint8Array(readFileSync(join(dir, partner[name])));
      if (name === 'tokenizer.json' && existsSync(join(dir, 'tokenizer_config.json'))) files['tokenizer_config.json'] = new Uint8Array(readFileSync(join(dir, 'tokenizer_config.json')));
    }
  } else {
    const dir = statSync(modelPath).isDirectory() ? modelPath : dirname(modelPath);
    files = tokenizerFilesIn(dir);
    if (!Object.keys(files).length) fail(`no tokenizer files beside the model in ${dir}`, `pass --tokenizer PATH (${TOKENIZER_FILES.join(', ')})`);
  }
  return tokenizerFromFiles(files, { vocabSize, splitSpecialTokens: opts.splitSpecialTokens });
}

/**
 * Training data for --text: shards are read window by window from their files (never loaded whole);
 * a text file is tokenized into memory (readTokens).
 */
export async function readTrainData(path: string, tok: () => Promise<Tokenizer>): Promise<TrainData> {
  if (!existsSync(path)) fail(`'${path}' does not exist`, 'pass a text file, a shard file or a directory of shards');
  if (statSync(path).isDirectory()) {
    const shards = await listShards(path, 'train');
    if (!shards.length) noShards(path, 'train');
    return openShards(shards);
  }
  if (isShardFile(path)) return openShards([path]);
  return readTokens(path, tok, 'train');
}

/**
 * A shard directory without the split asked for. A directory that `pack` wrote (data_pack.json) but
 * with no validation split held none out: the flag that makes one is named, not the command just run.
 */
function noShards(path: string, split: 'train' | 'val'): never {
  const what = `no ${split === 'val' ? 'validation' : 'training'} shards (data_${split}_NNNNNN.bin) in ${path}`;
  if (!existsSync(join(path, 'data_pack.json'))) fail(what, 'write shards there with `inheritune-rt pack`, or pass a text file');
  if (split === 'val') {
    fail(`${what}: its pack held no validation split out (see its data_pack.json)`,
      'pack again with --val-fraction X above 0 (e.g. 10%), or give the validation text separately where the command takes one (train and run: --val-text FILE)');
  }
  return fail(`${what}: its pack put every token into validation (see its data_pack.json)`, 'pack again with a lower --val-fraction');
}

function isShardFile(path: string): boolean {
  const head = new Uint8Array(4);
  const fd = openSync(path, 'r');
  try { readSync(fd, head, 0, 4, 0); } finally { closeSync(fd); }
  return new DataView(head.buffer).getInt32(0, true) === SHARD_MAGIC;
}

/**
 * Token ids for --text/--val-text: a text file (tokenized as `eval` does: BOS, then the whole
 * file), an llm.c shard (.bin with magic 20240520), or a directory of shards written by `pack`
 * (the `split` shards, in order).
 */
export async function readTokens(path: string, tok: () => Promise<Tokenizer>, split: 'train' | 'val'): Promise<number[]> {
  if (!existsSync(path)) fail(`'${path}' does not exist`, 'pass a text file, a shard file or a directory of shards');
  const fromShards = (paths: string[]) => {
    const out: number[] = [];
    for (const p of paths) for (const t of parseShard(new Uint8Array(readFileSync(p)), p).tokens) out.push(t);
    return out;
  };
  if (statSync(path).isDirectory()) {
    const shards = await listShards(path, split);
    if (!shards.length) noShards(path, split);
    return fromShards(shards);
  }
  if (isShardFile(path)) return fromShards([path]);
  const t = await tok();
  return t.encode(readFileSync(path, 'utf8'), { bos: t.bos !== null }); // the BOS, if the tokenizer has one
}

// tokenizer files that travel with a model: HF names, plus llama2.c's beside a .bin checkpoint
const HF_TOKENIZER_FILES = [...TOKENIZER_FILES, 'special_tokens_map.json', 'generation_config.json'];

/**
 * tokenizer files of a model (dir or beside a .bin) as {name in the output: bytes}, with the files the
 * Hugging Face stack reads added where the source lacks them (tokenizer.json converted from a llama2.c
 * .bin, a tokenizer.model or GPT-2's files; tokenizer_config.json, special_tokens_map.json,
 * generation_config.json; GPT-2's vocab.json + merges.txt): src/tokenizers/export.ts
 */
export function tokenizerFiles(modelPath: string): Record<string, Uint8Array[]> {
  const own = ownTokenizerFiles(modelPath);
  const flat = Object.fromEntries(Object.entries(own).map(([k, v]) => [k, v[0]]));
  return Object.fromEntries(Object.entries(hfTokenizerFiles(flat, maxPositions(modelPath))).map(([k, v]) => [k, [v]]));
}

/** the model's positions (model_max_length), from config.json or a llama2.c header, without reading weights */
function maxPositions(modelPath: string): number {
  try {
    if (statSync(modelPath).isDirectory()) {
      const c = JSON.parse(readFileSync(join(modelPath, 'config.json'), 'utf8'));
      return c.max_position_embeddings ?? c.n_positions ?? 2048;
    }
    const h = new Uint8Array(36), fd = openSync(modelPath, 'r');
    try { readSync(fd, h, 0, 36, 0); } finally { closeSync(fd); }
    const dv = new DataView(h.buffer);
    return dv.getUint32(0, true) === 0x616b3432 ? dv.getInt32(32, true) : dv.getInt32(24, true); // v1 "ak42" header, or legacy
  } catch {
    return 2048;
  }
}

function ownTokenizerFiles(modelPath: string): Record<string, Uint8Array[]> {
  const out: Record<string, Uint8Array[]> = {};
  if (!existsSync(modelPath)) return out;
  const isDir = statSync(modelPath).isDirectory();
  const dir = isDir ? modelPath : dirname(modelPath);
  const read = (f: string) => [readFileSync(inside(dir, f))];
  for (const f of HF_TOKENIZER_FILES) if (existsSync(join(dir, f))) out[f] = read(f);
  if (isDir) {
    // llama2.c tokenizers carried by an earlier inherit/train (tok512.bin etc.)
    for (const f of readdirSync(dir)) if (isTokenizerBin(f)) out[f] = read(f);
  } else {
    // llama2.c: tok512.bin keeps its name (our CLI finds it), tok512.model becomes tokenizer.model (transformers reads it)
    if (existsSync(join(dir, 'tok512.bin'))) out['tok512.bin'] = read('tok512.bin');
    if (!out['tokenizer.model'] && existsSync(join(dir, 'tok512.model'))) out['tokenizer.model'] = read('tok512.model');
  }
  return out;
}
