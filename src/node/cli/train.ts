// cli/train: the training commands: `train` (continued pre-training of one model) and `run`
// (the whole Inheritune recipe; `demo` is `run` on the built-in default).
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu, Precision } from '../../gpu/gpu.js';
import { readModelConfig, readTokenizer, readTokens, readTrainData, tokenizerFiles, loadModel } from '../files.js';
import { TRAIN_DEFAULTS, validateTrainOptions, type TrainOptions, type TrainData } from '../../train/trainer.js';
import { trainRun, finishedAt } from '../train.js';
import { RECIPE_DEFAULTS, type RecipeOptions } from '../../method/recipe.js';
import { runOnDisk, builtinReference, pretrainReference, referenceDir, type RunArgs } from '../recipe.js';
import { TASK_NAMES, type TaskName, type TaskTokenizer } from '../../tasks/score.js';
import type { Tokenizer } from '../../tokenizers/load.js';
import { int, str, num, stderrBar, modelPath, selectFlag, cli, type Flags } from './args.js';
import { fail } from '../../util/errors.js';
import { resolveSelect } from '../../method/select.js';
import { checkOut } from './outdir.js';
import { BUILTIN_RUN, DEMO_OUT, PRETRAIN_OUT } from './specs.js';
import { checkPlan, deviceLimits, precisionFlag } from './plan.js';
import { memoryPlan, runPlanOptions } from '../../train/plan.js';
import { DISTILL_DEFAULTS, validateDistill, type DistillOptions } from '../../train/distill.js';
import { checkTeacher } from '../teacher.js';

/** training options from flags, over `base` defaults, with --precision resolved on this device */
function trainOptions(flags: Flags, gpu: Gpu, base: Partial<TrainOptions>): TrainOptions & { precision: Precision } {
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
  if (flags.teacher === undefined && !flags.distill && !flags['kd-baseline']) {
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

/** a model's text data: --text tokenized as `eval` does (BOS, then the whole file); --val-text, or the last 10% held out */
async function textData(flags: Flags, path: string, vocabSize: number): Promise<{ train: TrainData; val: number[]; tok: () => Promise<Tokenizer> }> {
  const textPath = str(flags, 'text');
  for (const f of [textPath, flags['val-text']]) if (typeof f === 'string' && !existsSync(f)) fail(`text file '${f}' does not exist`);
  const tok = () => readTokenizer(flags.tokenizer as string | undefined, path, vocabSize);
  if (typeof flags['val-text'] === 'string') return { train: await readTrainData(textPath, tok), val: await readTokens(flags['val-text'], tok, 'val'), tok };
  // no --val-text: a shard directory's val shards, or else the last 10% of the tokens, are held out
  if (statSync(textPath).isDirectory()) return { train: await readTrainData(textPath, tok), val: await readTokens(textPath, tok, 'val'), tok };
  const train = await readTokens(textPath, tok, 'train');
  const cut = Math.floor(train.length * 0.9);
  return { train: train.slice(0, cut), val: train.slice(cut), tok };
}

export async function trainCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const out = str(flags, 'out');
  const opts = trainOptions(flags, gpu, {});
  const resume = checkOut(out, { flag: '--out', own: 'train' }, !!flags.resume, !!flags.force);
  // --resume of a run that already reached --steps: say so before any text is read, and succeed
  const finished = resume ? finishedAt(out, opts) : null;
  if (finished !== null) return nothingToTrain(flags, out, finished, opts.steps);
  const path = await modelPath(flags, 'model');
  const config = await readModelConfig(path);
  const teacher = flags.teacher !== undefined ? await modelPath(flags, 'teacher') : undefined;
  if (teacher) {
    validateDistill(opts.distill!, config.vocabSize, (k) => `--distill-${k}`);
    await checkTeacher(path, teacher);
  }
  const planOpts = runPlanOptions(opts, teacher ? await readModelConfig(teacher) : undefined);
  checkPlan(gpu, flags, config, planOpts);
  const { train, val } = await textData(flags, path, config.vocabSize);
  const planned = memoryPlan(config, planOpts, deviceLimits(gpu, flags)).total;
  gpu.resetPeak();
  const live0 = gpu.memory.live;
  const r = await trainRun(gpu, { model: path, out, metrics: flags.metrics as string | undefined, resume,
    saveEvery: num(flags, 'save-every', 0), opts, train, val, teacher, progress: flags.json ? null : stderrBar() });
  if (flags.json) {
    // gpu_peak_bytes: the most storage bytes the run held at once (Gpu.memory), beside the plan's total
    console.log(JSON.stringify({ losses: r.metrics.map((m) => m.loss), grad_norms: r.metrics.map((m) => m.grad_norm), val_loss: r.valLoss,
      ...(teacher ? { ce: r.metrics.map((m) => m.ce), kd: r.metrics.map((m) => m.kd) } : {}),
      steps_run: r.stepsRun, step: r.step, gpu_peak_bytes: gpu.memory.peak - live0, plan_bytes: planned }));
    return;
  }
  const last = r.metrics.at(-1);
  const what = r.stepsRun === r.step ? `trained ${r.step} steps` : `trained ${r.stepsRun} more step${r.stepsRun === 1 ? '' : 's'} (to step ${r.step})`;
  console.log(`${what}: loss ${last?.loss.toFixed(4)}, val loss ${r.valLoss.toFixed(4)}; checkpoint in ${join(out, 'checkpoint')}`);
}

/** `train --resume` of a run at step `step` >= --steps `steps`: nothing runs, and the message says how to train longer */
function nothingToTrain(flags: Flags, out: string, step: number, steps: number): void {
  const where = step === steps ? `already finished at step ${step} of ${steps}` : `is at step ${step}, past --steps ${steps}`;
  const note = `the run in ${out} ${where}: nothing to train. To train longer, pass --resume with --steps M, M greater than ${step} ` +
    `(the learning-rate schedule then runs to step M); the checkpoint is ${join(out, 'checkpoint')}`;
  if (flags.json) { console.log(JSON.stringify({ losses: [], grad_norms: [], steps_run: 0, step, note })); return; }
  console.log(note);
}

/** --tasks a,b --task-data DIR (one folder per task, named as TASK_DIRS says) [--task-limit N] */
function taskSpec(flags: Flags, tokenizer: TaskTokenizer | undefined): RunArgs['tasks'] {
  if (flags.tasks === undefined) return undefined;
  const names = String(flags.tasks).split(',').map((t) => t.trim()) as TaskName[];
  for (const t of names) if (!TASK_NAMES.includes(t)) fail(`--tasks: '${t}' is not a known task`, `use some of: ${TASK_NAMES.join(', ')}`);
  return { names, dataRoot: str(flags, 'task-data'), limit: int(flags, 'task-limit'), tokenizer: tokenizer ?? fail('--tasks needs a tokenizer') };
}

export async function runCmd(flags: Flags, gpu: Gpu, builtin = false): Promise<void> {
  const out = typeof flags.out === 'string' ? flags.out : builtin ? DEMO_OUT : str(flags, 'out');
  const log = flags.json ? () => {} : (l: string) => console.log(l);
  const progress = flags.json ? null : stderrBar();
  const opts = trainOptions(flags, gpu, flags.model !== undefined ? {} : BUILTIN_RUN);
  // without --model the run is the built-in job's, which a re-run continues (as demo does)
  const resume = checkOut(out, { flag: '--out', own: flags.model !== undefined ? 'run' : 'demo', resumeByDefault: flags.model === undefined },
    !!flags.resume, !!flags.force);
  const path = flags.model !== undefined ? await modelPath(flags, 'model') : undefined;
  const select = selectFlag(flags);
  const recipe: RecipeOptions = {
    layers: int(flags, 'layers'), select: undefined, // below: a rule needs the reference and the data
    grow: int(flags, 'grow') ?? RECIPE_DEFAULTS.grow, maxRounds: int(flags, 'max-rounds') ?? RECIPE_DEFAULTS.maxRounds,
    tolerance: num(flags, 'tolerance', RECIPE_DEFAULTS.tolerance),
    growth: (flags.growth as RecipeOptions['growth']) ?? RECIPE_DEFAULTS.growth,
    baseline: path ? !!flags.baseline : true, preset: (flags.preset as RecipeOptions['preset']) ?? RECIPE_DEFAULTS.preset, train: opts,
    distill: !!flags.distill, kdBaseline: !!flags['kd-baseline'],
  };
  let data;
  if (path) {
    // the largest model the rounds may train is the reference's size
    const refConfig = await readModelConfig(path);
    if (opts.distill) validateDistill(opts.distill, refConfig.vocabSize, (k) => `--distill-${k}`);
    checkPlan(gpu, flags, refConfig, runPlanOptions(opts, opts.distill ? refConfig : undefined)); // the reference is the teacher
    const { train, val, tok } = await textData(flags, path, refConfig.vocabSize);
    const tokFiles = tokenizerFiles(path);
    data = { reference: await referenceDir(path, join(out, 'reference-hf'), tokFiles, resume), train, val, tokFiles, tokenizer: flags.tasks ? await tok() : undefined };
  } else {
    if (flags.text) fail('--text needs --model: the built-in default brings its own reference and data', 'pass --model PATH with --text, or neither');
    data = await builtinReference(gpu, out, progress, log, int(flags, 'pretrain-steps'));
    if (opts.distill) validateDistill(opts.distill, (await readModelConfig(data.reference)).vocabSize, (k) => `--distill-${k}`);
  }
  // a rule's reference blocks are picked on the validation tokens (src/method/select.ts)
  const { reference, val } = data;
  const { blocks, why } = await resolveSelect(select, recipe.layers, async () => ({ model: await loadModel(gpu, reference), tokens: val }));
  recipe.select = blocks;
  if (why !== undefined) log(`${select} selection: ${why} -> blocks [${blocks}]`);
  const report = await runOnDisk(gpu, { out, resume, recipe, train: data.train, val: data.val,
    reference: data.reference, tokenizerFiles: data.tokFiles, saveEvery: num(flags, 'save-every', 50),
    analyzeSequences: num(flags, 'analyze-sequences', 100), progress, log, tasks: taskSpec(flags, data.tokenizer) });
  if (flags.json) { console.log(JSON.stringify(report)); return; }
  console.log(`\nreport: ${join(out, 'report.json')}, ${join(out, 'summary.md')}, ${join(out, 'val_loss.svg')}`);
  console.log(readFileSync(join(out, 'summary.md'), 'utf8'));
}

/** `pretrain`: the built-in reference from random init on the Brown Corpus (src/node/recipe.ts) */
export async function pretrainCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const out = typeof flags.out === 'string' ? flags.out : PRETRAIN_OUT;
  // a training run is continued only if it is this command's (its start is the built-in config)
  if (checkOut(out, { flag: '--out', own: 'train', resumeByDefault: true }) && !existsSync(join(out, 'init', 'config.json'))) {
    fail(`--out ${out} holds a training run that \`inheritune-rt pretrain\` did not start`, 'pass another --out (or the --out of an earlier pretrain run to continue it)');
  }
  await pretrainReference(gpu, out, flags.json ? null : stderrBar(), flags.json ? () => {} : (l) => console.log(l), int(flags, 'steps'));
  const summary = join(out, 'model', 'pretrain.json');
  const s = existsSync(summary) ? JSON.parse(readFileSync(summary, 'utf8')) : null;
  if (flags.json) { console.log(JSON.stringify(s ?? { out })); return; }
  console.log(s ? `the reference: ${join(out, 'model')} — ${s.parameters} parameters, validation loss ${s.final_val_loss.toFixed(4)} nats/byte ` +
    `after ${s.options.steps} steps (${s.tokens} tokens, ${s.wall_seconds} s)` : `the reference: ${join(out, 'checkpoint')}`);
}
