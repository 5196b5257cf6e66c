// arena: one GPU buffer laid out as a model's parameter table (llm.c's malloc_and_point_parameters):
// a named, 256-byte-aligned view per (tensor, block). Parameters, their gradients and the AdamW
// moments are four arenas of the same layout, so zeroing the gradients is one clear and AdamW is one
// dispatch over everything. Host tensors are (L, ...) stacks by table name, as in a Checkpoint.
import type { Gpu, View } from '../gpu/gpu.js';
import { alignUp, slice } from '../gpu/view.js';
import { convertToF32 } from '../gpu/kernels/convert.js';
import { parameterShapes, numel, type ModelConfig } from './config.js';
import type { Params } from './family.js';
import { fail } from '../util/errors.js';

/** (name, offset, numel) of every (tensor, block) slice in table order, and the arena's length */
export function arenaLayout(c: ModelConfig): { layout: [string, number, number][]; numel: number } {
  const layout: [string, number, number][] = [];
  let total = 0;
  for (const [name, shape, perLayer] of parameterShapes(c)) {
    const n = numel(shape);
    for (let l = 0; l < (perLayer ? c.nLayers : 1); l++) { layout.push([name, total, n]); total += alignUp(n); }
  }
  return { layout, numel: total };
}

/** raw little-endian values of one (tensor, block) slice, in table layout, handed over in chunks of whole elements */
export type SliceSource = (name: string, layer: number, emit: (dtype: 'F32' | 'F16' | 'BF16', bytes: Uint8Array) => Promise<void>) => Promise<void>;

/** elements per upload (and conversion dispatch): a multiple of the binding alignment, well within binding limits */
const UPLOAD_CHUNK = 1 << 22;

export class Arena {
  readonly views: Params = {};
  readonly layout: [string, number, number][];
  /** elements, alignment padding included */
  readonly numel: number;
  readonly buffer: GPUBuffer;

  constructor(private g: Gpu, readonly config: ModelConfig, label: string) {
    ({ layout: this.layout, numel: this.numel } = arenaLayout(config));
    this.buffer = g.alloc(this.numel, label);
    for (const [name, offset, n] of this.layout) (this.views[name] ??= []).push({ buffer: this.buffer, offset, numel: n });
  }

  /** the whole arena as one view */
  get all(): View {
    return { buffer: this.buffer, offset: 0, numel: this.numel };
  }

  clear(): void {
    this.g.clear(this.all);
  }

  /** upload tensors by table name (every slice of the layout must be present) */
  write(tensors: Record<string, Float32Array>, what: string, hint?: string): void {
    this.g.upload(this.all, this.pack(tensors, what, hint));
  }

  /**
   * Fill the arena slice by slice from `src` (every (tensor, block) of the layout, in order): each
   * slice's raw values are uploaded as they come, chunk by chunk, and 16-bit values widened to f32 on
   * the GPU (kernels/convert.wgsl), so no host copy of the arena, or of a whole tensor in f32, is made.
   */
  async upload(src: SliceSource, what: string): Promise<void> {
    const g = this.g, counts: Record<string, number> = {};
    let pending = 0;
    for (const [name, offset, n] of this.layout) {
      const l = (counts[name] = (counts[name] ?? -1) + 1);
      const view: View = { buffer: this.buffer, offset, numel: n };
      let at = 0;
      await src(name, l, async (dtype, bytes) => {
        const size = dtype === 'F32' ? 4 : 2, k = bytes.byteLength / size;
        if (!(Number.isInteger(k) && at + k <= n)) fail(`${what}: tensor '${name}' block ${l}: more values than its ${n}`, 'the weights do not belong to this model');
        for (let i = 0; i < k; i += UPLOAD_CHUNK) {
          const m = Math.min(UPLOAD_CHUNK, k - i), part = bytes.subarray(i * size, (i + m) * size);
          if (dtype === 'F32') g.upload(slice(view, at + i, m), new Float32Array(part.slice().buffer));
          else {
            const words = new Uint32Array(Math.ceil(m / 2));
            new Uint8Array(words.buffer).set(part);
            const inp = slice(g.scratch('convert_input', words.length), 0, words.length);
            g.upload(inp, words);
            convertToF32(g, slice(view, at + i, m), inp, m, dtype);
            g.flush(); // the next chunk reuses the input buffer: queue writes are ordered after this submit
          }
          if ((pending += m * 4) >= 1 << 28) { await g.sync(); pending = 0; } // bound what the queue holds
        }
        at += k;
      });
      if (at !== n) fail(`${what}: tensor '${name}' block ${l} has ${at} values, expected ${n}`, 'the weights do not belong to this model');
    }
    await g.sync();
  }

  /** one (tensor, block) slice read back (a checkpoint written slice by slice) */
  async readSlice(name: string, layer: number): Promise<Float32Array> {
    const v = this.views[name]?.[layer] ?? fail(`no parameter '${name}' block ${layer} in this model`);
    return this.g.read(v);
  }

  /** read the arena back as tensors by table name */
  async read(): Promise<Record<string, Float32Array>> {
    return this.unpack(await this.g.read(this.all));
  }

  /** split a host copy of the arena into tensors by name (per-block slices concatenated) */
  unpack(host: Float32Array): Record<string, Float32Array> {
    const sizes: Record<string, number> = {};
    for (const [name, , n] of this.layout) sizes[name] = (sizes[name] ?? 0) + n;
    const out: Record<string, Float32Array> = {};
    const filled: Record<string, number> = {};
    for (const [name, offset, n] of this.layout) {
      out[name] ??= new Float32Array(sizes[name]);
      out[name].set(host.subarray(offset, offset + n), filled[name] ?? 0);
      filled[name] = (filled[name] ?? 0) + n;
    }
    return out;
  }

  /** a host copy of the arena from tensors by name */
  pack(tensors: Record<string, Float32Array>, what: string, hint = 'the tensors do not belong to this model'): Float32Array {
    const host = new Float32Array(this.numel);
    const used: Record<string, number> = {};
    for (const [name, offset, n] of this.layout) {
      const t = tensors[name];
      const at = used[name] ?? 0;
      if (!t || t.length < at + n) fail(`${what}: tensor '${name}' is missing or too short`, hint);
      host.set(t.subarray(at, at + n), offset);
      used[name] = at + n;
    }
    return host;
  }

  destroy(): void {
    this.g.release(this.buffer);
  }
}
