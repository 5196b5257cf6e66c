// matmul_f16: --precision f16 in real f16 arithmetic (kernels/matmul_f16.wgsl) on a device with
// shader-f16 (lavapipe has it; elsewhere these tests skip, saying why). (1) Forward, dinp and dweight
// against the float64 CPU oracle on f16-rounded operands, within the kernel's stated bound: per element
// |got - oracle| <= 2^-8 * sum_k |a_k b_k| (an 8-term f16 partial: 8 roundings of 2^-11) + the f32 sum of
// the K/8 partials, + half an f16 ulp of the output where the forward rounds it; the error is larger
// than the emulation's (the products do round in f16), so the test fails if the path silently emulates.
// (2) The weight's f16 copy (Gpu.halves) is what the kernel reads, at chunk offsets too, and reading it
// gives the bits of rounding the f32 weight on load. (3) A Model under f16 keeps the copy, counted by the
// memory plan, and remakes it after each optimizer step: a trained model's losses equal those of a fresh
// model made from its checkpoint. (4) GpuOptions.f16Arithmetic false keeps the emulation.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createGpu, Model, initCheckpoint, type Gpu, type ModelConfig } from '../src/node/index.js';
import * as K from '../src/gpu/kernels/index.js';
import { f16Candidates, type F16Variant } from '../src/gpu/kernels/matmul.js';
import { f32ToRaw, rawToF32 } from '../src/formats/dtype.js';
import { halfBytes, matmulWeightNames } from '../src/model/half.js';
import { memoryPlan } from '../src/train/plan.js';
import { Trainer, TRAIN_DEFAULTS, type TrainOptions } from '../src/train/trainer.js';
import { testGpu, randn, put, ids } from './helpers.js';

const half = (x: Float32Array) => rawToF32(f32ToRaw(x, 'F16'), 'F16');
const f16 = { precision: 'f16' } as const;
let g: Gpu | null = null, emu: Gpu | null = null;
const variants = new Map<F16Variant, Gpu>();
beforeAll(async () => {
  g = await testGpu();
  if (!g) return;
  if (!g.f16Arithmetic) { console.log(`matmul_f16: skipped, this adapter has no shader-f16 (features: ${g.features.join(', ')})`); return; }
  emu = await createGpu({ f16Arithmetic: false });
  for (const v of f16Candidates(g, 'f16', 4)) variants.set(v, await createGpu({ force: { matmul_f16: v } }));
});
afterAll(() => { for (const x of variants.values()) x.destroy(); emu?.destroy(); g?.destroy(); });
const ready = () => !!g && g.f16Arithmetic;

/** C(m, n) = sum_k A(m, k) B(n, k) in float64 with the bound's sum_k |A B| per element (A: M x K rows, B: N x K rows) */
function oracle(A: Float32Array, B: Float32Array, M: number, N: number, Kd: number) {
  const c = new Float64Array(M * N), s = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let x = 0, y = 0;
    for (let k = 0; k < Kd; k++) { const p = A[m * Kd + k] * B[n * Kd + k]; x += p; y += Math.abs(p); }
    c[m * N + n] = x; s[m * N + n] = y;
  }
  return { c, s };
}
const transpose = (x: Float32Array, R: number, C: number) => Float32Array.from({ length: R * C }, (_, i) => x[(i % R) * C + Math.floor(i / R)]);

/** the largest error over the bound (must be <= 1) and the largest error relative to sum |a b| */
function within(label: string, got: Float32Array, o: { c: Float64Array; s: Float64Array }, Kd: number, out16: boolean) {
  let worst = 0, rel = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - o.c[i]), bound = (2 ** -8 + (Kd / 8 + 2) * 2 ** -24) * o.s[i] + (out16 ? 2 ** -11 * Math.abs(o.c[i]) : 0) + 1e-30;
    worst = Math.max(worst, e / bound);
    rel = Math.max(rel, e / (o.s[i] + 1e-30));
  }
  expect(worst, `${label}: error / bound`).toBeLessThanOrEqual(1);
  return rel;
}

describe('real f16 arithmetic vs the float64 oracle on f16-rounded operands', () => {
  it('the device offers it under f16 for vec4 strides only; turned off, the emulation runs', (ctx) => {
    if (!ready()) return ctx.skip();
    expect(f16Candidates(g!, 'f16', 4, 8)).toEqual(['f16', 'f16tiled']);
    expect(f16Candidates(g!, 'f16', 4, 37)).toEqual([]);
    expect(f16Candidates(g!, 'f32', 4)).toEqual([]);
    expect(f16Candidates(emu!, 'f16', 4)).toEqual([]);
  });

  it('forward, dinp and dweight of each variant are within the stated bound, the same bits from both, and the f16 rounding of products shows', async (ctx) => {
    if (!ready()) return ctx.skip();
    // (N, C, OC): N odd (dweight's K tail), C = 68 (forward K: a 4-step tail of the 8-term partials), 132, 100
    for (const [N, C, OC] of [[13, 68, 76], [33, 132, 100], [70, 36, 8]] as [number, number, number][]) {
      const x = randn(N * C, 21), w = randn(OC * C, 22), dout = randn(N * OC, 23);
      const hx = half(x), hw = half(w), hd = half(dout);
      const rels: Record<string, [number, number]> = {}, bits: Record<string, string> = {};
      for (const [name, dev] of [...variants, ['emulated', emu!]] as [string, Gpu][]) {
        const out = dev.tensor(N * OC, 'out');
        K.matmulForward(dev, out, put(dev, x), put(dev, w), null, N, C, OC, OC, f16);
        const fwd = await dev.read(out);
        expect([...half(fwd)], `${name}: f16 outputs`).toEqual([...fwd]);
        const dinp = dev.tensor(N * C, 'dinp'), dweight = put(dev, new Float32Array(OC * C));
        K.matmulBackward(dev, dinp, dweight, null, put(dev, dout), put(dev, x), put(dev, w), N, C, OC, f16);
        const shape = `${N}x${C}x${OC}`, dx = await dev.read(dinp), dw = await dev.read(dweight);
        bits[name] = Buffer.concat([fwd, dx, dw].map((t) => Buffer.from(t.buffer))).toString('base64');
        rels[name] = [
          within(`${name} forward ${shape}`, fwd, oracle(hx, hw, N, OC, C), C, true),
          Math.max(within(`${name} dinp ${shape}`, dx, oracle(hd, transpose(hw, OC, C), N, C, OC), OC, false),
            within(`${name} dweight ${shape}`, dw, oracle(transpose(hd, N, OC), transpose(hx, N, C), OC, C, N), N, false)),
        ];
      }
      console.log(`f16 ${N}x${C}x${OC}: largest |error| / sum|ab|: f16 arithmetic ${rels.f16.map((r) => r.toExponential(2)).join(', ')}; emulation ${rels.emulated.map((r) => r.toExponential(2)).join(', ')} (forward, backward)`);
      expect(rels.f16[1], 'products and partials round in f16').toBeGreaterThan(2 ** -14);
      expect(bits.f16tiled === bits.f16, 'f16tiled sums as f16 does').toBe(true);
      expect(rels.emulated[1], 'the emulation sums exact products in f32').toBeLessThan(2 ** -18);
    }
  });

  it('reads the weight from its registered f16 copy, at chunk offsets too, with the bits of rounding it on load', async (ctx) => {
    if (!ready()) return ctx.skip();
    const N = 9, C = 128, OC = 256, x = randn(N * C, 31), w = randn(OC * C, 32), dout = randn(N * OC, 33);
    const run = async (copyOf: Float32Array | null, maxBindingFloats?: number) => {
      const wv = put(g!, w), copy = g!.tensor(OC * C / 2, 'copy');
      if (copyOf) {
        K.convertToF16(g!, copy, put(g!, copyOf), OC * C);
        g!.halves.set(wv.buffer, [{ offset: 0, numel: OC * C, copy }]);
      }
      const out = g!.tensor(N * OC, 'out'), dinp = g!.tensor(N * C, 'dinp'), dweight = put(g!, new Float32Array(OC * C));
      K.matmulForward(g!, out, put(g!, x), wv, null, N, C, OC, OC, f16);
      K.matmulBackward(g!, dinp, dweight, null, put(g!, dout), put(g!, x), wv, N, C, OC, { ...f16, maxBindingFloats });
      const r = [await g!.read(out), await g!.read(dinp)];
      g!.halves.set(wv.buffer, []);
      return r;
    };
    const [plainOut, plainDinp] = await run(null);
    const [copyOut, copyDinp] = await run(w);
    expect(Buffer.from(copyOut.buffer).equals(Buffer.from(plainOut.buffer)), 'forward from the copy').toBe(true);
    expect(Buffer.from(copyDinp.buffer).equals(Buffer.from(plainDinp.buffer)), 'dinp from the copy').toBe(true);
    // a copy of other values is what the kernel reads: 2w gives twice the products (exact in f16)
    const w2 = w.map((v) => 2 * v), [twoOut, twoDinp] = await run(w2);
    expect([...twoOut]).toEqual([...plainOut].map((v) => 2 * v));
    expect([...twoDinp]).toEqual([...plainDinp].map((v) => 2 * v));
    // dinp in weight chunks of 128 rows (bindings of 64 * OC floats: offset 128 * C into the copy), against the oracle
    const [, chunked] = await run(w2, 64 * OC);
    within('chunked dinp from the copy', chunked, oracle(half(dout), transpose(half(w2), OC, C), N, C, OC), OC, false);
  });
});

describe('the model\'s f16 copy of its weights', () => {
  const c: ModelConfig = { family: 'gpt2', dim: 64, hiddenDim: 256, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 256, maxSeqLen: 32,
    normEps: 1e-5, ropeTheta: 10000, ropeMode: 'rotate_half', tiedEmbeddings: true };

  it('covers the matmul weights, is the plan\'s figure, and is remade after each optimizer step', async (ctx) => {
    if (!ready()) return ctx.skip();
    expect([...matmulWeightNames(c)].sort()).toEqual(['attprojw', 'fcprojw', 'fcw', 'qkvw', 'wte']);
    expect([...matmulWeightNames({ ...c, family: 'llama', tiedEmbeddings: false })].sort()).toEqual(['w1', 'w2', 'w3', 'wcls', 'wk', 'wo', 'wq', 'wv']);
    const model = Model.create(g!, initCheckpoint(c, 1));
    const live = g!.memory.live;
    model.setPrecision('f16');
    const bytes = halfBytes(c, g!.arenaPartFloats);
    expect(model.halfWeightBytes).toBe(bytes);
    expect(g!.memory.live - live).toBe(bytes);
    // about 2 bytes per matmul weight value: V*C + L * 12 C^2
    expect(bytes).toBeGreaterThanOrEqual(2 * (256 * 64 + 2 * 12 * 64 * 64));
    expect(bytes).toBeLessThan(2 * (256 * 64 + 2 * 12 * 64 * 64) + 2 * 10 * 256);
    const limits = { maxBufferSize: g!.limits.maxBufferSize, maxStorageBufferBindingSize: g!.limits.maxStorageBufferBindingSize };
    const part = (f16Arithmetic: boolean) => memoryPlan(c, { batch: 2, seq: 16, optim: 'adamw', precision: 'f16', f16Arithmetic }, limits).parts.find((p) => p.part === 'weights f16');
    expect(part(true)?.bytes).toBe(bytes);
    expect(part(false)).toBeUndefined();
    const text = Array.from(ids(4000, 256, 7));
    const tr = new Trainer(model, text.slice(0, 3000), text.slice(3000),
      { ...TRAIN_DEFAULTS, steps: 3, batch: 2, seq: 16, lr: 1e-2, warmup: 0, precision: 'f16', lossScale: 1024, evalEvery: 0, valWindows: 2 } as TrainOptions);
    const x = ids(2 * 16, 256, 9), y = ids(2 * 16, 256, 10);
    try {
      for (let i = 0; i < 3; i++) expect((await tr.step()).skipped, `step ${i}`).toBeFalsy();
      const trained = await g!.read(model.forward(x, 2, 16, y).losses);
      const fresh = Model.create(g!, await model.readCheckpoint());
      fresh.setPrecision('f16');
      const again = await g!.read(fresh.forward(x, 2, 16, y).losses);
      fresh.destroy();
      expect(Buffer.from(trained.buffer).equals(Buffer.from(again.buffer)), 'losses from the remade copy').toBe(true);
    } finally { tr.destroy(); }
    expect(model.halfWeightBytes, 'the trainer gave the copy back').toBe(0);
    model.destroy();
  });
});
