// train: continued pre-training (Inheritune step 2), isomorphic. A Trainer owns the loop state
// (step, data cursor, RNG), builds each step's micro-batches, runs forward + backward on the GPU,
// clips the global gradient norm and applies AdamW, all on the device; the only readback per step is
// the loss and the gradient norm, read *before* the update so a NaN/Inf step never touches weights.
// Checkpoint files and metrics are written by the caller (src/train_node.ts in Node).
// Sizes: B batch (windows per micro-batch), T sequence length, G micro-batches per step.
import type { Model } from './model.js';
import { mulberry32 } from './init.js';
import { fail } from './errors.js';

export interface TrainOptions {
  steps: number;
  batch: number;         // B
  seq: number;           // T
  gradAccum: number;     // G
  lr: number;
  minLr: number;
  warmup: number;
  schedule: 'cosine' | 'constant';
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;            // decoupled weight decay, on tensors of rank >= 2 only
  clip: number;          // global gradient-norm clip; <= 0 disables
  sampling: 'sequential' | 'random';
  seed: number;
  evalEvery: number;     // 0: only at the end
  valWindows: number;    // windows of T+1 tokens in the held-out set
}

export const TRAIN_DEFAULTS: Omit<TrainOptions, 'steps' | 'batch' | 'seq'> = {
  gradAccum: 1, lr: 1e-3, minLr: 1e-4, warmup: 0, schedule: 'cosine', beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.1,
  clip: 1.0, sampling: 'sequential', seed: 0, evalEvery: 0, valWindows: 16,
};

/** everything needed to continue exactly where a run stopped (saved with every checkpoint) */
export interface TrainerState { step: number; rng: number; tokensSeen: number }

export interface StepMetrics { step: number; loss: number; lr: number; grad_norm: number; tokens: number; tokens_per_s: number; val_loss?: number }

/** 1) linear warmup  2) cosine from lr down to minLr (or constant) */
export function learningRate(o: Pick<TrainOptions, 'lr' | 'minLr' | 'warmup' | 'schedule' | 'steps'>, step: number): number {
  if (step < o.warmup) return (o.lr * (step + 1)) / o.warmup;
  if (o.schedule === 'constant') return o.lr;
  const ratio = (step - o.warmup) / Math.max(1, o.steps - o.warmup);
  return o.minLr + 0.5 * (1 + Math.cos(Math.PI * Math.min(1, ratio))) * (o.lr - o.minLr);
}

export function validateTrainOptions(o: TrainOptions): void {
  const posInt = (k: keyof TrainOptions) => { const v = o[k] as number; if (!(Number.isInteger(v) && v >= 1)) fail(`--${kebab(k)} ${v} must be a positive integer`); };
  posInt('steps'); posInt('batch'); posInt('seq'); posInt('gradAccum'); posInt('valWindows');
  for (const k of ['lr', 'minLr', 'eps', 'beta1', 'beta2', 'wd', 'clip'] as const) {
    if (!Number.isFinite(o[k]) || o[k] < 0) fail(`--${kebab(k)} ${o[k]} must be a finite number >= 0`);
  }
  if (o.beta1 >= 1 || o.beta2 >= 1) fail(`--beta1/--beta2 must be < 1 (got ${o.beta1}, ${o.beta2})`);
  if (!(Number.isInteger(o.warmup) && o.warmup >= 0)) fail(`--warmup ${o.warmup} must be an integer >= 0`);
  if (o.schedule !== 'cosine' && o.schedule !== 'constant') fail(`--schedule ${o.schedule}: expected cosine or constant`);
  if (o.sampling !== 'sequential' && o.sampling !== 'random') fail(`--sampling ${o.sampling}: expected sequential or random`);
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

export class Trainer {
  state: TrainerState;
  private started = Date.now();

  constructor(readonly model: Model, readonly train: ArrayLike<number>, readonly val: ArrayLike<number>,
              readonly opts: TrainOptions, state?: TrainerState) {
    validateTrainOptions(opts);
    const { batch: B, seq: T, gradAccum: G, steps } = opts;
    if (train.length < T + 1) fail(`the training text gives ${train.length} tokens, fewer than one window of ${T}+1`, 'use a longer text or a shorter --seq');
    if (opts.sampling === 'sequential') {
      const windows = Math.floor((train.length - 1) / T);
      if (windows < steps * G * B) {
        fail(`sequential sampling needs ${steps * G * B} windows of ${T}+1 tokens (steps x grad-accum x batch), the training text has ${windows}`,
          `use --sampling random, fewer --steps, a smaller --batch/--seq, or a longer text`);
      }
    }
    if (val.length < T + 1) fail(`the validation text gives ${val.length} tokens, fewer than one window of ${T}+1`, 'use a longer --val-text or a shorter --seq');
    this.state = state ?? { step: 0, rng: opts.seed >>> 0, tokensSeen: 0 };
    model.enableTraining();
  }

  get done(): boolean {
    return this.state.step >= this.opts.steps;
  }

  // window starts of micro-batch m of the current step
  private windowStarts(m: number): number[] {
    const { batch: B, seq: T, gradAccum: G } = this.opts;
    const s = this.state.step;
    if (this.opts.sampling === 'sequential') return Array.from({ length: B }, (_, b) => ((s * G + m) * B + b) * T);
    // random windows with replacement; the PRNG state travels in the checkpoint
    const rand = mulberry32(this.state.rng);
    const starts = Array.from({ length: B }, () => Math.floor(rand() * (this.train.length - T)));
    this.state.rng = Math.floor(rand() * 4294967296) >>> 0;
    return starts;
  }

  /** one optimizer step: G micro-batches of forward + backward, clip, AdamW */
  async step(): Promise<StepMetrics> {
    const { batch: B, seq: T, gradAccum: G } = this.opts;
    const t0 = Date.now();
    const lr = learningRate(this.opts, this.state.step);
    const m = this.model;
    m.zeroGrad();
    const ids = new Uint32Array(B * T), tgt = new Uint32Array(B * T);
    for (let g = 0; g < G; g++) {
      this.windowStarts(g).forEach((start, b) => {
        for (let t = 0; t < T; t++) { ids[b * T + t] = this.train[start + t]; tgt[b * T + t] = this.train[start + t + 1]; }
      });
      m.forward(ids, B, T, tgt);
      m.backward(1 / (B * T * G)); // mean over the step's tokens: micro-batch gradients add up
    }
    const { loss, gradNorm } = await m.stepStats(G, this.opts.clip);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      fail(`step ${this.state.step}: the loss is ${loss} and the gradient norm ${gradNorm}; stopped before the update`,
        'lower --lr, keep --clip on, or resume from the last checkpoint with a smaller learning rate');
    }
    m.adamw({ lr, beta1: this.opts.beta1, beta2: this.opts.beta2, eps: this.opts.eps, wd: this.opts.wd, t: this.state.step + 1 });
    this.state.step++;
    this.state.tokensSeen += B * T * G;
    const secs = Math.max(1e-3, (Date.now() - t0) / 1000);
    const out: StepMetrics = { step: this.state.step - 1, loss, lr, grad_norm: gradNorm, tokens: this.state.tokensSeen, tokens_per_s: (B * T * G) / secs };
    const e = this.opts.evalEvery;
    if ((e > 0 && this.state.step % e === 0) || this.done) out.val_loss = await this.evaluate();
    return out;
  }

  /** mean next-token loss over the fixed held-out windows */
  async evaluate(): Promise<number> {
    const { seq: T } = this.opts;
    const W = Math.min(this.opts.valWindows, Math.floor((this.val.length - 1) / T));
    const B = Math.min(W, this.opts.batch);
    let sum = 0;
    for (let w0 = 0; w0 < W; w0 += B) {
      const b = Math.min(B, W - w0);
      const ids = new Uint32Array(b * T), tgt = new Uint32Array(b * T);
      for (let i = 0; i < b; i++) for (let t = 0; t < T; t++) { ids[i * T + t] = this.val[(w0 + i) * T + t]; tgt[i * T + t] = this.val[(w0 + i) * T + t + 1]; }
      for (const l of await this.model.losses(ids, tgt, b, T)) sum += l;
    }
    return sum / (W * T);
  }

  elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }
}
