// grads16: parameter gradients stored in bf16 (--grad-dtype bf16; PyTorch's bf16 .grad of a `bf16-true`
// run), 2 bytes a parameter instead of 4. The backward still sums in f32: it accumulates into a staging
// arena of one block's worth (+ the tensors outside the blocks, src/model/arena.ts aliasLayers), and as
// each block's gradients are complete (Model.backward's blockDone) they are rounded to nearest even
// into the packed bf16 arena (kernels/convert.wgsl store_bf16) and the staging slots cleared for the
// next block; the tensors outside the blocks (embeddings, final norm, head) after the whole backward.
// Micro-batches (--grad-accum): the first stores, each later one reads the stored bf16 widened, adds its
// own f32 sum in f32 and stores bf16 again, so a step's gradient is rounded once per micro-batch (as a
// bf16 .grad accumulates in PyTorch) and no f32 copy of the whole gradient is ever held. The global
// norm, clipping and the optimizers read the bf16 values widened (src/gpu/kernels/optim.ts GradRef).
// Layout: the f32 arena's (arenaLayout), element for element, two elements a u32 word: part p holds
// parts[p] / 2 words, and a slice's padding stays 0 (the norm sums it).
import type { Gpu, View } from '../gpu/gpu.js';
import { Arena, arenaLayout, type Slot } from '../model/arena.js';
import { parameterShapes, type ModelConfig } from '../model/config.js';
import { storeBf16 } from '../gpu/kernels/convert.js';
import type { GradRef } from '../gpu/kernels/optim.js';

export const GRAD_DTYPES = ['f32', 'bf16'] as const;
export type GradDtype = typeof GRAD_DTYPES[number];

export class Grads16 {
  /** what the backward accumulates into: f32, one block's worth + the tensors outside the blocks */
  readonly staging: Arena;
  /** each arena part's bf16 values, two a word (element e of part p: word e >> 1, low half when even) */
  readonly parts: View[];
  /** elements over all parts, padding included (as Arena.numel) */
  readonly numel: number;
  private slots = new Map<string, Slot[]>(); // per table name, its blocks' slices
  private layerNames: string[];
  private restNames: string[];

  constructor(private g: Gpu, readonly config: ModelConfig, label = 'grads16') {
    const { layout, parts } = arenaLayout(config, g.arenaPartFloats);
    this.parts = parts.map((n, i) => ({ buffer: g.alloc(n / 2, parts.length > 1 ? `${label}_${i}` : label), offset: 0, numel: n / 2 }));
    this.numel = parts.reduce((a, b) => a + b, 0);
    for (const s of layout) { let l = this.slots.get(s.name); if (!l) this.slots.set(s.name, l = []); l.push(s); }
    const shapes = parameterShapes(config);
    this.layerNames = shapes.filter(([, , per]) => per).map(([n]) => n);
    this.restNames = shapes.filter(([, , per]) => !per).map(([n]) => n);
    this.staging = new Arena(g, config, `${label}_staging`, { aliasLayers: true });
    this.clear();
  }

  /** the parts as the optimizer kernels read them */
  get refs(): GradRef[] {
    return this.parts.map((p) => ({ bf16: p, at: 0 }));
  }

  /** zero the stored gradients and the staging arena */
  clear(): void {
    for (const p of this.parts) this.g.clear(p);
    this.staging.clear();
  }

  /** block l's staged gradients into bf16 (acc: added to what is stored), then its staging slots cleared */
  storeBlock(l: number, acc: boolean): void {
    this.store(this.layerNames, l, acc);
  }

  /** the tensors outside the blocks: stored as storeBlock stores a block's (after the whole backward) */
  storeRest(acc: boolean): void {
    this.store(this.restNames, 0, acc);
  }

  private store(names: string[], l: number, acc: boolean): void {
    for (const name of names) {
      const s = this.slots.get(name)![l], src = this.staging.views[name][l];
      storeBf16(this.g, this.parts[s.part], s.offset, src, s.numel, acc);
      this.g.clear(src);
    }
  }

  /** the stored gradients widened to f32, by table name (per-block slices concatenated), for tests and inspection */
  async read(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {}, host = await Promise.all(this.parts.map((p) => this.g.read(p)));
    for (const [name, slots] of this.slots) {
      const t = out[name] = new Float32Array(slots.reduce((a, s) => a + s.numel, 0)), bits = new Uint32Array(t.buffer);
      let at = 0;
      for (const s of slots) {
        const words = new Uint32Array(host[s.part].buffer, host[s.part].byteOffset);
        for (let i = 0; i < s.numel; i++) { const e = s.offset + i; bits[at++] = ((words[e >> 1] >>> ((e & 1) * 16)) & 0xffff) << 16; }
      }
    }
    return out;
  }

  destroy(): void {
    for (const p of this.parts) this.g.release(p.buffer);
    this.staging.destroy();
  }
}
