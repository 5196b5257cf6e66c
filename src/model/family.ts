// family: what a model family file (src/model/llama.ts, src/model/gpt2.ts) provides, and the one
// allocator of activation tables. A family declares its activation table and its activation-gradient
// table (llm.c's fill_in_activation_sizes: name -> elements, per block or once) next to the forward
// and backward that fill them; its parameter table is in src/model/config.ts. Adding a family =
// one file like llama.ts + its parameter table + an entry in src/model/model.ts's FAMILIES.
import type { Gpu, View } from '../gpu/gpu.js';
import { alignUp } from '../gpu/view.js';
import type { ModelConfig } from './config.js';

/** parameter (or parameter-gradient) views by table name: [layer] for per-block tensors, [0] otherwise */
export type Params = Record<string, View[]>;

/** the activations every family has (the rest are the family's own) */
export interface Acts {
  B: number; T: number;
  hostIds: Uint32Array;  // (B,T) the ids on the CPU (encoder_backward buckets them there)
  ids: View; targets: View; // (B,T) u32
  encoded: View;         // (B,T,C) embeddings, the residual stream's start
  att: View[];           // (L) x (B,NH,T,T) post-softmax attention (the lazy-layer analysis reads it)
  residual3: View[];     // (L) x (B,T,C) the residual stream after each block (hidden states)
  logits: View;          // (B,T,V) in rows of logitsStride(config) floats; backward overwrites it with dlogits
  losses: View;          // (B,T)
  buffers: GPUBuffer[];  // every buffer of the table, for release
}

/** a table: name -> [elements, per block?]; entries with 0 elements are not allocated */
export type TableSpec = Record<string, [number, boolean]>;

/** one forward pass: the device, config, parameters and the activation table for (B, T) */
export interface Pass<A extends Acts> { g: Gpu; c: ModelConfig; p: Params; a: A; B: number; T: number }

/**
 * one backward pass: also the parameter gradients d (+=) and the activation-gradient table s; the
 * caller has turned a.logits into dlogits (the loss's gradient, src/model/model.ts)
 */
export interface BackwardPass<A extends Acts, S> extends Pass<A> { d: Params; s: S }

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
}

/**
 * Allocate a table: one buffer per entry, per-block entries as L slices each 256-byte aligned
 * (a View[] of length L), the others as one View. Buffers are pushed to `buffers`.
 */
export function allocTable<T>(g: Gpu, spec: TableSpec, L: number, buffers: GPUBuffer[]): T {
  const out: Record<string, View | View[]> = {};
  for (const [name, [n, perLayer]] of Object.entries(spec)) {
    if (n === 0) { out[name] = []; continue; }
    const layers = perLayer ? L : 1, stride = alignUp(n);
    const buffer = g.alloc(stride * layers, name);
    buffers.push(buffer);
    const views = Array.from({ length: layers }, (_, l) => ({ buffer, offset: l * stride, numel: n }));
    out[name] = perLayer ? views : views[0];
  }
  return out as T;
}
