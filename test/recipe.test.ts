// recipe: `inheritune-rt run` end to end on stories260K with tiny settings: rounds grow until the
// reference's blocks run out, the baseline trains from random init, the report files are written,
// a re-run with --resume reuses finished rounds, warm-append keeps the trained blocks.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdtempSync, existsSync, statSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseLlama2c } from '../src/index.js';
import { appendBlocks } from '../src/model/surgery.js';
import { inherit } from '../src/method/inherit.js';
import { REPO, SHARED, testGpu } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const MODEL = resolve(SHARED, 'stories260k/stories260K.bin');
let hasGpu = false, work = '', train = '', val = '';

beforeAll(async () => {
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  work = mkdtempSync(join(tmpdir(), 'itrt-recipe-'));
  const text = Array.from(readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8'));
  train = join(work, 'train.txt');
  val = join(work, 'val.txt');
  writeFileSync(train, text.slice(20000, 120000).join(''));
  writeFileSync(val, text.slice(0, 20000).join(''));
});

const args = (out: string, extra: string[] = []) => ['run', '--model', MODEL, '--text', train, '--val-text', val, '--layers', '3',
  '--steps', '4', '--batch', '2', '--seq', '32', '--lr', '2e-3', '--warmup', '0', '--eval-every', '2', '--val-windows', '4',
  '--sampling', 'random', '--analyze-sequences', '4', '--out', out, '--json', ...extra];

describe('run: the Inheritune recipe', () => {
  it('grows 3 -> 5 blocks, trains a baseline, writes the report; --resume reuses finished rounds', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'run');
    const { stdout } = await run(process.execPath, [CLI, ...args(out, ['--baseline', '--max-rounds', '3', '--tasks', 'piqa,winogrande',
      '--task-data', SHARED, '--task-limit', '3'])]);
    const r = JSON.parse(stdout);
    expect(r.rounds.map((x: any) => x.n_layers)).toEqual([3, 5]);      // 5 = all of stories260K: nothing left to add
    expect(r.rounds[0].blocks).toEqual([0, 1, 2]);
    expect(r.rounds[1].init_val_loss).toBeCloseTo(r.reference.val_loss, 5); // reinherit of all blocks = the reference
    expect(r.baseline.blocks).toBeNull();
    expect(r.baseline.n_layers).toBe(3);
    // inheritance: far below random init at equal steps
    expect(r.rounds[0].val_loss).toBeLessThan(r.baseline.val_loss - 1);
    for (const f of ['report.json', 'val_loss.svg', 'max_rank.svg', 'summary.md', 'run.json', 'round-0/checkpoint/config.json', 'baseline/metrics.jsonl']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.analysis.reference.blocks.length).toBe(5);
    expect(report.device.adapter).toBeDefined();
    expect(Object.keys(report.evals).sort()).toEqual(['baseline', 'reference', 'round-1']);
    expect(report.evals.reference.map((e: any) => [e.task, e.n])).toEqual([['piqa', 3], ['winogrande', 3]]);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/\| round-0 \| \[0, 1, 2\] \| 3 \|/);
    // resume: finished rounds are not trained again
    const before = statSync(join(out, 'round-0/metrics.jsonl')).mtimeMs;
    const again = JSON.parse((await run(process.execPath, [CLI, ...args(out, ['--baseline', '--max-rounds', '3', '--resume'])])).stdout);
    expect(again.rounds.map((x: any) => x.val_loss)).toEqual(r.rounds.map((x: any) => x.val_loss));
    expect(statSync(join(out, 'round-0/metrics.jsonl')).mtimeMs).toBe(before);
  });

  it('warm-append keeps the trained blocks and appends the next reference blocks', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'warm');
    const r = JSON.parse((await run(process.execPath, [CLI, ...args(out, ['--growth', 'warm-append', '--max-rounds', '2', '--layers', '2'])])).stdout);
    expect(r.rounds.map((x: any) => x.n_layers)).toEqual([2, 4]);
    expect(r.rounds[1].blocks).toEqual([0, 1, 2, 3]);
    // it starts from the trained round-0 model, not from the reference's first 4 blocks
    const init = JSON.parse(readFileSync(join(out, 'round-1/init/config.json'), 'utf8'));
    expect(init.num_hidden_layers).toBe(4);
  });

  it('appendBlocks puts the reference blocks after the trained ones', () => {
    const ref = parseLlama2c(new Uint8Array(readFileSync(MODEL)));
    const trained = inherit(ref, { layers: 2 }).checkpoint;
    const grown = appendBlocks(trained, ref, [2, 3]);
    const n = 64 * 64;
    expect(grown.config.nLayers).toBe(4);
    expect(grown.tensors.wq.subarray(0, 2 * n)).toEqual(trained.tensors.wq);
    expect(grown.tensors.wq.subarray(2 * n, 4 * n)).toEqual(ref.tensors.wq.subarray(2 * n, 4 * n));
  });

  it('bad recipe options are clear errors', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const err = await run(process.execPath, [CLI, ...args(join(work, 'bad'), ['--growth', 'sideways'])]).then(() => null, (e) => e);
    expect(err?.stderr).toMatch(/--growth sideways: expected reinherit or warm-append/);
  });
});
