// optim: the training state of a Model: gradient arena (same layout as the parameter arena, so
// zeroing is one clear and AdamW is one dispatch over everything, as in llm.c), AdamW moments, the
// per-element weight-decay mask (1 on tensors of rank >= 2, 0 on norms and biases, PyTorch's usual
// param groups), the global-norm clip factor, and the per-token losses of the step's micro-batches.
import type { Gpu, View } from '../gpu/gpu.js';
import { alignUp } from '../gpu/gpu.js';
import * as K from '../gpu/kernels.js';
import type { Acts, Model } from './model.js';
import { parameterShapes, type Checkpoint } from './config.js';
import { fail } from '../util/errors.js';

export interface AdamwHyper { lr: number; beta1: number; beta2: number; eps: number; wd: number; t: number }
export interface ModelState { checkpoint: Checkpoint; m: Record<string, Float32Array>; v: Record<string, Float32Array> }

/** split a host copy of an arena into tensors by name (per-layer slices concatenated) */
export function unpack(model: Model, host: Float32Array): Record<string, Float32Array> {
  const sizes: Record<string, number> = {};
  for (const [name, , n] of model.layout) sizes[name] = (sizes[name] ?? 0) + n;
  const out: Record<string, Float32Array> = {};
  const filled: Record<string, number> = {};
  for (const [name, offset, n] of model.layout) {
    out[name] ??= new Float32Array(sizes[name]);
    out[name].set(host.subarray(offset, offset + n), filled[name] ?? 0);
    filled[name] = (filled[name] ?? 0) + n;
  }
  return out;
}

function pack(model: Model, tensors: Record<string, Float32Array>, what: string): Float32Array {
  const host = new Float32Array(model.paramCount);
  const used: Record<string, number> = {};
  for (const [name, offset, n] of model.layout) {
    const t = tensors[name];
    const at = used[name] ?? 0;
    if (!t || t.length < at + n) fail(`${what}: tensor '${name}' is missing or too short`, 'the optimizer state does not belong to this model; start without --resume');
    host.set(t.subarray(at, at + n), offset);
    used[name] = at + n;
  }
  return host;
}

export class TrainState {
  readonly grads: Record<string, View[]> = {};
  private g: Gpu;
  private gradBuffer: GPUBuffer;
  private mBuffer: GPUBuffer;
  private vBuffer: GPUBuffer;
  private decayBuffer: GPUBuffer;
  private scale: View;       // (1) clip factor written by gradnormClip, read by adamwUpdate
  private norm: View;        // (1) global gradient norm before clipping
  private lossLog: View | null = null; // (G_max * B*T) per-token losses of the step's micro-batches
  private micro = 0;         // micro-batches since zeroGrad()
  private dloss: { view: View; value: number; n: number } | null = null;
  /** single-layer activation-gradient scratch for (scratchB, scratchT) */
  private scratch: Record<string, View> = {};
  private scratchB = 0;
  private scratchT = 0;
  private scratchBuffers: GPUBuffer[] = [];

  constructor(private model: Model) {
    const g = (this.g = model.gpu);
    const P = model.paramCount;
    this.gradBuffer = g.alloc(P, 'grads');
    this.mBuffer = g.alloc(P, 'adam_m');
    this.vBuffer = g.alloc(P, 'adam_v');
    this.decayBuffer = g.alloc(P, 'decay');
    for (const [name, offset, n] of model.layout) (this.grads[name] ??= []).push({ buffer: this.gradBuffer, offset, numel: n });
    // decay mask: PyTorch-style groups, decay on matrices and embeddings (rank >= 2) only
    const rank: Record<string, number> = {};
    for (const [name, shape] of parameterShapes(model.config)) rank[name] = shape.length;
    const decay = new Float32Array(P);
    for (const [name, offset, n] of model.layout) if (rank[name] >= 2) decay.fill(1, offset, offset + n);
    g.upload(this.arena(this.decayBuffer), decay);
    for (const b of [this.mBuffer, this.vBuffer, this.gradBuffer]) g.clear(this.arena(b));
    this.scale = g.tensor(1, 'clip_scale');
    this.norm = g.tensor(1, 'grad_norm');
  }

  private arena(buffer: GPUBuffer): View {
    return { buffer, offset: 0, numel: this.model.paramCount };
  }

  zeroGrad(): void {
    this.g.clear(this.arena(this.gradBuffer));
    this.micro = 0;
  }

  /** a (B*T) buffer holding dloss for every token (the crossentropy backward's per-row scale) */
  dlossView(n: number, value: number): View {
    if (!this.dloss || this.dloss.n !== n || this.dloss.value !== value) {
      if (this.dloss) this.dloss.view.buffer.destroy();
      const view = this.g.tensor(n, 'dlosses');
      this.g.upload(view, new Float32Array(n).fill(value));
      this.dloss = { view, value, n };
    }
    return this.dloss.view;
  }

  /** activation-gradient scratch for (B, T): one layer's worth, reused by every layer (llm.c style) */
  scratchFor(B: number, T: number): Record<string, View> {
    if (this.scratchB === B && this.scratchT === T) return this.scratch;
    for (const b of this.scratchBuffers) b.destroy();
    this.scratchBuffers = [];
    const c = this.model.config, BT = B * T, C = c.dim, H = c.hiddenDim, HS = C / c.nHeads;
    const sizes: Record<string, number> = {
      dlogits: BT * c.vocabSize, dlnf: BT * C, dresidual: BT * C, dln: BT * C, datty: BT * C,
      dfch_act: BT * H, dfch: BT * H, dup: BT * H, dpreatt: B * c.nHeads * T * T,
      dq: c.family === 'gpt2' ? BT * 3 * C : BT * C, dk: BT * c.nKvHeads * HS, dv: BT * c.nKvHeads * HS,
    };
    const s: Record<string, View> = {};
    for (const [name, n] of Object.entries(sizes)) {
      const v = this.g.tensor(n, name);
      this.scratchBuffers.push(v.buffer);
      s[name] = v;
    }
    this.scratch = s;
    this.scratchB = B;
    this.scratchT = T;
    return s;
  }

  /** keep this micro-batch's per-token losses for stats() */
  logLosses(a: Acts): void {
    const BT = a.B * a.T;
    const need = alignUp(BT) * (this.micro + 1);
    if (!this.lossLog || this.lossLog.numel < need) {
      // grow (rare: first step, or more micro-batches than before); earlier entries of this step are kept
      const bigger = this.g.tensor(Math.max(need, alignUp(BT) * 8), 'loss_log');
      if (this.lossLog) { this.g.copy(K.slice(bigger, 0, this.lossLog.numel), this.lossLog); this.lossLog.buffer.destroy(); }
      this.lossLog = bigger;
    }
    this.g.copy(K.slice(this.lossLog, alignUp(BT) * this.micro, BT), K.slice(a.losses, 0, BT));
    this.micro++;
  }

  async stats(microBatches: number, clip: number): Promise<{ loss: number; gradNorm: number }> {
    if (this.micro !== microBatches) fail(`stepStats: ${this.micro} micro-batches ran since zeroGrad(), expected ${microBatches}`);
    const a = this.model.acts!;
    const BT = a.B * a.T;
    K.gradnormClip(this.g, this.scale, this.norm, this.arena(this.gradBuffer), this.model.paramCount, clip);
    const losses = await this.g.read(K.slice(this.lossLog!, 0, alignUp(BT) * microBatches));
    const norm = (await this.g.read(this.norm))[0];
    let sum = 0;
    for (let m = 0; m < microBatches; m++) for (let i = 0; i < BT; i++) sum += losses[m * alignUp(BT) + i];
    return { loss: sum / (BT * microBatches), gradNorm: norm };
  }

  adamw(h: AdamwHyper): void {
    const P = this.model.paramCount;
    K.adamwUpdate(this.g, this.arena(this.model.paramBuffer), this.arena(this.mBuffer), this.arena(this.vBuffer),
      this.arena(this.gradBuffer), this.arena(this.decayBuffer), this.scale, P, h.lr, h.beta1, h.beta2, h.eps, h.wd, h.t);
  }

  async readGradients(): Promise<Record<string, Float32Array>> {
    return unpack(this.model, await this.g.read(this.arena(this.gradBuffer)));
  }

  async export(): Promise<ModelState> {
    const read = (b: GPUBuffer) => this.g.read(this.arena(b));
    const [p, m, v] = [await read(this.model.paramBuffer), await read(this.mBuffer), await read(this.vBuffer)];
    return { checkpoint: { config: this.model.config, tensors: unpack(this.model, p) }, m: unpack(this.model, m), v: unpack(this.model, v) };
  }

  importMoments(m: Record<string, Float32Array>, v: Record<string, Float32Array>): void {
    this.g.upload(this.arena(this.mBuffer), pack(this.model, m, 'optimizer m'));
    this.g.upload(this.arena(this.vBuffer), pack(this.model, v, 'optimizer v'));
  }

  destroy(): void {
    for (const b of [this.gradBuffer, this.mBuffer, this.vBuffer, this.decayBuffer, this.scale.buffer, this.norm.buffer, ...this.scratchBuffers]) b.destroy();
    this.lossLog?.buffer.destroy();
    this.dloss?.view.buffer.destroy();
  }
}
