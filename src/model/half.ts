// half: the f16 copy of a model's matmul weights, for --precision f16 in real f16 arithmetic
// (Gpu.f16Arithmetic, kernels/matmul_f16.wgsl): every tensor a matmul reads as its weight, rounded to
// nearest even (kernels/convert.wgsl's convert_to_f16, the rounding the kernels apply to an f32 operand,
// so a matmul gives the same result from the copy as from the f32 weight), two values per word, at half
// the f32 bytes. One buffer per parameter-arena part, each tensor on a 256-byte boundary; registered
// with the Gpu (Gpu.halves, src/gpu/halves.ts), where the matmul launchers look a weight's copy up. The f32 weights stay the
// master copy the optimizer updates; the owner (src/model/model.ts) refreshes this one before the first
// forward after they change (Model.weightsChanged, called at the end of each optimizer step).
import type { Gpu, HalfCopy, View } from '../gpu/gpu.js';
import { alignUp, slice } from '../gpu/view.js';
import { convertToF16 } from '../gpu/kernels/convert.js';
import { arenaLayout, type Arena, type Slot } from './arena.js';
import { parameterShapes, type ModelConfig } from './config.js';

// the input embedding tables, read by row lookups (the encoder), not by a matmul, unless tied to the head
const EMBEDDINGS = new Set(['wte', 'token_embedding']);
const POSITIONS = new Set(['wpe']);

/** the tensors a matmul reads as its weight: the 2-D ones, less the position table and an untied input embedding */
export function matmulWeightNames(c: ModelConfig): Set<string> {
  const out = new Set<string>();
  for (const [name, shape] of parameterShapes(c)) {
    if (shape.length === 2 && !POSITIONS.has(name) && (c.tiedEmbeddings || !EMBEDDINGS.has(name))) out.add(name);
  }
  return out;
}

/** each copied slice's word offset in its part's copy, and each part copy's words */
export function halfLayout(c: ModelConfig, partFloats = Infinity): { slots: (Slot & { word: number })[]; parts: number[] } {
  const { layout, parts } = arenaLayout(c, partFloats), names = matmulWeightNames(c);
  const words = parts.map(() => 0), slots: (Slot & { word: number })[] = [];
  for (const s of layout) {
    if (!names.has(s.name)) continue;
    slots.push({ ...s, word: words[s.part] });
    words[s.part] += alignUp(Math.ceil(s.numel / 2));
  }
  return { slots, parts: words };
}

/** bytes of the f16 copy (the memory plan counts them: src/train/plan.ts) */
export function halfBytes(c: ModelConfig, partFloats = Infinity): number {
  return halfLayout(c, partFloats).parts.reduce((a, b) => a + b, 0) * 4;
}

// values per conversion dispatch: a multiple of 2 * ALIGN (aligned word offsets), well within binding limits
const CHUNK = 1 << 22;

export class HalfWeights {
  private readonly copies: { slot: Slot; weight: View; half: View }[] = [];
  private readonly buffers: (GPUBuffer | null)[];

  constructor(private g: Gpu, private params: Arena) {
    const { slots, parts } = halfLayout(params.config, g.arenaPartFloats);
    this.buffers = parts.map((n, i) => (n ? g.alloc(n, `weights_f16_${i}`) : null));
    for (const s of slots) {
      const half = { buffer: this.buffers[s.part]!, offset: s.word, numel: Math.ceil(s.numel / 2) };
      this.copies.push({ slot: s, weight: slice(params.parts[s.part], s.offset, s.numel), half });
    }
    this.params.parts.forEach((p, i) => {
      const mine: HalfCopy[] = this.copies.filter((x) => x.slot.part === i).map((x) => ({ offset: x.slot.offset, numel: x.slot.numel, copy: x.half }));
      g.halves.set(p.buffer, mine);
    });
  }

  /** convert every weight to its copy (encoded in order after the work before it, e.g. an optimizer step) */
  refresh(): void {
    for (const { weight, half } of this.copies) {
      for (let i = 0; i < weight.numel; i += CHUNK) {
        const n = Math.min(CHUNK, weight.numel - i);
        convertToF16(this.g, slice(half, i / 2, Math.ceil(n / 2)), slice(weight, i, n), n);
      }
    }
  }

  /** bytes the copy holds */
  get bytes(): number {
    return this.copies.length ? this.buffers.reduce((a, b) => a + (b?.size ?? 0), 0) : 0;
  }

  destroy(): void {
    for (const p of this.params.parts) this.g.halves.set(p.buffer, []);
    for (const b of this.buffers) if (b) this.g.release(b);
  }
}
