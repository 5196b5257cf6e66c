// recipe: `inheritune-rt run` end to end on stories260K with tiny settings: rounds grow until the
// reference's blocks run out, the baseline trains from random init, the report files are written,
// a re-run with --resume reuses finished rounds, warm-append keeps the trained blocks; a bf16 HF
// reference is streamed (round starts copied as stored).
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdtempSync, existsSync, statSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseLlama2c } from '../src/index.js';
import { inheritPlan, appendPlan, randomPlan, initValues } from '../src/method/inherit.js';
import { initCheckpoint } from '../src/model/init.js';
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

  it('the start plans: warm-append takes the trained blocks then the reference blocks; random init is initCheckpoint', () => {
    const ref = parseLlama2c(new Uint8Array(readFileSync(MODEL)));
    const trained = inheritPlan(ref.config, { layers: 2 }).config;
    const grown = appendPlan(trained, ref.config, [2, 3], [0, 1]);
    expect(grown.config.nLayers).toBe(4);
    expect(grown.record.blocks).toEqual([0, 1, 2, 3]);
    const q = grown.tensors.filter((t) => t.name === 'wq');
    expect(q.map((t) => [t.key, t.from?.key, !!t.from?.trained])).toEqual([
      ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.q_proj.weight', true],
      ['model.layers.1.self_attn.q_proj.weight', 'model.layers.1.self_attn.q_proj.weight', true],
      ['model.layers.2.self_attn.q_proj.weight', 'model.layers.2.self_attn.q_proj.weight', false],
      ['model.layers.3.self_attn.q_proj.weight', 'model.layers.3.self_attn.q_proj.weight', false]]);
    expect(grown.tensors.filter((t) => !t.perLayer).every((t) => t.from?.trained)).toBe(true); // embeddings, final norm: the trained ones
    const more = appendPlan(trained, ref.config, [4], [0, 1]);
    expect(more.tensors.find((t) => t.name === 'wq' && t.layer === 2)!.from!.key).toBe('model.layers.4.self_attn.q_proj.weight');
    // the baseline's plan: nothing copied, and the values initCheckpoint gives
    const rnd = randomPlan(ref.config, 3, 7);
    expect(rnd.tensors.every((t) => t.from === null)).toBe(true);
    const init = initCheckpoint({ ...ref.config, nLayers: 3 }, 7);
    for (const t of rnd.tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      expect(initValues(rnd, t), `${t.name} ${t.layer}`).toEqual(init.tensors[t.name].subarray(t.layer * n, (t.layer + 1) * n));
    }
  });

  it('a bf16 Hugging Face reference is streamed: round starts are copied as stored (bf16), the run trains from them', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const ref = join(work, 'ref-bf16');
    await run(process.execPath, [CLI, 'inherit', '--model', MODEL, '--layers', '4', '--dtype', 'bf16', '--out', ref]);
    const out = join(work, 'run-bf16');
    const r = JSON.parse((await run(process.execPath, [CLI, ...args(out, ['--max-rounds', '2', '--baseline']).map((a) => (a === MODEL ? ref : a))])).stdout);
    expect(r.rounds.map((x: any) => x.n_layers)).toEqual([3, 4]);
    expect(r.rounds[1].init_val_loss).toBeCloseTo(r.reference.val_loss, 5); // all 4 blocks, copied bit for bit = the reference
    const dtypes = (dir: string) => {
      const b = readFileSync(join(out, dir, 'init/model.safetensors'));
      const header = JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString('utf8'));
      return [...new Set(Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]: [string, any]) => v.dtype))];
    };
    expect(dtypes('round-0')).toEqual(['BF16']);
    expect(dtypes('baseline')).toEqual(['F32']);            // random init as generated
    expect(existsSync(join(out, 'reference-hf'))).toBe(false); // a directory is read where it is
  });

  it('bad recipe options are clear errors', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const err = await run(process.execPath, [CLI, ...args(join(work, 'bad'), ['--growth', 'sideways'])]).then(() => null, (e) => e);
    expect(err?.stderr).toMatch(/--growth sideways: expected reinherit or warm-append/);
  });
});
