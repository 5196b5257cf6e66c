// plan: the memory plan of training (or running) a model, computed from the same tables the package
// allocates from (arenaLayout for parameters, the family's activation and activation-gradient tables
// under TableStore's sizing rule, the trainer's loss log, the kernels' scratch), against the device's
// limits: the bytes of each part, the largest single buffer against maxBufferSize, the total against
// the memory the caller says the device has (WebGPU does not expose it; on a CPU adapter it is host
// RAM), whether it fits, and which flag would make it fit. `inheritune-rt plan` prints it; train and
// run check it before allocating anything.
import { alignUp } from '../gpu/view.js';
import type { Precision } from '../gpu/gpu.js';
import { arenaLayout, type Dtype16 } from '../model/arena.js';
import { parameterShapes, numel, headSize, logitsStride, type ModelConfig } from '../model/config.js';
import { FAMILIES } from '../model/model.js';
import { TableStore, storesF16 } from '../model/family.js';
import { blocksOf } from '../gpu/kernels/reduce.js';
import { halfBytes } from '../model/half.js';
import type { OptimName } from './adamw.js';
import type { TrainOptions } from './trainer.js';
import type { GradDtype } from './grads16.js';

export interface PlanOptions {
  batch: number; seq: number; gradAccum?: number;
  recompute?: boolean;
  /** 'f16': mixed precision, whose f16 activations are stored in f16 (Model.setPrecision) */
  precision?: Precision;
  /** the device runs f16 precision in real f16 arithmetic (Gpu.f16Arithmetic): the matmul weights' f16 copy is counted */
  f16Arithmetic?: boolean;
  /** optimizer-in-backward: gradients of one block (+ the tensors outside the blocks) */
  optimInBackward?: boolean;
  /** 'bf16': gradients stored in bf16 (2 bytes a parameter) + an f32 staging arena of one block (src/train/grads16.ts) */
  gradDtype?: GradDtype;
  /** the optimizer (its state), or null for inference only (no gradients, no optimizer) */
  optim?: OptimName | null;
  /**
   * knowledge distillation (src/train/distill.ts): the teacher model's config and the top K kept (0: all),
   * or no config for a teacher cache (only its top-K logits and ids of a micro-batch are on the GPU); dtype:
   * the 16-bit dtype its matrices are kept in (src/node/teacher.ts loadTeacher), else f32
   */
  teacher?: { config?: ModelConfig; topk: number; dtype?: Dtype16 | null };
}

/**
 * the plan's options of a training run, from its settings (the Trainer's options, precision resolved):
 * the one place train, run and plan turn a run into what memoryPlan reads (optim defaults to adamw)
 */
export function runPlanOptions(o: Pick<TrainOptions, 'batch' | 'seq' | 'gradAccum' | 'recompute' | 'optim' | 'optimInBackward' | 'distill' | 'gradDtype'> & { precision?: Precision; f16Arithmetic?: boolean },
                               teacher?: ModelConfig | 'cache', teacherDtype: Dtype16 | null = null): PlanOptions {
  return { batch: o.batch, seq: o.seq, gradAccum: o.gradAccum ?? 1, recompute: !!o.recompute, precision: o.precision ?? 'f32', f16Arithmetic: !!o.f16Arithmetic,
    optim: o.optim ?? 'adamw', optimInBackward: !!o.optimInBackward, gradDtype: o.gradDtype ?? 'f32',
    ...(teacher ? { teacher: { ...(teacher !== 'cache' ? { config: teacher, dtype: teacherDtype } : {}), topk: o.distill?.topk ?? 0 } } : {}) };
}

export interface DeviceLimits {
  maxBufferSize: number; maxStorageBufferBindingSize: number;
  /** bytes of memory the device has, when known */
  memory?: number; memorySource?: string;
}

export interface PlanPart { part: string; bytes: number; what: string }

export interface MemoryPlan {
  parameters: number;
  parts: PlanPart[];
  total: number;
  largestBuffer: { label: string; bytes: number };
  limits: DeviceLimits;
  fits: boolean;
  problems: string[];
}

const F = 4; // bytes per float

/** optimizer state bytes (src/train/adamw.ts, adamw8bit.ts) for the parameter layout */
export function optimizerBytes(optim: OptimName, c: ModelConfig, partFloats = Infinity): number {
  const { layout, parts } = arenaLayout(c, partFloats);
  // adamw: m and v, arenas of the parameter layout, in f32
  if (optim === 'adamw') return 2 * parts.reduce((a, b) => a + b, 0) * F;
  // adamw8bit: per 256-element block of each slice, 256 m codes + 256 v codes (a byte each) and two f32
  // maxima; + the 1024-float quantization tables
  const blocks = layout.reduce((a, s) => a + Math.ceil(s.numel / 256), 0);
  return blocks * 512 + alignUp(2 * blocks) * F + 1024 * F;
}

export function memoryPlan(c: ModelConfig, o: PlanOptions, limits: DeviceLimits): MemoryPlan {
  const B = o.batch, T = o.seq, G = o.gradAccum ?? 1, BT = B * T, L = c.nLayers, train = o.optim !== null && o.optim !== undefined;
  const partFloats = Math.floor(limits.maxBufferSize / F);
  const { parts: arena } = arenaLayout(c, partFloats);
  const floats = arena.reduce((a, b) => a + b, 0);
  let parameters = 0;
  for (const [, shape, perLayer] of parameterShapes(c)) parameters += numel(shape) * (perLayer ? L : 1);
  const fam = FAMILIES[c.family];
  const mode = { recompute: o.recompute, f16: o.precision === 'f16' }, f16 = storesF16(L, mode);
  const acts = TableStore.plan(fam.activations(c, B, T), L, mode);
  const out: PlanPart[] = [{ part: 'weights', bytes: floats * F, what: `${parameters} parameters in f32, ${arena.length} buffer(s)` }];
  let largest = { label: 'weights', bytes: Math.max(...arena) * F };
  const halves = o.precision === 'f16' && !!o.f16Arithmetic; // an f16 copy of the matmul weights (src/model/half.ts)
  if (halves) out.push({ part: 'weights f16', bytes: halfBytes(c, partFloats), what: 'an f16 copy of the matmul weights (f16 arithmetic), remade after each optimizer step' });
  if (train) {
    // one block + the tensors outside the blocks: optimizer-in-backward's gradients, and bf16's f32 staging
    const oneBlock = arenaLayout({ ...c, nLayers: 1 }, partFloats).parts.reduce((a, b) => a + b, 0);
    const bf16 = o.gradDtype === 'bf16' && !o.optimInBackward;
    out.push({ part: 'gradients', bytes: o.optimInBackward ? oneBlock * F : bf16 ? floats * 2 + oneBlock * F : floats * F,
      what: o.optimInBackward ? `f32, one block + the tensors outside the blocks (optimizer-in-backward${o.gradDtype === 'bf16' ? ', rounded to bf16' : ''})`
        : bf16 ? 'bf16, the parameter layout + f32 staging of one block and the tensors outside the blocks' : 'f32, the parameter layout' });
    out.push({ part: 'optimizer', bytes: optimizerBytes(o.optim!, c, partFloats), what: o.optim === 'adamw' ? 'AdamW m, v (f32)' : '8-bit AdamW m, v (a byte each, absmax per 256)' });
  }
  out.push({ part: 'activations', bytes: acts.bytes, what: `(B ${B}, T ${T})${o.recompute ? ', recompute: each block\'s output + one block' : f16 ? ', every block, its matmul inputs and outputs in f16' : ', every block'}` });
  if (acts.largest[1] > largest.bytes) largest = { label: `activation '${acts.largest[0]}'`, bytes: acts.largest[1] };
  // scratch: activation gradients (one block's worth), the loss log, the norm and column-sum partials,
  // attention's D, the gradient-norm partials
  const widest = Math.max(c.dim, c.hiddenDim, 3 * c.dim, c.nHeads * headSize(c));
  let scratch = (alignUp(alignUp(BT) * G + 1) + alignUp(BT) + alignUp(2 * blocksOf(BT) * widest) + alignUp(blocksOf(BT) * widest) + alignUp(B * c.nHeads * T)) * F;
  if (train) {
    const grads = TableStore.plan(fam.gradients(c, B, T), 1);
    scratch += grads.bytes + alignUp(Math.ceil(floats / 4096)) * F + (o.optimInBackward ? alignUp(1) * L * parameterShapes(c).length * F : 0);
  }
  out.push({ part: 'scratch', bytes: scratch, what: train ? 'activation gradients (one block), loss log, reduction partials' : 'reduction partials' });
  if (o.teacher) {
    // the teacher runs forward only, keeping its blocks' outputs and one block's activations (recompute's
    // table), its matrices in their stored 16-bit dtype (2 bytes a parameter) or else f32, its norms and
    // biases in f32 (arenaLayout keep16); the KD terms, and the top-K logits and ids, per position
    const t = o.teacher, tc = t.config;
    const kd = (alignUp(BT) + alignUp(BT) * (train ? 1 : 0) + (t.topk ? 2 * alignUp(BT * t.topk) : 0)) * F;
    if (!tc) out.push({ part: 'teacher', bytes: kd, what: `a teacher cache: the KD terms and a micro-batch's top ${t.topk} logits and ids` });
    else {
      const tfloats = arenaLayout(tc, partFloats, !!t.dtype).parts.reduce((a, b) => a + b, 0);
      const held = t.dtype ? `${t.dtype.toLowerCase()} matrices (2 bytes a parameter), f32 norms and biases` : 'weights in f32';
      const tacts = TableStore.plan(FAMILIES[tc.family].activations(tc, B, T), tc.nLayers, { recompute: true, f16: o.precision === 'f16' });
      // a 16-bit teacher's matrices are read packed (matmul_w16), so it has no f16 copy
      const thalf = halves && !t.dtype ? halfBytes(tc, partFloats) : 0;
      out.push({ part: 'teacher', bytes: tfloats * F + thalf + tacts.bytes + kd, what: `${tc.nLayers} blocks: ${held}${thalf ? ' (+ an f16 copy)' : ''}, forward activations (each block's output + one block), KD terms${t.topk ? `, top ${t.topk}` : ''}` });
      if (tacts.largest[1] > largest.bytes) largest = { label: `teacher activation '${tacts.largest[0]}'`, bytes: tacts.largest[1] };
    }
  }
  const total = out.reduce((a, p) => a + p.bytes, 0);
  const problems: string[] = [];
  const logits = alignUp(BT * logitsStride(c)) * F;
  if (largest.bytes > limits.maxBufferSize || logits > limits.maxBufferSize) {
    problems.push(`${largest.label} needs one buffer of ${fmtBytes(Math.max(largest.bytes, logits))}, over the device's maxBufferSize ${fmtBytes(limits.maxBufferSize)}`);
  }
  if (limits.memory !== undefined && total > limits.memory) problems.push(`${fmtBytes(total)} in all, over the ${fmtBytes(limits.memory)} the device has (${limits.memorySource ?? 'given'})`);
  return { parameters, parts: out, total, largestBuffer: largest, limits, fits: problems.length === 0, problems };
}

/**
 * The first changes that make a plan that does not fit fit, as flags: --recompute, --optim adamw8bit,
 * --grad-dtype bf16, --optim-in-backward --clip 0, then halving --batch, then halving --seq (with the earlier changes kept).
 */
export function fitSuggestions(c: ModelConfig, o: PlanOptions, limits: DeviceLimits): string[] {
  const tries: [string, PlanOptions][] = [];
  let cur = { ...o };
  const flags: string[] = [];
  const push = (flag: string, next: PlanOptions) => { cur = next; flags.push(flag); tries.push([flags.join(' '), next]); };
  if (!cur.recompute) push('--recompute', { ...cur, recompute: true });
  if (cur.optim === 'adamw') push('--optim adamw8bit', { ...cur, optim: 'adamw8bit' });
  if (cur.optim && !cur.optimInBackward && cur.gradDtype !== 'bf16') push('--grad-dtype bf16', { ...cur, gradDtype: 'bf16' });
  if (cur.optim && !cur.optimInBackward && (cur.gradAccum ?? 1) === 1) push('--optim-in-backward --clip 0', { ...cur, optimInBackward: true });
  const base = flags.length;
  for (let b = Math.floor(cur.batch / 2); b >= 1; b = Math.floor(b / 2)) tries.push([[...flags.slice(0, base), `--batch ${b}`].join(' '), { ...cur, batch: b }]);
  for (let t = Math.floor(cur.seq / 2); t >= 16; t = Math.floor(t / 2)) tries.push([[...flags.slice(0, base), '--batch 1', `--seq ${t}`].join(' '), { ...cur, batch: 1, seq: t }]);
  const out: string[] = [];
  for (const [f, p] of tries) if (memoryPlan(c, p, limits).fits) { out.push(f); if (out.length === 2) break; }
  return out;
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** the plan as a table for a terminal */
export function planText(p: MemoryPlan, suggestions: string[] = []): string {
  const rows = p.parts.map((x) => `  ${x.part.padEnd(12)} ${fmtBytes(x.bytes).padStart(11)}  ${x.what}`);
  const lim = p.limits;
  const lines = [`memory plan (${p.parameters} parameters):`, ...rows, `  ${'total'.padEnd(12)} ${fmtBytes(p.total).padStart(11)}`,
    `largest buffer: ${p.largestBuffer.label}, ${fmtBytes(p.largestBuffer.bytes)} (maxBufferSize ${fmtBytes(lim.maxBufferSize)}); every binding is chunked under maxStorageBufferBindingSize ${fmtBytes(lim.maxStorageBufferBindingSize)}`,
    lim.memory !== undefined ? `device memory: ${fmtBytes(lim.memory)} (${lim.memorySource ?? 'given'})` : 'device memory: not known (WebGPU does not say; pass --memory BYTES)',
    p.fits ? 'fits' : `does not fit: ${p.problems.join('; ')}`];
  if (!p.fits) lines.push(suggestions.length ? `would fit with: ${suggestions.join('  or  ')}` : 'no flag of train makes it fit: use a device with more memory');
  return lines.join('\n');
}
