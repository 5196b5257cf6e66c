// cli/train: `inheritune-rt train`, continued pre-training of one model (src/node/train.ts), with a
// teacher to distil from (--teacher) or its cached top-K logits (--teacher-cache, src/node/distill_cache.ts).
import { join } from 'node:path';
import type { Gpu } from '../../gpu/gpu.js';
import { readModelConfig } from '../models.js';
import { trainRun, finishedAt } from '../train.js';
import { resumeFrom } from '../checkpoint.js';
import { dataIdentity } from '../digests.js';
import { str, num, int, stderrBar, modelPath, type Flags } from './args.js';
import { checkOut } from './outdir.js';
import { checkPlan, deviceLimits } from './plan.js';
import { memoryPlan, runPlanOptions } from '../../train/plan.js';
import { validateDistill } from '../../train/distill.js';
import { checkTeacher, teacherDtype } from '../teacher.js';
import { trainOptions, textData } from './training.js';
import { asSource, tokenizerDigest, tokenizerOrNull } from './distill_cache.js';
import { readManifest, checkCacheFor, tokensDigest, type CacheManifest } from '../distill_cache.js';
import type { TrainOptions } from '../../train/trainer.js';
import { fail } from '../../util/errors.js';

export async function trainCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const out = str(flags, 'out');
  const opts = trainOptions(flags, gpu, {});
  const cache = teacherCache(flags, opts);
  const from = flags['resume-from'] !== undefined ? str(flags, 'resume-from') : undefined;
  if (from !== undefined && flags.force) fail('--resume-from continues a run and --force starts one over: pass one of them');
  const keep = int(flags, 'keep-checkpoints');
  const resume = checkOut(out, { flag: '--out', own: 'train' }, !!flags.resume || from !== undefined, !!flags.force);
  if (from !== undefined) resumeFrom(out, from); // RUN/checkpoint names that step from here on
  // --resume of a run that already reached --steps: say so before any text is read, and succeed
  const finished = resume ? finishedAt(out, opts, { cache: cache?.digest, allowDataChange: !!flags['allow-data-change'] }) : null;
  if (finished !== null) return nothingToTrain(flags, out, finished, opts.steps);
  const path = await modelPath(flags, 'model');
  const config = await readModelConfig(path);
  const teacher = flags.teacher !== undefined ? await modelPath(flags, 'teacher') : undefined;
  if (teacher) await checkTeacher(path, teacher);
  if (opts.distill) validateDistill(opts.distill, config.vocabSize, (k) => `--distill-${k}`);
  const planOpts = runPlanOptions({ ...opts, f16Arithmetic: gpu.f16Arithmetic }, teacher ? await readModelConfig(teacher) : cache ? 'cache' : undefined, teacher ? await teacherDtype(teacher) : null);
  checkPlan(gpu, flags, config, planOpts);
  const { train, val, whole } = await textData(flags, path, config.vocabSize);
  if (cache) {
    const src = asSource(whole); // all of --text, as distill-cache read it (train is its start)
    checkCacheFor(cache.dir, cache.manifest, { T: opts.seq, textPath: str(flags, 'text'), textDigest: await tokensDigest(src),
      tokens: src.sizes.reduce((a, n) => a + n, 0), vocabSize: config.vocabSize,
      pieces: cache.manifest.tokenizer.digest ? tokenizerDigest(await tokenizerOrNull(flags, path, config.vocabSize), config.vocabSize) : null });
  }
  const planned = memoryPlan(config, planOpts, deviceLimits(gpu, flags)).total;
  gpu.resetPeak();
  const live0 = gpu.memory.live;
  const r = await trainRun(gpu, { model: path, out, metrics: flags.metrics as string | undefined, resume,
    saveEvery: num(flags, 'save-every', 0), opts, train, val, teacher, teacherCache: cache?.dir, progress: flags.json ? null : stderrBar(),
    data: await dataIdentity(str(flags, 'text')), allowDataChange: !!flags['allow-data-change'], keep });
  if (flags.json) {
    // gpu_peak_bytes: the most storage bytes the run held at once (Gpu.memory), beside the plan's total
    console.log(JSON.stringify({ losses: r.metrics.map((m) => m.loss), grad_norms: r.metrics.map((m) => m.grad_norm), val_loss: r.valLoss,
      ...(opts.distill ? { ce: r.metrics.map((m) => m.ce), kd: r.metrics.map((m) => m.kd) } : {}),
      steps_run: r.stepsRun, step: r.step, gpu_peak_bytes: gpu.memory.peak - live0, plan_bytes: planned }));
    return;
  }
  const last = r.metrics.at(-1);
  const what = r.stepsRun === r.step ? `trained ${r.step} steps` : `trained ${r.stepsRun} more step${r.stepsRun === 1 ? '' : 's'} (to step ${r.step})`;
  console.log(`${what}: loss ${last?.loss.toFixed(4)}, val loss ${r.valLoss.toFixed(4)}; checkpoint in ${join(out, 'checkpoint')}`);
}

/**
 * --teacher-cache DIR: its manifest (checked for shape), with --distill-topk set to the cache's K (another
 * K, or --teacher beside it, is refused)
 */
function teacherCache(flags: Flags, opts: TrainOptions): { dir: string; manifest: CacheManifest; digest: string } | null {
  if (flags['teacher-cache'] === undefined) return null;
  const dir = str(flags, 'teacher-cache');
  if (flags.teacher !== undefined) fail('pass either --teacher PATH (the teacher runs beside the student) or --teacher-cache DIR (its cached logits), not both', 'drop one of them');
  const { manifest, digest } = readManifest(dir);
  if (flags['distill-topk'] !== undefined && opts.distill!.topk !== manifest.K) {
    fail(`--teacher-cache ${dir} holds the teacher's top ${manifest.K} logits, and --distill-topk is ${opts.distill!.topk}`, `pass --distill-topk ${manifest.K} (or leave it out) with this cache, or make a cache of top ${opts.distill!.topk}`);
  }
  opts.distill!.topk = manifest.K;
  return { dir, manifest, digest };
}

/** `train --resume` of a run at step `step` >= --steps `steps`: nothing runs, and the message says how to train longer */
function nothingToTrain(flags: Flags, out: string, step: number, steps: number): void {
  const where = step === steps ? `already finished at step ${step} of ${steps}` : `is at step ${step}, past --steps ${steps}`;
  const note = `the run in ${out} ${where}: nothing to train. To train longer, pass --resume with --steps M, M greater than ${step} ` +
    `(the learning-rate schedule then runs to step M); the checkpoint is ${join(out, 'checkpoint')}`;
  if (flags.json) { console.log(JSON.stringify({ losses: [], grad_norms: [], steps_run: 0, step, note })); return; }
  console.log(note);
}
