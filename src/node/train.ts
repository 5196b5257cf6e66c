// node/train: the Node side of training: checkpoints on disk (written atomically, resumed exactly),
// metrics as JSONL, the loss curve as SVG, a progress bar. The loop itself is src/train/trainer.ts.
// Layout of --out DIR:
//   DIR/checkpoint/   the latest checkpoint (a link to DIR/checkpoints/step-N/, swapped atomically,
//                     src/node/checkpoint.ts): a Hugging Face model directory (config.json,
//                     model.safetensors, tokenizer files) + optimizer.safetensors (the optimizer's
//                     state: AdamW m, v; or 8-bit codes and absmax; `format` names which) +
//                     trainer.json (step, data cursor/RNG, kernel choices, the run's options; with
//                     --teacher-cache, teacher_cache: the sha256 of its distill_cache.json; data: the
//                     training data's identity, src/node/digests.ts) + digests.json (each file's sha256)
// A resume checks what it reads before it loads anything: trainer.json field by field (src/node/runstate.ts),
// the data and teacher cache against the ones recorded (another is refused unless allowDataChange), the
// loader's position against the data, and every file of the step directory against its digest.
//   DIR/metrics.jsonl one line per step: step, loss, lr, grad_norm, tokens, tokens_per_s (+ val_loss;
//                     f16: loss_scale, and skipped when the step overflowed and was not applied)
//   DIR/loss.svg      training and validation loss against step
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Gpu } from '../gpu/gpu.js';
import { Model } from '../model/model.js';
import { Trainer, type TrainOptions, type TrainerState, type StepMetrics, type TrainData } from '../train/trainer.js';
import { hfConfigFiles, hfSliceWrites, toRotateHalf } from '../formats/hf.js';
import { loadModel } from './models.js';
import { loadTeacher } from './teacher.js';
import { tokenizerFiles } from './tokfiles.js';
import { saveCheckpoint, recoverCheckpoint, checkStep, olderSteps, currentStep } from './checkpoint.js';
import { readTrainerJson, checkPosition, type SavedRun } from './runstate.js';
import { sameData, type DataIdentity } from './digests.js';
import { SafetensorsFile } from '../formats/safetensors.js';
import { fileSource } from './filesource.js';
import { lineChart } from '../util/svg.js';
import { Progress } from '../util/progress.js';
import { fail } from '../util/errors.js';
import { openCache } from './distill_cache.js';

export interface TrainRun {
  model: string;            // model path (HF dir or llama2.c .bin)
  out: string;
  metrics?: string;
  resume: boolean;
  saveEvery: number;        // 0: only at the end
  opts: TrainOptions;
  train: TrainData;
  val: ArrayLike<number>;
  teacher?: string;         // a model path to distil from (opts.distill: the loss's settings)
  teacherCache?: string;    // or a cache of its top-K logits (src/node/distill_cache.ts) to distil from
  data?: DataIdentity;      // the training data's identity (digests.ts dataIdentity): recorded, and checked on resume
  allowDataChange?: boolean; // resume on other data (or another teacher cache) than the run's, from the same position
  keep?: number;            // the newest checkpoints kept (default: what the run recorded, else 1)
  progress: ((s: string) => void) | null;
}

// options that must not change between a run and its resume (they decide which tokens are seen)
const FIXED = ['batch', 'seq', 'gradAccum', 'sampling', 'seed'] as const;

/**
 * metrics: every step of the run so far (on resume, the earlier ones too); stepsRun: the steps this call
 * trained (0 when a resumed run had already reached `steps`); step: the run's step at the end
 */
export interface TrainRunResult { metrics: StepMetrics[]; valLoss: number; stepsRun: number; step: number }

/** what a resume is checked against besides its options: the teacher cache's digest and the data's identity */
export interface ResumeChecks { cache?: string; data?: DataIdentity; allowDataChange?: boolean }

/** the fix for a damaged checkpoint of the run in `out`: an older kept step, or starting over */
export function damagedHint(out: string): string {
  const older = olderSteps(out, currentStep(out) ?? 'step-99999999');
  return older.length ? `resume from the run's older checkpoint with --resume-from ${older[0]}${older.length > 1 ? ` (${older.length} older ones are kept)` : ''}, or start over with --force`
    : 'no older checkpoint of the run is kept (train --keep-checkpoints N keeps the newest N); restore the file, or start over with --force';
}

/**
 * The checkpoint of the run in `out` (null when there is none): its trainer.json checked field by field,
 * then against the resume: the options that decide which tokens are seen (FIXED) and the optimizer must
 * not change; the data and teacher cache must be the recorded ones unless `allowDataChange`.
 */
function savedRun(out: string, opts: TrainOptions, checks: ResumeChecks = {}): SavedRun & { file: string } | null {
  recoverCheckpoint(out);
  if (!existsSync(join(out, 'checkpoint', 'trainer.json'))) return null;
  const step = currentStep(out), f = step ? join(out, 'checkpoints', step, 'trainer.json') : join(out, 'checkpoint', 'trainer.json');
  const saved = readTrainerJson(f, damagedHint(out));
  const { cache, data, allowDataChange } = checks;
  const allow = 'pass --allow-data-change to go on from the same position in the new data (allowDataChange in the API), or --force to start over';
  // a teacher cache is the one whose manifest has this digest
  const tc = [saved.teacher_cache ?? null, cache ?? null];
  if (tc[0] !== tc[1] && !(allowDataChange && tc[0] && tc[1])) {
    const what = (d: string | null) => (d ? `the teacher cache whose manifest's sha256 is ${d.slice(0, 16)}…` : 'no teacher cache');
    fail(`\`resume\`: the checkpoint was trained with ${what(tc[0])}, and this run has ${what(tc[1])}`,
      `resume with the same teacher cache (the same distill_cache.json)${tc[0] && tc[1] ? `; or ${allow}` : ''}`);
  }
  if (saved.data && data && !sameData(saved.data, data) && !allowDataChange) {
    const d = (x: DataIdentity) => `${x.bytes} bytes in ${x.files} file${x.files === 1 ? '' : 's'}, sha256 ${x.sha256.slice(0, 16)}…`;
    const now = saved.data.path === data.path ? `it has changed since (${d(data)})` : `this run's --text is ${data.path} (${d(data)})`;
    fail(`\`resume\`: the run in ${out} was trained on the text ${saved.data.path} (${d(saved.data)}, as ${f} records); ${now}`, `resume with the data the run was trained on; or ${allow}`);
  }
  for (const k of FIXED) {
    if (saved.opts[k] !== opts[k]) fail(`\`resume\`: \`${k}\` was ${saved.opts[k]} in the checkpoint, ${opts[k]} now`, `resume with the same \`${k}\``);
  }
  const kd = [JSON.stringify(saved.opts.distill ?? null), JSON.stringify(opts.distill ?? null)];
  if (kd[0] !== kd[1]) fail(`\`resume\`: the checkpoint was trained with distillation ${kd[0]}, and it is ${kd[1]} now`, 'resume with the same teacher and distillation settings');
  const optim = [saved.opts.optim ?? 'adamw', opts.optim ?? 'adamw'];
  if (optim[0] !== optim[1]) fail(`\`resume\`: the checkpoint's optimizer state is ${optim[0]}'s, and \`optim\` is ${optim[1]} now`, `resume with \`optim\` ${optim[0]}, or start a new run`);
  return { ...saved, file: f };
}

/**
 * The step of the run in `out` when it has already reached `opts.steps` (a resume would train
 * nothing), else null; a resume with changed options is refused first. The CLI asks before it reads
 * any text; trainRun returns at once in that case.
 */
export function finishedAt(out: string, opts: TrainOptions, checks: ResumeChecks = {}): number | null {
  const step = savedRun(out, opts, checks)?.state.step;
  return step !== undefined && step >= opts.steps ? step : null;
}

export async function trainRun(gpu: Gpu, r: TrainRun): Promise<TrainRunResult> {
  mkdirSync(r.out, { recursive: true });
  const ckDir = join(r.out, 'checkpoint');
  const metricsPath = r.metrics ?? join(r.out, 'metrics.jsonl');
  let state: TrainerState | undefined;
  let model: Model;
  let history: StepMetrics[] = [];
  let opt: SafetensorsFile | null = null; // the checkpoint's optimizer state, read tensor by tensor on resume
  let optFormat = '', optFile = '';
  const cache = r.teacherCache ? await openCache(r.teacherCache) : null;
  if (r.resume) {
    const saved = savedRun(r.out, r.opts, { cache: cache?.digest, data: r.data, allowDataChange: r.allowDataChange }) ?? fail(`\`resume\`: no checkpoint in ${ckDir}`, 'run without `resume` to start a new run');
    state = saved.state;
    if (existsSync(metricsPath)) {
      // a kill mid-append leaves a partial last line: keep the lines that parse, up to the checkpoint's step
      history = readFileSync(metricsPath, 'utf8').split('\n').flatMap((l) => { try { return [JSON.parse(l) as StepMetrics]; } catch { return []; } })
        .filter((x) => typeof x?.step === 'number' && x.step < state!.step);
    }
    // a run that already reached `steps`: nothing to train (the caller says so); nothing is loaded or written
    if (state.step >= r.opts.steps) return { metrics: history, valLoss: lastVal(history), stepsRun: 0, step: state.step };
    // the data position lies inside the data, and every file is there and matches its digest, before anything is loaded
    checkPosition(saved.file, state, r.train, r.allowDataChange ? 'pass data that reaches the run\'s position, or --force to start over' : damagedHint(r.out));
    const damaged = checkStep(dirname(saved.file));
    if (damaged) fail(`\`resume\`: ${damaged}: the checkpoint is damaged`, damagedHint(r.out));
    model = await loadModel(gpu, ckDir, { progress: r.progress });
    const optPath = join(dirname(saved.file), 'optimizer.safetensors');
    opt = await SafetensorsFile.open(await fileSource(optPath), optPath);
    optFormat = opt.metadata.format ?? 'inheritune-adamw';
    optFile = optPath;
  } else {
    model = await loadModel(gpu, r.model, { prepare: toRotateHalf, progress: r.progress }); // the layout checkpoints hold, from step 0 (an HF directory's already)
  }
  writeFileSync(metricsPath, history.map((x) => JSON.stringify(x) + '\n').join(''));
  const teacher = r.teacher ? await loadTeacher(gpu, r.teacher, r.progress) : null; // forward only, its matrices in their stored 16-bit dtype
  const trainer = new Trainer(model, r.train, r.val, r.opts, state, teacher ? { model: teacher } : cache ? { cache } : undefined);
  if (opt) {
    const f = opt;
    try {
      if (optFormat !== trainer.optimizer.format) fail(`${optFile}: its \`format\` metadata is ${JSON.stringify(optFormat)}, and this run's optimizer state is ${trainer.optimizer.format}`, damagedHint(r.out));
      await trainer.optimizer.loadState((key) => (f.tensors.get(key)?.dtype === 'U8' ? f.readU8(key) : f.read(key)), [...f.tensors.keys()]);
    } finally {
      await f.close();
    }
  }
  const tok = tokenizerFiles(r.resume ? ckDir : r.model);
  const bar = new Progress('train', r.opts.steps, r.progress);
  let valLoss = NaN, ran = 0;
  try {
    while (!trainer.done) {
      const s = await trainer.step();
      ran++;
      history.push(s);
      writeFileSync(metricsPath, JSON.stringify(s) + '\n', { flag: 'a' });
      if (s.val_loss !== undefined) valLoss = s.val_loss;
      bar.update(trainer.state.step, `loss ${s.loss.toFixed(4)}${s.val_loss !== undefined ? ` val ${s.val_loss.toFixed(4)}` : ''} ${s.tokens_per_s.toFixed(0)} tok/s`);
      if ((r.saveEvery > 0 && trainer.state.step % r.saveEvery === 0) || trainer.done) {
        await save(trainer, r.out, tok, r.progress, { cache: cache?.digest, data: r.data, keep: r.keep });
        writeFileSync(join(r.out, 'loss.svg'), lossSvg(history));
      }
    }
  } finally {
    trainer.destroy();
    model.destroy();
    teacher?.destroy();
    await cache?.close();
  }
  if (Number.isNaN(valLoss)) valLoss = lastVal(history);
  return { metrics: history, valLoss, stepsRun: ran, step: (state?.step ?? 0) + ran };
}

const lastVal = (h: StepMetrics[]) => h.filter((x) => x.val_loss !== undefined).at(-1)?.val_loss ?? NaN;

async function save(trainer: Trainer, run: string, tok: Record<string, Uint8Array[]>, progress: ((s: string) => void) | null,
                    { cache, data, keep }: { cache?: string; data?: DataIdentity; keep?: number }): Promise<void> {
  const optimizer = trainer.optimizer;
  const trainerJson = JSON.stringify({ state: trainer.state, opts: trainer.opts, ...(cache ? { teacher_cache: cache } : {}), ...(data ? { data } : {}) }, null, 1) + '\n';
  // the weights go from the GPU to the file slice by slice (f32, sharded above 5GB)
  const { model } = trainer;
  await saveCheckpoint(run, trainer.state.step, {
    ...hfConfigFiles(model.config), ...tok,
    'trainer.json': [new TextEncoder().encode(trainerJson)],
  }, [{ writes: hfSliceWrites(model.config, (name, l, start, n) => model.params.readSlice(name, l, start, n)) },
    // the optimizer state goes the same way, into one optimizer.safetensors
    { writes: optimizer.stateWrites(), maxShardSize: Infinity, fileName: 'optimizer.safetensors', metadata: { format: optimizer.format } }], progress, keep);
}

export function lossSvg(h: StepMetrics[]): string {
  return lineChart([
    { name: 'train loss', points: h.filter((x) => Number.isFinite(x.loss)).map((x) => [x.step, x.loss]) }, // an f16 step skipped for overflow may have none
    { name: 'val loss', points: h.filter((x) => x.val_loss !== undefined).map((x) => [x.step, x.val_loss!]), dashed: true },
  ], { title: 'inheritune-rt training', xLabel: 'step', yLabel: 'loss (nats/token)' });
}
