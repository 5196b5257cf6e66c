// stories260k: the real pretrained model through the CLI (built dist/cli.mjs) against the PyTorch
// goldens in ../shared/data/stories260k/golden: prompt logits of the full model and of every
// first-k sub-model (1e-4), and the windowed validation loss (1e-4).
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu, checkTensor } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const DIR = resolve(SHARED, 'stories260k');
const MODEL = resolve(DIR, 'stories260K.bin');
const golden = JSON.parse(readFileSync(resolve(DIR, 'golden/golden.json'), 'utf8'));

async function cli(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [CLI, ...args], { maxBuffer: 1 << 26 });
  return JSON.parse(stdout);
}

async function cliError(...args: string[]): Promise<string> {
  const err = await run(process.execPath, [CLI, ...args]).then(() => null, (e) => e);
  expect(err, `expected '${args.join(' ')}' to fail`).not.toBeNull();
  expect(err.code).toBe(1);
  return err.stderr as string;
}

function goldenLogits(file: string): Float32Array {
  const b = readFileSync(resolve(DIR, 'golden', file));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

let hasGpu = false;
let valText = '';
beforeAll(async () => {
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  // golden.json's validation text: the first 60,000 characters (code points, as Python slices) of the sample
  const text = readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8');
  valText = join(mkdtempSync(join(tmpdir(), 'itrt-')), 'val60k.txt');
  writeFileSync(valText, Array.from(text).slice(0, 60000).join(''));
});

describe('stories260K vs PyTorch goldens (CLI)', () => {
  it('logits of the full model', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const r = await cli('logits', '--model', MODEL, '--ids', golden.prompt_ids.join(','), '--json');
    expect(r.ids).toEqual(golden.prompt_ids);
    const md = checkTensor('logits', r.logits.flat(), goldenLogits('prompt_logits.f32'), 1e-4, 0);
    expect(r.logits.map((row: number[]) => row.indexOf(Math.max(...row)))).toEqual(golden.prompt_argmax);
    console.log(`full model: max |logit diff| = ${md.toExponential(2)}`);
  });

  for (const k of [1, 2, 3, 4, 5]) {
    it(`logits of the first-${k}-block sub-model (--layers ${k})`, async (ctx) => {
      if (!hasGpu) return ctx.skip();
      const r = await cli('logits', '--model', MODEL, '--ids', golden.prompt_ids.join(','), '--layers', String(k), '--json');
      checkTensor(`logits k=${k}`, r.logits.flat(), goldenLogits(`prompt_logits_k${k}.f32`), 1e-4, 0);
      expect(r.logits.map((row: number[]) => row.indexOf(Math.max(...row)))).toEqual(golden.truncated[k].argmax);
    });
  }

  it('windowed validation loss of golden.json (16 windows of 256)', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const r = await cli('eval', '--model', MODEL, '--text', valText, '--seq', '256', '--windows', '16', '--json');
    expect(r.windows).toBe(16);
    expect(r.tokens).toBe(4096);
    expect(Math.abs(r.loss - golden.val.mean_loss_nats)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(r.ppl - Math.exp(golden.val.mean_loss_nats))).toBeLessThanOrEqual(1e-3);
  });

  it('windowed validation loss of the first-3-block sub-model', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const r = await cli('eval', '--model', MODEL, '--text', valText, '--seq', '256', '--windows', '16', '--layers', '3', '--json');
    expect(Math.abs(r.loss - golden.truncated[3].val_mean_loss_nats)).toBeLessThanOrEqual(1e-4);
  });
});

describe('eval --task through the CLI', () => {
  it('piqa and winogrande on the first 40 items equal the PyTorch reference (test/ref/tasks_ref.py)', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const ref = JSON.parse(readFileSync(resolve(REPO, 'test/ref/tasks_ref.json'), 'utf8')).tasks;
    for (const [task, dir] of [['piqa', 'piqa'], ['winogrande', 'winogrande']]) {
      const r = await cli('eval', '--model', MODEL, '--task', task, '--data', resolve(SHARED, dir), '--limit', '40', '--json');
      const items = ref[task].items.slice(0, 40);
      expect(r).toMatchObject({ task, n: 40 });
      expect(r.acc).toBeCloseTo(items.filter((x: any) => x.pred === x.gold).length / 40, 10);
      if (task === 'piqa') expect(r.acc_norm).toBeCloseTo(items.filter((x: any) => x.pred_norm === x.gold).length / 40, 10);
    }
  });

  it('an unknown task or a missing data folder is a clear error', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    expect(await cliError('eval', '--model', MODEL, '--task', 'mmlu', '--data', SHARED)).toMatch(/--task mmlu is not a known task.*HINT: one of: lambada_openai/s);
    expect(await cliError('eval', '--model', MODEL, '--task', 'piqa', '--data', resolve(SHARED, 'nope'))).toMatch(/HINT/);
  });
});

describe('CLI errors name the problem and the fix', () => {
  it('too few tokens for the windows asked', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const msg = await cliError('eval', '--model', MODEL, '--text', valText, '--seq', '256', '--windows', '500', '--json');
    expect(msg).toMatch(/gives 28770 tokens, but 500 windows of 256\+1 tokens need 128001\n---> HINT: use --windows 112 or less/);
  });

  it('a truncated model file', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const bad = join(mkdtempSync(join(tmpdir(), 'itrt-')), 'bad.bin');
    writeFileSync(bad, readFileSync(MODEL).subarray(0, 5000));
    const msg = await cliError('logits', '--model', bad, '--ids', '1,2', '--json');
    expect(msg).toMatch(/truncated: 5000 bytes.*HINT/s);
  });

  it('an unknown flag, a missing flag and an id outside the vocabulary', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    expect(await cliError('logits', '--model', MODEL, '--idz', '1')).toMatch(/unknown flag --idz for `inheritune-rt logits`; did you mean --ids\?\n.*HINT/s);
    expect(await cliError('logits', '--model', MODEL)).toMatch(/--ids is required/);
    expect(await cliError('logits', '--model', MODEL, '--ids', '1,9999')).toMatch(/token id 9999 at position 1 is outside the vocabulary \[0, 512\)/);
    expect(await cliError('logits', '--model', MODEL, '--ids', '1', '--layers', '6')).toMatch(/--layers 6: the model has 5 blocks/);
  });
});
