// plan: the memory plan (src/train/plan.ts, `inheritune-rt plan`) against what training really
// allocates (Gpu.memory's peak of live storage bytes over model creation and two steps), with and
// without recompute, on stories260K; the flag it suggests really fits (measured); train refuses a run
// that does not fit before it allocates or writes anything.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { resolve, join } from 'node:path';
import { mkdtempSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Model, Trainer, TRAIN_DEFAULTS, memoryPlan, fitSuggestions, type Gpu, type DeviceLimits } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { REPO, SHARED, testGpu } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const MODEL = resolve(SHARED, 'stories260k/stories260K.bin');
let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

async function measuredPeak(g: Gpu, B: number, T: number, recompute: boolean): Promise<number> {
  const ck = await readModel(MODEL), V = ck.config.vocabSize;
  const tokens = Array.from({ length: B * T * 3 + 10 }, (_, i) => (i * 7919) % V);
  const before = g.memory.live;
  g.resetPeak();
  const m = Model.create(g, ck);
  const t = new Trainer(m, tokens, tokens.slice(0, T + 1), { ...TRAIN_DEFAULTS, steps: 2, batch: B, seq: T, valWindows: 1, recompute });
  while (!t.done) await t.step();
  t.destroy();
  m.destroy();
  return g.memory.peak - before;
}

describe('memory plan', () => {
  for (const recompute of [false, true]) {
    it(`stories260K B 8 T 64${recompute ? ' --recompute' : ''}: the plan is within 10% of the measured peak`, async (ctx) => {
      if (!g) return ctx.skip();
      const { config } = await readModel(MODEL);
      const limits: DeviceLimits = { maxBufferSize: g.limits.maxBufferSize, maxStorageBufferBindingSize: g.limits.maxStorageBufferBindingSize };
      const plan = memoryPlan(config, { batch: 8, seq: 64, recompute, optim: 'adamw' }, limits);
      const peak = await measuredPeak(g, 8, 64, recompute);
      expect(Math.abs(plan.total / peak - 1)).toBeLessThan(0.1);
      expect(plan.parts.map((p) => p.part)).toEqual(['weights', 'gradients', 'optimizer', 'activations', 'scratch']);
    });
  }

  it('the suggested flag makes a run that did not fit fit, measured', async (ctx) => {
    if (!g) return ctx.skip();
    const { config } = await readModel(MODEL);
    const base = { maxBufferSize: g.limits.maxBufferSize, maxStorageBufferBindingSize: g.limits.maxStorageBufferBindingSize };
    const full = memoryPlan(config, { batch: 8, seq: 64, optim: 'adamw' }, base).total;
    const limits = { ...base, memory: Math.floor(full * 0.8) };
    expect(memoryPlan(config, { batch: 8, seq: 64, optim: 'adamw' }, limits).fits).toBe(false);
    const s = fitSuggestions(config, { batch: 8, seq: 64, optim: 'adamw' }, limits);
    expect(s[0]).toBe('--recompute');
    expect(await measuredPeak(g, 8, 64, true)).toBeLessThan(limits.memory);
  });

  it('train refuses a run over --memory before allocating or writing anything, printing the plan and the fix', async (ctx) => {
    if (!g) return ctx.skip();
    const out = join(mkdtempSync(join(tmpdir(), 'plan-')), 'run');
    const text = resolve(SHARED, 'tinystories-sample');
    const file = readdirSync(text).find((f) => f.endsWith('.txt'))!;
    const err = await run('node', [CLI, 'train', '--model', MODEL, '--text', join(text, file), '--steps', '2', '--batch', '8', '--seq', '64', '--out', out, '--memory', '15MB'])
      .then(() => null, (e) => e);
    expect(err?.code).toBe(1);
    expect(err.stderr).toMatch(/does not fit/);
    expect(err.stderr).toMatch(/weights .* gradients|gradients/s);
    expect(err.stderr).toMatch(/would fit with: --recompute/);
    expect(existsSync(join(out, 'checkpoint'))).toBe(false);
    const json = JSON.parse((await run('node', [CLI, 'plan', '--model', MODEL, '--batch', '8', '--seq', '64', '--memory', '15MB', '--json'])).stdout);
    expect(json.fits).toBe(false);
    expect(json.suggestions[0]).toBe('--recompute');
    const bad = await run('node', [CLI, 'plan', '--model', MODEL, '--batch', '8', '--seq', '64', '--memory', '1.5QB']).then(() => null, (e) => e);
    expect(bad?.code).toBe(1);
    expect(bad.stderr).toMatch(/'1\.5QB' is not a size[\s\S]*e\.g\. 5GB/);
    const prec = await run('node', [CLI, 'plan', '--model', MODEL, '--batch', '8', '--seq', '64', '--precision', 'bf16']).then(() => null, (e) => e);
    expect(prec?.code).toBe(1);
    expect(prec.stderr).toMatch(/--precision bf16: expected f32, f16 or auto/);
  });
});
