// adamw: the optimizer, torch.optim.AdamW on the GPU. The moments m and v are arenas of the model's
// parameter layout. Weight decay applies to tensors of rank >= 2 (matrices, embeddings), not to norms
// and biases (PyTorch's usual param groups); as every slice of the arena is aligned, the layout falls
// into a few runs of consecutive tensors with one rate, and AdamW is one dispatch per run (within an
// arena part): no per-element mask is stored. The gradient is scaled by a clip factor on the GPU (src/gpu/kernels/optim.ts
// gradnormClip). The 8-bit variant is src/train/adamw8bit.ts; both implement Optimizer.
import type { View } from '../gpu/gpu.js';
import * as K from '../gpu/kernels/index.js';
import { alignUp, slice } from '../gpu/view.js';
import { parameterShapes, type ModelConfig } from '../model/config.js';
import { Arena, arenaLayout } from '../model/arena.js';
import type { Model } from '../model/model.js';
import type { Params } from '../model/family.js';
import { fail } from '../util/errors.js';

export interface AdamwHyper { lr: number; beta1: number; beta2: number; eps: number; wd: number; t: number }

export const OPTIMIZERS = ['adamw', 'adamw8bit'] as const;
export type OptimName = typeof OPTIMIZERS[number];

/** one tensor of an optimizer's state, as a checkpoint stores it (F32 or U8) */
export interface StateTensor { name: string; shape: number[]; data: Float32Array | Uint8Array }

/**
 * one state tensor to write, its bytes read from the GPU piece by piece as produce() hands them over
 * (a safetensors write, src/formats/stwrite.ts): the state is never copied to the CPU whole
 */
export interface StateWrite { name: string; dtype: 'F32' | 'U8'; shape: number[]; produce(emit: (bytes: Uint8Array) => Promise<void>): Promise<void> }

/** a state write gathered into one typed array */
export async function gather(w: StateWrite): Promise<StateTensor> {
  const n = w.shape.reduce((a, b) => a * b, 1), bytes = new Uint8Array(n * (w.dtype === 'U8' ? 1 : 4));
  let at = 0;
  await w.produce(async (b) => { bytes.set(b, at); at += b.byteLength; });
  if (at !== bytes.byteLength) fail(`optimizer state '${w.name}': ${at} of ${bytes.byteLength} bytes`);
  return { name: w.name, shape: w.shape, data: w.dtype === 'U8' ? bytes : new Float32Array(bytes.buffer) };
}

/** the bytes of a read-back view's floats */
export const bytesOf = (x: Float32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

export interface Optimizer {
  readonly name: OptimName;
  /** the `format` metadata of its optimizer.safetensors */
  readonly format: string;
  /** bytes of GPU memory its state takes */
  readonly stateBytes: number;
  /** one step over every parameter: grads (the parts of an arena of the model's layout, f32 or bf16) times scale (1) */
  update(grads: K.GradRef[], scale: View, h: AdamwHyper): void;
  /** the same step over some (table name, block) slices only, their gradients in `grads` (optimizer-in-backward) */
  updateSlices(grads: Params, slices: [string, number][], scale: View, h: AdamwHyper): void;
  /** the state as named tensors, each read from the GPU as it is written (a checkpoint) */
  stateWrites(): StateWrite[];
  /** the state as named tensors in memory (stateWrites() gathered) */
  readState(): Promise<StateTensor[]>;
  /** restore what stateWrites() wrote (resume): get(key) reads one tensor, keys are those the file holds */
  loadState(get: (key: string) => Promise<Float32Array | Uint8Array>, keys: string[]): Promise<void>;
  /** loadState() from tensors in memory */
  writeState(tensors: Record<string, Float32Array | Uint8Array>): Promise<void>;
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

  update(grads: K.GradRef[], scale: View, h: AdamwHyper): void {
    const p = this.model.params.parts, g = this.model.gpu;
    for (const [k, o, n, rate] of this.runs) {
      K.adamwUpdate(g, slice(p[k], o, n), slice(this.m.parts[k], o, n), slice(this.v.parts[k], o, n), K.gradSlice(grads[k], o, n), rate, scale, n,
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

  /** m.NAME and v.NAME, F32, one per table name (its blocks' slices in order), read slice by slice */
  stateWrites(): StateWrite[] {
    const out: StateWrite[] = [], g = this.model.gpu;
    for (const [w, arena] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, views] of Object.entries(arena.views)) {
        const n = views.reduce((a, x) => a + x.numel, 0);
        out.push({ name: `${w}.${name}`, dtype: 'F32', shape: [n], produce: async (emit) => { for (const x of views) await emit(bytesOf(await g.read(x))); } });
      }
    }
    return out;
  }

  async readState(): Promise<StateTensor[]> {
    return Promise.all(this.stateWrites().map(gather));
  }

  async loadState(get: (key: string) => Promise<Float32Array | Uint8Array>, keys: string[]): Promise<void> {
    const known = new Set(Object.keys(this.m.views).flatMap((name) => [`m.${name}`, `v.${name}`]));
    for (const key of keys) if (!known.has(key)) fail(`optimizer state: unexpected tensor '${key}'`, STATE_HINT);
    for (const key of known) {
      if (!keys.includes(key)) fail(`optimizer state: tensor '${key}' is missing`, STATE_HINT);
      const data = await get(key), views = (key[0] === 'm' ? this.m : this.v).views[key.slice(2)];
      if (!(data instanceof Float32Array)) fail(`optimizer state: tensor '${key}' is not F32, as AdamW's moments are`, STATE_HINT);
      const n = views.reduce((a, x) => a + x.numel, 0);
      if (data.length !== n) fail(`optimizer state: tensor '${key}' has ${data.length} values, this model's needs ${n}`, STATE_HINT);
      let at = 0;
      for (const x of views) { this.model.gpu.upload(x, data.subarray(at, at + x.numel)); at += x.numel; }
      await this.model.gpu.sync();
    }
  }

  writeState(tensors: Record<string, Float32Array | Uint8Array>): Promise<void> {
    return this.loadState(async (k) => tensors[k], Object.keys(tensors));
  }

  destroy(): void {
    for (const a of [this.m, this.v]) a.destroy();
  }
}
