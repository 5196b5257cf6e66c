// node/pack: the Node-only half of src/data/pack.ts and loader.ts: stream text files of any size into llm.c shards
// (1 MiB reads, a streaming UTF-8 decoder, one shard buffer per split in memory), and read shard windows from
// files for the loader without loading whole shards.
import { createReadStream, rmSync } from 'node:fs';
import { open, readdir, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fail } from '../util/errors.js';
import { regularSize, openRegularHandle } from './bytes.js';
import { checkPackDir, earlierPack, installPack, shardName, tempDir } from './packdir.js';
import { DocSplitter, Packer, parseAmount, type DocMode, type PackOptions, type PackSummary } from '../data/pack.js';
import { parseShardHeader, SHARD_HEADER_BYTES, type ShardTokens } from '../data/shard.js';
import type { ShardSource } from '../data/loader.js';
import type { Tokenizer } from '../tokenizers/load.js';

const READ = 1 << 20;   // bytes per read
const SAMPLE = 1 << 20; // bytes of the first input used to estimate tokens per byte

export interface PackFilesOptions extends PackOptions {
  /** What a document is: a whole file (default), a JSON Lines record's textField, or a blank-line-separated block. */
  docs?: DocMode;
  /** JSONL: the field holding the text (default "text"). */
  textField?: string;
  /** Shard names: `${prefix}_train_000000.bin`, `${prefix}_val_000000.bin` (default "data"), and `${prefix}_pack.json`. */
  prefix?: string;
  /** Called after every read with the input bytes done so far and the total (for a progress bar). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface PackFilesSummary extends PackSummary {
  /**
   * How validation was chosen: 'documents' (each document by its seeded hash, PackOptions.val of them),
   * or 'tail' (a single text file, one document: the last `val` of its bytes, from a line start, became
   * the validation document, as nanoGPT splits a text 90/10).
   */
  valSplit: 'documents' | 'tail';
  /** the validation share used ("10%" for a single text file, "0.5%" for documents, or the caller's `val`) */
  valShare: string | number;
  /** Shard paths written, per split, in order. */
  files: { train: string[]; val: string[] };
  /** The manifest written beside the shards. */
  manifest: string;
  /** The corpus size in tokens estimated from a sample (only when an amount was given in tokens). */
  expectedTokens?: number;
}

/** the validation share of a single text file when none is given: nanoGPT's 90/10 (train --text holds out the same) */
export const TAIL_VAL = '10%';

/**
 * The byte where the tail of a file of `size` bytes begins: `fraction` of it from the end, moved
 * forward to the next line start (else the next space, else the next UTF-8 character) within 64 KiB.
 */
async function tailStart(path: string, size: number, fraction: number): Promise<number> {
  const at = Math.floor(size * (1 - fraction));
  if (at <= 0 || at >= size) return Math.max(0, Math.min(at, size));
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(Math.min(1 << 16, size - at));
    const { bytesRead } = await fh.read(buf, 0, buf.length, at);
    const win = buf.subarray(0, bytesRead);
    const nl = win.indexOf(0x0a);
    if (nl >= 0) return at + nl + 1;
    const sp = win.indexOf(0x20);
    if (sp >= 0) return at + sp;
    let i = 0;
    while (i < win.length && (win[i] & 0xc0) === 0x80) i++; // not inside a UTF-8 character
    return at + i;
  } finally {
    await fh.close();
  }
}

/** Tokens per input byte over the documents of the first SAMPLE bytes of `path` (separators included). */
async function tokensPerByte(tok: Tokenizer, path: string, mode: DocMode, textField: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(SAMPLE);
    const { bytesRead } = await fh.read(buf, 0, SAMPLE, 0);
    let bytes = buf.subarray(0, bytesRead);
    if (bytesRead === SAMPLE && mode !== 'file') bytes = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1); // whole lines
    let text = new TextDecoder().decode(bytes);
    if (bytesRead === SAMPLE && mode === 'file') text = text.slice(0, text.lastIndexOf(' ') + 1);
    let tokens = 0;
    const split = new DocSplitter(mode, {
      begin() { tokens += 1; },
      text(s: string) { tokens += tok.encode(s).length; },
      end() {},
    }, textField, path);
    split.start();
    await split.push(text);
    await split.finish();
    return bytes.byteLength ? tokens / bytes.byteLength : 0;
  } finally {
    await fh.close();
  }
}

/**
 * Packs text files into llm.c shards in outDir (created if needed) and writes `${prefix}_pack.json`.
 * Inputs are read in the order given; documents are numbered across them for the seeded selection.
 */
export async function packFiles(tok: Tokenizer, inputs: readonly string[], outDir: string,
  opts: PackFilesOptions = {}): Promise<PackFilesSummary> {
  if (inputs.length === 0) fail('pack: no input files', 'pass one or more text/JSONL files');
  const mode = opts.docs ?? 'file';
  const textField = opts.textField ?? 'text';
  const prefix = opts.prefix ?? 'data';
  let totalBytes = 0;
  for (const p of inputs) totalBytes += regularSize(p, 'pack: input');
  // "N tokens" amounts need the corpus size in tokens: estimate it from the first MiB
  let expectedTokens = opts.expectedTokens;
  const inTokens = (a: string | number | undefined, what: string) => a !== undefined && 'tokens' in parseAmount(a, what);
  if (expectedTokens === undefined && (inTokens(opts.subset, '`subset`') || inTokens(opts.val, '`val`'))) {
    expectedTokens = Math.max(1, Math.round(totalBytes * await tokensPerByte(tok, inputs[0], mode, textField)));
  }
  // a single text file is a single document: validation is the tail of it, not a whole document by chance
  const tail = inputs.length === 1 && mode === 'file' && opts.subset === undefined;
  const val = opts.val ?? (tail ? TAIL_VAL : '0.5%');
  let cut = totalBytes;
  if (tail) {
    const a = parseAmount(val, '`val`');
    const fraction = 'fraction' in a ? a.fraction : Math.min(1, a.tokens / (expectedTokens || 1));
    cut = fraction > 0 ? await tailStart(inputs[0], totalBytes, fraction) : totalBytes;
  }
  // shards and manifest are written into a directory beside outDir and moved in once complete (installPack):
  // a pack killed midway leaves nothing in outDir (only its hidden temporary directory, removed by the next pack)
  const earlier = earlierPack(outDir, prefix);
  const tmp = tempDir(outDir, prefix);
  try {
    const names = await packInto(tmp);
    installPack(tmp, outDir, prefix, earlier);
    return names;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }

  async function packInto(dir: string): Promise<PackFilesSummary> {
    const files = { train: [] as string[], val: [] as string[] };
    const packer = new Packer(tok, { ...opts, val, expectedTokens }, async (split, index, shard) => {
      const name = `${prefix}_${split}_${String(index).padStart(6, '0')}.bin`;
      await writeFile(join(dir, name), shard);
      files[split].push(join(outDir, name));
    });
    let bytesDone = 0;
    // the documents: each input as DocSplitter cuts it; or, for the tail split, the head (train) and the tail (val) of the one file
    const parts: { path: string; start?: number; end?: number; split?: 'train' | 'val' }[] = tail
      ? [...(cut > 0 || totalBytes === 0 ? [{ path: inputs[0], end: cut, split: 'train' as const }] : []),
         ...(cut < totalBytes ? [{ path: inputs[0], start: cut, split: 'val' as const }] : [])]
      : inputs.map((path) => ({ path }));
    for (const part of parts) {
      const sink = part.split ? { begin: () => packer.begin(part.split), text: (t: string) => packer.text(t), end: () => packer.end() } : packer;
      const split = new DocSplitter(mode, sink, textField, basename(part.path));
      const dec = new TextDecoder('utf-8');
      split.start();
      // (createReadStream's `end` is inclusive; a head that ends at 0 is the empty file's, read whole)
      for await (const chunk of createReadStream(part.path, { highWaterMark: READ, start: part.start, end: part.end ? part.end - 1 : undefined })) {
        await split.push(dec.decode(chunk as Buffer, { stream: true }));
        bytesDone += (chunk as Buffer).byteLength;
        opts.onProgress?.(bytesDone, totalBytes);
      }
      await split.push(dec.decode());
      await split.finish();
    }
    const summary = await packer.finish();
    const manifest = join(outDir, `${prefix}_pack.json`);
    const rel = (ps: string[]) => ps.map((p) => basename(p));
    await writeFile(join(dir, `${prefix}_pack.json`), JSON.stringify({
      format: 'llm.c token shards (256 x int32 header: magic 20240520, version, ntok; then uint16/uint32 tokens)',
      tokenizer: { kind: tok.kind, vocabSize: tok.vocabSize, bos: tok.bos, eos: tok.eos },
      inputs: inputs.map((p) => basename(p)), totalBytes, expectedTokens: expectedTokens ?? null,
      options: { docs: mode, textField, shardTokens: opts.shardTokens ?? 10_000_000, separator: opts.separator ?? null,
        subset: opts.subset ?? null, val, seed: opts.seed ?? 1337 },
      valSplit: tail ? 'tail' : 'documents', ...(tail ? { valFromByte: cut } : {}),
      ...summary, files: { train: rel(files.train), val: rel(files.val) },
    }, null, 2) + '\n');
    return { ...summary, files, manifest, expectedTokens, valSplit: tail ? 'tail' : 'documents', valShare: val };
  }
}

/**
 * Shard paths `${prefix}_${split}_NNNNNN.bin` in dir, in order; a directory `pack` wrote is first held
 * against its manifest (packdir.ts checkPackDir: a pack cut short or changed since is refused).
 */
export async function listShards(dir: string, split: 'train' | 'val', prefix = 'data'): Promise<string[]> {
  checkPackDir(dir, prefix);
  const re = shardName(prefix, split);
  return (await readdir(dir)).filter((f) => re.test(f)).sort().map((f) => join(dir, f));
}

/** Shard files as a loader source: headers validated up front, windows read on demand (positioned reads). A read
 *  that comes back short (the file shrank after it was opened) is an error naming the file, never zeros. */
export async function openShards(paths: readonly string[]): Promise<ShardSource & { close(): Promise<void> }> {
  if (paths.length === 0) fail('loader: no shard files', 'pack some text first (packFiles), or check the directory and prefix');
  const handles: FileHandle[] = [];
  const bpt: number[] = [];
  const sizes: number[] = [];
  const bytes: number[] = [];
  try {
    for (const p of paths) {
      const { fh, size } = await openRegularHandle(p, 'token shard');
      handles.push(fh);
      const head = new Uint8Array(SHARD_HEADER_BYTES);
      const { bytesRead } = await fh.read(head, 0, SHARD_HEADER_BYTES, 0);
      const info = parseShardHeader(head.subarray(0, bytesRead), p, size);
      bpt.push(info.bytesPerToken);
      sizes.push(info.ntok);
      bytes.push(size);
    }
  } catch (e) {
    await Promise.all(handles.map((h) => h.close()));
    throw e;
  }
  return {
    sizes,
    names: paths,
    async read(i: number, start: number, n: number): Promise<ShardTokens> {
      if (!(Number.isInteger(i) && i >= 0 && i < sizes.length && Number.isInteger(start) && Number.isInteger(n) && start >= 0 &&
        n >= 0 && start + n <= sizes[i])) {
        fail(`loader: tokens ${start}..${start + n} of shard ${i} asked for, but ${paths[i] ?? 'no such shard'} holds ${sizes[i] ?? 0}`);
      }
      const b = bpt[i], len = n * b, at = SHARD_HEADER_BYTES + start * b;
      const buf = new Uint8Array(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await handles[i].read(buf, got, len - got, at + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < len) {
        const now = await handles[i].stat().then((s) => s.size, () => NaN);
        fail(`${paths[i]}: reading tokens ${start}..${start + n} (bytes ${at}..${at + len}) got ${got} bytes: the shard is ` +
          `${now} bytes now but was ${bytes[i]} when it was opened (it shrank while being read)`,
        'the shard was truncated or rewritten during training; write it again (pack) and restart, and do not pack into ' +
          'a directory a run is reading from');
      }
      return b === 2 ? new Uint16Array(buf.buffer) : new Uint32Array(buf.buffer);
    },
    async close() { await Promise.all(handles.map((h) => h.close())); },
  };
}
