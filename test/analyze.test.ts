// analyze: the float64 eigen-solver behind the attention ranks against matrices with known singular values
// and an independent one-sided Jacobi SVD; rankGuidedSelection on a hand-made analysis; and the GPU analysis
// of stories260K (100 windows x 100 tokens of tinystories_val.txt) against test/ref/analyze_ref.py.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseLlama2c, Model, Llama2cTokenizer, type Gpu } from '../src/node/index.js';
import { analyzeAttention, rankGuidedSelection, squaredSingularValues, symmetricEigenvalues, approxRank, approxMass,
  LAZY_MAX_RANK, type Analysis } from '../src/method/analyze.js';
import { REPO, SHARED, testGpu, rng, randn } from './helpers.js';

// ---- small float64 helpers ----
const matmul = (A: Float64Array, B: Float64Array, n: number) => {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) C[i * n + j] += A[i * n + k] * B[k * n + j];
  return C;
};

/** a random orthogonal matrix: modified Gram-Schmidt on the columns of a Gaussian matrix */
function orthogonal(n: number, seed: number): Float64Array {
  const Q = Float64Array.from(randn(n * n, seed));
  for (let j = 0; j < n; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += Q[i * n + j] * Q[i * n + p];
      for (let i = 0; i < n; i++) Q[i * n + j] -= dot * Q[i * n + p];
    }
    let nrm = 0;
    for (let i = 0; i < n; i++) nrm += Q[i * n + j] ** 2;
    for (let i = 0; i < n; i++) Q[i * n + j] /= Math.sqrt(nrm);
  }
  return Q;
}

/** oracle: one-sided (Hestenes) Jacobi SVD, squared singular values descending; slow but independent */
function jacobiSigma2(A: Float64Array, n: number): Float64Array {
  const U = A.slice();
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let a = 0, b = 0, c = 0;
        for (let i = 0; i < n; i++) { a += U[i * n + p] ** 2; b += U[i * n + q] ** 2; c += U[i * n + p] * U[i * n + q]; }
        if (Math.abs(c) <= 1e-15 * Math.sqrt(a * b)) continue;
        off = Math.max(off, Math.abs(c) / Math.sqrt(a * b));
        const zeta = (b - a) / (2 * c), t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.hypot(1, zeta));
        const cs = 1 / Math.hypot(1, t), sn = cs * t;
        for (let i = 0; i < n; i++) {
          const up = U[i * n + p], uq = U[i * n + q];
          U[i * n + p] = cs * up - sn * uq;
          U[i * n + q] = sn * up + cs * uq;
        }
      }
    }
    if (off < 1e-15) break;
  }
  const s2 = new Float64Array(n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) s2[j] += U[i * n + j] ** 2;
  return s2.sort().reverse();
}

/** a causal row-stochastic matrix like a softmax attention: row t spreads over columns 0..t */
function causalSoftmax(n: number, seed: number, temp: number): Float64Array {
  const z = randn(n * n, seed), A = new Float64Array(n * n);
  for (let t = 0; t < n; t++) {
    let s = 0;
    for (let j = 0; j <= t; j++) s += (A[t * n + j] = Math.exp(temp * z[t * n + j]));
    for (let j = 0; j <= t; j++) A[t * n + j] /= s;
  }
  return A;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number) {
  expect(got.length).toBe(want.length);
  let md = 0;
  for (let i = 0; i < want.length; i++) md = Math.max(md, Math.abs(got[i] - want[i]));
  expect(md, `max |diff| ${md.toExponential(2)}`).toBeLessThanOrEqual(atol);
}

describe('analyze (CPU): singular values in float64', () => {
  it('diagonal: sigma^2 = d^2, sorted', () => {
    const A = new Float64Array(16);
    [3, -1, 0.5, 2].forEach((v, i) => (A[i * 4 + i] = v));
    expectClose(squaredSingularValues(A, 4, 4), [9, 4, 1, 0.25], 1e-15);
    expect(approxRank(squaredSingularValues(A, 4, 4), 0.9)).toBe(2);  // 9/14.25 < 0.9 <= 13/14.25
    expect(approxRank(squaredSingularValues(A, 4, 4), 0.95)).toBe(3);
  });

  it('rank-1 outer product u v^T: one singular value ||u|| ||v||, rank 1', () => {
    const n = 100, u = randn(n, 1), v = randn(n, 2);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = u[i] * v[j];
    const s2 = squaredSingularValues(A, n, n);
    const nu = u.reduce((a, x) => a + x * x, 0), nv = v.reduce((a, x) => a + x * x, 0);
    expect(Math.abs(s2[0] - nu * nv) / (nu * nv)).toBeLessThan(1e-13);
    expect(s2.subarray(1).every((x) => x <= 1e-12 * nu * nv)).toBe(true);
    expect(approxRank(s2, 0.9)).toBe(1);
    expect(approxRank(s2, 1)).toBe(1);
  });

  it('identity: rank ceil(tau * T)', () => {
    for (const [T, tau] of [[100, 0.9], [100, 0.5], [10, 0.85], [10, 0.7], [7, 1 / 3], [33, 0.99]]) {
      const I = new Float64Array(T * T);
      for (let i = 0; i < T; i++) I[i * T + i] = 1;
      expect(approxRank(squaredSingularValues(I, T, T), tau), `T=${T} tau=${tau}`).toBe(Math.ceil(tau * T - 1e-9));
      expect(approxMass(I, T, T, tau)).toBe(Math.ceil(tau * T - 1e-9));
    }
  });

  it('U diag(s) V^T with random orthogonal U, V: sigma^2 = s^2', () => {
    for (const n of [2, 3, 17, 100]) {
      const r = rng(n);
      const s = Array.from({ length: n }, (_, i) => (i < n / 2 ? 10 * r() : r() * 1e-3)); // a spread of scales, some tiny
      const U = orthogonal(n, 10 + n), V = orthogonal(n, 20 + n);
      const US = U.map((x, k) => x * s[k % n]);
      const Vt = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Vt[i * n + j] = V[j * n + i];
      const want = Float64Array.from(s, (x) => x * x).sort().reverse();
      expectClose(squaredSingularValues(matmul(US, Vt, n), n, n), want, 1e-12 * want[0]);
    }
  });

  it('causal softmax-like matrices and random symmetric ones agree with a one-sided Jacobi SVD', () => {
    for (const [seed, temp] of [[1, 0.5], [2, 3], [3, 12]]) {
      const A = causalSoftmax(100, seed, temp);
      const s2 = squaredSingularValues(A, 100, 100), want = jacobiSigma2(A, 100);
      expectClose(s2, want, 1e-13 * want[0]);
    }
    const n = 40, X = Float64Array.from(randn(n * n, 7));
    const S = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = X[i * n + j] + X[j * n + i];
    const ev = symmetricEigenvalues(S.slice(), n); // descending, signed
    const sq = Float64Array.from(ev, (x) => x * x).sort().reverse();
    expectClose(sq, jacobiSigma2(S, n), 1e-11 * sq[0]); // |eigenvalue| = singular value of a symmetric matrix
    let trace = 0;
    for (let i = 0; i < n; i++) trace += S[i * n + i];
    expect(Math.abs(ev.reduce((a, x) => a + x, 0) - trace)).toBeLessThan(1e-11);
  });

  it('degenerate inputs: zeros, 1x1, repeated eigenvalues, a non-square A', () => {
    expectClose(squaredSingularValues(new Float64Array(9), 3, 3), [0, 0, 0], 0);
    expectClose(symmetricEigenvalues(Float64Array.of(-2), 1), [-2], 0);
    const Q = orthogonal(6, 5), D = [4, 4, 4, 1, 1, 0];
    const S = new Float64Array(36);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) for (let k = 0; k < 6; k++) S[i * 6 + j] += Q[i * 6 + k] * D[k] * Q[j * 6 + k];
    expectClose(symmetricEigenvalues(S, 6), D, 1e-14);
    // (3, 2): sigma^2 are the eigenvalues of A^T A (2, 2)
    const A = Float64Array.of(1, 0, 0, 2, 0, 0);
    expectClose(squaredSingularValues(A, 3, 2), [4, 1], 0);
  });

  it('approximate mass counts the heaviest columns', () => {
    // column squared norms 0.64+0.25, 0.36, 0.75 -> sorted 0.89, 0.75, 0.36 (total 2): 0.9 needs all 3, 0.8 needs 2
    const A = Float64Array.of(0.8, 0.6, 0, 0.5, 0, Math.sqrt(0.75));
    expect(approxMass(A, 2, 3, 0.9)).toBe(3);
    expect(approxMass(A, 2, 3, 0.8)).toBe(2);
    expect(approxMass(A, 2, 3, 0.4)).toBe(1);
  });
});

describe('rankGuidedSelection', () => {
  const mk = (r: number[]): Analysis => ({ sequences: 1, seq: 1, tau: 0.9,
    blocks: r.map((max_rank, block) => ({ block, max_rank, rank: [max_rank], mass: [1], lazy: max_rank < LAZY_MAX_RANK })) });
  it('the k highest max_rank, ties to the lower index, in block order', () => {
    const a = mk([2, 5, 3, 5, 1, 1, 3]);
    expect(rankGuidedSelection(a, 1)).toEqual([1]);
    expect(rankGuidedSelection(a, 2)).toEqual([1, 3]);
    expect(rankGuidedSelection(a, 3)).toEqual([1, 2, 3]);  // 3 at blocks 2 and 6: block 2 wins
    expect(rankGuidedSelection(a, 4)).toEqual([1, 2, 3, 6]);
    expect(rankGuidedSelection(a, 6)).toEqual([0, 1, 2, 3, 4, 6]); // 1 at blocks 4 and 5: block 4 wins
    expect(rankGuidedSelection(a, 7)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(rankGuidedSelection(mk([1, 1, 1]), 2)).toEqual([0, 1]);
    expect(rankGuidedSelection(mk([1.25, 1.5, 1.2500001]), 1)).toEqual([1]);
  });
  it('k outside 1..L is an error naming the range', () => {
    expect(() => rankGuidedSelection(mk([1, 2]), 3)).toThrow(/between 1 and 2/);
    expect(() => rankGuidedSelection(mk([1, 2]), 0)).toThrow(/between 1 and 2/);
    expect(() => rankGuidedSelection(mk([1, 2]), 1.5)).toThrow(/between 1 and 2/);
  });
});

// ---- GPU: stories260K against the PyTorch reference ----
const ref = JSON.parse(readFileSync(resolve(REPO, 'test/ref/analyze_ref.json'), 'utf8'));
let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

describe('analyzeAttention: stories260K vs test/ref/analyze_ref.py', () => {
  it('ranks, masses and lazy flags per block and head (100 windows of 100 tokens)', async (ctx) => {
    if (!g) return ctx.skip();
    const ck = parseLlama2c(new Uint8Array(readFileSync(resolve(SHARED, ref.model))));
    const tok = await Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(resolve(SHARED, 'stories260k/tok512.bin'))), { vocabSize: 512 });
    // tokenized as `eval` does: BOS, then the whole file
    const ids = tok.encode(readFileSync(resolve(SHARED, ref.text), 'utf8'), { bos: true });
    expect(ids.length, 'HINT: the tokenizer changed? re-run test/ref/analyze_ref.py').toBe(ref.n_ids);
    expect(ids.slice(0, 8)).toEqual(ref.ids_head);
    expect(ids.slice(0, ref.sequences * ref.seq).reduce((a, x) => a + x, 0)).toBe(ref.ids_sum);
    const model = Model.create(g, ck);
    const t0 = performance.now();
    let calls = 0;
    const a = await analyzeAttention(model, ids, { sequences: ref.sequences, seq: ref.seq, tau: ref.tau, mass: ref.mass_fraction,
      onProgress: (done, total) => { calls++; expect(total).toBe(ref.sequences); expect(done).toBeLessThanOrEqual(total); } });
    const s = (performance.now() - t0) / 1000;
    model.destroy();
    expect(calls).toBeGreaterThan(0);
    expect(a.sequences).toBe(ref.sequences);
    expect(a.seq).toBe(ref.seq);
    expect(a.tau).toBe(ref.tau);
    expect(a.blocks.length).toBe(ref.blocks.length);
    // averages of integers over the same windows: equal unless a window sits within float32 rounding of a
    // threshold; analyze_ref.py lists such windows in "borderline" (each may move an average by 1/N)
    const slack = (l: number, h: number, kind: string) =>
      ref.borderline.filter((b: any) => b.block === l && b.head === h && b.kind === kind).length / ref.sequences + 1e-6;
    let differ = 0;
    for (const [l, want] of ref.blocks.entries()) {
      const got = a.blocks[l];
      console.log(`block ${l}: max_rank ${got.max_rank.toFixed(2)} (ref ${want.max_rank.toFixed(2)})${got.lazy ? ' LAZY' : ''}  ` +
        `rank [${got.rank.map((x) => x.toFixed(2)).join(' ')}]  mass [${got.mass.map((x) => x.toFixed(2)).join(' ')}]`);
      expect(got.block).toBe(l);
      for (let h = 0; h < want.rank.length; h++) {
        differ += Number(Math.abs(got.rank[h] - want.rank[h]) > 1e-9) + Number(Math.abs(got.mass[h] - want.mass[h]) > 1e-9);
        expect(Math.abs(got.rank[h] - want.rank[h]), `block ${l} head ${h} rank`).toBeLessThanOrEqual(slack(l, h, 'rank'));
        expect(Math.abs(got.mass[h] - want.mass[h]), `block ${l} head ${h} mass`).toBeLessThanOrEqual(slack(l, h, 'mass'));
      }
      expect(got.max_rank).toBe(Math.max(...got.rank));
      expect(got.lazy, `block ${l} lazy`).toBe(want.lazy);
    }
    console.log(`analyzeAttention: ${ref.sequences} x ${ref.seq} tokens, ${a.blocks.length} blocks in ${s.toFixed(1)} s; ` +
      `${differ} of ${2 * a.blocks.length * a.blocks[0].rank.length} head averages differ from the reference ` +
      `(${ref.borderline.length} borderline windows there); rank-guided k=2: [${rankGuidedSelection(a, 2)}]`);
  }, 300_000);

  it('batching does not change the result; T = 1 makes every block lazy; too few tokens is an error', async (ctx) => {
    if (!g) return ctx.skip();
    const ck = parseLlama2c(new Uint8Array(readFileSync(resolve(SHARED, ref.model))));
    const model = Model.create(g, ck);
    const ids = Array.from(randn(1000, 3), (x) => Math.floor(Math.abs(x) * 150) % 512);
    const one = await analyzeAttention(model, ids, { sequences: 10, seq: 64, batch: 10 });
    const three = await analyzeAttention(model, ids, { sequences: 10, seq: 64, batch: 3 }); // 3 + 3 + 3 + 1
    expect(three).toEqual(one);
    // a 1x1 attention matrix is [1]: rank 1 and mass 1 in every head, so every block is lazy
    const t1 = await analyzeAttention(model, ids, { sequences: 5, seq: 1 });
    expect(t1.blocks.map((b) => [b.max_rank, b.lazy, Math.max(...b.mass)])).toEqual(Array(5).fill([1, true, 1]));
    expect(rankGuidedSelection(t1, 3)).toEqual([0, 1, 2]);
    await expect(analyzeAttention(model, new Uint32Array(250).fill(1), { sequences: 3, seq: 100 })).rejects.toThrow(/`sequences` 2 or less/);
    await expect(analyzeAttention(model, ids, { tau: 0 })).rejects.toThrow(/`tau` 0 must be in \(0, 1\]/);
    model.destroy();
  });
});
