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
import { alignUp, slice } from '../gpu/view.js';
import { arenaLayout } from '../model/arena.js';
import type { Model } from '../model/model.js';
import type { Params } from '../model/family.js';
import { decayRates, gather, bytesOf, STATE_HINT, type AdamwHyper, type Optimizer, type StateTensor, type StateWrite } from './adamw.js';
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

interface Group extends K.QGroup { name: string; part: number; cblock: number; chunks: K.QChunk[] }

export class AdamW8bit implements Optimizer {
  readonly name = 'adamw8bit';
  readonly format = 'inheritune-adamw8bit';
  /**
   * per arena part, (blocks of its slices, 128) u32: per block the 256 m codes, then the 256 v codes, a
   * byte each (2 bytes an element: always within the part's own buffer size)
   */
  readonly codes: View[];
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
      this.groups.push({ name, part, offset, n, stride: alignUp(n), count: 1, block: 0, cblock: 0, decayRate: rate[name], chunks: [] });
    }
    const partBlocks: number[] = [];
    for (const q of this.groups) {
      q.block = block;
      q.cblock = partBlocks[q.part] ?? 0;
      block += q.count * Math.ceil(q.n / B);
      partBlocks[q.part] = q.cblock + q.count * Math.ceil(q.n / B);
      q.chunks = K.qchunks(q, maxBindingFloats);
      for (let s = 0; s < q.count; s++) {
        const one: Group = { ...q, offset: 0, count: 1, block: q.block + s * Math.ceil(q.n / B), cblock: q.cblock + s * Math.ceil(q.n / B), chunks: [] };
        one.chunks = K.qchunks(one, maxBindingFloats);
        let list = this.sliceGroups.get(q.name);
        if (!list) this.sliceGroups.set(q.name, list = []);
        list.push(one);
      }
    }
    this.blocks = block;
    this.codes = Array.from(partBlocks, (nb, p) => g.tensor(K.QWORDS * (nb ?? 0), `adam8_codes_${p}`));
    this.absmax = g.tensor(alignUp(2 * block), 'adam8_absmax');
    this.qmap = g.tensor(1024, 'adam8_qmap');
    g.upload(this.qmap, quantizationTables());
    // every block starts at the zero codes (m: 127, v: 0): 1 MiB of them uploaded once, then copied on
    // the GPU into every chunk of the codes. No host copy of the codes, and no staging buffer per chunk: on
    // a CPU adapter (lavapipe) freed staging stays in the driver's memory, so uploading the codes chunk by
    // chunk (3.4 GiB for 1.8B parameters) added their whole size to what the process holds
    const INIT_BLOCKS = 1 << 11, init = new Uint32Array(K.QWORDS * INIT_BLOCKS);
    for (let b = 0; b < INIT_BLOCKS; b++) init.fill(ZERO_CODE.m * 0x01010101, K.QWORDS * b, K.QWORDS * b + 64);
    const pattern = g.tensor(init.length, 'adam8_init');
    g.upload(pattern, init);
    for (const codes of this.codes) {
      for (let at = 0; at < codes.numel; at += init.length) {
        const n = Math.min(init.length, codes.numel - at);
        g.copy(slice(codes, at, n), slice(pattern, 0, n));
      }
    }
    g.release(pattern.buffer);
    g.clear(this.absmax);
  }

  get stateBytes(): number {
    return 4 * (this.codes.reduce((a, c) => a + c.numel, 0) + this.absmax.numel + this.qmap.numel);
  }

  update(grads: K.GradRef[], scale: View, h: AdamwHyper): void {
    const g = this.model.gpu, p = this.model.params.parts;
    for (const q of this.groups) {
      K.adamw8bitUpdate(g, q, q.chunks, p[q.part], grads[q.part], this.codes[q.part], this.absmax, this.qmap, scale, h.lr, h.beta1, h.beta2, h.eps, h.wd, h.t);
    }
  }

  updateSlices(grads: Params, slices: [string, number][], scale: View, h: AdamwHyper): void {
    const g = this.model.gpu, p = this.model.params.views;
    for (const [name, l] of slices) {
      const q = this.sliceGroups.get(name)![l];
      K.adamw8bitUpdate(g, q, q.chunks, p[name][l], grads[name][l], this.codes[q.part], this.absmax, this.qmap, scale, h.lr, h.beta1, h.beta2, h.eps, h.wd, h.t);
    }
  }

  /**
   * per table name NAME (its slices' elements in order, as the f32 moments are stored):
   * m.absmax.NAME, v.absmax.NAME (F32, a block each), then m.codes.NAME, v.codes.NAME (U8, one code an
   * element): the F32 tensors first, so each is 4-byte aligned in the file. Read slice by slice.
   */
  stateWrites(): StateWrite[] {
    const g = this.model.gpu, absmax: StateWrite[] = [], codes: StateWrite[] = [];
    for (const [name, slices] of this.sliceGroups) {
      const bps = Math.ceil(slices[0].n / B), n = slices[0].n;
      for (const [w, hi] of [['m', 0], ['v', 1]] as const) {
        absmax.push({ name: `${w}.absmax.${name}`, dtype: 'F32', shape: [slices.length * bps], produce: async (emit) => {
          for (const q of slices) {
            const am = await g.read(slice(this.absmax, 2 * q.block, 2 * bps)), out = new Float32Array(bps);
            for (let k = 0; k < bps; k++) out[k] = am[2 * k + hi];
            await emit(bytesOf(out));
          }
        } });
        codes.push({ name: `${w}.codes.${name}`, dtype: 'U8', shape: [slices.length * n], produce: async (emit) => {
          for (const q of slices) {
            const bytes = bytesOf(await g.read(slice(this.codes[q.part], K.QWORDS * q.cblock, K.QWORDS * bps))), out = new Uint8Array(n);
            for (let k = 0; k < bps; k++) out.set(bytes.subarray(4 * K.QWORDS * k + hi * B, 4 * K.QWORDS * k + hi * B + Math.min(B, n - k * B)), k * B);
            await emit(out);
          }
        } });
      }
    }
    return [...absmax, ...codes];
  }

  async readState(): Promise<StateTensor[]> {
    return Promise.all(this.stateWrites().map(gather));
  }

  /** what stateWrites() wrote, by tensor name, one table name at a time (its four tensors), uploaded slice by slice */
  async loadState(get: (key: string) => Promise<Float32Array | Uint8Array>, keys: string[]): Promise<void> {
    const known = new Set([...this.sliceGroups.keys()].flatMap((name) => ['m', 'v'].flatMap((w) => [`${w}.codes.${name}`, `${w}.absmax.${name}`])));
    for (const key of keys) if (!known.has(key)) fail(`optimizer state: unexpected tensor '${key}'`, STATE_HINT);
    for (const key of known) if (!keys.includes(key)) fail(`optimizer state: tensor '${key}' is missing`, STATE_HINT);
    const g = this.model.gpu;
    const take = async <T>(key: string, type: new (n: number) => T & { length: number }, len: number, dtype: string): Promise<T> => {
      const t = await get(key);
      if (!(t instanceof type)) fail(`optimizer state: tensor '${key}' is not ${dtype}`, STATE_HINT);
      if (t.length !== len) fail(`optimizer state: tensor '${key}' has ${t.length} values, this model's needs ${len}`, STATE_HINT);
      return t as T;
    };
    for (const [name, slices] of this.sliceGroups) {
      const n = slices[0].n, bps = Math.ceil(n / B), L = slices.length;
      const c = { m: await take<Uint8Array>(`m.codes.${name}`, Uint8Array, L * n, 'U8'), v: await take<Uint8Array>(`v.codes.${name}`, Uint8Array, L * n, 'U8') };
      const a = { m: await take<Float32Array>(`m.absmax.${name}`, Float32Array, L * bps, 'F32'), v: await take<Float32Array>(`v.absmax.${name}`, Float32Array, L * bps, 'F32') };
      slices.forEach((q, s) => {
        const words = new Uint32Array(K.QWORDS * bps), bytes = new Uint8Array(words.buffer), am = new Float32Array(2 * bps);
        for (let k = 0; k < bps; k++) {
          const len = Math.min(B, n - k * B);
          for (const [w, hi] of [['m', 0], ['v', 1]] as const) {
            const at = 4 * K.QWORDS * k + hi * B;
            bytes.set(c[w].subarray(s * n + k * B, s * n + k * B + len), at);
            bytes.fill(ZERO_CODE[w], at + len, at + B);
            const x = a[w][s * bps + k];
            if (!(x >= 0 && Number.isFinite(x))) fail(`optimizer state: '${w}.absmax.${name}' holds ${x}; an absmax is finite and >= 0`, STATE_HINT);
            am[2 * k + hi] = x;
          }
        }
        g.upload(slice(this.codes[q.part], K.QWORDS * q.cblock, K.QWORDS * bps), words);
        g.upload(slice(this.absmax, 2 * q.block, 2 * bps), am);
      });
      await g.sync(); // bound what the queue holds
    }
  }

  writeState(tensors: Record<string, Float32Array | Uint8Array>): Promise<void> {
    return this.loadState(async (k) => tensors[k], Object.keys(tensors));
  }

  destroy(): void {
    const g = this.model.gpu;
    for (const v of [...this.codes, this.absmax, this.qmap]) g.release(v.buffer);
  }
}
