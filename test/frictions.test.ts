// frictions: the small frictions of issue #27 item 5, each fed the bad input (or doing the thing) and
// checked on its message or result: (1) a file inside a model directory as the model path names the
// directory to pass; (2) `pack` of one text file holds out its last 10% for validation, and a pack with
// no validation split makes `train` name the flag that makes one (not "run pack"); (3) `train --resume`
// of a finished run says that nothing ran and how to train longer, and exits 0; (4) an unknown flag or
// command gets the nearest known one ("did you mean").
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, copyFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { readModel, readModelConfig, loadModel } from '../src/node/models.js';
import { readTokenizer } from '../src/node/tokfiles.js';
import { parseShard } from '../src/data/shard.js';
import { parseFlags, didYouMean, editDistance } from '../src/node/cli/flags.js';
import { SPEC, SPECS } from '../src/node/cli/specs.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { REPO, SHARED, testGpu } from './helpers.js';

const CLI = resolve(REPO, 'dist/cli.mjs');
const REF = resolve(REPO, 'assets/reference');          // a Hugging Face directory (config.json, model.safetensors, tokenizer.json)
const BIN = resolve(SHARED, 'stories260k/stories260K.bin');
const TOK = resolve(SHARED, 'stories260k/tok512.bin');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
const message = async (p: Promise<unknown>) => p.then(() => 'no error', (e: Error) => e.message);
let work = '', hasGpu = false, story = '';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'itrt-frictions-'));
  // whole stories, ~40 KB: long enough that its last 10% holds several windows of 33 tokens
  const all = readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8');
  story = all.slice(0, all.indexOf('\n', 40_000) + 1);
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
});

describe('(1) a file inside a model directory names the directory', () => {
  const inside = (dir: string, file: string) => new RegExp(`^model '${esc(join(dir, file))}' is a file inside the Hugging Face model directory '${esc(dir)}'\\n` +
    `---> HINT: pass the directory '${esc(dir)}' itself, not a file in it$`);

  it('model.safetensors and config.json, for every reader of a model path (readModel, readModelConfig, loadModel)', async () => {
    expect(await message(readModel(join(REF, 'model.safetensors')))).toMatch(inside(REF, 'model.safetensors'));
    expect(await message(readModelConfig(join(REF, 'config.json')))).toMatch(inside(REF, 'config.json'));
    // loadModel refuses before it touches the GPU
    expect(await message(loadModel(null as unknown as Gpu, join(REF, 'model.safetensors')))).toMatch(inside(REF, 'model.safetensors'));
  });

  it('any other file of the directory (tokenizer.json): not a llama2.c checkpoint, and the directory to pass', async () => {
    const m = await message(readModel(join(REF, 'tokenizer.json')));
    expect(m).toMatch(new RegExp(`^model '${esc(join(REF, 'tokenizer.json'))}' is not a llama2.c checkpoint, and it is a file inside the Hugging Face model directory '${esc(REF)}'\\n` +
      `---> HINT: pass the directory '${esc(REF)}' itself`));
  });

  it('a safetensors file without its config.json; a llama2.c .bin still reads (its tokenizer beside it too)', async () => {
    const lone = join(work, 'lone');
    mkdirSync(lone);
    copyFileSync(join(REF, 'model.safetensors'), join(lone, 'model.safetensors'));
    expect(await message(readModel(join(lone, 'model.safetensors'))))
      .toMatch(/is one file of a Hugging Face model, and '.*lone' has no config\.json beside it\n---> HINT: pass the model directory that holds config\.json/);
    // a .bin that is no llama2.c checkpoint in a model directory (pytorch_model.bin): what its header read, and the directory
    const torch = join(work, 'torch');
    mkdirSync(torch);
    copyFileSync(join(REF, 'config.json'), join(torch, 'config.json'));
    writeFileSync(join(torch, 'pytorch_model.bin'), new Uint8Array(4096).fill(7));
    expect(await message(readModel(join(torch, 'pytorch_model.bin'))))
      .toMatch(/^model '.*pytorch_model\.bin' is not a llama2\.c checkpoint \(.*header reads dim=117901063.*\), and it is a file inside the Hugging Face model directory '.*torch'\n---> HINT: pass the directory/);
    expect((await readModel(BIN)).config.nLayers).toBe(5);
    expect((await readTokenizer(undefined, BIN)).vocabSize).toBe(512);
  });

  it('on the command line (inherit, no GPU): the same message, exit 1, nothing written', () => {
    const out = join(work, 'k1-from-file');
    const r = cli('inherit', '--model', join(REF, 'model.safetensors'), '--layers', '1', '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^inheritune-rt: model '.*model\\.safetensors' is a file inside the Hugging Face model directory '${esc(REF)}'\\n---> HINT: pass the directory '${esc(REF)}' itself, not a file in it\\n$`));
    expect(existsSync(out)).toBe(false);
  });
});

describe('(2) pack of one text file holds out a validation split; train names the flag when there is none', () => {
  it('GPT-2: the last 10% of the text from a line start is the validation document; the two splits give back the text', async () => {
    const one = join(work, 'story.txt');
    writeFileSync(one, story);
    const out = join(work, 'story-gpt2');
    const r = cli('pack', '--tokenizer', resolve(SHARED, 'gpt2-bpe'), '--input', one, '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ valSplit: 'tail', valShare: '10%', docs: 2, kept: 2, train: { docs: 1 }, val: { docs: 1 } });
    // the shards decode (each document starts with GPT-2's <|endoftext|>, 50256, its BOS here) to the head and the tail of the file
    const { getEncoding } = await import('js-tiktoken');
    const decode = (f: string) => {
      const ids = Array.from(parseShard(new Uint8Array(readFileSync(join(out, f)))).tokens);
      expect(ids[0]).toBe(50256);
      return getEncoding('r50k_base').decode(ids.slice(1));
    };
    const head = decode('data_train_000000.bin'), tail = decode('data_val_000000.bin');
    expect(head + tail).toBe(story);
    // the tail begins at the first line start from 90% of the bytes on
    const buf = Buffer.from(story), from = Math.floor(buf.length * 0.9), at = Buffer.byteLength(head);
    expect(at).toBeGreaterThan(from);
    expect(buf[at - 1]).toBe(0x0a);
    expect(buf.subarray(from, at - 1).includes(0x0a)).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'data_pack.json'), 'utf8'))).toMatchObject({ valSplit: 'tail', valFromByte: at, options: { val: '10%' } });
  });

  it('--val-fraction given: its share of the end; 0: none (no warning); documents (--docs blankline) are split as before', () => {
    const one = join(work, 'story.txt');
    writeFileSync(one, story);
    const p = (out: string, ...extra: string[]) => cli('pack', '--tokenizer', TOK, '--input', one, '--out', join(work, out), '--json', ...extra);
    const quarter = JSON.parse(p('q', '--val-fraction', '0.25').stdout);
    const tenth = JSON.parse(p('t').stdout);
    expect(quarter.valShare).toBe('25%');
    const share = (s: { train: { tokens: number }; val: { tokens: number } }) => s.val.tokens / (s.train.tokens + s.val.tokens);
    expect(share(tenth)).toBeGreaterThan(0.08);
    expect(share(tenth)).toBeLessThan(0.12);
    expect(share(quarter)).toBeGreaterThan(0.23);
    expect(share(quarter)).toBeLessThan(0.27);
    const none = p('n', '--val-fraction', '0');
    expect(none.stderr).toBe('');
    expect(JSON.parse(none.stdout)).toMatchObject({ valSplit: 'tail', docs: 1, val: { tokens: 0 } });
    const all = p('a', '--val-fraction', '1');
    expect(JSON.parse(all.stdout).train.tokens).toBe(0);
    expect(all.stderr).toMatch(/warning: the training split is empty: --val-fraction 100% put the whole text in validation\n---> HINT: lower --val-fraction/);
    const docs = JSON.parse(p('d', '--docs', 'blankline').stdout);
    expect(docs.valSplit).toBe('documents');
    expect(docs.valShare).toBe('0.5%');
    expect(docs.docs).toBeGreaterThan(20);
  });

  it('train on a one-file pack runs (its validation shard is there); on a pack without one, the hint names --val-fraction and --val-text', (ctx) => {
    if (!hasGpu) return ctx.skip();
    const one = join(work, 'story.txt');
    writeFileSync(one, story);
    const packed = join(work, 'story-tok512'), bare = join(work, 'story-noval');
    expect(cli('pack', '--tokenizer', TOK, '--input', one, '--out', packed).status).toBe(0);
    expect(cli('pack', '--tokenizer', TOK, '--input', one, '--out', bare, '--val-fraction', '0').status).toBe(0);
    const train = (text: string, out: string) => cli('train', '--model', BIN, '--tokenizer', TOK, '--text', text, '--steps', '1', '--batch', '1', '--seq', '32',
      '--val-windows', '1', '--out', join(work, out), '--json');
    const ok = train(packed, 'tr-packed');
    expect(ok.status, ok.stderr).toBe(0);
    expect(Number.isFinite(JSON.parse(ok.stdout).val_loss)).toBe(true);
    const bad = train(bare, 'tr-bare');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/no validation shards \(data_val_NNNNNN\.bin\) in .*story-noval: its pack held no validation split out \(see its data_pack\.json\)\n---> HINT: pack again with --val-fraction X above 0 \(e\.g\. 10%\), or .*--val-text FILE/);
    expect(bad.stderr).not.toMatch(/write them with/);
  });
});

describe('(3) train --resume of a finished run', () => {
  it('says that nothing ran and how to train longer (--steps M with --resume), exits 0; a larger --steps trains on', (ctx) => {
    if (!hasGpu) return ctx.skip();
    const text = join(work, 'story.txt');
    writeFileSync(text, story);
    const out = join(work, 'tr-done');
    const args = (steps: string, ...extra: string[]) => ['train', '--model', BIN, '--tokenizer', TOK, '--text', text, '--steps', steps, '--batch', '1', '--seq', '32',
      '--val-windows', '1', '--out', out, ...extra];
    const first = cli(...args('2'));
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^trained 2 steps: loss/);
    const again = cli(...args('2', '--resume'));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toBe(`the run in ${out} already finished at step 2 of 2: nothing to train. To train longer, pass --resume with --steps M, ` +
      `M greater than 2 (the learning-rate schedule then runs to step M); the checkpoint is ${join(out, 'checkpoint')}\n`);
    const fewer = JSON.parse(cli(...args('1', '--resume', '--json')).stdout);
    expect(fewer).toMatchObject({ steps_run: 0, step: 2 });
    expect(fewer.note).toMatch(/is at step 2, past --steps 1: nothing to train/);
    const more = cli(...args('3', '--resume'));
    expect(more.status, more.stderr).toBe(0);
    expect(more.stdout).toMatch(/^trained 1 more step \(to step 3\): loss/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step)).toEqual([0, 1, 2]);
  });
});

describe('(4) did you mean', () => {
  it('edit distance: insertions, deletions, substitutions, and an adjacent transposition as one edit', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('step', 'steps')).toBe(1);
    expect(editDistance('stpes', 'steps')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(didYouMean('zzzzzz', ['steps', 'seq'])).toBe('');
  });

  const refused = (cmd: string, ...args: string[]) => { try { parseFlags(SPEC[cmd], args, SPECS); return 'parsed'; } catch (e) { return (e as Error).message; } };
  it('an unknown flag: the nearest flag of the command, ties and prefixes listed, a flag of another command named', () => {
    expect(refused('train', '--step', '5')).toBe('unknown flag --step for `inheritune-rt train`; did you mean --steps?\n---> HINT: `inheritune-rt train --help` lists its flags');
    expect(refused('train', '--stpes', '5')).toMatch(/did you mean --steps\?/);
    expect(refused('train', '--grad-acum=2')).toMatch(/^unknown flag --grad-acum for `inheritune-rt train`; did you mean --grad-accum\?/);
    expect(refused('pack', '--tokenzier', 'x')).toMatch(/did you mean --tokenizer\?/);
    expect(refused('train', '--val', '3')).toMatch(/did you mean --val-text or --val-windows\?/);
    expect(refused('train', '--layers', '3')).toMatch(/^unknown flag --layers for `inheritune-rt train`\n---> HINT: --layers is a flag of (\w+, )*inherit(, \w+)*; `inheritune-rt train --help` lists its flags$/);
    expect(refused('train', '--frobnicate')).toBe('unknown flag --frobnicate for `inheritune-rt train`\n---> HINT: `inheritune-rt train --help` lists its flags');
    // not an unknown flag: Node's own message stays
    expect(refused('train', '--steps')).toMatch(/^train: Option '--steps <value>' argument missing/);
  });

  it('an unknown command on the command line: the nearest command, or the list', () => {
    const r = cli('trian', '--steps', '5');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^inheritune-rt: unknown command 'trian'; did you mean train\?\n---> HINT: one of: demo, .*train.*\n$/);
    expect(cli('xyzzy').stderr).toMatch(/^inheritune-rt: unknown command 'xyzzy'\n---> HINT: one of:/);
    expect(cli('--model', 'm', 'train').stderr).toMatch(/unknown command '--model'\n---> HINT: the command comes before its flags/);
    const f = cli('pack', '--tokenzier', TOK);
    expect(f.status).toBe(1);
    expect(f.stderr).toMatch(/^inheritune-rt: unknown flag --tokenzier for `inheritune-rt pack`; did you mean --tokenizer\?\n/);
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
