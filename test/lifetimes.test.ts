// lifetimes: GPU buffers end in one place, Gpu.release(), which never destroys a buffer that encoded but
// unsubmitted work still uses (WebGPU rejects that submit: "used in submit while destroyed"). Checked
// directly, through the trainer's loss log with more micro-batches than its old growth step (8), and
// with the uniform-buffer cache forced so small that it evicts buffers bound by pending dispatches.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createGpu, initCheckpoint, Model, Trainer, TRAIN_DEFAULTS, type Gpu, type ModelConfig, type TrainOptions } from '../src/node/index.js';
import { testGpu, put, randn, rng } from './helpers.js';

const CFG: ModelConfig = {
  family: 'llama', dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, ropeMode: 'rotate_half', tiedEmbeddings: true,
};
const r = rng(7);
const TOKENS = Array.from({ length: 6000 }, () => Math.floor(r() * CFG.vocabSize));
const VAL = TOKENS.slice(5000);
const opts = (o: Partial<TrainOptions>): TrainOptions => ({ ...TRAIN_DEFAULTS, steps: 3, batch: 2, seq: 16, evalEvery: 0, valWindows: 4, ...o });

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

async function trainLosses(gpu: Gpu, o: TrainOptions): Promise<number[]> {
  const m = Model.create(gpu, initCheckpoint(CFG, 3));
  const t = new Trainer(m, TOKENS.slice(0, 5000), VAL, o);
  const losses: number[] = [];
  try {
    while (!t.done) losses.push((await t.step()).loss);
  } finally {
    t.destroy();
    m.destroy();
  }
  return losses;
}

describe('GPU buffer lifetimes', () => {
  it('release() of a buffer that encoded work still reads waits for the submit', async (ctx) => {
    if (!g) return ctx.skip();
    const data = randn(1000, 1);
    const src = put(g, data), dst = g.tensor(1000, 'dst');
    g.copy(dst, src);      // encoded, not submitted
    g.release(src.buffer); // must not destroy src before the copy is submitted
    expect(Array.from(await g.read(dst))).toEqual(Array.from(data));
    g.release(dst.buffer);
    await g.sync();
  });

  it('training with grad-accum 9: every micro-batch loss is logged, none lost to a destroyed buffer', async (ctx) => {
    if (!g) return ctx.skip();
    const G = 9, B = 2, T = 16;
    const got = await trainLosses(g, opts({ gradAccum: G, steps: 2 }));
    // reference: the same windows' losses from forward passes alone (sequential sampling: step s,
    // micro-batch m reads windows (s*G + m)*B ... +B-1, window i = tokens [i*T, i*T + T])
    const m = Model.create(g, initCheckpoint(CFG, 3));
    let sum = 0;
    for (let mb = 0; mb < G; mb++) {
      const x: number[] = [], y: number[] = [];
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) { const i = (mb * B + b) * T + t; x.push(TOKENS[i]); y.push(TOKENS[i + 1]); }
      for (const l of await m.losses(x, y, B, T)) sum += l;
    }
    m.destroy();
    expect(got).toHaveLength(2);
    expect(got[0]).toBe(sum / (G * B * T));
    expect(got.every(Number.isFinite)).toBe(true);
  });

  it('a uniform cache forced tiny (evicting buffers bound by pending dispatches) trains bit-identically', async (ctx) => {
    if (!g) return ctx.skip();
    const want = await trainLosses(g, opts({ gradAccum: 2 }));
    const tiny = await createGpu({ uniformCacheSize: 2 });
    try {
      expect(await trainLosses(tiny, opts({ gradAccum: 2 }))).toEqual(want);
      await tiny.sync(); // throws any GPU validation error
    } finally {
      tiny.destroy();
    }
  });
});
