// recompute: activation recompute (--recompute, Model.setRecompute) keeps only each block's output and
// reruns the block's forward in backward. The same kernels on the same inputs, so every parameter's
// gradient must be bit-identical to the stored-activation path (itself checked against torch and finite
// differences in families.test.ts, backward.test.ts and grad.test.ts), for every family and its
// switches (GQA + q/k norms, GPT-2's fused qkv, NeoX's parallel and sequential residual), with gradient
// accumulation, and a training run must give bit-identical losses. The activation table must shrink to
// L x (B,T,C) + one block's worth.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { resolve } from 'node:path';
import { Model, Trainer, TRAIN_DEFAULTS, type Gpu } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { FAMILIES } from '../src/model/model.js';
import type { TableSpec } from '../src/model/family.js';
import { REPO, testGpu, twoMicroBatches, ids } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

const DIRS = ['llama-tiny', 'llama-bias-tiny', 'gpt2-tiny', 'fam-qwen3-f32', 'fam-llama3-f32', 'fam-neox-f32', 'fam-neoxseq-f32'];
const B = 2, T = 8;


describe('activation recompute', () => {
  for (const dir of DIRS) {
    it(`${dir}: every parameter gradient bit-identical to storing activations`, async (ctx) => {
      if (!g) return ctx.skip();
      const ck = await readModel(resolve(REPO, 'test/ref/hf', dir));
      const m = Model.create(g, ck);
      const stored = await twoMicroBatches(m, B, T, false);
      const again = await twoMicroBatches(m, B, T, true);
      m.destroy();
      expect(again.losses).toEqual(stored.losses);
      const names = Object.keys(stored.grads);
      expect(names.length).toBeGreaterThan(5);
      let nonzero = 0;
      for (const name of names) {
        expect(Buffer.from(again.grads[name].buffer).equals(Buffer.from(stored.grads[name].buffer)), `${dir} ${name}`).toBe(true);
        if (stored.grads[name].some((x) => x !== 0)) nonzero++;
      }
      expect(nonzero).toBeGreaterThan(names.length / 2); // the comparison is not between zeros
    });
  }

  it('the activation table keeps L x (B,T,C) + one block instead of L blocks', async (ctx) => {
    if (!g) return ctx.skip();
    const ck = await readModel(resolve(REPO, 'test/ref/hf', 'llama-tiny'));
    const c = ck.config, m = Model.create(g, ck), x = ids(B * T, c.vocabSize, 3);
    const bytes = (spec: TableSpec, perBlock: (name: string) => number) =>
      Object.entries(spec).reduce((n, [name, [k, per]]) => n + (k === 0 ? 0 : Math.ceil(k / 64) * 64 * 4 * (per ? perBlock(name) : 1)), 0);
    const spec = FAMILIES.llama.activations(c, B, T);
    m.forward(x, B, T);
    // every per-block entry L times (the projections' outputs are not entries: their gemms add the residual)
    expect(['attproj', 'fcproj'].some((n) => n in spec)).toBe(false);
    expect(m.activationBytes).toBe(bytes(spec, () => c.nLayers));
    m.setRecompute(true);
    m.forward(x, B, T);
    expect(m.activationBytes).toBe(bytes(spec, (name) => (name === 'residual3' ? c.nLayers : 1)));
    await expect(m.attentionProbs(0)).rejects.toThrow(/recompute/);
    m.destroy();
  });

  it('a training run with --recompute gives bit-identical losses and weights', async (ctx) => {
    if (!g) return ctx.skip();
    const ck = await readModel(resolve(REPO, 'test/ref/hf', 'fam-qwen3-f32'));
    const tokens = Array.from(ids(2000, ck.config.vocabSize, 7));
    const run = async (recompute: boolean) => {
      const m = Model.create(g!, ck);
      const t = new Trainer(m, tokens, tokens.slice(0, 200), { ...TRAIN_DEFAULTS, steps: 3, batch: 2, seq: 16, gradAccum: 2, valWindows: 2, recompute });
      const losses: number[] = [];
      while (!t.done) losses.push((await t.step()).loss);
      const w = (await m.readCheckpoint()).tensors;
      t.destroy();
      m.destroy();
      return { losses, w };
    };
    const a = await run(false), b = await run(true);
    expect(b.losses).toEqual(a.losses);
    for (const k of Object.keys(a.w)) expect(Buffer.from(b.w[k].buffer).equals(Buffer.from(a.w[k].buffer)), k).toBe(true);
  });
});
