// f16storage: under --precision f16 the activations a block keeps for its backward that hold f16 values
// (TableSpec 'f16': the blocks' matmul inputs, and their outputs, which the f16 matmul rounds to f16 as
// it stores them) are stored in f16 between the block's forward and its backward (kernels/convert.wgsl).
// (1) convert_to_f16 is bit-exact against the CPU's f16 encoder (src/formats/dtype.ts: ties to even,
// subnormals, overflow to infinity, NaN), and widening it back gives the values. (2) The round trip loses
// nothing, so every parameter gradient is bit-identical to activation recompute at f16 (which reruns the
// same kernels, and is itself bit-identical to storing f32 activations: recompute.test.ts), for every
// family and its switches. (3) The activation table is what TableStore.plan and the memory plan say,
// smaller than at f32 by exactly half of the f16 entries (less the one f32 block they are computed in). (4) attentionProbs of any block still works (its qkv comes back out of storage).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { resolve } from 'node:path';
import { Model, initCheckpoint, selectLayers, type Checkpoint, type Gpu, type ModelConfig } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { FAMILIES } from '../src/model/model.js';
import { TableStore } from '../src/model/family.js';
import { memoryPlan } from '../src/train/plan.js';
import * as K from '../src/gpu/kernels/index.js';
import { f32BitsToF16, rawToF32 } from '../src/formats/dtype.js';
import { REPO, testGpu, twoMicroBatches, ids, randn, put } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

const DIRS = ['llama-tiny', 'llama-bias-tiny', 'gpt2-tiny', 'fam-qwen3-f32', 'fam-llama3-f32', 'fam-neox-f32', 'fam-neoxseq-f32'];
const B = 2, T = 8;

describe('f32 -> f16 conversion on the GPU', () => {
  it('is bit-exact against the CPU encoder: ties to even, subnormals, overflow, signed zeros, NaN', async (ctx) => {
    if (!g) return ctx.skip();
    const special = [0, -0, 1, -1, 65504, 65519.996, 65520, -65520, 1e30, Infinity, -Infinity, NaN,
      1 + 2 ** -11, 1 + 3 * 2 ** -11, 2049, 2051, 2 ** -14, 2 ** -14 * (1 - 2 ** -11), 2 ** -24, 2 ** -25, 2 ** -25 * (1 + 2 ** -20),
      1.5 * 2 ** -24, 2.5 * 2 ** -24, 2 ** -26, 1e-40, -3 * 2 ** -25, 65488, 65487.99];
    const x = new Float32Array(20001);                        // odd: the last word holds one value
    x.set(special);
    const r = randn(x.length, 5);
    for (let i = special.length; i < x.length; i++) x[i] = r[i] * 2 ** ((i % 60) - 30); // every exponent range
    const words = g.tensor(Math.ceil(x.length / 2), 'f16');
    K.convertToF16(g, words, put(g, x), x.length);
    const got = new Uint16Array((await g.read(words)).buffer);
    const bits = new Uint32Array(x.buffer);
    let bad = 0;
    for (let i = 0; i < x.length; i++) {
      const want = f32BitsToF16(bits[i]);
      const same = Number.isNaN(x[i]) ? (got[i] & 0x7c00) === 0x7c00 && (got[i] & 0x3ff) !== 0 : got[i] === want;
      if (!same && bad++ < 5) console.log(`x ${x[i]}: got 0x${got[i].toString(16)}, want 0x${want.toString(16)}`);
    }
    expect(bad).toBe(0);
    // hand-checked: ties to even, the largest finite, overflow, the smallest subnormal, half of it, subnormal ties
    expect([...got.subarray(12, 16)]).toEqual([0x3c00, 0x3c02, 0x6800, 0x6802]);
    expect([got[4], got[5], got[6]]).toEqual([0x7bff, 0x7bff, 0x7c00]);
    expect([...got.subarray(18, 23)]).toEqual([0x0001, 0x0000, 0x0001, 0x0002, 0x0002]); // 2^-24; 2^-25 and 1.5, 2.5 x 2^-24: ties
    // and back: the f16 values, exactly
    const back = g.tensor(x.length, 'back');
    K.convertToF32(g, back, words, x.length, 'F16');
    const want = rawToF32(new Uint8Array(got.buffer, 0, x.length * 2), 'F16');
    expect(Buffer.from((await g.read(back)).buffer).equals(Buffer.from(want.buffer))).toBe(true);
    for (const v of [words, back]) g.release(v.buffer);
  });
});


describe('f16 activation storage', () => {
  for (const dir of DIRS) {
    it(`${dir}: every parameter gradient bit-identical to recompute at f16`, async (ctx) => {
      if (!g) return ctx.skip();
      const ck0 = await readModel(resolve(REPO, 'test/ref/hf', dir));
      // f16 storage starts at 3 blocks (below, L f16 slices + the f32 one are no smaller than L f32 slices)
      const ck = ck0.config.nLayers > 2 ? ck0 : selectLayers(ck0, [0, 1, 0, 1]);
      const m = Model.create(g, ck);
      m.forward(ids(B * T, ck.config.vocabSize, 1), B, T);
      const f32Bytes = m.activationBytes;
      const stored = await twoMicroBatches(m, B, T, false, 'f16');
      expect(stored.bytes, 'some activations are stored in f16').toBeLessThan(f32Bytes);
      const again = await twoMicroBatches(m, B, T, true, 'f16');
      m.destroy();
      expect(again.losses).toEqual(stored.losses);
      let nonzero = 0;
      for (const name of Object.keys(stored.grads)) {
        expect(Buffer.from(again.grads[name].buffer).equals(Buffer.from(stored.grads[name].buffer)), `${dir} ${name}`).toBe(true);
        if (stored.grads[name].some((x) => x !== 0)) nonzero++;
      }
      expect(nonzero).toBeGreaterThan(5);
    });
  }

  it('the table is its plan, smaller than f32\'s by half of its f16 entries', async (ctx) => {
    if (!g) return ctx.skip();
    const c: ModelConfig = { family: 'gpt2', dim: 64, hiddenDim: 256, nLayers: 4, nHeads: 4, nKvHeads: 4, vocabSize: 256, maxSeqLen: 64,
      normEps: 1e-5, ropeTheta: 10000, ropeMode: 'rotate_half', tiedEmbeddings: true };
    const m = Model.create(g, initCheckpoint(c, 1)), x = ids(4 * 64, c.vocabSize, 1), bytes: Record<string, number> = {};
    for (const p of ['f32', 'f16'] as const) {
      m.setPrecision(p);
      m.forward(x, 4, 64);
      bytes[p] = m.activationBytes;
      expect(bytes[p]).toBe(TableStore.plan(FAMILIES.gpt2.activations(c, 4, 64), c.nLayers, { f16: p === 'f16' }).bytes);
      const limits = { maxBufferSize: g.limits.maxBufferSize, maxStorageBufferBindingSize: g.limits.maxStorageBufferBindingSize };
      expect(memoryPlan(c, { batch: 4, seq: 64, optim: 'adamw', precision: p }, limits).parts.find((q) => q.part === 'activations')!.bytes).toBe(bytes[p]);
    }
    // per block and token, ln1 C, qkv 3C, ln2 C, fch 4C and fch_act 4C (13C) go from L f32 slices to L f16 slices and one
    // f32 slice (the block being run): 13C * BT * (4L - 2L - 4) bytes less; the rest (atty, the residuals, the norms'
    // statistics, lse) stays f32
    const BT = 4 * 64, C = c.dim, L = c.nLayers;
    expect(bytes.f32 - bytes.f16).toBe(13 * C * BT * (2 * L - 4));
    m.destroy();
  });

  it('attentionProbs of any block reads that block\'s qkv back out of f16 storage', async (ctx) => {
    if (!g) return ctx.skip();
    // block l of the whole model sees the same inputs as the last block of its first l + 1 blocks, which is still in place
    const ck = selectLayers(await readModel(resolve(REPO, 'test/ref/hf', 'gpt2-tiny')), [0, 1, 0, 1]); // 4 blocks: f16 storage on
    const L = ck.config.nLayers, x = ids(T, ck.config.vocabSize, 4);
    const f32Bytes = (k: Checkpoint) => { const m = Model.create(g!, k); m.forward(x, 1, T); const n = m.activationBytes; m.destroy(); return n; };
    const probs = async (k: Checkpoint, l: number) => {
      const m = Model.create(g!, k);
      m.setPrecision('f16');
      m.forward(x, 1, T);
      if (k.config.nLayers > 2) expect(m.activationBytes).toBeLessThan(f32Bytes(k)); // in f16 storage
      const p = await m.attentionProbs(l);
      m.destroy();
      return Buffer.from(p.buffer);
    };
    const all = [];
    for (let l = 0; l < L; l++) {
      all.push(await probs(ck, l));
      expect(all[l].equals(await probs(selectLayers(ck, Array.from({ length: l + 1 }, (_, i) => i)), l)), `block ${l}`).toBe(true);
    }
    expect(all[0].equals(all[L - 1])).toBe(false);
  });
});
