// analyze: lazy-layer analysis of attention (the later version of the Inheritune paper, arXiv 2404.08634:
// deep blocks are "lazy", their attention matrices collapse towards rank 1). For every block l and head h,
// over N windows of T tokens, the post-softmax attention A (T,T) of each window gives
//   approximate rank = smallest k with sum_{i<=k} sigma_i^2 >= tau * sum_i sigma_i^2   (sigma: singular values)
//   approximate mass = fewest columns whose squared norms (largest first) hold `mass` of sum A^2
// averaged over the windows. max_rank of a block = max over heads of the averaged rank.
// Reference: test/ref/analyze_ref.py (torch.linalg.svdvals in float64) writes test/ref/analyze_ref.json.
// Sizes: N sequences, T window length, B sequences per forward, L blocks, NH query heads.
import type { Model } from '../model/model.js';
import { assert, fail } from '../util/errors.js';

export interface AnalyzeOptions {
  sequences?: number; // N windows, default 100
  seq?: number;       // T tokens per window, default 100
  tau?: number;       // energy fraction for the approximate rank, default 0.9
  mass?: number;      // squared-mass fraction for the approximate mass, default 0.9
  batch?: number;     // B windows per forward; default: as many as keep one block's (B,NH,T,T) probabilities <= 32 MiB, at most 16
  onProgress?: (done: number, total: number) => void;
}

export interface BlockAnalysis {
  block: number;
  max_rank: number; // max over heads of rank[h]
  rank: number[];   // (NH) approximate rank, averaged over the windows
  mass: number[];   // (NH) approximate mass, averaged over the windows
  lazy: boolean;    // max_rank < LAZY_MAX_RANK
}

export interface Analysis { blocks: BlockAnalysis[]; sequences: number; seq: number; tau: number }

// A block is lazy when its max_rank rounds to 1: every head's rank, averaged over the windows, is below 1.5,
// i.e. every head has rank 1 on most windows. (Ranks are >= 1, so "== 1.0" would let one window out of 100
// with rank 2 in one head un-lazy the whole block.)
export const LAZY_MAX_RANK = 1.5;

// Energies are sums of many rounded terms; a cumulative sum within this relative distance of the threshold
// counts as reaching it, so exact cases (identity: rank ceil(tau*T)) do not hinge on the last bit.
// analyze_ref.py uses the same slack.
const SLACK = 1e-12;
const EPS = 2 ** -52;

/**
 * Attention rank and mass statistics of `model` on the first N non-overlapping windows of T tokens
 * (window i = tokens[i*T, i*T + T)). Shapes: tokens (>= N*T) -> per block, per head averages.
 */
export async function analyzeAttention(model: Model, tokens: ArrayLike<number>, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const N = opts.sequences ?? 100, T = opts.seq ?? 100, tau = opts.tau ?? 0.9, massFrac = opts.mass ?? 0.9;
  const { nLayers: L, nHeads: NH } = model.config;
  if (!(Number.isInteger(N) && N >= 1)) fail(`\`sequences\` ${N} must be a positive integer`);
  if (!(Number.isInteger(T) && T >= 1)) fail(`\`seq\` ${T} must be a positive integer`);
  if (!(tau > 0 && tau <= 1)) fail(`\`tau\` ${tau} must be in (0, 1]`);
  if (!(massFrac > 0 && massFrac <= 1)) fail(`\`mass\` ${massFrac} must be in (0, 1]`);
  if (tokens.length < N * T) {
    const most = Math.floor(tokens.length / T);
    fail(`the text gives ${tokens.length} tokens, but ${N} windows of ${T} tokens need ${N * T}`,
      most >= 1 ? `use \`sequences\` ${most} or less, a shorter \`seq\`, or a longer text` : 'use a shorter `seq` or a longer text');
  }
  const perSeq = NH * T * T; // floats of one window's attention in one block
  const fit = Math.floor((32 << 20) / (4 * perSeq)); // one block's (B,NH,T,T) at a time
  if (opts.batch !== undefined && !(Number.isInteger(opts.batch) && opts.batch >= 1)) fail(`\`batch\` ${opts.batch} must be a positive integer`);
  const B = Math.min(opts.batch ?? Math.max(1, Math.min(16, fit)), N);
  const rankSum = Array.from({ length: L }, () => new Float64Array(NH)); // (L, NH) sums over windows
  const massSum = Array.from({ length: L }, () => new Float64Array(NH));

  for (let w0 = 0; w0 < N; w0 += B) {
    const b = Math.min(B, N - w0);
    const ids = new Uint32Array(b * T);
    for (let i = 0; i < b; i++) for (let t = 0; t < T; t++) ids[i * T + t] = tokens[(w0 + i) * T + t];
    model.forward(ids, b, T);
    for (let l = 0; l < L; l++) {
      // one block at a time: (b, NH, T, T), zeros above the diagonal
      const att = await model.attentionProbs(l);
      for (let i = 0; i < b; i++) {
        for (let h = 0; h < NH; h++) {
          const A = att.subarray((i * NH + h) * T * T, (i * NH + h + 1) * T * T); // (T,T)
          rankSum[l][h] += approxRank(squaredSingularValues(A, T, T), tau);
          massSum[l][h] += approxMass(A, T, T, massFrac);
        }
      }
    }
    opts.onProgress?.(w0 + b, N);
  }
  const blocks = rankSum.map((rs, l) => {
    const rank = Array.from(rs, (s) => s / N), mass = Array.from(massSum[l], (s) => s / N);
    const max_rank = Math.max(...rank);
    return { block: l, max_rank, rank, mass, lazy: max_rank < LAZY_MAX_RANK };
  });
  return { blocks, sequences: N, seq: T, tau };
}

/** windows of T tokens for an analysis of `n` tokens: as many as fit, at most `max` */
export function analysisWindows(n: number, T = 100, max = 100): number {
  return Math.max(0, Math.min(max, Math.floor(n / T)));
}

/**
 * The k blocks of `model` whose attention keeps the highest rank on `tokens` (up to 100 windows of 100
 * tokens): `inherit --select rank-guided`, leaving lazy blocks behind.
 */
export async function rankGuidedBlocks(model: Model, tokens: ArrayLike<number>, k: number): Promise<{ blocks: number[]; analysis: Analysis }> {
  const analysis = await analyzeAttention(model, tokens, { sequences: analysisWindows(tokens.length), seq: 100 });
  return { blocks: rankGuidedSelection(analysis, k), analysis };
}

/**
 * The k blocks with the highest max_rank (ties: the lower index wins), in increasing block order:
 * the blocks that `inherit --select rank-guided` keeps.
 */
export function rankGuidedSelection(analysis: Analysis, k: number): number[] {
  const L = analysis.blocks.length;
  assert(Number.isInteger(k) && k >= 1 && k <= L, `rank-guided selection of ${k} blocks: the analysis has ${L} blocks`, `pick k between 1 and ${L}`);
  const order = analysis.blocks.map((b) => ({ block: b.block, r: b.max_rank }));
  order.sort((x, y) => (y.r - x.r) || (x.block - y.block));
  return order.slice(0, k).map((o) => o.block).sort((x, y) => x - y);
}

// ---- linear algebra on the CPU, float64 ----
// Why not Jacobi: cyclic Jacobi needs ~8 sweeps of ~2n^3 flops each on a 100x100 matrix, and stories260K
// alone needs L*NH*N = 4000 of them. Householder tridiagonalization (4n^3/3, reading one triangle) followed
// by implicit QR with Wilkinson shifts (O(n^2) without eigenvectors) is ~10x cheaper: ~2 ms per matrix in
// Node, ~9 s for those 4000; the Gram A^T A adds n^3/6 for a causal A. Squaring the singular values loses
// the relative accuracy of the tiny ones, but the statistics only need energies, whose absolute error stays
// ~1e-16 * ||A||_F^2. No npm dependency: the ~80 lines below are smaller than any SVD package, and run
// unchanged in browsers and Deno.

/** count of the leading entries of v (sorted descending) whose running sum reaches frac of the total */
export function countToFraction(v: ArrayLike<number>, frac: number): number {
  let total = 0;
  for (let i = 0; i < v.length; i++) total += v[i];
  const thr = frac * total * (1 - SLACK);
  let cum = 0;
  for (let i = 0; i < v.length; i++) {
    cum += v[i];
    if (cum >= thr) return i + 1;
  }
  return v.length;
}

/** approximate rank: smallest k with the top-k of sigma2 (sorted descending) holding tau of the energy */
export function approxRank(sigma2: Float64Array, tau: number): number {
  return countToFraction(sigma2, tau);
}

/** approximate mass: fewest columns of A (M,N row-major) holding frac of the squared mass */
export function approxMass(A: ArrayLike<number>, M: number, N: number, frac: number): number {
  const col = new Float64Array(N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) col[j] += A[i * N + j] * A[i * N + j];
  return countToFraction(col.sort().reverse(), frac);
}

/** squared singular values of A (M,N row-major), descending: the eigenvalues of the Gram A^T A (N,N) */
export function squaredSingularValues(A: ArrayLike<number>, M: number, N: number): Float64Array {
  const G = new Float64Array(N * N), row = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    // add row_i^T row_i, up to the row's last nonzero (a causal row i stops at column i)
    let n = N;
    while (n > 0 && A[i * N + n - 1] === 0) n--;
    for (let j = 0; j < n; j++) row[j] = A[i * N + j];
    for (let j = 0; j < n; j++) {
      const r = row[j];
      if (r === 0) continue;
      for (let k = j; k < n; k++) G[j * N + k] += r * row[k];
    }
  }
  for (let j = 0; j < N; j++) for (let k = j + 1; k < N; k++) G[k * N + j] = G[j * N + k];
  const ev = symmetricEigenvalues(G, N);
  for (let i = 0; i < N; i++) if (ev[i] < 0) ev[i] = 0; // rounding can leave -1e-17 on a PSD matrix
  return ev;
}

/** eigenvalues (descending) of the symmetric S (n,n row-major; only the lower triangle is read); S is overwritten */
export function symmetricEigenvalues(S: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n), e = new Float64Array(Math.max(n - 1, 0));
  // 1) Householder: S = Q^T tri(d, e) Q. Step k zeroes S[k+2.., k] with the reflector H = I - beta v v^T
  //    of x = S[k+1.., k], then S[k+1.., k+1..] <- H S H = S - v q^T - q v^T (Golub & Van Loan 8.3.1)
  const v = new Float64Array(n), p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) { v[i] = S[i * n + k]; norm2 += v[i] * v[i]; }
    const x0 = v[k + 1], tail = norm2 - x0 * x0;
    if (tail === 0) { e[k] = x0; continue; } // already tridiagonal in this column
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    v[k + 1] = x0 - alpha;
    const beta = 2 / (tail + v[k + 1] * v[k + 1]);
    // p = beta S v, reading only the lower triangle row by row (S[i][j] for j < i also serves S[j][i])
    p.fill(0, k + 1);
    for (let i = k + 1; i < n; i++) {
      const row = i * n, vi = v[i];
      let s = S[row + i] * vi;
      for (let j = k + 1; j < i; j++) { const a = S[row + j]; s += a * v[j]; p[j] += a * vi; }
      p[i] += s;
    }
    let vp = 0;
    for (let i = k + 1; i < n; i++) { p[i] *= beta; vp += v[i] * p[i]; }
    const K = beta * vp / 2;
    for (let i = k + 1; i < n; i++) p[i] -= K * v[i]; // q = p - K v
    for (let i = k + 1; i < n; i++) { // lower triangle of S - v q^T - q v^T
      const row = i * n, vi = v[i], qi = p[i];
      for (let j = k + 1; j <= i; j++) S[row + j] -= vi * p[j] + qi * v[j];
    }
    e[k] = alpha;
  }
  for (let i = 0; i < n; i++) d[i] = S[i * n + i];
  if (n >= 2) e[n - 2] = S[(n - 1) * n + n - 2];
  // 2) implicit symmetric QR with the Wilkinson shift on the unreduced block [lo, hi] (G&VL 8.3.2): rotate
  //    (k, k+1) to chase the bulge z = T[k+1, k-1] down the diagonal; deflate negligible e[i] from the bottom
  //    (e[i] is negligible below eps relative to its neighbours, or to ||T|| for a cluster of zeros)
  let anorm = 0;
  for (let i = 0; i < n; i++) anorm = Math.max(anorm, Math.abs(d[i]) + (i > 0 ? Math.abs(e[i - 1]) : 0) + (i < n - 1 ? Math.abs(e[i]) : 0));
  const negligible = (i: number) => Math.abs(e[i]) <= EPS * (Math.abs(d[i]) + Math.abs(d[i + 1])) || Math.abs(e[i]) <= EPS * EPS * anorm;
  let hi = n - 1, iters = 0;
  while (hi > 0) {
    if (negligible(hi - 1)) { e[hi - 1] = 0; hi--; continue; }
    let lo = hi - 1;
    while (lo > 0 && !negligible(lo - 1)) lo--;
    assert(++iters <= 50 * n, `symmetricEigenvalues: no convergence after ${iters} QR steps`);
    const delta = (d[hi - 1] - d[hi]) / 2, b2 = e[hi - 1] * e[hi - 1];
    const mu = d[hi] - b2 / (delta + (delta >= 0 ? 1 : -1) * Math.sqrt(delta * delta + b2));
    let x = d[lo] - mu, z = e[lo];
    for (let k = lo; k < hi; k++) {
      const r = Math.sqrt(x * x + z * z); // no hypot: V8's is slow, and energies of attention cannot overflow
      const c = r === 0 ? 1 : x / r, s = r === 0 ? 0 : z / r;
      if (k > lo) e[k - 1] = r;
      const ak = d[k], ak1 = d[k + 1], bk = e[k];
      d[k] = c * c * ak + 2 * c * s * bk + s * s * ak1;
      d[k + 1] = s * s * ak - 2 * c * s * bk + c * c * ak1;
      e[k] = c * s * (ak1 - ak) + (c * c - s * s) * bk;
      if (k < hi - 1) { x = e[k]; z = s * e[k + 1]; e[k + 1] *= c; }
    }
  }
  return d.sort().reverse();
}
