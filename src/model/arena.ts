// arena: a model's parameter table on the GPU (llm.c's malloc_and_point_parameters): a named,
// 256-byte-aligned view per (tensor, block), laid out in table order over as many GPU buffers
// ("parts") as the device's maxBufferSize needs (Gpu.arenaPartFloats), a tensor never straddling two.
// Parameters, their gradients and the AdamW moments are arenas of the same layout, so zeroing the
// gradients is one clear per part and AdamW one pass per part. Host tensors are (L, ...) stacks by
// table name, as in a Checkpoint. keep16 (a teacher, forward only): the matrices (every 2-D tensor: the
// embeddings, the projections, the head) stay in the checkpoint's 16-bit dtype, two values a word, read
// by the kernels that widen them (src/gpu/kernels/matmul_w16.ts); norms and biases are widened to f32.
import type { Gpu, View } from '../gpu/gpu.js';
import { alignUp, packedWords, slice } from '../gpu/view.js';
import { convertToF32 } from '../gpu/kernels/convert.js';
import { parameterShapes, numel, type ModelConfig } from './config.js';
import type { Params } from './family.js';
import { fail } from '../util/errors.js';

// parts end on a multiple of this many floats, so reductions over parts (gradnormClip) partition as over one buffer
export const PART_ALIGN = 4096;

/** one (tensor, block) slice: its table name, part, offset in the part and length (values); packed: 16-bit, two a word */
export interface Slot { name: string; part: number; offset: number; numel: number; packed?: boolean }

/** 16-bit dtypes weights may be kept in (Arena keep16) */
export type Dtype16 = 'BF16' | 'F16';

/** the tensors keep16 keeps in 16 bits: the matrices (embeddings, projections, head), which only the widening kernels read */
export const keptIn16 = (shape: number[]): boolean => shape.length === 2;

/**
 * every (tensor, block) slice in table order and each part's length (4-byte words, padding included);
 * keep16: the 2-D tensors take half a word a value
 */
export function arenaLayout(c: ModelConfig, partFloats = Infinity, keep16 = false): { layout: Slot[]; parts: number[] } {
  const cap = Math.floor(partFloats / PART_ALIGN) * PART_ALIGN;
  const layout: Slot[] = [];
  const parts = [0];
  for (const [name, shape, perLayer] of parameterShapes(c)) {
    const n = numel(shape), packed = keep16 && keptIn16(shape), size = alignUp(packed ? Math.ceil(n / 2) : n);
    if (size > cap) fail(`parameter '${name}' (${size * 4} bytes) is larger than one GPU buffer may be (${cap * 4} bytes, maxBufferSize)`, 'use a device with a larger maxBufferSize');
    for (let l = 0; l < (perLayer ? c.nLayers : 1); l++) {
      if (parts[parts.length - 1] + size > cap) parts.push(0);
      const part = parts.length - 1;
      layout.push({ name, part, offset: parts[part], numel: n, ...(packed ? { packed } : {}) });
      parts[part] += size;
    }
  }
  return { layout, parts: parts.map((n) => alignUp(n, PART_ALIGN)) };
}

/** raw little-endian values of one (tensor, block) slice, in table layout, handed over in chunks of whole elements */
export type SliceSource = (name: string, layer: number, emit: (dtype: 'F32' | 'F16' | 'BF16', bytes: Uint8Array) => Promise<void>) => Promise<void>;

/** elements per upload (and conversion dispatch): a multiple of the binding alignment, well within binding limits */
const UPLOAD_CHUNK = 1 << 22;

export class Arena {
  readonly views: Params = {};
  readonly layout: Slot[];
  /** each part as one whole-buffer view */
  readonly parts: View[];
  /** elements over all parts, alignment padding included */
  readonly numel: number;

  /** the 16-bit dtype the matrices are kept in (forward only), or null: every tensor f32 */
  readonly keep16: Dtype16 | null;

  /**
   * aliasLayers: hold one block's worth of the per-block tensors, which all L blocks' views share
   * (optimizer-in-backward's gradients: each block's are used up before the next block's begin);
   * read() of such an arena gives that one block. keep16: the matrices in that 16-bit dtype (packed views).
   */
  constructor(private g: Gpu, readonly config: ModelConfig, label: string, opts: { aliasLayers?: boolean; keep16?: Dtype16 } = {}) {
    this.keep16 = opts.keep16 ?? null;
    const { layout, parts } = arenaLayout(opts.aliasLayers ? { ...config, nLayers: 1 } : config, g.arenaPartFloats, !!this.keep16);
    this.layout = layout;
    this.parts = parts.map((n, i) => ({ buffer: g.alloc(n, parts.length > 1 ? `${label}_${i}` : label), offset: 0, numel: n }));
    this.numel = parts.reduce((a, b) => a + b, 0);
    for (const s of layout) (this.views[s.name] ??= []).push({ buffer: this.parts[s.part].buffer, offset: s.offset, numel: s.numel, ...(s.packed ? { dtype: this.keep16! } : {}) });
    if (opts.aliasLayers) for (const [name, , perLayer] of parameterShapes(config)) if (perLayer) this.views[name] = Array(config.nLayers).fill(this.views[name][0]);
  }

  clear(): void {
    for (const p of this.parts) this.g.clear(p);
  }

  /** upload tensors by table name (every slice of the layout must be present), one slice at a time */
  write(tensors: Record<string, Float32Array>, what: string, hint = 'the tensors do not belong to this model'): void {
    this.f32Only('write');
    const used: Record<string, number> = {}, block: Record<string, number> = {};
    for (const s of this.layout) {
      const t = tensors[s.name];
      const at = used[s.name] ?? 0, l = block[s.name] ?? 0;
      if (!t || t.length < at + s.numel) fail(`${what}: tensor '${s.name}' is missing or too short`, hint);
      this.g.upload(this.views[s.name][l], t.subarray(at, at + s.numel));
      used[s.name] = at + s.numel;
      block[s.name] = l + 1;
    }
  }

  /**
   * Fill the arena slice by slice from `src` (every (tensor, block) of the layout, in order): each
   * slice's raw values are uploaded as they come, chunk by chunk, and 16-bit values widened to f32 on
   * the GPU (kernels/convert.wgsl), so no host copy of the arena, or of a whole tensor in f32, is made.
   */
  async upload(src: SliceSource, what: string, onSlice?: (done: number, total: number) => void): Promise<void> {
    const g = this.g, counts: Record<string, number> = {};
    let pending = 0, done = 0;
    for (const { name, numel: n, packed } of this.layout) {
      onSlice?.(done++, this.layout.length);
      const l = (counts[name] = (counts[name] ?? -1) + 1);
      const view = this.views[name][l];
      let at = 0;
      const put16 = packed ? packer(g, view) : null;
      await src(name, l, async (dtype, bytes) => {
        const size = dtype === 'F32' ? 4 : 2, k = bytes.byteLength / size;
        if (!(Number.isInteger(k) && at + k <= n)) fail(`${what}: tensor '${name}' block ${l}: more values than its ${n}`, 'the weights do not belong to this model');
        if (put16) { // kept in the arena's 16-bit dtype, as stored (hfSlices' narrow16 hands a tensor rearranged on the CPU back in it)
          if (dtype !== view.dtype) fail(`${what}: tensor '${name}' block ${l} comes as ${dtype}, and this model keeps its matrices in ${view.dtype}`, 'load it without keep16 (its weights are then widened to f32)');
          put16(bytes);
          at += k;
          if ((pending += bytes.byteLength) >= 1 << 28) { await g.sync(); pending = 0; } // bound what the queue holds
          return;
        }
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
      put16?.(null);
      if (at !== n) fail(`${what}: tensor '${name}' block ${l} has ${at} values, expected ${n}`, 'the weights do not belong to this model');
    }
    await g.sync();
    onSlice?.(done, this.layout.length);
  }

  /** floats [start, start + n) of one (tensor, block) slice read back (default: all of it; a checkpoint is written slice by slice) */
  async readSlice(name: string, layer: number, start = 0, n?: number): Promise<Float32Array> {
    this.f32Only('readSlice');
    const v = this.views[name]?.[layer] ?? fail(`no parameter '${name}' block ${layer} in this model`);
    const k = n ?? v.numel - start;
    if (!(start >= 0 && k >= 0 && start + k <= v.numel)) fail(`readSlice: floats ${start}..${start + k} are outside '${name}' block ${layer} (${v.numel})`);
    return this.g.read({ buffer: v.buffer, offset: v.offset + start, numel: k });
  }

  /** read the arena back as tensors by table name (per-block slices concatenated) */
  async read(): Promise<Record<string, Float32Array>> {
    this.f32Only('read');
    const sizes: Record<string, number> = {};
    for (const s of this.layout) sizes[s.name] = (sizes[s.name] ?? 0) + s.numel;
    const out: Record<string, Float32Array> = {};
    const filled: Record<string, number> = {};
    for (let i = 0; i < this.parts.length; i++) {
      const host = await this.g.read(this.parts[i]);
      for (const s of this.layout) {
        if (s.part !== i) continue;
        out[s.name] ??= new Float32Array(sizes[s.name]);
        out[s.name].set(host.subarray(s.offset, s.offset + s.numel), filled[s.name] ?? 0);
        filled[s.name] = (filled[s.name] ?? 0) + s.numel;
      }
    }
    return out;
  }

  destroy(): void {
    for (const p of this.parts) this.g.release(p.buffer);
  }

  private f32Only(what: string): void {
    if (this.keep16) fail(`${what}: the weights are kept in ${this.keep16} for a forward-only model (a teacher)`, 'load the model without keep16 to read, write or train it');
  }
}

/**
 * An uploader of one packed slot's raw 16-bit values, in order, in chunks of any length: whole words go
 * up as they come (a value left over waits for the next chunk's first); put(null) ends the slot.
 */
function packer(g: Gpu, view: View): (raw: Uint8Array | null) => void {
  let word = 0, carry: Uint8Array | null = null;
  return (raw) => {
    if (raw === null) {
      if (carry) g.upload(packedWords(view, word, 1), new Uint32Array([carry[0] | (carry[1] << 8)]));
      carry = null;
      return;
    }
    if (carry) { const joined = new Uint8Array(raw.byteLength + 2); joined.set(carry); joined.set(raw, 2); raw = joined; carry = null; }
    const words = raw.byteLength >> 2;
    if (raw.byteLength % 4) carry = raw.slice(words * 4);
    for (let i = 0; i < words; i += UPLOAD_CHUNK) {
      const m = Math.min(UPLOAD_CHUNK, words - i);
      g.upload(packedWords(view, word + i, m), new Uint32Array(raw.slice(i * 4, (i + m) * 4).buffer));
    }
    word += words;
  };
}
