// cli/run: `inheritune-rt run`, the whole Inheritune recipe (src/node/recipe.ts); `demo` is `run` on the
// built-in default (the shipped reference and the Brown Corpus).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../../gpu/gpu.js';
import { readModelConfig, loadModel } from '../models.js';
import { tokenizerFiles } from '../tokfiles.js';
import { RECIPE_DEFAULTS, type RecipeOptions } from '../../method/recipe.js';
import { runOnDisk, builtinReference, referenceDir, type RunArgs } from '../recipe.js';
import { TASK_NAMES, type TaskName, type TaskTokenizer } from '../../tasks/score.js';
import { int, str, num, stderrBar, modelPath, selectFlag, type Flags } from './args.js';
import { fail } from '../../util/errors.js';
import { resolveSelect } from '../../method/select.js';
import { checkOut } from './outdir.js';
import { BUILTIN_RUN, BUILTIN_ROUNDS, DEMO_OUT } from './specs.js';
import { checkPlan } from './plan.js';
import { runPlanOptions } from '../../train/plan.js';
import { validateDistill } from '../../train/distill.js';
import { trainOptions, textData } from './training.js';

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
    grow: int(flags, 'grow') ?? RECIPE_DEFAULTS.grow, maxRounds: int(flags, 'max-rounds') ?? (flags.model !== undefined ? RECIPE_DEFAULTS.maxRounds : BUILTIN_ROUNDS),
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
    checkPlan(gpu, flags, refConfig, runPlanOptions({ ...opts, f16Arithmetic: gpu.f16Arithmetic }, opts.distill ? refConfig : undefined)); // the reference is the teacher
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
