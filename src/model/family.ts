// family: what a model family file (src/model/llama.ts, src/model/gpt2.ts) provides, and the one
// allocator of activation tables. A family declares its activation table and its activation-gradient
// table (llm.c's fill_in_activation_sizes: name -> elements, per block or once) next to the forward
// and backward that fill them; its parameter table is in src/model/config.ts. Adding a family =
// one file like llama.ts, gpt2.ts or neox.ts + its parameter table + an entry in src/model/model.ts's
// FAMILIES (+ its Hugging Face names in src/formats/hfkeys.ts and hfconfig.ts).
import type { Gpu, Precision, View } from '../gpu/gpu.js';
import { alignUp } from '../gpu/view.js';
import * as K from '../gpu/kernels/index.js';
import type { QkvLayout } from '../gpu/kernels/attention.js';
import type { ModelConfig } from './config.js';

/** parameter (or parameter-gradient) views by table name: [layer] for per-block tensors, [0] otherwise */
export type Params = Record<string, View[]>;

/** the activations every family has (the rest are the family's own) */
export interface Acts {
  B: number; T: number;
  hostIds: Uint32Array;  // (B,T) the ids on the CPU (encoder_backward buckets them there)
  ids: View; targets: View; // (B,T) u32
  encoded: View;         // (B,T,C) embeddings, the residual stream's start
  lse: View[];           // (L) x (B,NH,T) log-sum-exp of each attention row (backward recomputes P from it)
  residual3: View[];     // (L) x (B,T,C) the residual stream after each block (hidden states)
  logits: View;          // (B,T,V) in rows of logitsStride(config) floats; backward overwrites it with dlogits
  losses: View;          // (B,T)
  buffers: GPUBuffer[];  // every buffer of the table, for release
}

/**
 * How a per-block activation is stored. 'f16': may be
 * kept in f16 from its block's forward to its backward under --precision f16, because the round trip
 * loses nothing: its values are f16 when written (an f16 matmul's output, unchanged after) or every
 * reader rounds it to f16 (a matmul input). Unmarked per-block entries are kept in f32 per block.
 */
export type Storage = 'f16';

/** a table: name -> [elements, per block?, storage]; entries with 0 elements are not allocated */
export type TableSpec = Record<string, [number, boolean, Storage?]>;

/**
 * A KV cache for generation (src/model/generate.ts): each block's keys and values after RoPE,
 * (B,maxT,KVH*HS), RoPE tables for all maxT positions (null for GPT-2), and how many positions it holds.
 * A forward pass with a cache runs its T tokens at positions past..past+T-1 and appends their k, v.
 */
export interface KvCache { k: View[]; v: View[]; cos: View | null; sin: View | null; past: number; maxT: number }

/**
 * one forward pass: the device, config, parameters and the activation table for (B, T), maybe a cache;
 * the precision its matmuls run at (every matmul launch is given it); with f16 storage (TableStore),
 * `stash` keeps block l's 'f16' entries after its forward and puts them back before its backward
 */
export interface Pass<A extends Acts> { g: Gpu; c: ModelConfig; p: Params; a: A; B: number; T: number; precision: Precision; cache?: KvCache; stash?: Stash }

export interface Stash { save(l: number): void; restore(l: number): void }

/** the blocks' forward, 0..L-1, each followed by its f16 stash (family.forward calls this) */
export function forwardBlocks<A extends Acts>(pass: Pass<A>, block: (pass: Pass<A>, l: number) => void): void {
  for (let l = 0; l < pass.c.nLayers; l++) {
    block(pass, l);
    pass.stash?.save(l);
  }
}

/** block l's activations back in place before its backward: recomputed from its kept input, or out of the f16 stash */
export function enterBlock<A extends Acts>(pass: BackwardPass<A, unknown>, block: (pass: Pass<A>, l: number) => void, l: number): void {
  if (pass.recompute) block(pass, l);
  else pass.stash?.restore(l);
}

/**
 * attention of the pass's T tokens (K.attentionForward), through block l's cache when there is one:
 * the new k, v go into its rows past.., then the queries attend to all past + T keys
 */
export function attend(g: Gpu, out: View, lse: View, q: View, k: View, v: View, B: number, T: number, NH: number, KVH: number, HS: number,
                       layout: QkvLayout | undefined, cache: KvCache | undefined, l: number): void {
  if (!cache) return K.attentionForward(g, out, lse, q, k, v, B, T, NH, KVH, HS, layout);
  const W = KVH * HS, at = layout ?? { qs: NH * HS, q0: 0, kvs: W, k0: 0, v0: 0 }, span = { past: cache.past, keyRows: cache.maxT };
  K.kvCacheWrite(g, cache.k[l], k, B, T, W, at.kvs, at.k0, span);
  K.kvCacheWrite(g, cache.v[l], v, B, T, W, at.kvs, at.v0, span);
  K.attentionForward(g, out, lse, q, cache.k[l], cache.v[l], B, T, NH, KVH, HS, { qs: at.qs, q0: at.q0, kvs: W, k0: 0, v0: 0 }, span);
}

/**
 * one backward pass: also the parameter gradients d (+=) and the activation-gradient table s; the
 * caller has turned a.logits into dlogits (the loss's gradient, src/model/model.ts)
 */
export interface BackwardPass<A extends Acts, S> extends Pass<A> {
  d: Params; s: S;
  /** activation recompute: the table keeps only each block's output, so backward reruns block l's forward first */
  recompute: boolean;
  /** called once block l's parameter gradients are complete (optimizer-in-backward updates them there) */
  blockDone?: (l: number) => void;
}

/**
 * The per-block activations kept under recompute (torch.utils.checkpoint per block): each block's output
 * (= the next block's input). Every other per-block entry is one block's worth, shared by all blocks.
 */
export const KEPT_UNDER_RECOMPUTE: ReadonlySet<string> = new Set(['residual3']);

export interface Family<A extends Acts = any, S = any> {
  /** activation table for (B, T) */
  activations(c: ModelConfig, B: number, T: number): TableSpec;
  /** activation-gradient table for (B, T): one block's worth, reused by every block (llm.c style) */
  gradients(c: ModelConfig, B: number, T: number): TableSpec;
  /** fill constant tables once they exist (e.g. RoPE cos/sin) */
  setup?(g: Gpu, c: ModelConfig, a: A): void;
  /** from a.ids (uploaded) to a.logits; the loss is the caller's */
  forward(pass: Pass<A>): void;
  /** the reverse of forward, from dlogits (in a.logits) to every parameter gradient */
  backward(pass: BackwardPass<A, S>): void;
  /** probs (B,NH,T,T) (=): block l's post-softmax attention of the last forward (the lazy-layer analysis) */
  attentionProbs(pass: Pass<A>, l: number, probs: View): void;
}

/** how a TableStore lays out the per-block entries: recompute keeps only each block's output; f16 stores the 'f16' entries in f16 */
export interface StoreMode { recompute?: boolean; f16?: boolean }

/** does a store of L blocks in this mode keep its 'f16' entries in f16? (L f16 slices + one f32 are less than L f32 from 3 blocks on) */
export const storesF16 = (L: number, mode: StoreMode): boolean => !!mode.f16 && !mode.recompute && L > 2;

// how many slices of f32 a per-block entry holds, and whether it has an f16 stash of L slices
function layoutOf(name: string, perLayer: boolean, storage: Storage | undefined, L: number, mode: StoreMode): { slices: number; stash: boolean } {
  if (!perLayer) return { slices: 1, stash: false };
  if (mode.recompute) return { slices: KEPT_UNDER_RECOMPUTE.has(name) ? L : 1, stash: false };
  if (storage === 'f16' && storesF16(L, mode)) return { slices: 1, stash: true };
  return { slices: L, stash: false };
}

// words of one f16 stash slice of n values (two a word), 256-byte aligned
const stashStride = (n: number) => alignUp(Math.ceil(n / 2));

/**
 * The buffers of a table, sized by capacity: one buffer per entry holding its L per-block slices (each
 * 256-byte aligned) or its one slice. views() cuts any table that fits out of them, so an
 * evaluation batch smaller than the training batch reuses the training buffers. Under recompute every
 * per-block entry but KEPT_UNDER_RECOMPUTE holds one slice that all L blocks'
 * views alias. With f16 storage an 'f16' entry holds one f32 slice (the block being run) and an f16
 * stash of L slices, which stash() fills after a block's forward and restores from before its backward.
 */
export class TableStore {
  readonly buffers: GPUBuffer[] = [];
  private entries = new Map<string, { buffer: GPUBuffer; stride: number; slices: number; stash: GPUBuffer | null }>();

  constructor(private g: Gpu, spec: TableSpec, private L: number, mode: StoreMode = {}) {
    for (const [name, [n, perLayer, storage]] of Object.entries(spec)) {
      if (n === 0) continue;
      const { slices, stash } = layoutOf(name, perLayer, storage, L, mode);
      const stride = alignUp(n), buffer = g.alloc(stride * slices, name);
      this.buffers.push(buffer);
      const s = stash ? g.alloc(stashStride(stride) * L, `${name}_f16`) : null;
      if (s) this.buffers.push(s);
      this.entries.set(name, { buffer, stride, slices, stash: s });
    }
  }

  /** bytes of GPU memory the table's buffers hold */
  get bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += (e.stride * e.slices + (e.stash ? stashStride(e.stride) * this.L : 0)) * 4;
    return n;
  }

  /** the bytes a store of `spec` would hold, and its largest buffer (the memory plan, src/train/plan.ts) */
  static plan(spec: TableSpec, L: number, mode: StoreMode = {}): { bytes: number; largest: [string, number] } {
    let bytes = 0, largest: [string, number] = ['', 0];
    for (const [name, [n, perLayer, storage]] of Object.entries(spec)) {
      if (n === 0) continue;
      const { slices, stash } = layoutOf(name, perLayer, storage, L, mode);
      const b = alignUp(n) * slices * 4, h = stash ? stashStride(alignUp(n)) * L * 4 : 0;
      bytes += b + h;
      for (const [what, x] of [[name, b], [`${name}_f16`, h]] as const) if (x > largest[1]) largest = [what, x];
    }
    return { bytes, largest };
  }

  /** does every entry of `spec` fit the buffers? */
  fits(spec: TableSpec): boolean {
    return Object.entries(spec).every(([name, [n]]) => n === 0 || (this.entries.get(name)?.stride ?? -1) >= n);
  }

  /** the table `spec` as views: a View[] of length L per per-block entry, a View otherwise */
  views<T>(spec: TableSpec, L: number): T {
    const out: Record<string, View | View[]> = {};
    for (const [name, [n, perLayer]] of Object.entries(spec)) {
      const e = this.entries.get(name);
      if (n === 0 || !e) { out[name] = []; continue; }
      const views = Array.from({ length: perLayer ? L : 1 }, (_, l) => ({ buffer: e.buffer, offset: (e.slices === 1 ? 0 : l) * e.stride, numel: n }));
      out[name] = perLayer ? views : views[0];
    }
    return out as T;
  }

  /** the f16 stash of `spec`'s table (null when nothing is stored in f16) */
  stash(spec: TableSpec): Stash | null {
    const kept = Object.entries(spec).filter(([name, [n]]) => n > 0 && this.entries.get(name)?.stash);
    if (kept.length === 0) return null;
    const g = this.g, at = (name: string, n: number, l: number) => {
      const e = this.entries.get(name)!;
      return { f32: { buffer: e.buffer, offset: 0, numel: n }, f16: { buffer: e.stash!, offset: l * stashStride(e.stride), numel: Math.ceil(n / 2) } };
    };
    return {
      save: (l) => { for (const [name, [n]] of kept) { const v = at(name, n, l); K.convertToF16(g, v.f16, v.f32, n); } },
      restore: (l) => { for (const [name, [n]] of kept) { const v = at(name, n, l); K.convertToF32(g, v.f32, v.f16, n, 'F16'); } },
    };
  }
}

/**
 * the loss over the logits rows (N = B*T, rows of ld >= V floats): forward writes each row's loss,
 * backward writes d(objective)/d(logits) over the logits in place, dlosses[n] = d(objective)/d(loss[n]).
 * Without one, Model uses next-token cross-entropy (kernels/crossentropy.wgsl); src/train/distill.ts
 * gives the knowledge-distillation head.
 */
export interface LossHead {
  forward(losses: View, logits: View, targets: View, N: number, V: number, ld: number): void;
  backward(logits: View, dlosses: View, targets: View, N: number, V: number, ld: number): void;
}
