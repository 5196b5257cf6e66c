// select: which K of a reference's L blocks to inherit, chosen from data. Three rules, each a `--select`:
//   rank-guided      the K blocks whose attention keeps the highest rank (analyze.ts: lazy blocks left out)
//   block-influence  ShortGPT's Block Influence (Men et al. 2024, arXiv 2403.03853): BI[l] = 1 - the mean over
//                    all tokens of cos(x[l], x[l+1]), x[l] the residual stream entering block l; the K blocks of
//                    highest BI are kept (the L-K that change the stream least are dropped)
//   angular          Gromov et al. 2024 (arXiv 2403.17887): d[l][n] = the mean over windows of
//                    arccos(cos(x[l], x[l+n])) / pi at each window's last token; the n = L-K consecutive blocks
//                    l*..l*+n-1 with l* = argmin_l d[l][n] are dropped
// Both similarity rules run the model over the first N windows of T tokens and read the residual stream
// after every block. Reference: test/ref/select_ref.py (float64 torch) writes test/ref/select_ref.json.
// Sizes: N windows, T tokens, B windows per forward, L blocks, C dim.
import { slice } from '../gpu/view.js';
import type { Model } from '../model/model.js';
import { fail } from '../util/errors.js';
import { rankGuidedBlocks, analysisWindows } from './analyze.js';
import { defaultK } from './inherit.js';

export const SELECT_RULES = ['rank-guided', 'block-influence', 'angular'] as const;
export type SelectRule = (typeof SELECT_RULES)[number];
export const isSelectRule = (s: unknown): s is SelectRule => SELECT_RULES.includes(s as SelectRule);

export interface BlockSimilarity {
  block_influence: number[]; // (L) 1 - mean cos(x[l], x[l+1]) over all tokens
  angular: number[][];       // angular[l][n-1] = d(x[l], x[l+n]) for n = 1..L-l, at the windows' last tokens
  sequences: number; seq: number;
}

/** the residual stream's similarities between blocks over the first N windows of T tokens */
export async function blockSimilarity(model: Model, tokens: ArrayLike<number>, opts: { sequences?: number; seq?: number } = {}): Promise<BlockSimilarity> {
  const T = opts.seq ?? 100, N = opts.sequences ?? analysisWindows(tokens.length, T);
  const { nLayers: L, dim: C } = model.config, g = model.gpu;
  if (!(Number.isInteger(N) && N >= 1 && Number.isInteger(T) && T >= 1)) fail(`\`sequences\` ${N} and \`seq\` ${T} must be positive integers`);
  if (tokens.length < N * T) fail(`the text gives ${tokens.length} tokens, but ${N} windows of ${T} tokens need ${N * T}`, 'use a longer text, fewer `sequences` or a shorter `seq`');
  const cosSum = new Float64Array(L), ang = Array.from({ length: L }, (_, l) => new Float64Array(L - l));
  const B = Math.max(1, Math.min(16, N));
  for (let s0 = 0; s0 < N; s0 += B) {
    const b = Math.min(B, N - s0);
    const a = model.forward(Array.from({ length: b * T }, (_, i) => tokens[s0 * T + i]), b, T);
    const xs = [a.encoded, ...a.residual3.slice(0, L)];                      // x[0..L], each (b,T,C)
    const h = await Promise.all(xs.map((v) => g.read(slice(v, 0, b * T * C))));
    for (let l = 0; l < L; l++) for (let r = 0; r < b * T; r++) cosSum[l] += cosine(h[l], h[l + 1], r * C, C);
    for (let l = 0; l < L; l++) for (let n = 1; n <= L - l; n++) {
      for (let i = 0; i < b; i++) {
        const at = (i * T + T - 1) * C;                                       // the window's last token
        ang[l][n - 1] += Math.acos(Math.max(-1, Math.min(1, cosine(h[l], h[l + n], at, C)))) / Math.PI;
      }
    }
  }
  return { block_influence: Array.from(cosSum, (x) => 1 - x / (N * T)), angular: ang.map((row) => Array.from(row, (x) => x / N)), sequences: N, seq: T };
}

function cosine(a: Float32Array, b: Float32Array, at: number, C: number): number {
  let ab = 0, aa = 0, bb = 0;
  for (let c = at; c < at + C; c++) { ab += a[c] * b[c]; aa += a[c] * a[c]; bb += b[c] * b[c]; }
  return ab / Math.sqrt(aa * bb);
}

function checkK(k: number, L: number): void {
  if (!(Number.isInteger(k) && k >= 1 && k <= L)) fail(`cannot keep ${k} of ${L} blocks`, `use \`layers\` from 1 to ${L}`);
}

/** the K blocks of highest block influence, in model order (the lower index first on ties) */
export function blockInfluenceSelection(s: BlockSimilarity, k: number): number[] {
  const L = s.block_influence.length;
  checkK(k, L);
  return [...Array(L).keys()].sort((x, y) => s.block_influence[y] - s.block_influence[x] || x - y).slice(0, k).sort((x, y) => x - y);
}

/** the blocks left after dropping the L-K consecutive ones whose ends are closest in angle */
export function angularSelection(s: BlockSimilarity, k: number): number[] {
  const L = s.angular.length, n = L - k;
  checkK(k, L);
  if (n === 0) return [...Array(L).keys()];
  let best = 0;
  for (let l = 1; l <= L - n; l++) if (s.angular[l][n - 1] < s.angular[best][n - 1]) best = l;
  return [...Array(L).keys()].filter((l) => l < best || l >= best + n);
}

/** the K blocks a rule picks on `tokens`, and one line saying why (for logs) */
export async function guidedBlocks(model: Model, tokens: ArrayLike<number>, k: number, rule: SelectRule): Promise<{ blocks: number[]; why: string }> {
  checkK(k, model.config.nLayers);
  if (rule === 'rank-guided') {
    const { blocks, analysis } = await rankGuidedBlocks(model, tokens, k);
    return { blocks, why: `MaxRank per block [${analysis.blocks.map((b) => b.max_rank.toFixed(1)).join(', ')}]` };
  }
  const s = await blockSimilarity(model, tokens, { seq: 100 });
  if (rule === 'block-influence') return { blocks: blockInfluenceSelection(s, k), why: `block influence [${s.block_influence.map((x) => x.toFixed(4)).join(', ')}]` };
  const n = model.config.nLayers - k;
  return { blocks: angularSelection(s, k), why: n ? `angular distance over ${n} blocks from each start [${s.angular.slice(0, k + 1).map((r) => r[n - 1].toFixed(4)).join(', ')}]` : 'all blocks' };
}

/**
 * A `select` (the CLI's --select) as the blocks to inherit: a block list as it is; a rule, the k blocks
 * (`layers`, default defaultK of the reference) it picks on the tokens the reference is opened with
 * (`open`, called only for a rule; the model is destroyed after), with `why` for the log; none, no
 * blocks (inherit and the recipe then take the first k).
 */
export async function resolveSelect(select: number[] | SelectRule | undefined, layers: number | undefined,
                                    open: () => Promise<{ model: Model; tokens: ArrayLike<number> }>): Promise<{ blocks?: number[]; why?: string }> {
  if (!isSelectRule(select)) return { blocks: select };
  const { model, tokens } = await open();
  try {
    return await guidedBlocks(model, tokens, layers ?? defaultK(model.config.nLayers), select);
  } finally {
    model.destroy();
  }
}
