// distill: knowledge distillation from a teacher into the model being trained (Hinton et al. 2015; the
// logit KD of Minitron, Llama 3.2 1B/3B and torchtune's KD recipe). Per position, with the student's
// logits zs, the teacher's zt, weight A and temperature T:
//   loss = (1 - A) CE(zs, next token) + A T^2 KD,   KD = KL(softmax(zt/T) || softmax(zs/T))
// or, with top-K, the teacher's K most probable ids at T renormalized (p_k) and
//   KD = sum_k p_k (log p_k - log_softmax(zs/T)[id_k])
// each a mean over all positions (kernels/distill.wgsl: one fused pass forward and one backward, over the
// logits rows the student's head already holds). A Distiller gives the teacher's side of a micro-batch:
// the teacher model's forward on the same ids (its logits, or their top K: kernels/distill.wgsl
// distill_topk), or top-K logits read from a cache written earlier (src/node/distill_cache.ts).
import type { Gpu, View } from '../gpu/gpu.js';
import type { Model } from '../model/model.js';
import type { LossHead } from '../model/family.js';
import { logitsStride } from '../model/config.js';
import * as K from '../gpu/kernels/index.js';
import { fail } from '../util/errors.js';

export interface DistillOptions {
  alpha: number;        // A: weight of the KD term, in [0, 1]
  temperature: number;  // T > 0
  topk: number;         // K: 0 = the teacher's whole distribution; else its K most probable ids
}

/** `--distill-alpha` 0.5 (when a teacher is given), `--distill-temperature` 1, `--distill-topk` 0 (the whole distribution) */
export const DISTILL_DEFAULTS: DistillOptions = { alpha: 0.5, temperature: 1, topk: 0 };

/** the options' ranges (V: the vocabulary): a bad value names the option, as the caller spells it (`name`) */
export function validateDistill(o: DistillOptions, V: number, name: (k: keyof DistillOptions) => string = (k) => `\`distill.${k}\``): void {
  if (!(Number.isFinite(o.alpha) && o.alpha >= 0 && o.alpha <= 1)) fail(`${name('alpha')} ${o.alpha} must be in [0, 1]`, 'the weight of the KD term: 0 trains on the labels alone, 1 on the teacher alone');
  if (!(Number.isFinite(o.temperature) && o.temperature > 0)) fail(`${name('temperature')} ${o.temperature} must be a number > 0`, 'the softmax temperature of both models; 1 (the default) leaves the distributions as they are');
  if (!(Number.isInteger(o.topk) && o.topk >= 0 && o.topk < V)) fail(`${name('topk')} ${o.topk} must be an integer in [0, ${V}) (the vocabulary has ${V} ids)`, '0 (the default) uses the teacher\'s whole distribution');
}

/** the teacher's top-K logits and ids for the B*T positions of one micro-batch, as a cache holds them */
export interface TopkBatch { values: Float32Array; ids: Uint32Array }

/** where the teacher's side comes from: a model run on the same ids, or a reader of cached top-K logits */
export type TeacherSource = { model: Model } | { cache: { K: number; read(windows: number[]): Promise<TopkBatch> } };

export class Distiller {
  private kd: View;
  private vk: View | null = null;
  private ik: View | null = null;
  private side: K.TeacherSide | null = null;
  readonly K: number;

  constructor(readonly gpu: Gpu, readonly teacher: TeacherSource, readonly opts: DistillOptions, N: number, readonly V: number) {
    this.K = 'cache' in teacher ? teacher.cache.K : opts.topk;
    if ('cache' in teacher && opts.topk !== teacher.cache.K) fail(`the teacher cache holds the top ${teacher.cache.K} logits, and \`distill.topk\` is ${opts.topk}`, `pass \`distill.topk\` ${teacher.cache.K} (or leave it out) with this cache`);
    if ('model' in teacher && teacher.model.config.vocabSize !== V) {
      fail(`the teacher's vocabulary has ${teacher.model.config.vocabSize} ids, the student's ${V}`, 'distil from a teacher with the student\'s tokenizer');
    }
    // the teacher keeps one block's activations and the blocks' outputs, as recompute does: it runs forward only
    if ('model' in teacher) teacher.model.setRecompute(true);
    this.kd = gpu.tensor(N, 'distill_kd');
    if (this.K) { this.vk = gpu.tensor(N * this.K, 'distill_topk_values'); this.ik = gpu.tensor(N * this.K, 'distill_topk_ids'); }
  }

  /** the KD term of every position of the last micro-batch (unweighted), filled by the head's forward */
  get kdView(): View {
    return this.kd;
  }

  /**
   * the teacher's side of one micro-batch: its forward on the student's ids x (B*T), or the cached top K
   * of the windows it reads; then the loss head the student's forward and backward use
   */
  async prepare(x: ArrayLike<number>, B: number, T: number, windows: number[]): Promise<LossHead> {
    const g = this.gpu, V = this.V;
    if ('model' in this.teacher) {
      const t = this.teacher.model, a = t.forward(x, B, T), ld = logitsStride(t.config);
      if (this.K) { K.distillTopk(g, this.vk!, this.ik!, a.logits, this.K, B * T, V, ld); this.side = { values: this.vk!, ids: this.ik!, K: this.K }; }
      else this.side = { logits: a.logits };
    } else {
      const b = await this.teacher.cache.read(windows);
      g.upload(this.vk!, b.values);
      g.upload(this.ik!, b.ids);
      this.side = { values: this.vk!, ids: this.ik!, K: this.K };
    }
    const side = this.side, w = { alpha: this.opts.alpha, temperature: this.opts.temperature }, kd = this.kd;
    const head: LossHead = {
      forward: (losses, logits, targets, N, Vs, ld) => K.distillForward(g, losses, kd, logits, targets, side, w, N, Vs, ld),
      backward: (logits, dlosses, targets, N, Vs, ld) => K.distillBackward(g, logits, dlosses, targets, side, w, N, Vs, ld),
    };
    return head;
  }

  destroy(): void {
    for (const v of [this.kd, this.vk, this.ik]) if (v) this.gpu.release(v.buffer);
  }
}
