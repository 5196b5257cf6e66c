// adamw: the optimizer, torch.optim.AdamW on the GPU. The moments m and v are arenas of the model's
// parameter layout. Weight decay applies to tensors of rank >= 2 (matrices, embeddings), not to norms
// and biases (PyTorch's usual param groups); as every slice of the arena is aligned, the layout falls
// into a few runs of consecutive tensors with one rate, and AdamW is one dispatch per run (within an
// arena part): no per-element mask is stored. The gradient is scaled by a clip factor on the GPU (src/gpu/kernels/optim.ts
// gradnormClip). The 8-bit variant is src/model/adamw8bit.ts; both implement Optimizer.
import type { View } from '../gpu/gpu.js';
import * as K from '../gpu/kernels/index.js';
import { alignUp, slice } from '../gpu/view.js';
import { parameterShapes, type ModelConfig } from './config.js';
import { Arena, arenaLayout } from './arena.js';
import type { Model } from './model.js';
import type { Params } from './family.js';
import { fail } from '../util/errors.js';

export interface AdamwHyper { lr: number; beta1: number; beta2: number; eps: number; wd: number; t: number }

export const OPTIMIZERS = ['adamw', 'adamw8bit'] as const;
export type OptimName = typeof OPTIMIZERS[number];

/** one tensor of an optimizer's state, as a checkpoint stores it (F32 or U8) */
export interface StateTensor { name: string; shape: number[]; data: Float32Array | Uint8Array }

export interface Optimizer {
  readonly name: OptimName;
  /** the `format` metadata of its optimizer.safetensors */
  readonly format: string;
  /** bytes of GPU memory its state takes */
  readonly stateBytes: number;
  /** one step over every parameter: grads (an Arena of the model's layout) times scale (1) */
  update(grads: Arena, scale: View, h: AdamwHyper): void;
  /** the same step over some (table name, block) slices only, their gradients in `grads` (optimizer-in-backward) */
  updateSlices(grads: Params, slices: [string, number][], scale: View, h: AdamwHyper): void;
  /** the state as named tensors (for a checkpoint) */
  readState(): Promise<StateTensor[]>;
  /** restore what readState() gave (resume), by tensor name */
  writeState(tensors: Record<string, Float32Array | Uint8Array>): void;
  destroy(): void;
}

export const STATE_HINT = 'the optimizer state does not belong to this model; start without `resume`';

/** the weight-decay rate of every table name: 1 on tensors of rank >= 2, 0 on the others */
export function decayRates(c: ModelConfig): Record<string, number> {
  const rate: Record<string, number> = {};
  for (const [name, shape] of parameterShapes(c)) rate[name] = shape.length >= 2 ? 1 : 0;
  return rate;
}

/** [part, offset, numel, rate]: each arena part cut into maximal runs of consecutive slices with one decay rate */
export function decayRuns(c: ModelConfig, partFloats = Infinity): [number, number, number, number][] {
  const rate = decayRates(c), runs: [number, number, number, number][] = [];
  for (const { name, part, offset, numel: n } of arenaLayout(c, partFloats).layout) {
    const last = runs.at(-1), end = offset + alignUp(n);
    if (last && last[0] === part && last[3] === rate[name] && last[1] + last[2] === offset) last[2] = end - last[1];
    else runs.push([part, offset, end - offset, rate[name]]);
  }
  return runs;
}

export class AdamW implements Optimizer {
  readonly name = 'adamw';
  readonly format = 'inheritune-adamw';
  readonly m: Arena;
  readonly v: Arena;
  private runs: [number, number, number, number][];
  private rates: Record<string, number>;

  constructor(private model: Model) {
    const g = model.gpu, c = model.config;
    this.m = new Arena(g, c, 'adam_m');
    this.v = new Arena(g, c, 'adam_v');
    this.runs = decayRuns(c, g.arenaPartFloats);
    this.rates = decayRates(c);
    this.m.clear();
    this.v.clear();
  }

  get stateBytes(): number {
    return 8 * this.m.numel;
  }

  update(grads: Arena, scale: View, h: AdamwHyper): void {
    const p = this.model.params.parts, g = this.model.gpu;
    for (const [k, o, n, rate] of this.runs) {
      K.adamwUpdate(g, slice(p[k], o, n), slice(this.m.parts[k], o, n), slice(this.v.parts[k], o, n), slice(grads.parts[k], o, n), rate, scale, n,
        h.lr, h.beta1, h.beta2, h.eps, h.wd, h.t);
    }
  }

  updateSlices(grads: Params, slices: [string, number][], scale: View, h: AdamwHyper): void {
    const p = this.model.params.views, g = this.model.gpu;
    for (const [name, l] of slices) {
      const n = p[name][l].numel;
      K.adamwUpdate(g, p[name][l], this.m.views[name][l], this.v.views[name][l], grads[name][l], this.rates[name], scale, n,
        h.lr, h.beta1, h.beta2, h.eps, h.wd, h.t);
    }
  }

  /** the moments by parameter name (for a checkpoint) */
  async readMoments(): Promise<{ m: Record<string, Float32Array>; v: Record<string, Float32Array> }> {
    return { m: await this.m.read(), v: await this.v.read() };
  }

  /** moments saved by readMoments() (resume) */
  writeMoments(m: Record<string, Float32Array>, v: Record<string, Float32Array>): void {
    this.m.write(m, 'optimizer m', STATE_HINT);
    this.v.write(v, 'optimizer v', STATE_HINT);
  }

  /** m.NAME and v.NAME, F32, one per table name */
  async readState(): Promise<StateTensor[]> {
    const { m, v } = await this.readMoments();
    return [...Object.entries(m).map(([k, data]) => ({ name: 'm.' + k, shape: [data.length], data })),
      ...Object.entries(v).map(([k, data]) => ({ name: 'v.' + k, shape: [data.length], data }))];
  }

  writeState(tensors: Record<string, Float32Array | Uint8Array>): void {
    const m: Record<string, Float32Array> = {}, v: Record<string, Float32Array> = {};
    for (const [key, data] of Object.entries(tensors)) {
      if (!(data instanceof Float32Array)) fail(`optimizer state: tensor '${key}' is not F32, as AdamW's moments are`, STATE_HINT);
      (key.startsWith('m.') ? m : v)[key.slice(2)] = data;
    }
    this.writeMoments(m, v);
  }

  destroy(): void {
    for (const a of [this.m, this.v]) a.destroy();
  }
}
