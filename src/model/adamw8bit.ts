// adamw8bit: AdamW with 8-bit block-wise quantized moments, after Dettmers et al. 2022, "8-bit
// Optimizers via Block-wise Quantization" (arXiv 2110.02861) and bitsandbytes' blockwise 8-bit Adam.
// - blocks: 256 consecutive elements of one (tensor, layer) slice of the parameter arena (the block
//   size bitsandbytes' 8-bit blockwise optimizers allocate absmax for: n // 256 blocks a tensor, plus
//   one for a tail; it is also one workgroup of 256 threads, a thread per element). A slice's last
//   block may be short. Each block keeps absmax(m) and max(v) in f32.
// - codes: one byte per element and moment, in the dynamic tree map (the paper's dynamic quantization;
//   bitsandbytes' create_dynamic_map with 7 exponent bits): m in the signed map, v in the unsigned one.
// - update (kernels/adamw8bit.wgsl): dequantize, AdamW exactly as f32 AdamW does (torch semantics), then
//   requantize with the block's new absmax to the nearest code (a tie goes to the lower code).
// State per parameter: 2 bytes of codes (+ the short blocks' padding) + 8 bytes of absmax per 256.
// Groups: the slices of one table name in one arena part are consecutive and of one size, so each is one group
// (src/gpu/kernels/optim.ts QGroup) and one dispatch (more when a binding is too small).
import type { View } from '../gpu/gpu.js';
import * as K from '../gpu/kernels/index.js';
import { alignUp } from '../gpu/view.js';
import { arenaLayout, type Arena } from './arena.js';
import type { Model } from './model.js';
import type { Params } from './family.js';
import { decayRates, STATE_HINT, type AdamwHyper, type Optimizer, type StateTensor } from './adamw.js';
import { fail } from '../util/errors.js';

const B = K.QBLOCK;

/** decimal exponents of the map's 7 ranges: 1e-6 ... 1 */
const DECADES = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];

/**
 * The dynamic tree quantization map of 256 values in [-1, 1] (signed) or [0, 1] (unsigned), sorted,
 * in float32: for i = 0..6, the midpoints of linspace(0.1, 1, F + 1) scaled by 10^(i-6), with F = 2^i
 * values (and their negatives) when signed, F = 2^(i+1) when unsigned; then 0 and 1. Computed in float64
 * and rounded once (bitsandbytes computes the same values in float32 arithmetic: within 1-2 ulp).
 */
export function dynamicMap(signed: boolean): Float32Array {
  const data: number[] = [0, 1];
  for (let i = 0; i < 7; i++) {
    const F = signed ? 2 ** i : 2 ** (i + 1);
    for (let k = 0; k < F; k++) {
      const lo = 0.1 + (0.9 * k) / F, hi = 0.1 + (0.9 * (k + 1)) / F;
      const x = DECADES[i] * ((lo + hi) / 2);
      data.push(x);
      if (signed) data.push(-x);
    }
  }
  const out = Float32Array.from(data).sort();
  if (out.length !== 256) throw new Error(`dynamicMap: ${out.length} values`);
  return out;
}

/** (1024): the signed map, the unsigned map, then each one's 255 midpoints (float32) and +inf */
export function quantizationTables(): Float32Array {
  const t = new Float32Array(4 * 256);
  const s = dynamicMap(true), u = dynamicMap(false);
  t.set(s, 0); t.set(u, 256);
  for (const [q, at] of [[s, 512], [u, 768]] as const) {
    for (let k = 0; k < 255; k++) t[at + k] = Math.fround((q[k] + q[k + 1]) / 2);
    t[at + 255] = Infinity;
  }
  return t;
}

/** the code of 0 in the signed map (m) and in the unsigned map (v) */
export const ZERO_CODE = { m: 127, v: 0 };

interface Group extends K.QGroup { name: string; part: number; chunks: K.QChunk[] }

export class AdamW8bit implements Optimizer {
  readonly name = 'adamw8bit';
  readonly format = 'inheritune-adamw8bit';
  /** (blocks, 128) u32: per block the 256 m codes, then the 256 v codes, a byte each */
  readonly codes: View;
  /** (2 * blocks) f32: absmax of m, max of v, per block */
  readonly absmax: View;
  readonly blocks: number;
  private qmap: View;
  private groups: Group[] = [];
  /** per table name, one single-slice group per block (optimizer-in-backward) */
  private sliceGroups = new Map<string, Group[]>();

  constructor(private model: Model, maxBindingFloats = model.gpu.bindingFloats) {
    const g = model.gpu, c = model.config, rate = decayRates(c);
    let block = 0;
    for (const { name, part, offset, numel: n } of arenaLayout(c, g.arenaPartFloats).layout) {
      const last = this.groups.at(-1);
      if (last?.name === name && last.part === part) { last.count++; continue; } // a name's slices in one part are consecutive
      this.groups.push({ name, part, offset, n, stride: alignUp(n), count: 1, block: 0, decayRate: rate[name], chunks: [] });
    }
    for (const q of this.groups) {
      q.block = block;
      block += q.count * Math.ceil(q.n / B);
      q.chunks = K.qchunks(q, maxBindingFloats);
      for (let s = 0; s < q.count; s++) {
        const one: Group = { ...q, offset: 0, count: 1, block: q.block + s * Math.ceil(q.n / B), chunks: [] };
        one.chunks = K.qchunks(one, maxBindingFloats);
        let list = this.sliceGroups.get(q.name);
        if (!list) this.sliceGroups.set(q.name, list = []);
        list.push(one);
      }
    }
    this.blocks = block;
    this.codes = g.tensor(K.QWORDS * block, 'adam8_codes');
    this.absmax = g.tensor(alignUp(2 * block), 'adam8_absmax');
    this.qmap = g.tensor(1024, 'adam8_qmap');
    g.upload(this.qmap, quantizationTables());
    const init = new Uint32Array(K.QWORDS * block);
    for (let b = 0; b < block; b++) init.fill(ZERO_CODE.m * 0x01010101, K.QWORDS * b, K.QWORDS * b + 64);
    g.upload(this.codes, init);
    g.clear(this.absmax);
  }

  get stateBytes(): number {
    return 4 * (this.codes.numel + this.absmax.numel + this.qmap.numel);
  }

  update(grads: Arena, scale: View, h: AdamwHyper): void {
    const g = this.model.gpu, p = this.model.params.parts;
    for (const q of this.groups) {
      K.adamw8bitUpdate(g, q, q.chunks, p[q.part], grads.parts[q.part], this.codes, this.absmax, this.qmap, scale, h.lr, h.beta1, h.beta2, h.eps, h.wd, h.t);
    }
  }

  updateSlices(grads: Params, slices: [string, number][], scale: View, h: AdamwHyper): void {
    const g = this.model.gpu, p = this.model.params.views;
    for (const [name, l] of slices) {
      const q = this.sliceGroups.get(name)![l];
      K.adamw8bitUpdate(g, q, q.chunks, p[name][l], grads[name][l], this.codes, this.absmax, this.qmap, scale, h.lr, h.beta1, h.beta2, h.eps, h.wd, h.t);
    }
  }

  /**
   * per table name NAME (its slices' elements in order, as the f32 moments are stored):
   * m.codes.NAME, v.codes.NAME (U8, one code an element) and m.absmax.NAME, v.absmax.NAME (F32, a block each)
   */
  async readState(): Promise<StateTensor[]> {
    const g = this.model.gpu;
    const bytes = new Uint8Array((await g.read(this.codes)).buffer), am = await g.read(this.absmax);
    const out: StateTensor[] = [], codes: StateTensor[] = [];
    for (const q of this.groups) {
      const bps = Math.ceil(q.n / B), nb = q.count * bps;
      const c = { m: new Uint8Array(q.count * q.n), v: new Uint8Array(q.count * q.n) };
      const a = { m: new Float32Array(nb), v: new Float32Array(nb) };
      for (let s = 0; s < q.count; s++) {
        for (let k = 0; k < bps; k++) {
          const blk = q.block + s * bps + k, len = Math.min(B, q.n - k * B), at = s * q.n + k * B;
          c.m.set(bytes.subarray(4 * K.QWORDS * blk, 4 * K.QWORDS * blk + len), at);
          c.v.set(bytes.subarray(4 * K.QWORDS * blk + B, 4 * K.QWORDS * blk + B + len), at);
          a.m[s * bps + k] = am[2 * blk];
          a.v[s * bps + k] = am[2 * blk + 1];
        }
      }
      for (const w of ['m', 'v'] as const) {
        out.push({ name: `${w}.absmax.${q.name}`, shape: [nb], data: a[w] });
        codes.push({ name: `${w}.codes.${q.name}`, shape: [c[w].length], data: c[w] });
      }
    }
    return [...out, ...codes]; // the F32 tensors first: every one 4-byte aligned in the file
  }

  writeState(tensors: Record<string, Float32Array | Uint8Array>): void {
    const bytes = new Uint8Array(4 * this.codes.numel), am = new Float32Array(this.absmax.numel);
    const get = <T>(key: string, type: new (n: number) => T & { length: number }, len: number, dtype: string): T => {
      const t = tensors[key];
      if (!t) fail(`optimizer state: tensor '${key}' is missing`, STATE_HINT);
      if (!(t instanceof type)) fail(`optimizer state: tensor '${key}' is not ${dtype}`, STATE_HINT);
      if (t.length !== len) fail(`optimizer state: tensor '${key}' has ${t.length} values, this model's needs ${len}`, STATE_HINT);
      return t as T;
    };
    for (const q of this.groups) {
      const bps = Math.ceil(q.n / B), nb = q.count * bps;
      for (const [w, hi] of [['m', 0], ['v', B]] as const) {
        const c = get<Uint8Array>(`${w}.codes.${q.name}`, Uint8Array, q.count * q.n, 'U8');
        const a = get<Float32Array>(`${w}.absmax.${q.name}`, Float32Array, nb, 'F32');
        for (let s = 0; s < q.count; s++) {
          for (let k = 0; k < bps; k++) {
            const blk = q.block + s * bps + k, len = Math.min(B, q.n - k * B), at = 4 * K.QWORDS * blk + hi;
            bytes.set(c.subarray(s * q.n + k * B, s * q.n + k * B + len), at);
            bytes.fill(ZERO_CODE[w], at + len, at + B);
            const x = a[s * bps + k];
            if (!(x >= 0 && Number.isFinite(x))) fail(`optimizer state: '${w}.absmax.${q.name}' holds ${x}; an absmax is finite and >= 0`, STATE_HINT);
            am[2 * blk + (w === 'm' ? 0 : 1)] = x;
          }
        }
      }
    }
    const known = new Set(this.groups.flatMap((q) => ['m', 'v'].flatMap((w) => [`${w}.codes.${q.name}`, `${w}.absmax.${q.name}`])));
    for (const key of Object.keys(tensors)) if (!known.has(key)) fail(`optimizer state: unexpected tensor '${key}'`, STATE_HINT);
    const g = this.model.gpu;
    g.upload(this.codes, new Uint32Array(bytes.buffer));
    g.upload(this.absmax, am);
  }

  destroy(): void {
    const g = this.model.gpu;
    for (const v of [this.codes, this.absmax, this.qmap]) g.release(v.buffer);
  }
}
