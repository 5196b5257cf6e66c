#!/usr/bin/env node
// cli: the `inheritune-rt` command (Node). One function per command; the commands and the table of
// each one's flags are in src/node/cli/specs.ts, from which parseArgs's options (strict, so a
// misspelt flag is an error, not silently ignored) and every --help are generated. A command that
// needs the GPU runs in a worker process whose stderr is filtered (src/node/cli/stderr.ts).
import { existsSync, statSync } from 'node:fs';
import { createGpu } from '../index.js';
import { Model } from '../../model/model.js';
import { windowedLoss } from '../../train/evaluate.js';
import { readModel, readTokenizer, readTokens, tokenizerFiles, nodeDir, writeModelDirAtomic, loadModel, readModelConfig } from '../files.js';
import { inherit, inheritPlan, type InheritOptions, type InheritRecord } from '../../method/inherit.js';
import { inheritWrites } from '../../method/inherit_stream.js';
import { parseDtype } from '../../formats/dtype.js';
import { parseSize, DEFAULT_SHARD_SIZE, type TensorWrite } from '../../formats/stwrite.js';
import { hfConfigFiles, hfWrites, openHfModel } from '../../formats/hf.js';
import { countParameters, type Checkpoint, type ModelConfig } from '../../model/config.js';
import { Progress } from '../../util/progress.js';
import { InherituneError, fail } from '../../util/errors.js';
import { int, str, num, stderrBar, modelPath, selectFlag, cli, tokenizerOpts, type Flags } from './args.js';
import { analyzeAttention } from '../../method/analyze.js';
import { resolveSelect, blockSimilarity } from '../../method/select.js';
import { exportOnnxFile, exportOnnxDir } from '../onnx.js';
import { evaluateTask, TASK_NAMES, type TaskName } from '../../tasks/score.js';
import { readTaskFiles } from '../tasks.js';
import { trainCmd, runCmd, pretrainCmd } from './train.js';
import { tokenizeCmd, packCmd } from './data.js';
import { generateCmd } from './generate.js';
import { planCmd } from './plan.js';
import { SPECS, SPEC } from './specs.js';
import { parseFlags, commandHelp, overview, flagsInMessage, didYouMean } from './flags.js';
import { checkOut, refuseOverlap } from './outdir.js';
import { isWorker, runInWorker, watchParent } from './stderr.js';
import { VERSION } from '../../gen/version.js';
import type { Gpu } from '../../gpu/gpu.js';

const HANDLERS: Record<string, (f: Flags, g: Gpu) => Promise<void>> = {
  demo: (f, g) => runCmd(f, g, true), pretrain: pretrainCmd, run: (f, g) => runCmd(f, g), inherit: (f, g) => inheritCmd(f, g), train: trainCmd,
  eval: evaluate, analyze: analyzeCmd, logits, generate: generateCmd, export: exportCmd, tokenize: (f) => tokenizeCmd(f), pack: (f) => packCmd(f), info, plan: planCmd,
};

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-v') { process.stdout.write(`${VERSION}\n`); return; }
  if (cmd === 'help' && SPEC[rest[0]]) { process.stdout.write(commandHelp(SPEC[rest[0]])); return; }
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') { process.stdout.write(overview(SPECS, VERSION)); return; }
  const spec = SPEC[cmd] ?? unknownCommand(cmd);
  cli.command = cmd;
  const flags = parseFlags(spec, rest, SPECS);
  if (flags.help) { process.stdout.write(commandHelp(spec)); return; }
  const needsGpu = typeof spec.gpu === 'function' ? spec.gpu(flags) : spec.gpu;
  if (!needsGpu) return HANDLERS[cmd](flags, null as unknown as Gpu);
  // Dawn prints two limit warnings on stderr when the adapter is created: the work runs in a worker
  // whose stderr this process filters (the worker itself goes on below)
  if (!isWorker()) return runInWorker();
  watchParent();
  const gpu = await createGpu();
  try {
    await HANDLERS[cmd](flags, gpu);
  } finally {
    gpu.destroy();
  }
}

/** an unknown command (or a flag where the command belongs): the nearest command by edit distance */
function unknownCommand(cmd: string): never {
  const names = SPECS.map((s) => s.name);
  const near = didYouMean(cmd.replace(/^-+/, ''), names);
  const first = cmd.startsWith('-') ? 'the command comes before its flags (inheritune-rt COMMAND [flags]), ' : '';
  return fail(`unknown command '${cmd}'${near ? `; did you mean ${near}?` : ''}`, `${first}one of: ${names.join(', ')} (see \`inheritune-rt --help\`)`);
}

async function info(flags: Flags, gpu: Gpu): Promise<void> {
  const r = { ...gpu.report(), backend: 'webgpu' };
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(`runtime   ${r.runtime} (WebGPU)`);
  console.log(`adapter   ${Object.values(r.adapter).join(' / ') || '(no adapter info)'}`);
  console.log(`features  ${r.features.join(' ')}`);
  for (const [k, v] of Object.entries(r.limits).sort()) console.log(`  ${k.padEnd(44)} ${v}`);
}

async function logits(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const ids = str(flags, 'ids').split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) fail(`--ids: '${s}' is not a token id`, 'pass comma-separated integers, e.g. --ids 1,403,407');
    return n;
  });
  const model = await loadModel(gpu, path, { layers: int(flags, 'layers') });
  const out = await model.logits(ids);
  model.destroy();
  const V = model.config.vocabSize;
  const rows = ids.map((_, t) => Array.from(out.subarray(t * V, (t + 1) * V)));
  if (flags.json) { console.log(JSON.stringify({ ids, logits: rows })); return; }
  rows.forEach((row, t) => {
    const top = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
    console.log(`position ${t} (id ${ids[t]}): top-5 ${top.map(([v, i]) => `${i}:${v.toFixed(3)}`).join('  ')}`);
  });
}

async function evaluate(flags: Flags, gpu: Gpu): Promise<void> {
  if (flags.task !== undefined) return evaluateTaskCmd(flags, gpu);
  const path = await modelPath(flags, 'model');
  const textPath = str(flags, 'text');
  if (!existsSync(textPath)) fail(`text file '${textPath}' does not exist`, 'pass --text FILE');
  const T = int(flags, 'seq', { required: true })!;
  const W = int(flags, 'windows', { required: true })!;
  const model = await loadModel(gpu, path, { layers: int(flags, 'layers') });
  const ids = await readTokens(textPath, () => readTokenizer(flags.tokenizer as string | undefined, path, model.config.vocabSize, tokenizerOpts(flags)), 'val');
  const bar = new Progress('eval', W, flags.json ? null : stderrBar());
  const r = await windowedLoss(model, ids, T, W, { batch: int(flags, 'batch'), onWindow: (d) => bar.update(d) });
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

async function exportCmd(flags: Flags): Promise<void> {
  if ((flags.onnx === undefined) === (flags['onnx-dir'] === undefined)) fail('pass --onnx FILE (the graph alone) or --onnx-dir DIR (config, tokenizer files and onnx/model.onnx, as transformers.js reads a directory)');
  const dir = flags['onnx-dir'] as string | undefined;
  if (dir !== undefined) checkOut(dir, { flag: '--onnx-dir', replaces: true }, false, !!flags.force);
  const path = await modelPath(flags, 'model');
  if (dir !== undefined) refuseOverlap(dir, '--onnx-dir', [['--model', path]]);
  const opset = int(flags, 'opset');
  if (typeof flags.onnx === 'string') {
    // like every other output, an existing file is not silently replaced
    if (existsSync(flags.onnx) && !flags.force) fail(`--onnx ${flags.onnx} already exists`, 'pass --force to replace it, or another --onnx FILE');
    const bytes = await exportOnnxFile(path, flags.onnx, { opset });
    if (flags.json) console.log(JSON.stringify({ onnx: flags.onnx, bytes }));
    else console.log(`wrote ${flags.onnx} (${bytes} bytes): input_ids, attention_mask, position_ids, past_key_values.* -> logits, present.*`);
  } else {
    const files = await exportOnnxDir(path, dir!, { opset });
    if (flags.json) console.log(JSON.stringify({ dir, files }));
    else console.log(`wrote ${dir}: ${files.join(', ')}`);
  }
}

async function analyzeCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const tokens = await readTokens(str(flags, 'text'), async () => readTokenizer(flags.tokenizer as string | undefined, path, (await readModelConfig(path)).vocabSize), 'val');
  const m = await loadModel(gpu, path, { layers: int(flags, 'layers') });
  const bar = new Progress('analyze', 1, flags.json ? null : stderrBar());
  const a = await analyzeAttention(m, tokens, { sequences: int(flags, 'sequences'), seq: int(flags, 'seq'), tau: flags.tau !== undefined ? num(flags, 'tau', 0.9) : undefined,
    onProgress: (d, t) => { bar.total = t; bar.update(d); } });
  // the residual stream's block influence and angular distances over the same windows (src/method/select.ts)
  const sim = await blockSimilarity(m, tokens, { sequences: a.sequences, seq: a.seq });
  m.destroy();
  if (flags.json) { console.log(JSON.stringify({ ...a, block_influence: sim.block_influence, angular: sim.angular })); return; }
  console.log(`attention rank (tau ${a.tau}, ${a.sequences} sequences of ${a.seq} tokens); lazy = MaxRank rounds to 1`);
  for (const b of a.blocks) {
    console.log(`block ${String(b.block).padStart(2)}  MaxRank ${b.max_rank.toFixed(2).padStart(7)}  ${b.lazy ? 'LAZY' : '    '}  ` +
      `block influence ${sim.block_influence[b.block].toFixed(4)}  angular to the next ${sim.angular[b.block][0].toFixed(4)}  rank per head [${b.rank.map((r) => r.toFixed(1)).join(', ')}]`);
  }
}

async function inheritCmd(flags: Flags, gpu: Gpu | null): Promise<void> {
  const out = str(flags, 'out');
  checkOut(out, { flag: '--out', replaces: true }, false, !!flags.force);
  const from = await modelPath(flags, 'model');
  refuseOverlap(out, '--out', [['--model', from]]);
  const dtype = flags.dtype !== undefined ? parseDtype(str(flags, 'dtype')) : undefined;
  const maxShardSize = parseSize(flags['max-shard-size'] !== undefined ? str(flags, 'max-shard-size') : DEFAULT_SHARD_SIZE);
  // a Hugging Face directory is copied tensor by tensor (src/method/inherit_stream.ts); a llama2.c .bin is read whole
  const hf = existsSync(from) && statSync(from).isDirectory() ? await openHfModel(nodeDir(from)) : null;
  try {
    let ref: Checkpoint | null = hf ? null : await readModel(from);
    const refConfig = hf?.config ?? ref!.config;
    // a rule's blocks are picked on --text (src/method/select.ts)
    const { blocks: select, why } = await resolveSelect(selectFlag(flags), int(flags, 'layers'), async () => ({
      tokens: await readTokens(str(flags, 'text'), () => readTokenizer(flags.tokenizer as string | undefined, from, refConfig.vocabSize), 'val'),
      model: ref ? Model.create(gpu!, ref) : await loadModel(gpu!, from),
    }));
    if (why !== undefined) {
      delete flags.layers;
      if (!flags.json) console.log(`${flags.select}: ${why} -> blocks [${select}]`);
    }
    const opts: InheritOptions = {
      layers: int(flags, 'layers'), select, preset: flags.preset as 'paper' | 'official' | undefined,
      embeddings: flags['no-embeddings'] ? false : undefined, finalNorm: flags['no-final-norm'] ? false : undefined,
      head: flags['no-head'] ? false : undefined, positions: flags['no-positions'] ? false : undefined,
      seed: int(flags, 'seed', { min: 0 }),
    };
    let config: ModelConfig, record: InheritRecord, writes: TensorWrite[];
    if (hf) {
      const plan = inheritPlan(hf.config, opts, from);
      ({ config, record } = plan);
      writes = inheritWrites(plan, hf.weights, dtype);
    } else {
      const r = inherit(ref!, opts, from);
      ref = null;
      ({ record } = r);
      config = r.checkpoint.config;
      writes = hfWrites(r.checkpoint, dtype);
    }
    const tok = tokenizerFiles(from);
    const weightFiles = await writeModelDirAtomic(out, { ...hfConfigFiles(config), ...tok,
      'inheritune.json': [new TextEncoder().encode(JSON.stringify({ ...record, tokenizer_files: Object.keys(tok) }, null, 2) + '\n')] }, writes, maxShardSize,
      flags.json ? null : stderrBar());
    const summary = { out, family: config.family, blocks: record.blocks, n_layers: config.nLayers,
      parameters: countParameters(config), reference_parameters: countParameters(refConfig), preset: record.preset,
      dtype: [...new Set(writes.map((w) => w.dtype))].join(','), weight_files: weightFiles, tokenizer_files: Object.keys(tok), notes: record.notes };
    if (flags.json) { console.log(JSON.stringify(summary)); return; }
    console.log(`wrote ${out}: ${summary.family}, blocks [${summary.blocks}] of ${refConfig.nLayers}, ` +
      `${summary.parameters} of ${summary.reference_parameters} parameters, preset ${summary.preset}, ${summary.dtype} in ${weightFiles.length} file(s)`);
    for (const n of record.notes) console.log(`note: ${n}`);
  } finally {
    await hf?.weights.close();
  }
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof InherituneError) {
    // `gradAccum` in a library message is --grad-accum here (the running command's flags; all of them before one is known)
    process.stderr.write(`inheritune-rt: ${flagsInMessage(e.message, cli.command ? [SPEC[cli.command]] : SPECS)}\n`);
    process.exit(1);
  }
  throw e;
});
