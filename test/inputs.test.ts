// inputs: every input is what it claims (issue 28 item 3). A FIFO, a device or a directory where a file
// should be is refused by name before anything is read (a FIFO never hangs a read); a text past
// TEXT_MAX_BYTES is refused with `pack` named; a file laid out as an llm.c shard but with a bad magic is an
// error, not text, in eval and train; a pack killed midway leaves nothing at --out, and a shard directory
// that disagrees with its data_pack.json is refused (llm.c's own, with no manifest, still loads); stored
// tensor shapes are checked against config.json in all six model types; a missing index shard, an
// out-of-vocabulary shard id and an unanticipated ENOENT/EISDIR name their file, never a stack trace.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu } from './helpers.js';
import { readModel } from '../src/node/models.js';
import { readTokenizer } from '../src/node/tokfiles.js';
import { readTokens, readTrainData, TEXT_MAX_BYTES } from '../src/node/textdata.js';
import { packFiles, openShards, listShards } from '../src/node/pack.js';
import { fileError } from '../src/node/bytes.js';
import { encodeShard, SHARD_HEADER_BYTES } from '../src/data/shard.js';
import { ShardLoader } from '../src/data/loader.js';
import { SafetensorsFile, memorySource, serializeSafetensors, type TensorOut } from '../src/formats/safetensors.js';
import { tokenizerFromFiles, type Tokenizer } from '../src/tokenizers/load.js';

const exec = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const TOK = resolve(SHARED, 'stories260k/tok512.model');
const STORIES = resolve(SHARED, 'stories260k/stories260K.bin');
const HF = (n: string) => resolve(REPO, 'test/ref/hf', n);
const cli = (args: string[]) => exec(process.execPath, [CLI, ...args], { timeout: 60_000 })
  .then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));
/** a clear CLI error: exit 1, the message, no stack trace */
const clear = (r: { code: number; stderr: string }, msg: RegExp) => {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(msg);
  expect(r.stderr).not.toMatch(/\n\s+at /);
};

let work = '', tok: Tokenizer, hasGpu = false, story = '';
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'itrt-inputs-'));
  tok = await tokenizerFromFiles({ 'tokenizer.model': new Uint8Array(readFileSync(TOK)) });
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  story = readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8').slice(0, 20000);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fifo = (name: string) => { const p = join(work, name); rmSync(p, { force: true }); execFileSync('mkfifo', [p]); return p; };
const copyDir = (from: string, name: string) => { const d = join(work, name); rmSync(d, { recursive: true, force: true }); cpSync(from, d, { recursive: true }); return d; };
const noTok = async (): Promise<Tokenizer> => { throw new Error('the tokenizer is not needed here'); };

describe('non-regular files are refused before reading', () => {
  it('a FIFO as a llama2.c model, as model.safetensors and as a tokenizer: refused by name, no hang', async () => {
    const f = fifo('model.bin');
    await expect(readModel(f)).rejects.toThrow(`model '${f}' is a FIFO (named pipe), not a regular file`);
    const d = copyDir(HF('fam-qwen3-f32'), 'fifo-model');
    rmSync(join(d, 'model.safetensors'));
    execFileSync('mkfifo', [join(d, 'model.safetensors')]);
    await expect(readModel(d)).rejects.toThrow(`model file '${join(d, 'model.safetensors')}' is a FIFO (named pipe), not a regular file`);
    const t = fifo('tok.model');
    await expect(readTokenizer(t, STORIES)).rejects.toThrow(`tokenizer '${t}' is a FIFO (named pipe)`);
  }, 10_000);

  it('a directory where config.json or model.safetensors should be', async () => {
    const d = copyDir(HF('fam-qwen3-f32'), 'dir-config');
    rmSync(join(d, 'config.json'));
    mkdirSync(join(d, 'config.json'));
    await expect(readModel(d)).rejects.toThrow(`model file '${join(d, 'config.json')}' is a directory, not a regular file`);
    const e = copyDir(HF('fam-qwen3-f32'), 'dir-weights');
    rmSync(join(e, 'model.safetensors'));
    mkdirSync(join(e, 'model.safetensors'));
    await expect(readModel(e)).rejects.toThrow(`model file '${join(e, 'model.safetensors')}' is a directory, not a regular file`);
  });

  it('--text /dev/zero and a FIFO as text or shard: refused, nothing read', async () => {
    await expect(readTokens('/dev/zero', noTok, 'val')).rejects.toThrow("text file '/dev/zero' is a character device, not a regular file");
    await expect(readTrainData('/dev/zero', noTok)).rejects.toThrow("text file '/dev/zero' is a character device");
    const f = fifo('text.txt');
    await expect(readTokens(f, noTok, 'val')).rejects.toThrow(`text file '${f}' is a FIFO (named pipe)`);
    await expect(openShards([f])).rejects.toThrow(`token shard '${f}' is a FIFO (named pipe)`);
  }, 10_000);

  it('through the CLI: tokenize --file, pack --input and the tokenizer a FIFO or a device, exit 1 with the file named', async () => {
    const f = fifo('cli.txt');
    clear(await cli(['tokenize', '--tokenizer', TOK, '--file', f]), new RegExp(`--file '${f}' is a FIFO \\(named pipe\\), not a regular file`));
    clear(await cli(['tokenize', '--tokenizer', f, '--text', 'hi']), /is a FIFO \(named pipe\)/);
    const out = join(work, 'pack-zero');
    clear(await cli(['pack', '--tokenizer', TOK, '--input', '/dev/zero', '--out', out]), /--input '\/dev\/zero' is a character device, not a regular file/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('through the CLI: eval --text /dev/zero, and --model a FIFO', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    clear(await cli(['eval', '--model', STORIES, '--text', '/dev/zero', '--seq', '32', '--windows', '2']), /text file '\/dev\/zero' is a character device/);
    clear(await cli(['eval', '--model', fifo('m.bin'), '--text', '/dev/zero', '--seq', '32', '--windows', '2']), /is a FIFO \(named pipe\)/);
  }, 120_000);
});

describe('--text is bounded', () => {
  it(`a text over ${TEXT_MAX_BYTES / 2 ** 20} MiB is refused before it is read, with pack named`, async () => {
    const p = join(work, 'huge.txt');
    writeFileSync(p, 'Once upon a time there was a cat.\n'.repeat(64));
    truncateSync(p, TEXT_MAX_BYTES + 1); // sparse: no disk used, and its head is text
    await expect(readTokens(p, async () => tok, 'val')).rejects.toThrow(new RegExp(`text file '${p}' is ${TEXT_MAX_BYTES + 1} bytes, over the limit of ${TEXT_MAX_BYTES} bytes[^]*inheritune-rt pack --input`));
    // at the limit it is read (a small text stands in: the same path)
    writeFileSync(p, story.slice(0, 2000));
    expect((await readTokens(p, async () => tok, 'val')).length).toBeGreaterThan(100);
  });
});

/** a valid shard of `n` ids below 512, its magic (int32 0) or version (int32 1) set to `v` */
function shardWith(path: string, field: 0 | 1 | null, v = 0, n = 600): string {
  const b = encodeShard(Array.from({ length: n }, (_, i) => (i * 7) % 512), 1);
  if (field !== null) new DataView(b.buffer).setInt32(field * 4, v, true);
  writeFileSync(path, b);
  return path;
}

describe('a file laid out as a token shard is never read as text', () => {
  it('a wrong magic or version is an error naming the file (API: readTokens and readTrainData)', async () => {
    const bad = shardWith(join(work, 'magic.bin'), 0, 20240521);
    await expect(readTokens(bad, async () => tok, 'val')).rejects.toThrow(`${bad} looks like an llm.c token shard (a 1024-byte int32 header, zero after its third int) but its magic 20240521 / version 1 is not one`);
    await expect(readTrainData(bad, async () => tok)).rejects.toThrow(/looks like an llm.c token shard/);
    const ver = shardWith(join(work, 'version.bin'), 1, 3);
    await expect(readTokens(ver, async () => tok, 'val')).rejects.toThrow(`${ver}: header magic 20240520 / version 3 is not an llm.c token shard`);
    // other binary (a llama2.c model) is not text either; a good shard and plain text still read
    await expect(readTokens(STORIES, async () => tok, 'val')).rejects.toThrow(/is neither text nor an llm.c token shard: byte \d+ is NUL/);
    expect((await readTokens(shardWith(join(work, 'good.bin'), null), noTok, 'val')).length).toBe(600);
  });

  it('eval and train on a shard with a wrong magic: exit 1, no loss reported', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const bad = shardWith(join(work, 'magic-cli.bin'), 0, 1234, 4000);
    const e = await cli(['eval', '--model', STORIES, '--text', bad, '--seq', '32', '--windows', '4', '--json']);
    clear(e, /magic-cli\.bin looks like an llm.c token shard/);
    expect(e.stdout).toBe('');
    const out = join(work, 'train-magic');
    const t = await cli(['train', '--model', STORIES, '--text', bad, '--steps', '2', '--batch', '2', '--seq', '32', '--out', out, '--json']);
    clear(t, /magic-cli\.bin looks like an llm.c token shard/);
  }, 120_000);
});

describe('pack owns --out only when complete; a shard directory must agree with its manifest', () => {
  const input = () => { const p = join(work, 'pack-in.txt'); writeFileSync(p, story); return p; };

  it('a pack that fails midway leaves nothing at --out, and no temporary directory', async () => {
    const out = join(work, 'pack-fail');
    await expect(packFiles(tok, [input()], out, { shardTokens: 500, onProgress: () => { throw new Error('stop'); } })).rejects.toThrow('stop');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).filter((f) => f.startsWith('.pack-fail.'))).toEqual([]);
  });

  it('a pack killed (SIGKILL) midway leaves nothing at --out; the next pack removes its temporary directory', async () => {
    const out = join(work, 'pack-killed'), big = join(work, 'big-in.txt');
    writeFileSync(big, `${story}\n\n`.repeat(120)); // 2.4 MB of documents: several 1 MiB reads, the kill after the second
    const script = `import { packFiles } from ${JSON.stringify(resolve(REPO, 'dist/node.mjs'))};
      import { tokenizerFromFiles } from ${JSON.stringify(resolve(REPO, 'dist/index.mjs'))};
      import { readFileSync } from 'node:fs';
      const tok = await tokenizerFromFiles({ 'tokenizer.model': new Uint8Array(readFileSync(${JSON.stringify(TOK)})) });
      await packFiles(tok, [${JSON.stringify(big)}], ${JSON.stringify(out)}, { docs: 'blankline', shardTokens: 1000, onProgress: (done) => { if (done > 1.5 * 2 ** 20) process.kill(process.pid, 'SIGKILL'); } });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const signal = await new Promise((ok) => child.on('exit', (_c, s) => ok(s)));
    expect(signal, err).toBe('SIGKILL');
    expect(existsSync(out)).toBe(false);
    const stale = readdirSync(work).filter((f) => f.startsWith('.pack-killed.pack-'));
    expect(stale.length).toBe(1);
    expect(readdirSync(join(work, stale[0])).some((f) => /^data_train_\d+\.bin$/.test(f))).toBe(true); // shards written, no manifest
    // train cannot take it: --out does not exist
    await expect(readTrainData(out, noTok)).rejects.toThrow(`'${out}' does not exist`);
    await packFiles(tok, [input()], out);
    expect(readdirSync(work).filter((f) => f.startsWith('.pack-killed.pack-'))).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(['data_pack.json', 'data_train_000000.bin', 'data_val_000000.bin']);
  }, 60_000);

  it('a directory that disagrees with its data_pack.json is refused; llm.c\'s own, with no manifest, loads', async () => {
    const fresh = async (name: string) => { const d = join(work, name); rmSync(d, { recursive: true, force: true }); await packFiles(tok, [input()], d, { shardTokens: 2000 }); return d; };
    const ok = await fresh('agree');
    expect((await listShards(ok, 'train')).length).toBeGreaterThan(1);
    const noVal = await fresh('no-val');
    rmSync(join(noVal, 'data_val_000000.bin'));
    await expect(readTokens(noVal, noTok, 'val')).rejects.toThrow(`${noVal}: its data_pack.json lists validation shard(s) that are not there: data_val_000000.bin`);
    await expect(readTrainData(noVal, noTok)).rejects.toThrow(/lists validation shard\(s\) that are not there/);
    const gone = await fresh('no-train');
    rmSync(join(gone, 'data_train_000001.bin'));
    await expect(readTrainData(gone, noTok)).rejects.toThrow(`${gone}: its data_pack.json lists training shard(s) that are not there: data_train_000001.bin`);
    const extra = await fresh('extra');
    shardWith(join(extra, 'data_train_000099.bin'), null);
    await expect(readTrainData(extra, noTok)).rejects.toThrow(`${extra} holds training shard(s) that its data_pack.json does not list: data_train_000099.bin`);
    const short = await fresh('short');
    shardWith(join(short, 'data_train_000000.bin'), null, 0, 10); // a valid shard, other tokens than the pack wrote
    await expect(readTrainData(short, noTok)).rejects.toThrow(new RegExp(`${short}: its data_pack.json says the training split holds \\d+ tokens, but its shards hold \\d+`));
    // llm.c's own shard directory: no manifest, read as it is
    const llmc = join(work, 'llmc');
    mkdirSync(llmc, { recursive: true });
    shardWith(join(llmc, 'data_train_000000.bin'), null);
    shardWith(join(llmc, 'data_val_000000.bin'), null, 0, 300);
    expect((await readTokens(llmc, noTok, 'val')).length).toBe(300);
    expect(((await readTrainData(llmc, noTok)) as { sizes: readonly number[] }).sizes).toEqual([600]);
  });

  it('train refuses a pack directory missing the validation split its manifest names', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const d = join(work, 'cli-no-val');
    await packFiles(tok, [input()], d);
    rmSync(join(d, 'data_val_000000.bin'));
    const out = join(work, 'train-no-val');
    clear(await cli(['train', '--model', STORIES, '--text', d, '--steps', '1', '--batch', '2', '--seq', '32', '--out', out, '--json']),
      /its data_pack.json lists validation shard\(s\) that are not there: data_val_000000.bin/);
  }, 120_000);

  it('pack through the CLI: --out appears complete, no temporary directory beside it', async () => {
    const out = join(work, 'cli-pack');
    const r = await cli(['pack', '--tokenizer', TOK, '--input', input(), '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['data_pack.json', 'data_train_000000.bin', 'data_val_000000.bin']);
    expect(readdirSync(work).filter((f) => f.startsWith('.cli-pack.'))).toEqual([]);
  }, 60_000);
});

/** dir's model.safetensors with tensor `key` stored transposed (its data and its shape) */
async function transposeTensor(dir: string, pick: (k: string, shape: number[]) => boolean): Promise<{ key: string; shape: number[] }> {
  const path = join(dir, 'model.safetensors');
  const f = await SafetensorsFile.open(memorySource(new Uint8Array(readFileSync(path))), path);
  let hit: { key: string; shape: number[] } | null = null;
  const out: TensorOut[] = [];
  for (const [key, info] of f.tensors) {
    const data = await f.read(key);
    if (!hit && info.shape.length === 2 && info.shape[0] !== info.shape[1] && pick(key, info.shape)) {
      const [r, c] = info.shape, t = new Float32Array(data.length);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = data[i * c + j];
      hit = { key, shape: info.shape };
      out.push({ name: key, shape: [c, r], data: t });
    } else out.push({ name: key, shape: info.shape, data });
  }
  await f.close();
  if (!hit) throw new Error(`${dir}: no non-square tensor picked`);
  writeFileSync(path, Buffer.concat(serializeSafetensors(out, { format: 'pt' })));
  return hit;
}

describe('tensor shapes are checked against config.json', () => {
  // one F32 directory per model type: llama, mistral, qwen2, qwen3, gpt_neox, gpt2
  const DIRS = ['fam-llama3-f32', 'fam-mistral-f32', 'fam-qwen2-f32', 'fam-qwen3-f32', 'fam-neox-f32', 'gpt2-tiny'];
  for (const name of DIRS) {
    it(`${name}: a transposed attention projection is refused, naming the tensor, the file and both shapes`, async () => {
      const d = copyDir(HF(name), `shape-${name}`);
      await readModel(d); // the copy loads as it is
      const { key, shape } = await transposeTensor(d, (k) => /(q_proj|k_proj|c_attn|query_key_value)\.weight$/.test(k));
      await expect(readModel(d)).rejects.toThrow(`${join(d, 'model.safetensors')}: tensor '${key}' has shape [${shape[1]},${shape[0]}], expected [${shape}] from config.json`);
      await expect(readModel(d)).rejects.toThrow(/the tensor is stored transposed/);
    });
  }
});

describe('every file error names the file', () => {
  it('a shard named in model.safetensors.index.json but missing', async () => {
    const d = copyDir(HF('llama-tiny'), 'index-missing');
    rmSync(join(d, 'model-00002-of-00002.safetensors'));
    await expect(readModel(d)).rejects.toThrow(new RegExp(`${d}/model.safetensors.index.json puts '[^']+' in model-00002-of-00002.safetensors, which is not in the directory`));
  });

  it('an out-of-vocabulary id in a shard: its file and position (readTokens and the loader)', async () => {
    const p = join(work, 'oov.bin');
    writeFileSync(p, encodeShard([1, 2, 3, 700, 5, 6, 7, 8, 9, 10], 1));
    await expect(readTokens(p, noTok, 'val', 512)).rejects.toThrow(`${p} holds the token 700 at position 3 (byte ${SHARD_HEADER_BYTES + 6}), not below the model's vocab_size 512`);
    const src = await openShards([p]);
    const l = new ShardLoader(src, { B: 1, T: 8, mode: 'sequential', vocabSize: 512 });
    await expect(l.next()).rejects.toThrow(`loader: ${p} holds the token 700 at position 3, not below the model's vocab_size 512`);
    await src.close();
  });

  it('ENOENT and EISDIR from the CLI: the file named, exit 1, no stack trace', async () => {
    clear(await cli(['tokenize', '--tokenizer', TOK, '--file', join(work, 'missing.txt')]), /--file '.*missing\.txt' does not exist/);
    clear(await cli(['tokenize', '--tokenizer', TOK, '--file', work]), /--file '.*' is a directory, not a regular file/);
    // the backstop for a file-system error no reader anticipated
    const e = Object.assign(new Error("EISDIR: illegal operation on a directory, read"), { code: 'EISDIR', path: '/x/y', syscall: 'read' });
    expect(fileError(e)?.message).toMatch(/^'\/x\/y' is a directory where a file was expected \(read, EISDIR\)/);
    expect(fileError(new Error('plain'))).toBeNull();
  }, 60_000);
});
