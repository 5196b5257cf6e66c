// grads16: --grad-dtype bf16 (src/train/grads16.ts). The kernels against independent references: the
// f32 -> bf16 store (kernels/convert.wgsl store_bf16, round_bf16) against a float64 round-to-nearest-even
// computed here from the value (not from its bits), ties, subnormals, overflow, infinities and NaNs
// included, and its accumulate mode against float64 sums rounded the same way; the global norm, AdamW
// and 8-bit AdamW reading bf16 gradients against the f32 kernels on the same values widened (bit for
// bit) and the norm against float64. Then the Trainer: a step's stored gradients are the f32 run's
// rounded to nearest even, bit for bit; optimizer-in-backward gives the same weights; a resumed run is
// bit-identical to a straight one; bad values are refused.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { resolve } from 'node:path';
import { Model, Trainer, TRAIN_DEFAULTS, type Gpu, type TrainOptions, type TrainerState, type View } from '../src/node/index.js';
import * as K from '../src/gpu/kernels/index.js';
import { readModel } from '../src/node/models.js';
import { REPO, testGpu, ids, put, rng } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const valueOf = (bits: number) => { u32[0] = bits; return f32[0]; };
const bitsOf = (x: number) => { f32[0] = x; return u32[0]; };

/**
 * bf16 bits of the f32 value x, rounded to nearest, ties to even, computed on the value in float64:
 * the bf16 grid near |x| has spacing 2^(e - 7) (e = floor(log2 |x|), at least -126: subnormals share
 * the smallest normal's spacing); past the largest finite bf16 value, infinity. NaN: 0x7fc0 (PyTorch's).
 */
function bf16Ref(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0, a = Math.abs(x);
  if (a === Infinity) return sign | 0x7f80;
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -126) - 7), q = a / ulp; // exact: a has at most 24 significant bits
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const v = r * ulp;
  if (v >= 2 ** 128) return sign | 0x7f80;
  return sign | (bitsOf(v) >>> 16); // v is a bf16 value: its f32 bits end in 16 zeros
}

// test values: the edge cases by bits, then random bit patterns over every exponent
const SPECIAL = [
  0, 0x80000000, 0x3f800000, 0x3f808000 /* tie, even: down */, 0x3f818000 /* tie, odd: up */, 0x3f808001, 0x3f807fff,
  0x7f7fffff /* rounds to infinity */, 0x7f7f7fff, 0x7f7f8000 /* tie at the top: odd, up to infinity */, 0xff7fffff,
  0x00000001, 0x00008000 /* subnormal tie: down to 0 */, 0x00018000 /* subnormal tie: up */, 0x007fffff /* to the smallest normal */, 0x807fffff,
  0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001 /* signalling NaN: not infinity */, 0xffffffff, 0x7fbfffff,
];
function testBits(n: number, seed: number): Uint32Array {
  const r = rng(seed), out = new Uint32Array(n);
  out.set(SPECIAL);
  for (let i = SPECIAL.length; i < n; i++) out[i] = (Math.floor(r() * 2 ** 16) * 2 ** 16 + (i % 3 === 0 ? 0x8000 : Math.floor(r() * 2 ** 16))) >>> 0;
  return out;
}

const words = async (g: Gpu, v: View) => new Uint32Array((await g.read(v)).buffer);
const half = (w: Uint32Array, e: number) => (w[e >> 1] >>> ((e & 1) * 16)) & 0xffff;

describe('bf16 gradient kernels', () => {
  it('store_bf16 rounds to nearest even as a float64 reference does (ties, subnormals, overflow, Inf, NaN), at an unaligned word, in chunks', async (ctx) => {
    if (!g) return ctx.skip();
    const N = 1001, bits = testBits(N, 7), E0 = 64; // element 64: word 32, 128 bytes in (bound from word 0)
    const inp = put(g, bits), out = g.tensor(2048, 'out16');
    g.upload(out, new Uint32Array(2048).fill(0xdeadbeef));
    K.storeBf16(g, out, E0, inp, N, false, 256); // 256-float bindings: four chunks
    const w = await words(g, out);
    for (let i = 0; i < N; i++) expect(half(w, E0 + i), `element ${i} bits ${bits[i].toString(16)}`).toBe(bf16Ref(valueOf(bits[i])));
    expect(half(w, E0 + N)).toBe(0);                   // the odd slice's partner: padding, zeroed
    expect(w[E0 / 2 - 1]).toBe(0xdeadbeef);            // the words around it untouched
    expect(w[(E0 + N + 1) / 2]).toBe(0xdeadbeef);
    g.release(inp.buffer); g.release(out.buffer);
  });

  it('store_bf16 with acc adds the widened old value in f32, then rounds; round_bf16 rounds in place', async (ctx) => {
    if (!g) return ctx.skip();
    const N = 700, r = rng(3), a = new Float32Array(N), b = new Float32Array(N);
    for (let i = 0; i < N; i++) { a[i] = (r() - 0.5) * 2 ** (Math.floor(r() * 40) - 20); b[i] = (r() - 0.5) * 2 ** (Math.floor(r() * 40) - 20); }
    b[0] = 1; a[0] = valueOf(0x3f808000) - 1; // 1 + a tie: the sum in f32 is the tie, even stays
    const ga = put(g, a), gb = put(g, b), out = g.tensor(512, 'out16');
    K.storeBf16(g, out, 0, ga, N, false);
    K.storeBf16(g, out, 0, gb, N, true);
    const w = await words(g, out);
    for (let i = 0; i < N; i++) {
      const old = valueOf(bf16Ref(a[i]) << 16), want = bf16Ref(Math.fround(old + b[i]));
      expect(half(w, i), `element ${i}`).toBe(want);
    }
    const x = put(g, testBits(N, 9));
    K.roundBf16(g, x, N, 128);
    const got = await words(g, x), src = testBits(N, 9);
    for (let i = 0; i < N; i++) expect(got[i] >>> 0, `element ${i}`).toBe((bf16Ref(valueOf(src[i])) << 16) >>> 0);
    for (const v of [ga, gb, out, x]) g.release(v.buffer);
  });

  it('the norm, AdamW and 8-bit AdamW read bf16 gradients as the f32 kernels read them widened (bit for bit); the norm against float64', async (ctx) => {
    if (!g) return ctx.skip();
    await readersMatch(g);
  });
});

// the norm, AdamW and 8-bit AdamW on bf16 gradients and on the same values widened to f32
async function readersMatch(g: Gpu) {
  const P = 3 * 4096 + 640, r = rng(5), wide = new Float32Array(P), packed = new Uint32Array(P / 2);
  for (let i = 0; i < P; i++) {
    const h = bf16Ref((r() - 0.5) * 0.02 * (i % 7 === 0 ? 50 : 1));
    wide[i] = valueOf(h << 16);
    packed[i >> 1] |= h << ((i & 1) * 16);
  }
  const g32 = put(g, wide), g16 = put(g, packed), one = put(g, Float32Array.of(1));
  // the global norm and clip factor
  const res = async (parts: View[], bf16: boolean) => {
    const norm = g.tensor(1, 'n'), scale = g.tensor(1, 's');
    K.gradnormClip(g, scale, norm, parts, 0.05, 4096, 1, bf16);
    const out = [(await g.read(norm))[0], (await g.read(scale))[0]];
    g.release(norm.buffer); g.release(scale.buffer);
    return out;
  };
  const n32 = await res([g32], false), n16 = await res([g16], true);
  expect(n16).toEqual(n32);
  let sq = 0;
  for (const x of wide) sq += x * x;
  expect(Math.abs(n16[0] / Math.sqrt(sq) - 1)).toBeLessThan(1e-5);
  // AdamW from element 64 on (its words bound from word 0), two binding chunks
  const n = P - 128, p0 = Float32Array.from({ length: n }, () => r() - 0.5);
  const adam = async (grads: K.GradRef) => {
    const p = put(g, p0), m = g.tensor(n, 'm'), v = g.tensor(n, 'v');
    g.clear(m); g.clear(v);
    for (let t = 1; t <= 2; t++) K.adamwUpdate(g, p, m, v, grads, 1, one, n, 1e-2, 0.9, 0.95, 1e-8, 0.1, t, 8192);
    const out = [await g.read(p), await g.read(m), await g.read(v)];
    for (const x of [p, m, v]) g.release(x.buffer);
    return out;
  };
  const a32 = await adam(K.slice(g32, 64, n)), a16 = await adam({ bf16: g16, at: 64 });
  for (let k = 0; k < 3; k++) expect(Buffer.from(a16[k].buffer).equals(Buffer.from(a32[k].buffer)), `adamw ${k}`).toBe(true);
  // 8-bit AdamW: slices of 1000 elements 1024 apart, from element 64 on, in small chunks
  const q: K.QGroup = { offset: 64, n: 1000, stride: 1024, count: 12, block: 0, decayRate: 1 };
  const qmap = put(g, (await import('../src/train/adamw8bit.js')).quantizationTables());
  const adam8 = async (grads: K.GradRef) => {
    const bps = Math.ceil(q.n / K.QBLOCK), blocks = q.count * bps;
    const p = put(g, Float32Array.from({ length: P }, (_, i) => p0[i % n])), codes = g.tensor(K.QWORDS * blocks, 'c'), absmax = g.tensor(2 * blocks, 'a');
    g.clear(codes); g.clear(absmax);
    for (let t = 1; t <= 2; t++) K.adamw8bitUpdate(g, q, K.qchunks(q, 2048), p, grads, codes, absmax, qmap, one, 1e-2, 0.9, 0.95, 1e-8, 0.1, t);
    const out = [await g.read(p), await g.read(codes), await g.read(absmax)];
    for (const x of [p, codes, absmax]) g.release(x.buffer);
    return out;
  };
  const b32 = await adam8(g32), b16 = await adam8({ bf16: g16, at: 0 });
  for (let k = 0; k < 3; k++) expect(Buffer.from(b16[k].buffer).equals(Buffer.from(b32[k].buffer)), `adamw8bit ${k}`).toBe(true);
  for (const x of [g32, g16, one, qmap]) g.release(x.buffer);
}

const TINY = resolve(REPO, 'test/ref/hf/llama-tiny');

async function trainer(o: Partial<TrainOptions>, state?: TrainerState, from?: { w: Record<string, Float32Array>; opt: Record<string, Float32Array | Uint8Array> }) {
  const ck = await readModel(TINY), tokens = Array.from(ids(4000, ck.config.vocabSize, 13));
  const m = Model.create(g!, from ? { ...ck, tensors: from.w } : ck);
  const t = new Trainer(m, tokens, tokens.slice(0, 100), { ...TRAIN_DEFAULTS, steps: 3, batch: 2, seq: 16, valWindows: 2, ...o }, state);
  if (from) await t.optimizer.writeState(from.opt);
  return { m, t, done: () => { t.destroy(); m.destroy(); } };
}

describe('--grad-dtype bf16 in the Trainer', () => {
  it("a step's stored gradients are the f32 run's rounded to nearest even, bit for bit (recompute, clipping on)", async (ctx) => {
    if (!g) return ctx.skip();
    const a = await trainer({ steps: 1, recompute: true }), b = await trainer({ steps: 1, recompute: true, gradDtype: 'bf16' });
    const sa = await a.t.step(), sb = await b.t.step();
    expect(sb.loss).toBe(sa.loss);
    const ga = await a.t.grads.read(), gb = await b.t.grads16!.read();
    let checked = 0;
    for (const [name, want] of Object.entries(ga)) {
      const got = new Uint32Array(gb[name].buffer);
      for (let i = 0; i < want.length; i++) if (got[i] >>> 16 !== bf16Ref(want[i])) expect.fail(`${name}[${i}]: ${got[i].toString(16)} vs ${want[i]}`);
      checked += want.length;
    }
    expect(checked).toBeGreaterThan(1000);
    expect(Math.abs(sb.grad_norm / sa.grad_norm - 1)).toBeLessThan(1e-2);
    expect(b.t.grads.numel).toBeLessThan(a.t.grads.numel); // the f32 staging: one block
    a.done(); b.done();
  });

  it('optimizer-in-backward with bf16 gradients: the same weights as the ordinary bf16 step', async (ctx) => {
    if (!g) return ctx.skip();
    const w = async (o: Partial<TrainOptions>) => {
      const r = await trainer({ clip: 0, gradDtype: 'bf16', optim: 'adamw8bit', ...o });
      while (!r.t.done) await r.t.step();
      const out = (await r.m.readCheckpoint()).tensors;
      r.done();
      return out;
    };
    const a = await w({}), b = await w({ optimInBackward: true }), c = await w({ gradDtype: 'f32' });
    for (const k of Object.keys(a)) expect(Buffer.from(b[k].buffer).equals(Buffer.from(a[k].buffer)), k).toBe(true);
    expect(Object.keys(a).some((k) => !Buffer.from(c[k].buffer).equals(Buffer.from(a[k].buffer)))).toBe(true); // bf16 is not f32
  });

  it('resume: 2 of 4 steps, then a new Trainer from the checkpoint state to step 4, bit-identical to 4 straight (grad-accum 2, clipping, adamw8bit)', async (ctx) => {
    if (!g) return ctx.skip();
    const o: Partial<TrainOptions> = { steps: 4, gradAccum: 2, gradDtype: 'bf16', optim: 'adamw8bit', clip: 0.5, sampling: 'random', seed: 3 };
    const s = await trainer(o);
    const straight = [];
    while (!s.t.done) straight.push((await s.t.step()).loss);
    const ws = (await s.m.readCheckpoint()).tensors;
    s.done();
    const a = await trainer(o); // the same schedule (steps 4), stopped after 2
    const first = [(await a.t.step()).loss, (await a.t.step()).loss];
    const { checkpoint, optimizer } = await a.t.readState(), state = JSON.parse(JSON.stringify(a.t.state)) as TrainerState;
    a.done();
    const b = await trainer(o, state, { w: checkpoint.tensors, opt: Object.fromEntries(optimizer.tensors.map((x) => [x.name, x.data])) });
    const rest = [(await b.t.step()).loss, (await b.t.step()).loss];
    const wb = (await b.m.readCheckpoint()).tensors;
    b.done();
    expect([...first, ...rest]).toEqual(straight);
    for (const k of Object.keys(ws)) expect(Buffer.from(wb[k].buffer).equals(Buffer.from(ws[k].buffer)), k).toBe(true);
  });

  it('refuses a grad dtype other than f32 or bf16', async (ctx) => {
    if (!g) return ctx.skip();
    await expect(trainer({ gradDtype: 'f16' as never })).rejects.toThrow(/`gradDtype` f16: expected f32 or bf16/);
  });
});
