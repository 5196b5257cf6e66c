// adamw: the optimizer, torch.optim.AdamW on the GPU. The moments m and v are arenas of the model's
// parameter layout, so one pass per arena part updates every parameter; the per-element weight-decay mask is 1
// on tensors of rank >= 2 (matrices, embeddings) and 0 on norms and biases (PyTorch's usual param
// groups). The gradient is scaled by a clip factor on the GPU (src/gpu/kernels/optim.ts gradnormClip).
import type { View } from '../gpu/gpu.js';
import * as K from '../gpu/kernels/index.js';
import { parameterShapes } from './config.js';
import { Arena } from './arena.js';
import type { Model } from './model.js';

export interface AdamwHyper { lr: number; beta1: number; beta2: number; eps: number; wd: number; t: number }

export class AdamW {
  readonly m: Arena;
  readonly v: Arena;
  private decay: Arena;

  constructor(private model: Model) {
    const g = model.gpu, c = model.config;
    this.m = new Arena(g, c, 'adam_m');
    this.v = new Arena(g, c, 'adam_v');
    this.decay = new Arena(g, c, 'decay');
    const rank: Record<string, number> = {};
    for (const [name, shape] of parameterShapes(c)) rank[name] = shape.length;
    const masks = this.decay.parts.map((p) => new Float32Array(p.numel));
    for (const s of this.decay.layout) if (rank[s.name] >= 2) masks[s.part].fill(1, s.offset, s.offset + s.numel);
    masks.forEach((mask, i) => g.upload(this.decay.parts[i], mask));
    this.m.clear();
    this.v.clear();
  }

  /** one step over every parameter: grads (an Arena of the model's layout) times scale (1) */
  update(grads: Arena, scale: View, h: AdamwHyper): void {
    const p = this.model.params;
    p.parts.forEach((part, i) => K.adamwUpdate(this.model.gpu, part, this.m.parts[i], this.v.parts[i], grads.parts[i], this.decay.parts[i],
      scale, part.numel, h.lr, h.beta1, h.beta2, h.eps, h.wd, h.t));
  }

  /** the moments by parameter name (for a checkpoint) */
  async readMoments(): Promise<{ m: Record<string, Float32Array>; v: Record<string, Float32Array> }> {
    return { m: await this.m.read(), v: await this.v.read() };
  }

  /** moments saved by readMoments() (resume) */
  writeMoments(m: Record<string, Float32Array>, v: Record<string, Float32Array>): void {
    const hint = 'the optimizer state does not belong to this model; start without `resume`';
    this.m.write(m, 'optimizer m', hint);
    this.v.write(v, 'optimizer v', hint);
  }

  destroy(): void {
    for (const a of [this.m, this.v, this.decay]) a.destroy();
  }
}
