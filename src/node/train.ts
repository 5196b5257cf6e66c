// node/train: the Node side of training: checkpoints on disk (written atomically, resumed exactly),
// metrics as JSONL, the loss curve as SVG, a progress bar. The loop itself is src/train/trainer.ts.
// Layout of --out DIR:
//   DIR/checkpoint/   the latest checkpoint (a link to DIR/checkpoints/step-N/, swapped atomically,
//                     src/node/checkpoint.ts): a Hugging Face model directory (config.json,
//                     model.safetensors, tokenizer files) + optimizer.safetensors (the optimizer's
//                     state: AdamW m, v; or 8-bit codes and absmax; `format` names which) +
//                     trainer.json (step, data cursor/RNG, kernel choices, the run's options; with
//                     --teacher-cache, teacher_cache: the sha256 of its distill_cache.json)
//   DIR/metrics.jsonl one line per step: step, loss, lr, grad_norm, tokens, tokens_per_s (+ val_loss;
//                     f16: loss_scale, and skipped when the step overflowed and was not applied)
//   DIR/loss.svg      training and validation loss against step
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu.js';
import { Model } from '../model/model.js';
import { Trainer, type TrainOptions, type TrainerState, type StepMetrics, type TrainData } from '../train/trainer.js';
import { hfConfigFiles, hfSliceWrites, toRotateHalf } from '../formats/hf.js';
import { loadModel } from './models.js';
import { loadTeacher } from './teacher.js';
import { tokenizerFiles } from './tokfiles.js';
import { saveCheckpoint, recoverCheckpoint } from './checkpoint.js';
import { SafetensorsFile } from '../formats/safetensors.js';
import { fileSource } from './bytes.js';
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
  progress: ((s: string) => void) | null;
}

// options that must not change between a run and its resume (they decide which tokens are seen)
const FIXED = ['batch', 'seq', 'gradAccum', 'sampling', 'seed'] as const;

/**
 * metrics: every step of the run so far (on resume, the earlier ones too); stepsRun: the steps this call
 * trained (0 when a resumed run had already reached `steps`); step: the run's step at the end
 */
export interface TrainRunResult { metrics: StepMetrics[]; valLoss: number; stepsRun: number; step: number }

/**
 * The checkpoint of the run in `out` (null when there is none), checked against the options of its
 * resume: those that decide which tokens are seen (FIXED) and the optimizer must not change.
 */
function savedRun(out: string, opts: TrainOptions, cache?: string): { state: TrainerState; opts: TrainOptions } | null {
  recoverCheckpoint(out);
  const f = join(out, 'checkpoint', 'trainer.json');
  if (!existsSync(f)) return null;
  const saved = JSON.parse(readFileSync(f, 'utf8')) as { state: TrainerState; opts: TrainOptions; teacher_cache?: string };
  // a teacher cache is the one whose manifest has this digest
  const tc = [saved.teacher_cache ?? null, cache ?? null];
  if (tc[0] !== tc[1]) {
    const what = (d: string | null) => (d ? `the teacher cache whose manifest's sha256 is ${d.slice(0, 16)}…` : 'no teacher cache');
    fail(`\`resume\`: the checkpoint was trained with ${what(tc[0])}, and this run has ${what(tc[1])}`, 'resume with the same teacher cache (the same distill_cache.json)');
  }
  for (const k of FIXED) {
    if (saved.opts[k] !== opts[k]) fail(`\`resume\`: \`${k}\` was ${saved.opts[k]} in the checkpoint, ${opts[k]} now`, `resume with the same \`${k}\``);
  }
  const kd = [JSON.stringify(saved.opts.distill ?? null), JSON.stringify(opts.distill ?? null)];
  if (kd[0] !== kd[1]) fail(`\`resume\`: the checkpoint was trained with distillation ${kd[0]}, and it is ${kd[1]} now`, 'resume with the same teacher and distillation settings');
  const optim = [saved.opts.optim ?? 'adamw', opts.optim ?? 'adamw'];
  if (optim[0] !== optim[1]) fail(`\`resume\`: the checkpoint's optimizer state is ${optim[0]}'s, and \`optim\` is ${optim[1]} now`, `resume with \`optim\` ${optim[0]}, or start a new run`);
  return saved;
}

/**
 * The step of the run in `out` when it has already reached `opts.steps` (a resume would train
 * nothing), else null; a resume with changed options is refused first. The CLI asks before it reads
 * any text; trainRun returns at once in that case.
 */
export function finishedAt(out: string, opts: TrainOptions, cache?: string): number | null {
  const step = savedRun(out, opts, cache)?.state.step;
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
  let optFormat = '';
  const cache = r.teacherCache ? await openCache(r.teacherCache) : null;
  if (r.resume) {
    const saved = savedRun(r.out, r.opts, cache?.digest) ?? fail(`\`resume\`: no checkpoint in ${ckDir}`, 'run without `resume` to start a new run');
    state = saved.state;
    if (existsSync(metricsPath)) {
      // a kill mid-append leaves a partial last line: keep the lines that parse, up to the checkpoint's step
      history = readFileSync(metricsPath, 'utf8').split('\n').flatMap((l) => { try { return [JSON.parse(l) as StepMetrics]; } catch { return []; } })
        .filter((x) => typeof x?.step === 'number' && x.step < state!.step);
    }
    // a run that already reached `steps`: nothing to train (the caller says so); nothing is loaded or written
    if (state.step >= r.opts.steps) return { metrics: history, valLoss: lastVal(history), stepsRun: 0, step: state.step };
    model = await loadModel(gpu, ckDir, { progress: r.progress });
    opt = await SafetensorsFile.open(await fileSource(join(ckDir, 'optimizer.safetensors')), 'optimizer.safetensors');
    optFormat = opt.metadata.format ?? 'inheritune-adamw';
  } else {
    model = await loadModel(gpu, r.model, { prepare: toRotateHalf, progress: r.progress }); // the layout checkpoints hold, from step 0 (an HF directory's already)
  }
  writeFileSync(metricsPath, history.map((x) => JSON.stringify(x) + '\n').join(''));
  const teacher = r.teacher ? await loadTeacher(gpu, r.teacher, r.progress) : null; // forward only, its matrices in their stored 16-bit dtype
  const trainer = new Trainer(model, r.train, r.val, r.opts, state, teacher ? { model: teacher } : cache ? { cache } : undefined);
  if (opt) {
    const f = opt;
    try {
      if (optFormat !== trainer.optimizer.format) fail(`\`resume\`: optimizer.safetensors holds ${optFormat}, not ${trainer.optimizer.format}`, 'start a new run');
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
        await save(trainer, r.out, tok, r.progress, cache?.digest);
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

async function save(trainer: Trainer, run: string, tok: Record<string, Uint8Array[]>, progress: ((s: string) => void) | null, cache?: string): Promise<void> {
  const optimizer = trainer.optimizer;
  const trainerJson = JSON.stringify({ state: trainer.state, opts: trainer.opts, ...(cache ? { teacher_cache: cache } : {}) }, null, 1) + '\n';
  // the weights go from the GPU to the file slice by slice (f32, sharded above 5GB)
  const { model } = trainer;
  await saveCheckpoint(run, trainer.state.step, {
    ...hfConfigFiles(model.config), ...tok,
    'trainer.json': [new TextEncoder().encode(trainerJson)],
  }, [{ writes: hfSliceWrites(model.config, (name, l, start, n) => model.params.readSlice(name, l, start, n)) },
    // the optimizer state goes the same way, into one optimizer.safetensors
    { writes: optimizer.stateWrites(), maxShardSize: Infinity, fileName: 'optimizer.safetensors', metadata: { format: optimizer.format } }], progress);
}

export function lossSvg(h: StepMetrics[]): string {
  return lineChart([
    { name: 'train loss', points: h.filter((x) => Number.isFinite(x.loss)).map((x) => [x.step, x.loss]) }, // an f16 step skipped for overflow may have none
    { name: 'val loss', points: h.filter((x) => x.val_loss !== undefined).map((x) => [x.step, x.val_loss!]), dashed: true },
  ], { title: 'inheritune-rt training', xLabel: 'step', yLabel: 'loss (nats/token)' });
}
