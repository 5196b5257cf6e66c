// cli/train: `inheritune-rt train`, continued pre-training of one model (src/node/train.ts), with a
// teacher to distil from (--teacher).
import { join } from 'node:path';
import type { Gpu } from '../../gpu/gpu.js';
import { readModelConfig } from '../models.js';
import { trainRun, finishedAt } from '../train.js';
import { str, num, stderrBar, modelPath, type Flags } from './args.js';
import { checkOut } from './outdir.js';
import { checkPlan, deviceLimits } from './plan.js';
import { memoryPlan, runPlanOptions } from '../../train/plan.js';
import { validateDistill } from '../../train/distill.js';
import { checkTeacher } from '../teacher.js';
import { trainOptions, textData } from './training.js';

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
