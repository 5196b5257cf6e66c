// optim_in_backward: optimizer-in-backward (TrainOptions.optimInBackward, --optim-in-backward) updates
// each block as soon as its gradients are complete and keeps gradients of one block only. With one
// micro-batch and no clipping the gradients and the element-wise update are those of the ordinary step,
// so the weights must be bit-identical to it after several steps, for both optimizers, with and
// without recompute, for every family layout; the gradient norm is summed differently (per slice),
// so it agrees to rounding. The options it cannot honour are refused.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { resolve } from 'node:path';
import { Model, Trainer, TRAIN_DEFAULTS, type Gpu, type TrainOptions } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { REPO, testGpu, ids } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

const CASES: [string, 'adamw' | 'adamw8bit', boolean][] = [
  ['llama-tiny', 'adamw', false], ['gpt2-tiny', 'adamw', false], ['fam-qwen3-f32', 'adamw', true],
  ['fam-neox-f32', 'adamw8bit', false], ['llama-bias-tiny', 'adamw8bit', true],
];

async function train(dir: string, o: Partial<TrainOptions>) {
  const ck = await readModel(resolve(REPO, 'test/ref/hf', dir));
  const tokens = Array.from(ids(3000, ck.config.vocabSize, 11));
  const m = Model.create(g!, ck);
  const t = new Trainer(m, tokens, tokens.slice(0, 100), { ...TRAIN_DEFAULTS, steps: 3, batch: 2, seq: 16, clip: 0, valWindows: 2, ...o });
  const steps = [];
  while (!t.done) steps.push(await t.step());
  const w = (await m.readCheckpoint()).tensors, gradFloats = t.grads.numel;
  t.destroy();
  m.destroy();
  return { steps, w, gradFloats };
}

describe('optimizer-in-backward', () => {
  for (const [dir, optim, recompute] of CASES) {
    it(`${dir}, ${optim}${recompute ? ', recompute' : ''}: 3 steps bit-identical to updating after backward`, async (ctx) => {
      if (!g) return ctx.skip();
      const a = await train(dir, { optim, recompute });
      const b = await train(dir, { optim, recompute, optimInBackward: true });
      expect(b.steps.map((s) => s.loss)).toEqual(a.steps.map((s) => s.loss));
      b.steps.forEach((s, i) => expect(Math.abs(s.grad_norm / a.steps[i].grad_norm - 1)).toBeLessThan(1e-5));
      for (const k of Object.keys(a.w)) expect(Buffer.from(b.w[k].buffer).equals(Buffer.from(a.w[k].buffer)), k).toBe(true);
      expect(b.gradFloats).toBeLessThan(a.gradFloats); // one block of gradients
    });
  }

  it('refuses clipping and gradient accumulation, naming the fix', async (ctx) => {
    if (!g) return ctx.skip();
    await expect(train('llama-tiny', { optimInBackward: true, clip: 1 })).rejects.toThrow(/needs `clip` 0/);
    await expect(train('llama-tiny', { optimInBackward: true, gradAccum: 2 })).rejects.toThrow(/needs `gradAccum` 1/);
  });
});
