// node/runstate: a checkpoint's trainer.json, read and checked field by field before --resume uses it:
// types, ranges and the relations between fields (the step is within the run's steps; the tokens seen and
// the loader's batches follow from the step; the loader is the one the options make), then the loader's
// position against the data it is to read. A damaged file is never used: every error names the file and
// the field, and the fix (an older checkpoint of the run when one is kept, or --force to start over).
import { readRegularText } from './bytes.js';
import type { TrainOptions, TrainerState } from '../train/trainer.js';
import { validateTrainOptions } from '../train/trainer.js';
import { validateDistill } from '../train/distill.js';
import { OPTIMIZERS } from '../train/adamw.js';
import type { ShardSource } from '../data/loader.js';
import { InherituneError, fail } from '../util/errors.js';
import type { DataIdentity } from './digests.js';

/** what trainer.json holds: the trainer's state, the run's options, and what it was trained on */
export interface SavedRun { state: TrainerState; opts: TrainOptions; teacher_cache?: string; data?: DataIdentity }

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min = 0): v is number => Number.isInteger(v) && (v as number) >= min;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const show = (v: unknown): string => {
  if (v === undefined) return 'missing';
  // a value nested too deep for JSON.stringify's stack is described by its type instead
  try { return `${JSON.stringify(v)}`.slice(0, 60); } catch { return Array.isArray(v) ? `an array of ${v.length}` : `a ${typeof v}`; }
};

/**
 * trainer.json at `file`, checked (see the header); `hint`: the fix for a damaged checkpoint (the caller
 * knows which older steps the run kept)
 */
export function readTrainerJson(file: string, hint: string): SavedRun {
  let j: unknown;
  try { j = JSON.parse(readRegularText(file, 'run state')); } catch (e) {
    if (e instanceof InherituneError) throw e; // missing, or not a regular file: named by the read
    return fail(`${file} is not valid JSON (${(e as Error).message}): the checkpoint is damaged`, hint);
  }
  const bad = (field: string, v: unknown, want: string): never => fail(`${file}: \`${field}\` is ${show(v)}, expected ${want}: the checkpoint is damaged`, hint);
  if (!isObj(j)) return bad('(top level)', j, 'an object with `state` and `opts`');
  if (!isObj(j.opts)) bad('opts', j.opts, 'an object (the run\'s options)');
  if (!isObj(j.state)) bad('state', j.state, 'an object (the trainer\'s step, tokens and data position)');
  const opts = checkOpts(j.opts as Obj, bad, file, hint);
  const state = checkState(j.state as Obj, opts, bad);
  if (j.teacher_cache !== undefined && !(typeof j.teacher_cache === 'string' && /^[0-9a-f]{64}$/.test(j.teacher_cache))) bad('teacher_cache', j.teacher_cache, 'the sha256 of a distill_cache.json (64 hex digits)');
  if (j.data !== undefined) {
    const d = j.data as Obj;
    if (!(isObj(d) && typeof d.path === 'string' && isInt(d.bytes) && isInt(d.files) && typeof d.sha256 === 'string' && /^[0-9a-f]{64}$/.test(d.sha256) && typeof d.digest_of === 'string')) {
      bad('data', d, 'the training data\'s path, bytes, files, sha256 and digest_of');
    }
  }
  return j as unknown as SavedRun & { opts: typeof opts; state: typeof state };
}

type Bad = (field: string, v: unknown, want: string) => never;

const INTS = ['steps', 'batch', 'seq', 'gradAccum', 'valWindows'] as const;
const NUMS = ['lr', 'minLr', 'warmup', 'beta1', 'beta2', 'eps', 'wd', 'clip', 'seed', 'evalEvery'] as const;
const CHOICES: Record<string, readonly unknown[]> = { schedule: ['cosine', 'constant'], sampling: ['sequential', 'random'], optim: OPTIMIZERS, precision: ['f32', 'f16', 'auto'], recompute: [true, false], optimInBackward: [true, false] };

function checkOpts(o: Obj, bad: Bad, file: string, hint: string): TrainOptions {
  for (const k of INTS) if (!isInt(o[k], 1)) bad(`opts.${k}`, o[k], 'an integer >= 1');
  for (const k of NUMS) if (!isNum(o[k])) bad(`opts.${k}`, o[k], 'a number');
  for (const [k, ok] of Object.entries(CHOICES)) {
    const required = k === 'schedule' || k === 'sampling';
    if ((required || o[k] !== undefined) && !ok.includes(o[k])) bad(`opts.${k}`, o[k], ok.map((x) => JSON.stringify(x)).join(' or '));
  }
  if (o.lossScale !== undefined && !isNum(o.lossScale)) bad('opts.lossScale', o.lossScale, 'a number');
  if (o.lossScaleInterval !== undefined && !isInt(o.lossScaleInterval, 1)) bad('opts.lossScaleInterval', o.lossScaleInterval, 'an integer >= 1');
  if (o.distill !== undefined) {
    const d = o.distill;
    if (!isObj(d) || !isNum(d.alpha) || !isNum(d.temperature) || !isInt(d.topk)) bad('opts.distill', d, 'the distillation settings { alpha, temperature, topk }');
  }
  // the ranges and rules of the options themselves (the same checks as a new run's), named as this file's fields
  try {
    validateTrainOptions(o as unknown as TrainOptions);
    if (o.distill) validateDistill(o.distill as TrainOptions['distill'] & object, Infinity, (k) => `\`opts.distill.${k}\``);
  } catch (e) {
    if (e instanceof InherituneError) fail(`${file}: ${e.message.split('\n')[0].replace(/`(\w+)`/g, '`opts.$1`')}: the checkpoint is damaged`, hint);
    throw e;
  }
  return o as unknown as TrainOptions;
}

function checkState(s: Obj, o: TrainOptions, bad: Bad): TrainerState {
  if (!isInt(s.step)) bad('state.step', s.step, 'an integer >= 0');
  if ((s.step as number) > o.steps) bad('state.step', s.step, `at most the run's \`opts.steps\` ${o.steps}`);
  const step = s.step as number, tokens = step * o.batch * o.seq * o.gradAccum;
  if (s.tokensSeen !== tokens) bad('state.tokensSeen', s.tokensSeen, `${tokens} (step ${step} x batch ${o.batch} x seq ${o.seq} x grad-accum ${o.gradAccum})`);
  if (s.kernels !== undefined && !(isObj(s.kernels) && Object.values(s.kernels).every((v) => typeof v === 'string'))) bad('state.kernels', s.kernels, 'an object of kernel names');
  if (s.precision !== undefined && s.precision !== 'f32' && s.precision !== 'f16') bad('state.precision', s.precision, '"f32" or "f16"');
  if (s.scaler !== undefined) {
    const c = s.scaler as Obj;
    if (!(isObj(c) && isNum(c.scale) && c.scale > 0 && isInt(c.tracker) && isInt(c.skipped) && (c.skipped as number) <= step)) bad('state.scaler', c, `{ scale > 0, tracker, skipped <= ${step} } (integers)`);
  }
  const l = s.loader as Obj;
  if (!isObj(l)) bad('state.loader', l, 'an object (the data position)');
  const want: Obj = { version: 1, mode: o.sampling, B: o.batch, T: o.seq, seed: o.seed >>> 0, step: step * o.gradAccum };
  for (const [k, v] of Object.entries(want)) if (l[k] !== v) bad(`state.loader.${k}`, l[k], `${JSON.stringify(v)} (from ${k === 'step' ? '`state.step` x `opts.gradAccum`' : 'the run\'s options'})`);
  for (const k of ['epoch', 'shard', 'pos']) if (!isInt(l[k])) bad(`state.loader.${k}`, l[k], 'an integer >= 0');
  if (o.sampling === 'sequential' && (l.pos as number) % (o.batch * o.seq) !== 0) bad('state.loader.pos', l.pos, `a multiple of batch x seq ${o.batch * o.seq}`);
  if (!(Array.isArray(l.rng) && l.rng.length === 4 && l.rng.every((x) => isInt(x) && x < 2 ** 32))) bad('state.loader.rng', l.rng, 'four unsigned 32-bit integers');
  if (l.aligned !== undefined && l.aligned !== true) bad('state.loader.aligned', l.aligned, 'true or absent');
  return s as unknown as TrainerState;
}

/** the loader's position (shard, token) lies inside the data it is to read: else the run would go on from other windows */
export function checkPosition(file: string, s: TrainerState, data: ShardSource | ArrayLike<number>, hint: string): void {
  const sizes = 'sizes' in data ? data.sizes : [data.length], { shard, pos } = s.loader;
  const where = sizes.length > 1 ? `shard ${shard} of ${sizes.length}, token ${pos}` : `token ${pos}`;
  if (shard >= sizes.length || (pos > 0 && pos >= sizes[shard])) {
    const held = shard >= sizes.length ? `the data has ${sizes.length} shard${sizes.length === 1 ? '' : 's'}` : `it holds ${sizes[shard]} tokens`;
    fail(`${file}: \`state.loader\` is at ${where}, outside the training data (${held})`, hint);
  }
}
