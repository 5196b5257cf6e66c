// data_cli: `tokenize` and `pack` through the CLI, and `eval` reading the packed shards.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { getEncoding } from 'js-tiktoken';
import { REPO, SHARED, testGpu } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const cli = async (...a: string[]) => JSON.parse((await run(process.execPath, [CLI, ...a], { maxBuffer: 1 << 26 })).stdout);
let work = '';
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'itrt-data-')); });

describe('tokenize and pack (CLI)', () => {
  it('tokenize: GPT-2 ids equal tiktoken encode (allowed_special "all", as HF; encode_ordinary with --split-special-tokens), SentencePiece and llama2.c ids as documented', async () => {
    const text = "Hello world, it's <|endoftext|> 2024!\r\n\tTabs  and  spaces 🙂 你好";
    const gpt2 = await cli('tokenize', '--tokenizer', resolve(SHARED, 'gpt2-bpe'), '--text', text, '--json');
    expect(gpt2.ids).toEqual(getEncoding('r50k_base').encode(text, 'all'));
    expect(gpt2.ids).toContain(50256);
    const plain = await cli('tokenize', '--tokenizer', resolve(SHARED, 'gpt2-bpe'), '--text', text, '--split-special-tokens', '--json');
    expect(plain.ids).toEqual(getEncoding('r50k_base').encode(text, [], []));
    const spm = await cli('tokenize', '--tokenizer', resolve(SHARED, 'stories260k/tok512.model'), '--text', 'Once upon a time', '--json');
    expect(spm.ids).toEqual([403, 407, 261, 378]);
    const bin = await cli('tokenize', '--tokenizer', resolve(SHARED, 'stories260k/tok512.bin'), '--text', 'Once upon a time', '--json');
    expect(bin.ids).toEqual([403, 407, 261, 378]); // plain encoding: no BOS
  });

  it('pack: shards with a train/val split and a subset; eval reads the val shards', async (ctx) => {
    const out = join(work, 'shards');
    const r = await cli('pack', '--tokenizer', resolve(SHARED, 'stories260k/tok512.bin'), '--input', resolve(SHARED, 'tinystories-sample/tinystories_val.txt'),
      '--out', out, '--docs', 'blankline', '--val-fraction', '0.05', '--subset', '50%', '--seed', '7', '--json');
    expect(r.kept).toBeLessThan(r.docs);
    expect(r.kept).toBeGreaterThan(r.docs * 0.4);
    expect(r.val.tokens).toBeGreaterThan(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['data_pack.json', 'data_train_000000.bin', 'data_val_000000.bin']);
    const head = new Int32Array(readFileSync(join(out, 'data_val_000000.bin')).buffer.slice(0, 1024));
    expect([head[0], head[1], head[2]]).toEqual([20240520, 1, r.val.tokens]);
    const g = await testGpu();
    if (!g) return ctx.skip();
    g.destroy();
    const ev = await cli('eval', '--model', resolve(SHARED, 'stories260k/stories260K.bin'), '--text', out, '--seq', '128', '--windows', '4', '--json');
    expect(ev.loss).toBeGreaterThan(0.5);
    expect(ev.loss).toBeLessThan(3);
    // train reads the train shards window by window and validates on the val shards
    const k3 = join(work, 'k3');
    await run(process.execPath, [CLI, 'inherit', '--from', resolve(SHARED, 'stories260k/stories260K.bin'), '--layers', '3', '--out', k3]);
    const tr = await cli('train', '--model', k3, '--text', out, '--steps', '3', '--batch', '2', '--seq', '64', '--val-windows', '4', '--out', join(work, 'tr'), '--json');
    expect(tr.losses.length).toBe(3);
    expect(Number.isFinite(tr.val_loss)).toBe(true);
  });

  it('bad input is a clear error', async () => {
    const err = await run(process.execPath, [CLI, 'pack', '--tokenizer', resolve(SHARED, 'gpt2-bpe'), '--input', join(work, 'nope.txt'), '--out', join(work, 'x')]).then(() => null, (e) => e);
    expect(err?.stderr).toMatch(/--input '.*nope.txt' does not exist/);
    const err2 = await run(process.execPath, [CLI, 'tokenize', '--tokenizer', resolve(SHARED, 'gpt2-bpe/encoder.json')]).then(() => null, (e) => e);
    expect(err2?.stderr).toMatch(/pass exactly one of --text STRING or --file F/);
  });
});
