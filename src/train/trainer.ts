// trainer: continued pre-training (Inheritune step 2), isomorphic. A Trainer owns the training state:
// the loop state (step, data cursor, RNG), the parameter gradients (an arena of the model's layout, f32, or bf16: TrainOptions.gradDtype),
// the optimizer (AdamW, or 8-bit AdamW: TrainOptions.optim) and its state, and the loss log of the
// step's micro-batches. Each step runs forward + backward on the GPU, clips the global gradient norm
// and applies the optimizer, all on the device; the only readback per step is the loss and the
// gradient norm, read *before* the update so a NaN/Inf step never touches weights. Checkpoint files and metrics are written by the caller (src/node/train.ts).
// Sizes: B batch (windows per micro-batch), T sequence length, G micro-batches per step.
import type { Model } from '../model/model.js';
import { Arena } from '../model/arena.js';
import { AdamW, OPTIMIZERS, type AdamwHyper, type OptimName, type Optimizer, type StateTensor } from './adamw.js';
import { AdamW8bit } from './adamw8bit.js';
import type { View } from '../gpu/gpu.js';
import { parameterShapes, type Checkpoint } from '../model/config.js';
import { alignUp, slice } from '../gpu/view.js';
import { gradnormClip } from '../gpu/kernels/optim.js';
import { ShardLoader, memoryShards, type Batch, type LoaderOptions, type LoaderState, type ShardSource } from '../data/loader.js';
import { fail } from '../util/errors.js';
import { windowedLoss, windowCount } from './evaluate.js';
import { LossScaler, SCALER_DEFAULTS, type ScalerState } from './scaler.js';
import type { Precision } from '../gpu/gpu.js';
import { Distiller, DISTILL_DEFAULTS, validateDistill, type DistillOptions, type TeacherSource } from './distill.js';
import { Grads16, GRAD_DTYPES, type GradDtype } from './grads16.js';
import { roundBf16 } from '../gpu/kernels/convert.js';

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
  recompute?: boolean;   // keep only each block's output and recompute the block in backward (Model.setRecompute)
  optim?: OptimName;     // 'adamw' (f32 moments, the default) or 'adamw8bit' (8-bit block-wise moments)
  optimInBackward?: boolean; // update each block as soon as its gradients are complete (needs gradAccum 1, clip 0)
  precision?: 'f32' | 'f16' | 'auto'; // matmul operands (Model.setPrecision); auto: f16 on a GPU with shader-f16 (Gpu.autoF16)
  lossScale?: number;        // f16: the initial loss scale (torch.amp.GradScaler's init_scale, 2^16)
  lossScaleInterval?: number; // f16: clean steps before the scale doubles (GradScaler's growth_interval, 2000)
  distill?: DistillOptions;  // knowledge distillation from the constructor's teacher (src/train/distill.ts)
  gradDtype?: GradDtype;     // parameter gradients stored in f32 or bf16 (summed in f32 per block, src/train/grads16.ts)
}

export const TRAIN_DEFAULTS: Omit<TrainOptions, 'steps' | 'batch' | 'seq'> = {
  gradAccum: 1, lr: 1e-3, minLr: 1e-4, warmup: 0, schedule: 'cosine', beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.1,
  clip: 1.0, sampling: 'sequential', seed: 0, evalEvery: 0, valWindows: 16, recompute: false, optim: 'adamw',
  precision: 'f32', gradDtype: 'f32',
};

// a precision option that is none of f32, f16, auto fails, named as the caller spells it
function checkPrecision(p: TrainOptions['precision'], name: string): void {
  if (p !== undefined && !['f32', 'f16', 'auto'].includes(p)) fail(`${name} ${p}: expected f32, f16 or auto`);
}

/**
 * the precision a run trains at: 'auto' is f16 where autoF16 (Gpu.autoF16: shader-f16 on a GPU, not a
 * CPU adapter), else f32 (f32 and f16
 * are themselves); anything else fails, naming the option as the caller spells it (`precision` in the
 * API, --precision in the CLI). Resolved once, where the device is first known: the CLI resolves
 * --precision before it plans the run and passes the plain value down; the Trainer resolves what an
 * API user passes.
 */
export function resolvePrecision(p: TrainOptions['precision'], autoF16: boolean, name = '`precision`'): Precision {
  checkPrecision(p, name);
  return p === 'auto' ? (autoF16 ? 'f16' : 'f32') : (p ?? 'f32');
}

/**
 * everything needed to continue exactly where a run stopped (saved with every checkpoint); kernels:
 * the kernel variant chosen per shape class (src/gpu/tune.ts), reused on resume
 */
export interface TrainerState {
  step: number; tokensSeen: number; loader: LoaderState; kernels?: Record<string, string>;
  /** f16 runs: the precision trained at and the loss scaler's state */
  precision?: Precision; scaler?: ScalerState;
}

/**
 * f16 runs add the loss scale the step used, and skipped: true when its gradients overflowed (no update);
 * distillation adds ce and kd, the step's unweighted means (loss = (1 - A) ce + A T^2 kd)
 */
export interface StepMetrics { step: number; loss: number; lr: number; grad_norm: number; tokens: number; tokens_per_s: number; val_loss?: number; loss_scale?: number; skipped?: boolean; ce?: number; kd?: number }

/** 1) linear warmup  2) cosine from lr down to minLr (or constant) */
export function learningRate(o: Pick<TrainOptions, 'lr' | 'minLr' | 'warmup' | 'schedule' | 'steps'>, step: number): number {
  if (step < o.warmup) return (o.lr * (step + 1)) / o.warmup;
  if (o.schedule === 'constant') return o.lr;
  const ratio = (step - o.warmup) / Math.max(1, o.steps - o.warmup);
  return o.minLr + 0.5 * (1 + Math.cos(Math.PI * Math.min(1, ratio))) * (o.lr - o.minLr);
}

export function validateTrainOptions(o: TrainOptions): void {
  const posInt = (k: keyof TrainOptions) => { const v = o[k] as number; if (!(Number.isInteger(v) && v >= 1)) fail(`\`${k}\` ${v} must be a positive integer`); };
  posInt('steps'); posInt('batch'); posInt('seq'); posInt('gradAccum'); posInt('valWindows');
  for (const k of ['lr', 'minLr', 'eps', 'beta1', 'beta2', 'wd', 'clip'] as const) {
    if (!Number.isFinite(o[k]) || o[k] < 0) fail(`\`${k}\` ${o[k]} must be a finite number >= 0`);
  }
  if (o.beta1 >= 1 || o.beta2 >= 1) fail(`\`beta1\`/\`beta2\` must be < 1 (got ${o.beta1}, ${o.beta2})`);
  if (!(Number.isInteger(o.warmup) && o.warmup >= 0)) fail(`\`warmup\` ${o.warmup} must be an integer >= 0`);
  if (o.schedule !== 'cosine' && o.schedule !== 'constant') fail(`\`schedule\` ${o.schedule}: expected cosine or constant`);
  if (o.recompute !== undefined && typeof o.recompute !== 'boolean') fail(`\`recompute\` ${o.recompute} must be true or false`);
  if (o.sampling !== 'sequential' && o.sampling !== 'random') fail(`\`sampling\` ${o.sampling}: expected sequential or random`);
  if (o.optimInBackward) {
    if (o.gradAccum !== 1) fail(`\`optimInBackward\` needs \`gradAccum\` 1 (got ${o.gradAccum}): each block is updated before the next micro-batch could add to its gradient`, 'drop `gradAccum`, or drop `optimInBackward`');
    if (o.clip > 0) fail(`\`optimInBackward\` needs \`clip\` 0 (got ${o.clip}): the global gradient norm is known only after the blocks are updated`, 'pass `clip` 0, or drop `optimInBackward`');
  }
  checkPrecision(o.precision, '`precision`');
  if (o.lossScale !== undefined && !(Number.isFinite(o.lossScale) && o.lossScale > 0)) fail(`\`lossScale\` ${o.lossScale} must be a finite number > 0`, 'pass a power of two such as 65536 (the default)');
  if (o.lossScaleInterval !== undefined && !(Number.isInteger(o.lossScaleInterval) && o.lossScaleInterval >= 1)) fail(`\`lossScaleInterval\` ${o.lossScaleInterval} must be a positive integer`);
  if (o.optimInBackward && o.precision && o.precision !== 'f32') {
    fail(`\`optimInBackward\` needs \`precision\` f32 (got ${o.precision}): an f16 step whose gradients overflow must be skipped, and with \`optimInBackward\` the blocks are updated before that is known`,
      'drop `optimInBackward`, or train at `precision` f32');
  }
  if (o.gradDtype !== undefined && !GRAD_DTYPES.includes(o.gradDtype)) fail(`\`gradDtype\` ${o.gradDtype}: expected ${GRAD_DTYPES.join(' or ')}`);
  if (o.optim !== undefined && !OPTIMIZERS.includes(o.optim)) fail(`\`optim\` ${o.optim}: expected ${OPTIMIZERS.join(' or ')}`);
}

/**
 * The training data: a token array (one shard) or shards (src/data/loader.ts: in memory, or read from files
 * window by window). Batches come from the shard loader: sequential = llm.c's dataloader (batch k is
 * B*T+1 consecutive tokens from position k*B*T, so window i is tokens [i*T, i*T+T]); random =
 * windows with replacement from a seeded generator (with a teacher cache, whole aligned windows, the ones
 * it holds). Its cursor is part of the checkpoint.
 */
export type TrainData = ArrayLike<number> | ShardSource;

export class Trainer {
  /**
   * the f32 gradients the backward accumulates into: the whole parameter layout, accumulated over the
   * step's micro-batches; one block's worth (+ the tensors outside the blocks) with optimizer-in-backward,
   * or with gradDtype bf16 (then grads16's staging)
   */
  readonly grads: Arena;
  /** gradDtype bf16: the stored gradients (null at f32, and with optimizer-in-backward, whose one block is rounded in place) */
  readonly grads16: Grads16 | null;
  readonly optimizer: Optimizer;
  private loader: ShardLoader;
  private tokensSeen: number;
  private stepIndex: number;
  private lossLog: View;
  private layerNames: string[];  // the parameter table's per-block names, and the others
  private restNames: string[];
  private norms: View | null;    // optimizer-in-backward: the norm of every (name, block) gradient slice, one per 64 floats   // (G, alignUp(B*T)) per-token losses of the step's micro-batches, then (1) the gradient norm
  private reader: { read(v: View): Promise<Float32Array>; release(): void }; // the step's one readback
  private scale: View;     // (1) clip factor written by gradnormClip, read by AdamW
  private _opts: TrainOptions;
  /** f16: the dynamic loss scale (null at f32) */
  readonly scaler: LossScaler | null;
  readonly precision: Precision;
  /** knowledge distillation's teacher side (null: next-token labels alone) */
  private distiller: Distiller | null = null;
  private logs: number;    // per-token logs in lossLog: 1 (loss), or 2 with distillation (ce, then kd)
  private aligned = false; // random sampling over whole aligned windows (a teacher cache's)

  /**
   * `teacher`: distil from it (a model run on the same ids, or cached top-K logits) with `opts.distill`
   * (DISTILL_DEFAULTS where absent); the validation loss stays plain next-token cross-entropy
   */
  constructor(readonly model: Model, readonly train: TrainData, readonly val: ArrayLike<number>,
              opts: TrainOptions, state?: TrainerState, teacher?: TeacherSource) {
    validateTrainOptions(opts);
    if (opts.distill && !teacher) fail('`distill` is set but no teacher was given', 'pass a teacher (a model, or a teacher cache), or drop `distill`');
    if (teacher) {
      opts = { ...opts, distill: { ...DISTILL_DEFAULTS, ...opts.distill } };
      validateDistill(opts.distill!, model.config.vocabSize);
    }
    this._opts = opts;
    const { batch: B, seq: T, gradAccum: G, steps } = opts;
    const source: ShardSource = 'sizes' in train ? train : memoryShards([Uint32Array.from(train)]);
    const total = source.sizes.reduce((a, b) => a + b, 0);
    if (!source.sizes.some((n) => n >= T + 1)) fail(`the training data gives ${total} tokens, fewer than one window of ${T}+1`, 'use a longer text or a shorter `seq`');
    if (opts.sampling === 'sequential') {
      // the run must not wrap around: step s must see windows s*G*B ... of the data, once
      const windows = source.sizes.reduce((a, n) => a + Math.floor(Math.max(0, n - 1) / (B * T)) * B, 0);
      if (windows < steps * G * B) {
        fail(`sequential sampling needs ${steps * G * B} windows of ${T}+1 tokens (steps x grad-accum x batch), the training text has ${windows}`,
          'use `sampling` random, fewer `steps`, a smaller `batch`/`seq`, or a longer text');
      }
    }
    if (val.length < T + 1) fail(`the validation text gives ${val.length} tokens, fewer than one window of ${T}+1`, 'use a longer validation text or a shorter `seq`');
    // a teacher cache holds aligned windows: random sampling draws whole ones, whose cached logits it reads
    this.aligned = !!teacher && 'cache' in teacher && opts.sampling === 'random';
    this.loader = new ShardLoader(source, this.loaderOptions(), state?.loader);
    this.stepIndex = state?.step ?? 0;
    this.tokensSeen = state?.tokensSeen ?? 0;
    const g = model.gpu;
    if (state?.kernels) g.tuner.use(state.kernels);
    model.setRecompute(opts.recompute ?? false);
    this.precision = resolvePrecision(opts.precision, g.autoF16);
    if (state && (state.precision ?? 'f32') !== this.precision) {
      fail(`\`resume\`: the checkpoint trained at precision ${state.precision ?? 'f32'}, this run would train at ${this.precision}`, `resume with \`precision\` ${state.precision ?? 'f32'}`);
    }
    model.setPrecision(this.precision);
    this.scaler = this.precision === 'f16' ? new LossScaler(opts.lossScaleInterval ?? SCALER_DEFAULTS.interval, opts.lossScale ?? SCALER_DEFAULTS.scale, state?.scaler) : null;
    this.grads16 = opts.gradDtype === 'bf16' && !opts.optimInBackward ? new Grads16(g, model.config) : null;
    this.grads = this.grads16?.staging ?? new Arena(g, model.config, 'grads', { aliasLayers: !!opts.optimInBackward });
    this.optimizer = (opts.optim ?? 'adamw') === 'adamw8bit' ? new AdamW8bit(model) : new AdamW(model);
    if (teacher) {
      if ('model' in teacher) teacher.model.setPrecision(this.precision); // the teacher's forward runs as autocast would run it
      this.distiller = new Distiller(g, teacher, opts.distill!, B * T, model.config.vocabSize);
    }
    this.logs = this.distiller ? 2 : 1;
    this.lossLog = g.tensor(alignUp(B * T) * G * this.logs + 1, 'loss_log');
    this.reader = g.reader(this.lossLog.numel);
    this.scale = g.tensor(1, 'clip_scale');
    const shapes = parameterShapes(model.config);
    this.layerNames = shapes.filter(([, , per]) => per).map(([n]) => n);
    this.restNames = shapes.filter(([, , per]) => !per).map(([n]) => n);
    this.norms = opts.optimInBackward ? g.tensor(alignUp(1) * (model.config.nLayers * this.layerNames.length + this.restNames.length), 'slice_norms') : null;
  }

  private loaderOptions(): LoaderOptions {
    const o = this._opts;
    return { B: o.batch, T: o.seq, mode: o.sampling, seed: o.seed, vocabSize: this.model.config.vocabSize, ...(this.aligned ? { aligned: true } : {}) };
  }

  get opts(): TrainOptions {
    return this._opts;
  }

  /** step, tokens seen and the data cursor: pass it back to the constructor to continue exactly */
  get state(): TrainerState {
    const s: TrainerState = { step: this.stepIndex, tokensSeen: this.tokensSeen, loader: this.loader.state(), kernels: this.model.gpu.tuner.used() };
    return this.scaler ? { ...s, precision: this.precision, scaler: this.scaler.state } : s;
  }

  get done(): boolean {
    return this.stepIndex >= this._opts.steps;
  }

  /** run to a different total of steps (the schedule follows it); not below the steps done */
  setSteps(steps: number): void {
    if (steps < this.stepIndex) fail(`\`steps\` ${steps} is below the ${this.stepIndex} steps already done`, `pass \`steps\` >= ${this.stepIndex}`);
    const o = { ...this._opts, steps };
    validateTrainOptions(o);
    this._opts = o;
  }

  /** one optimizer step: G micro-batches of forward + backward, clip, the optimizer */
  async step(): Promise<StepMetrics> {
    const { batch: B, seq: T, gradAccum: G } = this._opts;
    const t0 = Date.now();
    const lr = learningRate(this._opts, this.stepIndex);
    const g = this.model.gpu, BT = B * T;
    this.grads.clear();
    const cursor = this.loader.state(); // a NaN step leaves the data cursor where it was
    // AdamW's step count: the updates applied (an f16 step skipped for overflow does not count, as in torch)
    const o = this._opts, h: AdamwHyper = { lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, wd: o.wd, t: this.stepIndex + 1 - (this.scaler?.skipped ?? 0) };
    const lossScale = this.scaler?.scale;
    const { loss, gradNorm, skipped, ce, kd } = o.optimInBackward ? { ...await this.stepInBackward(h, cursor), skipped: false } : await this.stepAfterBackward(h, cursor);
    this.stepIndex++;
    this.tokensSeen += BT * G;
    const secs = Math.max(1e-3, (Date.now() - t0) / 1000);
    const out: StepMetrics = { step: this.stepIndex - 1, loss, lr, grad_norm: gradNorm, tokens: this.tokensSeen, tokens_per_s: (BT * G) / secs };
    if (ce !== undefined) { out.ce = ce; out.kd = kd; }
    if (lossScale !== undefined) out.loss_scale = lossScale;
    if (skipped) out.skipped = true;
    await g.tune(); // the first step met the kernel shapes of the run: keep the fastest variant of each
    const e = o.evalEvery;
    if ((e > 0 && this.stepIndex % e === 0) || this.done) out.val_loss = await this.evaluate();
    return out;
  }

  // G micro-batches of forward + backward, then the global norm and clip, then the update: loss and
  // norm are read before the update, so a non-finite step never touches the weights. Under f16 the
  // loss's gradient is multiplied by the loss scale, gradnormClip divides it out (norm and clip factor),
  // and a non-finite step is skipped instead of stopping the run (LossScaler)
  private async stepAfterBackward(h: AdamwHyper, cursor: LoaderState): Promise<{ loss: number; gradNorm: number; skipped: boolean; ce?: number; kd?: number }> {
    const { batch: B, seq: T, gradAccum: G, clip } = this._opts;
    const m = this.model, g = m.gpu, BT = B * T, stride = alignUp(BT), S = this.scaler?.scale ?? 1;
    for (let i = 0; i < G; i++) {
      const batch = (await this.loader.next())!; // no epoch limit: never null
      const acts = await this.forward(batch, i);
      // mean over the step's tokens: micro-batch gradients add up (bf16: each block stored as it completes, added from the second micro-batch on)
      const g16 = this.grads16;
      m.backward(this.grads, S / (BT * G), g16 ? (l) => g16.storeBlock(l, i > 0) : undefined);
      g16?.storeRest(i > 0);
      g.copy(slice(this.lossLog, i * stride, BT), slice(acts.losses, 0, BT));
    }
    // the global gradient norm lands after the losses: loss and norm come back in one read
    const at = G * stride * this.logs;
    const parts = this.grads16?.parts ?? this.grads.parts;
    gradnormClip(g, this.scale, slice(this.lossLog, at, 1), parts, clip, undefined, 1 / S, !!this.grads16);
    const logged = await this.reader.read(this.lossLog);
    const gradNorm = logged[at], losses = this.meanLosses(logged, G);
    const finite = Number.isFinite(losses.loss) && Number.isFinite(gradNorm);
    if (this.scaler) {
      if (!this.scaler.update(finite, this.stepIndex)) return { ...losses, gradNorm, skipped: true };
    } else if (!finite) {
      this.stop(cursor, `the loss is ${losses.loss} and the gradient norm ${gradNorm}; stopped before the update`);
    }
    this.optimizer.update(this.grads16?.refs ?? this.grads.parts, this.scale, h);
    m.weightsChanged(); // the f16 copy of the weights (real f16 arithmetic) is remade from the updated ones
    return { ...losses, gradNorm, skipped: false };
  }

  // micro-batch i's forward with targets: with a teacher, its side first (its forward on the same ids, or
  // the cached windows), then the student's forward with the distillation head, whose KD terms go to the
  // log after the cross-entropies
  private async forward({ x, y, windows }: Batch, i: number) {
    const { batch: B, seq: T, gradAccum: G } = this._opts, m = this.model, BT = B * T, stride = alignUp(BT);
    if (!this.distiller) return m.forward(x, B, T, y);
    const acts = m.forward(x, B, T, y, undefined, await this.distiller.prepare(x, B, T, windows ?? []));
    m.gpu.copy(slice(this.lossLog, (G + i) * stride, BT), slice(this.distiller.kdView, 0, BT));
    return acts;
  }

  // the step's loss from the logged per-token values of its n micro-batches: the mean, or with
  // distillation (1 - A) ce + A T^2 kd from the means of each
  private meanLosses(logged: Float32Array, n: number): { loss: number; ce?: number; kd?: number } {
    const { batch: B, seq: T, gradAccum: G } = this._opts, BT = B * T, stride = alignUp(BT);
    const mean = (part: number) => { let s = 0; for (let i = 0; i < n; i++) for (let j = 0; j < BT; j++) s += logged[(part * G + i) * stride + j]; return s / (BT * n); };
    const ce = mean(0);
    if (!this.distiller) return { loss: ce };
    const kd = mean(1), { alpha: A, temperature: Tk } = this.distiller.opts;
    return { loss: (1 - A) * ce + A * Tk * Tk * kd, ce, kd };
  }

  // optimizer-in-backward (torchtune's optimizer_in_bwd, LOMO's fused update): with one micro-batch and
  // no clipping, block l's update needs nothing but its own gradients, so it runs as soon as block l's
  // backward is done and the gradients take one block's worth (src/model/arena.ts aliasLayers). The
  // same gradients and the same element-wise update as stepAfterBackward. The loss is read before
  // backward (a non-finite loss stops the step before any update); the gradient norm, summed from
  // per-slice norms, is known only after the update. gradDtype bf16: each slice's f32 sums are rounded to
  // bf16 in place before its update, the values stepAfterBackward's Grads16 would store (one block's
  // worth in f32 is all there is to hold, so there is nothing to save by packing them).
  private async stepInBackward(h: AdamwHyper, cursor: LoaderState): Promise<{ loss: number; gradNorm: number; ce?: number; kd?: number }> {
    const { batch: B, seq: T } = this._opts;
    const m = this.model, g = m.gpu, BT = B * T, d = this.grads.views, norms = this.norms!;
    const batch = (await this.loader.next())!;
    const acts = await this.forward(batch, 0);
    g.copy(slice(this.lossLog, 0, BT), slice(acts.losses, 0, BT));
    const losses = this.meanLosses(await this.reader.read(this.lossLog), 1), loss = losses.loss;
    if (!Number.isFinite(loss)) this.stop(cursor, `the loss is ${loss}; stopped before the update`);
    let k = 0;
    const bf16 = this._opts.gradDtype === 'bf16';
    const update = (names: string[], l: number) => {
      if (bf16) for (const name of names) roundBf16(g, d[name][l], d[name][l].numel); // bf16 gradients: the block's f32 sums rounded as grads16 stores them
      for (const name of names) gradnormClip(g, this.scale, slice(norms, alignUp(1) * k++, 1), [d[name][l]], 0); // scale = 1; slots 256-byte aligned
      this.optimizer.updateSlices(d, names.map((name) => [name, l]), this.scale, h);
    };
    m.backward(this.grads, 1 / BT, (l) => {
      update(this.layerNames, l);
      for (const name of this.layerNames) g.clear(d[name][l]); // the next block's gradients accumulate into the same slot
    });
    update(this.restNames, 0);
    m.weightsChanged();
    const nv = await g.read(slice(norms, 0, alignUp(1) * k));
    let sq = 0;
    for (let i = 0; i < k; i++) sq += nv[alignUp(1) * i] ** 2;
    const gradNorm = Math.sqrt(sq);
    if (!Number.isFinite(gradNorm)) {
      fail(`step ${this.stepIndex}: the gradient norm is ${gradNorm} after the update (with \`optimInBackward\` the norm is known only then); the weights in memory are spoiled`,
        'resume from the last checkpoint with a smaller `lr`, or train without `optimInBackward` (then a non-finite step never touches the weights)');
    }
    return { ...losses, gradNorm };
  }

  // a non-finite step: the data cursor goes back to the step's start, and the run stops
  private stop(cursor: LoaderState, what: string): never {
    this.loader = new ShardLoader(this.loader.source, this.loaderOptions(), cursor);
    return fail(`step ${this.stepIndex}: ${what}`, 'lower `lr`, keep `clip` on, or resume from the last checkpoint with a smaller learning rate');
  }

  /** mean next-token loss over the fixed held-out windows */
  async evaluate(): Promise<number> {
    const { seq: T, valWindows, batch } = this._opts;
    return (await windowedLoss(this.model, this.val, T, windowCount(this.val.length, T, valWindows), { batch })).loss;
  }

  /** the model's parameters and the optimizer's state (named tensors and its format name), for a checkpoint */
  async readState(): Promise<{ checkpoint: Checkpoint; optimizer: { format: string; tensors: StateTensor[] } }> {
    return { checkpoint: await this.model.readCheckpoint(), optimizer: { format: this.optimizer.format, tensors: await this.optimizer.readState() } };
  }

  /** release the gradients, moments and loss log (the model stays) */
  destroy(): void {
    const g = this.model.gpu;
    this.model.setRecompute(false);
    this.model.setPrecision('f32');
    if (this.grads16) this.grads16.destroy(); // its staging is this.grads
    else this.grads.destroy();
    this.optimizer.destroy();
    this.distiller?.destroy();
    for (const v of [this.lossLog, this.scale, ...(this.norms ? [this.norms] : [])]) g.release(v.buffer);
    this.reader.release();
  }
}
