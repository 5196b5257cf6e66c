// cli/eval: `inheritune-rt eval`, the windowed validation loss of a text, or a zero-shot task scored as
// lm-evaluation-harness does (--task).
import { existsSync } from 'node:fs';
import type { Gpu } from '../../gpu/gpu.js';
import { windowedLoss } from '../../train/evaluate.js';
import { loadModel, readModelConfig } from '../models.js';
import { readTokenizer } from '../tokfiles.js';
import { readTokens } from '../textdata.js';
import { evaluateTask, TASK_NAMES, type TaskName } from '../../tasks/score.js';
import { readTaskFiles } from '../tasks.js';
import { Progress } from '../../util/progress.js';
import { fail } from '../../util/errors.js';
import { int, str, stderrBar, modelPath, tokenizerOpts, type Flags } from './args.js';

export async function evaluate(flags: Flags, gpu: Gpu): Promise<void> {
  if (flags.task !== undefined) return evaluateTaskCmd(flags, gpu);
  const path = await modelPath(flags, 'model');
  const textPath = str(flags, 'text');
  if (!existsSync(textPath)) fail(`text file '${textPath}' does not exist`, 'pass --text FILE');
  const T = int(flags, 'seq', { required: true })!;
  const W = int(flags, 'windows', { required: true })!;
  const model = await loadModel(gpu, path, { layers: int(flags, 'layers') });
  const ids = await readTokens(textPath, () => readTokenizer(flags.tokenizer as string | undefined, path, model.config.vocabSize, tokenizerOpts(flags)), 'val', model.config.vocabSize);
  const bar = new Progress('eval', W, flags.json ? null : stderrBar());
  const r = await windowedLoss(model, ids, T, W, { batch: int(flags, 'batch'), onWindow: (d) => bar.update(d), what: `--text ${textPath}` });
  model.destroy();
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(`loss ${r.loss.toFixed(6)} nats/token   ppl ${r.ppl.toFixed(4)}   (${r.windows} windows x ${T} tokens = ${r.tokens})`);
}

/** eval --task NAME --task-data DIR: zero-shot scoring as lm-evaluation-harness does */
async function evaluateTaskCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const task = str(flags, 'task') as TaskName;
  if (!TASK_NAMES.includes(task)) fail(`--task ${task} is not a known task`, `one of: ${TASK_NAMES.join(', ')}`);
  const files = await readTaskFiles(task, str(flags, 'task-data'));
  const tok = await readTokenizer(flags.tokenizer as string | undefined, path, (await readModelConfig(path)).vocabSize, tokenizerOpts(flags));
  const model = await loadModel(gpu, path, { layers: int(flags, 'layers') });
  const bar = new Progress(task, 1, flags.json ? null : stderrBar());
  const r = await evaluateTask(model, tok, task, files, { limit: int(flags, 'task-limit'), batch: int(flags, 'batch'), onProgress: (d, t) => { bar.total = t; bar.update(d); } });
  model.destroy();
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(Object.entries(r).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`).join('   '));
}
