// family: what a model family file (src/model/llama.ts, src/model/gpt2.ts) provides, and the one
// allocator of activation tables. A family declares its activation table and its activation-gradient
// table (llm.c's fill_in_activation_sizes: name -> elements, per block or once) next to the forward
// and backward that fill them; its parameter table is in src/model/config.ts. Adding a family =
// one file like llama.ts, gpt2.ts or neox.ts + its parameter table + an entry in src/model/model.ts's
// FAMILIES (+ its Hugging Face names in src/formats/hfkeys.ts and hfconfig.ts).
import type { Gpu, View } from '../gpu/gpu.js';
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

/** a table: name -> [elements, per block?]; entries with 0 elements are not allocated */
export type TableSpec = Record<string, [number, boolean]>;

/**
 * A KV cache for generation (src/model/generate.ts): each block's keys and values after RoPE,
 * (B,maxT,KVH*HS), RoPE tables for all maxT positions (null for GPT-2), and how many positions it holds.
 * A forward pass with a cache runs its T tokens at positions past..past+T-1 and appends their k, v.
 */
export interface KvCache { k: View[]; v: View[]; cos: View | null; sin: View | null; past: number; maxT: number }

/** one forward pass: the device, config, parameters and the activation table for (B, T), maybe a cache */
export interface Pass<A extends Acts> { g: Gpu; c: ModelConfig; p: Params; a: A; B: number; T: number; cache?: KvCache }

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

/**
 * The buffers of a table, sized by capacity: one buffer per entry holding its L per-block slices (each
 * 256-byte aligned) or its one slice. views() cuts any table that fits out of them, so an
 * evaluation batch smaller than the training batch reuses the training buffers. With `shared`, the
 * per-block entries it names hold one slice that all L blocks' views alias (activation recompute).
 */
export class TableStore {
  readonly buffers: GPUBuffer[] = [];
  private entries = new Map<string, { buffer: GPUBuffer; stride: number; slices: number }>();

  constructor(g: Gpu, spec: TableSpec, L: number, shared: (name: string) => boolean = () => false) {
    for (const [name, [n, perLayer]] of Object.entries(spec)) {
      if (n === 0) continue;
      const slices = perLayer && !shared(name) ? L : 1;
      const stride = alignUp(n), buffer = g.alloc(stride * slices, name);
      this.buffers.push(buffer);
      this.entries.set(name, { buffer, stride, slices });
    }
  }

  /** bytes of GPU memory the table's buffers hold */
  get bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.stride * e.slices * 4;
    return n;
  }

  /** the bytes a store of `spec` would hold, and its largest buffer (the memory plan, src/model/plan.ts) */
  static plan(spec: TableSpec, L: number, shared: (name: string) => boolean = () => false): { bytes: number; largest: [string, number] } {
    let bytes = 0, largest: [string, number] = ['', 0];
    for (const [name, [n, perLayer]] of Object.entries(spec)) {
      if (n === 0) continue;
      const b = alignUp(n) * (perLayer && !shared(name) ? L : 1) * 4;
      bytes += b;
      if (b > largest[1]) largest = [name, b];
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
}
