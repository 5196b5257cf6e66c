// arena: one GPU buffer laid out as a model's parameter table (llm.c's malloc_and_point_parameters):
// a named, 256-byte-aligned view per (tensor, block). Parameters, their gradients and the AdamW
// moments are four arenas of the same layout, so zeroing the gradients is one clear and AdamW is one
// dispatch over everything. Host tensors are (L, ...) stacks by table name, as in a Checkpoint.
import type { Gpu, View } from '../gpu/gpu.js';
import { alignUp } from '../gpu/view.js';
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
