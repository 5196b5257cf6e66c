// cli/training: what train and run share: the training options from their flags (--precision resolved on
// this device; the --distill-* settings) and a model's training and validation tokens from --text/--val-text.
import { existsSync, statSync } from 'node:fs';
import type { Gpu, Precision } from '../../gpu/gpu.js';
import { readTokenizer } from '../tokfiles.js';
import { readTokens, readTrainData } from '../textdata.js';
import { TRAIN_DEFAULTS, validateTrainOptions, type TrainOptions, type TrainData } from '../../train/trainer.js';
import type { Tokenizer } from '../../tokenizers/load.js';
import { DISTILL_DEFAULTS, type DistillOptions } from '../../train/distill.js';
import { fail } from '../../util/errors.js';
import { int, str, num, cli, type Flags } from './args.js';
import { precisionFlag } from './plan.js';

/** training options from flags, over `base` defaults, with --precision resolved on this device */
export function trainOptions(flags: Flags, gpu: Gpu, base: Partial<TrainOptions>): TrainOptions & { precision: Precision } {
  const d = { ...TRAIN_DEFAULTS, ...base };
  const B = int(flags, 'batch') ?? d.batch ?? fail('--batch B is required');
  const T = int(flags, 'seq') ?? d.seq ?? fail('--seq T is required');
  const G = int(flags, 'grad-accum') ?? d.gradAccum;
  const tokens = int(flags, 'tokens');
  const steps = int(flags, 'steps') ?? (tokens ? Math.ceil(tokens / (B * T * G)) : d.steps ?? fail('--steps N (or --tokens N) is required'));
  const o: TrainOptions & { precision: Precision } = {
    steps, batch: B, seq: T, gradAccum: G,
    lr: num(flags, 'lr', d.lr), minLr: num(flags, 'min-lr', d.minLr), warmup: num(flags, 'warmup', d.warmup),
    schedule: (flags.schedule as TrainOptions['schedule']) ?? d.schedule,
    beta1: num(flags, 'beta1', d.beta1), beta2: num(flags, 'beta2', d.beta2), eps: num(flags, 'eps', d.eps),
    wd: num(flags, 'wd', d.wd), clip: num(flags, 'clip', d.clip),
    sampling: (flags.sampling as TrainOptions['sampling']) ?? d.sampling, seed: num(flags, 'seed', d.seed),
    evalEvery: num(flags, 'eval-every', d.evalEvery), valWindows: num(flags, 'val-windows', d.valWindows),
    recompute: !!flags.recompute || d.recompute, optimInBackward: !!flags['optim-in-backward'] || d.optimInBackward,
    optim: (flags.optim as TrainOptions['optim']) ?? d.optim,
    gradDtype: (flags['grad-dtype'] as TrainOptions['gradDtype']) ?? d.gradDtype,
    precision: precisionFlag(flags, gpu, d.precision),
    ...(flags['loss-scale'] !== undefined ? { lossScale: num(flags, 'loss-scale', 0) } : {}),
    ...distillOptions(flags),
  };
  validateTrainOptions(o);
  return o;
}

/** --distill-* (with train's --teacher, run's --distill or --kd-baseline): the KD loss's settings, over DISTILL_DEFAULTS */
function distillOptions(flags: Flags): { distill?: DistillOptions } {
  const given = DISTILL_FLAGS.filter((f) => flags[f] !== undefined);
  if (flags.teacher === undefined && flags['teacher-cache'] === undefined && !flags.distill && !flags['kd-baseline']) {
    if (given.length) {
      fail(`--${given[0]} needs ${cli.command === 'train' ? '--teacher PATH' : '--distill or --kd-baseline'}`,
        cli.command === 'train' ? 'pass the model to distil from with --teacher, or drop the --distill-* flags' : 'pass --distill (the rounds learn from the reference) or --kd-baseline, or drop the --distill-* flags');
    }
    return {};
  }
  const d = DISTILL_DEFAULTS;
  return { distill: { alpha: num(flags, 'distill-alpha', d.alpha), temperature: num(flags, 'distill-temperature', d.temperature), topk: num(flags, 'distill-topk', d.topk) } };
}
const DISTILL_FLAGS = ['distill-alpha', 'distill-temperature', 'distill-topk'] as const;

/**
 * a model's text data: --text tokenized as `eval` does (BOS, then the whole file); --val-text, or the last
 * 10% held out; whole: all of --text's tokens (train is their start), as `distill-cache` reads them
 */
export async function textData(flags: Flags, path: string, vocabSize: number): Promise<{ train: TrainData; val: number[]; tok: () => Promise<Tokenizer>; whole: TrainData }> {
  const textPath = str(flags, 'text');
  for (const f of [textPath, flags['val-text']]) if (typeof f === 'string' && !existsSync(f)) fail(`text file '${f}' does not exist`);
  const tok = () => readTokenizer(flags.tokenizer as string | undefined, path, vocabSize);
  const whole = (train: TrainData) => ({ train, whole: train });
  if (typeof flags['val-text'] === 'string') return { ...whole(await readTrainData(textPath, tok)), val: await readTokens(flags['val-text'], tok, 'val', vocabSize), tok };
  // no --val-text: a shard directory's val shards, or else the last 10% of the tokens, are held out
  if (statSync(textPath).isDirectory()) return { ...whole(await readTrainData(textPath, tok)), val: await readTokens(textPath, tok, 'val', vocabSize), tok };
  const train = await readTokens(textPath, tok, 'train', vocabSize);
  const cut = Math.floor(train.length * 0.9);
  return { train: train.slice(0, cut), val: train.slice(cut), tok, whole: train };
}
