// cli/plan: `inheritune-rt plan` (the memory plan of a training run, src/train/plan.ts) and the check
// train and run make with it before they allocate anything on the GPU.
import { totalmem } from 'node:os';
import type { Gpu, Precision } from '../../gpu/gpu.js';
import type { ModelConfig } from '../../model/config.js';
import { memoryPlan, fitSuggestions, planText, runPlanOptions, type DeviceLimits, type PlanOptions } from '../../train/plan.js';
import type { OptimName } from '../../train/adamw.js';
import { GRAD_DTYPES, type GradDtype } from '../../train/grads16.js';
import { readModelConfig } from '../models.js';
import { teacherDtype } from '../teacher.js';
import { resolvePrecision, TRAIN_DEFAULTS, type TrainOptions } from '../../train/trainer.js';
import { parseSize } from '../../formats/stwrite.js';
import { int, modelPath, type Flags } from './args.js';
import { fail } from '../../util/errors.js';
import { DISTILL_DEFAULTS } from '../../train/distill.js';

/**
 * the device's limits and memory: --memory when given; a CPU adapter (lavapipe, SwiftShader) has
 * the host's RAM; any other adapter does not say (WebGPU exposes no memory size)
 */
export function deviceLimits(gpu: Gpu, flags: Flags): DeviceLimits {
  const l: DeviceLimits = { maxBufferSize: gpu.limits.maxBufferSize, maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize };
  if (typeof flags.memory === 'string') return { ...l, memory: parseSize(flags.memory), memorySource: '--memory' };
  if (gpu.cpuAdapter) return { ...l, memory: totalmem(), memorySource: 'a CPU adapter: host RAM' };
  return l;
}

/**
 * --precision resolved on this device ('auto': f16 on a GPU with shader-f16, Gpu.autoF16): the CLI's one resolution of
 * it; train, run and plan pass the plain value on (to the memory plan and the Trainer)
 */
export function precisionFlag(flags: Flags, gpu: Gpu, dflt: TrainOptions['precision'] = TRAIN_DEFAULTS.precision): Precision {
  return resolvePrecision((flags.precision as TrainOptions['precision'] | undefined) ?? dflt, gpu.autoF16, '--precision');
}

// plan's --optim (train and run check theirs with the other training options, validateTrainOptions)
function optimFlag(flags: Flags): OptimName {
  const optim = (flags.optim as OptimName | undefined) ?? 'adamw';
  if (optim !== 'adamw' && optim !== 'adamw8bit') fail(`--optim ${optim}: expected adamw or adamw8bit`);
  return optim;
}

// plan's --grad-dtype (train and run check theirs with validateTrainOptions)
function gradDtypeFlag(flags: Flags): GradDtype {
  const dt = (flags['grad-dtype'] as GradDtype | undefined) ?? 'f32';
  if (!GRAD_DTYPES.includes(dt)) fail(`--grad-dtype ${dt}: expected ${GRAD_DTYPES.join(' or ')}`);
  return dt;
}

/** train and run: refuse before allocating when the plan does not fit, printing it and the flags that would */
export function checkPlan(gpu: Gpu, flags: Flags, c: ModelConfig, o: PlanOptions): void {
  const limits = deviceLimits(gpu, flags);
  const p = memoryPlan(c, o, limits);
  if (!p.fits) fail(`the run does not fit this device:\n${planText(p, fitSuggestions(c, o, limits))}`, 'add the flags it names, or see `inheritune-rt plan --help`');
}

export async function planCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const c = await readModelConfig(path);
  const layers = int(flags, 'layers');
  if (layers !== undefined && (layers < 1 || layers > c.nLayers)) fail(`--layers ${layers}: the model has ${c.nLayers} blocks`, `pass 1..${c.nLayers}`);
  const config = layers ? { ...c, nLayers: layers } : c;
  // the run train's flags would make; --inference: no gradients, no optimizer
  const teacher = flags.teacher !== undefined ? await modelPath(flags, 'teacher') : undefined;
  const o = runPlanOptions({
    batch: int(flags, 'batch') ?? fail('--batch B is required'), seq: int(flags, 'seq') ?? fail('--seq T is required'),
    gradAccum: int(flags, 'grad-accum') ?? 1, recompute: !!flags.recompute, precision: precisionFlag(flags, gpu), f16Arithmetic: gpu.f16Arithmetic,
    optim: flags.inference ? undefined : optimFlag(flags), optimInBackward: !!flags['optim-in-backward'],
    gradDtype: gradDtypeFlag(flags),
    distill: { ...DISTILL_DEFAULTS, topk: int(flags, 'distill-topk', { min: 0 }) ?? 0 },
  }, teacher ? await readModelConfig(teacher) : undefined, teacher ? await teacherDtype(teacher) : null);
  if (flags['distill-topk'] !== undefined && flags.teacher === undefined) fail('--distill-topk needs --teacher PATH', 'pass the teacher to count with --teacher');
  if (flags.inference) o.optim = null;
  if (o.seq > config.maxSeqLen) fail(`--seq ${o.seq} exceeds the model's maximum of ${config.maxSeqLen} positions`);
  const limits = deviceLimits(gpu, flags);
  const p = memoryPlan(config, o, limits);
  const suggestions = p.fits ? [] : fitSuggestions(config, o, limits);
  if (flags.json) { console.log(JSON.stringify({ ...p, suggestions })); return; }
  console.log(planText(p, suggestions));
}
