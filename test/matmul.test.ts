// matmul variants: every variant this adapter can run ('subgroup', 'regs', 'tiled', forced through
// GpuOptions.force, and 'scalar' for shapes the vec4 variants cannot take) against the float64 CPU
// oracle, forward and backward (dinp, dweight, dbias, += accumulation, a padded dout row stride, chunks),
// on shapes that are not multiples of any tile; the vec4 variants give bit-identical results (same
// summation order), so the tuner's choice never changes a number; the passes fused into a matmul give
// the bits of the unfused ones; the tuner records its choices.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createGpu, type Gpu } from '../src/node/index.js';
import * as K from '../src/gpu/kernels/index.js';
import { matmulCandidates, type MatmulVariant } from '../src/gpu/kernels/matmul.js';
import * as cpu from './cpu.js';
import { testGpu, randn, checkTensor, put } from './helpers.js';

let base: Gpu | null = null;
const gpus = new Map<MatmulVariant, Gpu>();
beforeAll(async () => {
  base = await testGpu();
  if (!base) return;
  for (const v of [...matmulCandidates(base, 4), 'scalar'] as MatmulVariant[]) gpus.set(v, await createGpu({ force: { matmul: v } }));
});
afterAll(() => { for (const g of gpus.values()) g.destroy(); base?.destroy(); });

// (N, C, OC): odd everywhere; C and OC multiples of 4 (what the vec4 variants take) with odd N; larger
const SHAPES: [number, number, number][] = [[13, 37, 29], [33, 68, 76], [70, 132, 100], [1, 4, 8]];

describe('matmul variants vs float64 CPU reference', () => {
  it('this adapter offers the vec4 variants it can run', () => {
    if (!base) return;
    expect(matmulCandidates(base, 4)).toEqual(base.subgroups8 ? ['subgroup', 'regs', 'tiled'] : ['regs', 'tiled']);
    expect(matmulCandidates(base, 4, 37)).toEqual([]);
  });

  it('forward: every variant, with and without bias; the vec4 variants agree bit for bit', async (ctx) => {
    if (!base) return ctx.skip();
    for (const [N, C, OC] of SHAPES) {
      const x = randn(N * C, 1), w = randn(OC * C, 2), b = randn(OC, 3);
      for (const bias of [null, b]) {
        const outs: Float32Array[] = [];
        for (const [v, g] of gpus) {
          const out = g.tensor(N * OC, 'out');
          K.matmulForward(g, out, put(g, x), put(g, w), bias ? put(g, bias) : null, N, C, OC);
          const got = await g.read(out);
          checkTensor(`${v} forward ${N}x${C}x${OC}${bias ? ' bias' : ''}`, got, cpu.matmulForward(x, w, bias, N, C, OC), 1e-5, 1e-4);
          if (v !== 'scalar' && C % 4 === 0) outs.push(got);
        }
        for (const o of outs) expect(o).toEqual(outs[0]);
      }
    }
  });

  it('backward: dinp (= and +=), dweight and dbias (+=) for every variant, a padded dout stride, chunked', async (ctx) => {
    if (!base) return ctx.skip();
    for (const [N, C, OC] of [...SHAPES, [65, 64, 37]] as [number, number, number][]) {
      const x = randn(N * C, 4), w = randn(OC * C, 5), dout = randn(N * OC, 6), prior = randn(N * C, 7);
      const ref = cpu.matmulBackward(dout, x, w, N, C, OC);
      const ldd = Math.ceil(OC / 4) * 4 + 4; // a padded row stride (GPT-2's head: 50257 -> 50260)
      const padded = new Float32Array(N * ldd).fill(Number.NaN);
      for (let n = 0; n < N; n++) padded.set(dout.subarray(n * OC, (n + 1) * OC), n * ldd);
      const results: Float32Array[][] = [];
      for (const [v, g] of gpus) {
        for (const [label, d, opts] of [['tight', dout, {}], ['padded', padded, { ldd }], ['chunked', dout, { maxBindingFloats: 64 * Math.max(C, OC) }]] as const) {
          const dinp = put(g, prior), dweight = put(g, new Float32Array(OC * C).fill(0.5)), dbias = put(g, new Float32Array(OC).fill(0.25));
          K.matmulBackward(g, dinp, dweight, dbias, put(g, d), put(g, x), put(g, w), N, C, OC, { ...opts, accumulate: true });
          const name = `${v} ${label} ${N}x${C}x${OC}`;
          const got = [await g.read(dinp), await g.read(dweight), await g.read(dbias)];
          checkTensor(`${name} dinp +=`, got[0], prior.map((p, i) => p + ref.dinp[i]), 1e-5, 1e-4);
          checkTensor(`${name} dweight +=`, got[1], ref.dweight.map((r) => r + 0.5), 1e-5, 1e-4);
          checkTensor(`${name} dbias +=`, got[2], ref.dbias.map((r) => r + 0.25), 1e-5, 1e-4);
          const dinp2 = put(g, prior);
          K.matmulBackward(g, dinp2, g.tensor(OC * C, 'dw'), null, put(g, d), put(g, x), put(g, w), N, C, OC, opts);
          checkTensor(`${name} dinp =`, await g.read(dinp2), ref.dinp, 1e-5, 1e-4);
          if (v !== 'scalar' && C % 4 === 0 && label === 'padded') results.push(got);
        }
      }
      for (const r of results) for (let i = 0; i < 3; i++) expect(r[i]).toEqual(results[0][i]);
    }
  });

  it('fused passes (residual add, GELU forward, GELU backward; tanh and erf) for every variant: the float64 oracle, and bit for bit the unfused passes', async (ctx) => {
    if (!base) return ctx.skip();
    const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    for (const [N, C, OC] of [...SHAPES, [65, 64, 37]] as [number, number, number][]) {
      const x = randn(N * C, 11), w = randn(OC * C, 12), b = randn(OC, 13), res = randn(N * OC, 14), dout = randn(N * OC, 15), pre = randn(N * C, 16, 2);
      const prod = cpu.matmulForward(x, w, b, N, C, OC), dprod = cpu.matmulBackward(dout, x, w, N, C, OC).dinp;
      for (const [v, g] of gpus) {
        const name = `${v} ${N}x${C}x${OC}`;
        // residual: out = res + x w^T + b, against the product plus res in f32 (the add a residual kernel would do)
        const out = g.tensor(N * OC, 'out'), plain = g.tensor(N * OC, 'plain');
        K.matmulForward(g, out, put(g, x), put(g, w), put(g, b), N, C, OC, OC, { residual: put(g, res) });
        K.matmulForward(g, plain, put(g, x), put(g, w), put(g, b), N, C, OC);
        const fusedRes = await g.read(out), unfused = (await g.read(plain)).map((p, i) => Math.fround(res[i] + p));
        checkTensor(`${name} + residual`, fusedRes, prod.map((p, i) => p + res[i]), 1e-5, 1e-4);
        expect(same(fusedRes, unfused), `${name} + residual, bits`).toBe(true);
        for (const form of ['tanh', 'erf'] as const) {
          const [fwd, bwd] = form === 'tanh' ? [cpu.geluForward, cpu.geluBackward] : [cpu.geluErfForward, cpu.geluErfBackward];
          // forward: out = the pre-activation, act = its GELU
          const o = g.tensor(N * OC, 'o'), act = g.tensor(N * OC, 'act'), act2 = g.tensor(N * OC, 'act2');
          K.matmulForward(g, o, put(g, x), put(g, w), put(g, b), N, C, OC, OC, { gelu: { form, act } });
          const [gotPre, gotAct] = [await g.read(o), await g.read(act)];
          checkTensor(`${name} gelu ${form} pre`, gotPre, prod, 1e-5, 1e-4);
          checkTensor(`${name} gelu ${form}`, gotAct, fwd(prod), 1e-5, 1e-4);
          (form === 'tanh' ? K.geluForward : K.geluErfForward)(g, act2, o, N * OC);
          expect(same(gotAct, await g.read(act2)), `${name} gelu ${form}, bits`).toBe(true);
          // backward: dinp = gelu'(pre) * dout w, one binding and chunked (the unfused fallback)
          for (const opts of [{}, { maxBindingFloats: 64 * Math.max(C, OC) }]) {
            const dx = g.tensor(N * C, 'dx'), dx2 = g.tensor(N * C, 'dx2'), dprev = g.tensor(N * C, 'dprev'), pv = put(g, pre);
            K.matmulBackward(g, dx, g.tensor(OC * C, 'dw'), null, put(g, dout), put(g, x), put(g, w), N, C, OC, { ...opts, gelu: { form, pre: pv } });
            K.matmulBackward(g, dprev, g.tensor(OC * C, 'dw'), null, put(g, dout), put(g, x), put(g, w), N, C, OC, opts);
            (form === 'tanh' ? K.geluBackward : K.geluErfBackward)(g, dx2, pv, dprev, N * C);
            const got = await g.read(dx);
            checkTensor(`${name} gelu ${form} backward ${JSON.stringify(opts)}`, got, bwd(dprod, pre), 1e-5, 1e-4);
            expect(same(got, await g.read(dx2)), `${name} gelu ${form} backward, bits`).toBe(true);
          }
        }
      }
    }
  });

  it('the tuner keeps one choice per shape class and reports what ran; a restored choice wins', async (ctx) => {
    if (!base) return ctx.skip();
    const g = await createGpu({ tuneCache: { load: () => ({}), save: () => {} } });
    try {
      const [N, C, OC] = [64, 64, 96];
      const out = g.tensor(N * OC, 'out'), x = put(g, randn(N * C, 8)), w = put(g, randn(OC * C, 9));
      K.matmulForward(g, out, x, w, null, N, C, OC);
      const key = 'matmul:fwd:M64:N96:K64';
      expect(g.tuner.used()[key]).toBe(matmulCandidates(g, 4)[0]);   // the best guess before tuning
      expect(g.tuner.pending).toBe(1);
      await g.tune();
      expect(g.tuner.pending).toBe(0);
      expect(matmulCandidates(g, 4)).toContain(g.tuner.used()[key] === undefined ? '' : g.tuner.used()[key]);
      g.tuner.use({ [key]: 'tiled' });
      K.matmulForward(g, out, x, w, null, N, C, OC);
      expect(g.tuner.used()[key]).toBe('tiled');
      checkTensor('after restore', await g.read(out), cpu.matmulForward(await g.read(x), await g.read(w), null, N, C, OC), 1e-5, 1e-4);
    } finally {
      g.destroy();
    }
  });
});
