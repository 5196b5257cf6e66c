#!/usr/bin/env node
// cli: the `inheritune-rt` command (Node). One function per command; flags are parsed with
// node:util parseArgs (strict, so a misspelt flag is an error, not silently ignored).
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { createGpu } from '../index.js';
import { Model } from '../../model/model.js';
import { windowedLoss } from '../../train/evaluate.js';
import { readModel, readTokenizer, readTokens, tokenizerFiles, writeDirAtomic } from '../files.js';
import { inherit } from '../../method/inherit.js';
import { hfFiles } from '../../formats/hf.js';
import { countParameters } from '../../model/config.js';
import { Progress } from '../../util/progress.js';
import { InherituneError, fail } from '../../util/errors.js';
import { int, str, num, stderrBar, modelPath, layersOf, blockList, type Flags } from './args.js';
import { analyzeAttention, rankGuidedBlocks } from '../../method/analyze.js';
import { exportOnnxFile, exportOnnxDir } from '../onnx.js';
import { evaluateTask, TASK_NAMES, type TaskName } from '../../tasks/score.js';
import { readTaskFiles } from '../tasks.js';
import { trainCmd, runCmd, TRAIN_FLAGS, RUN_FLAGS } from './train.js';
import { tokenizeCmd, packCmd, TOKENIZE_FLAGS, PACK_FLAGS } from './data.js';
import { generateCmd, GENERATE_FLAGS } from './generate.js';
import type { Gpu } from '../../gpu/gpu.js';

const USAGE = `inheritune-rt — Inheritune on WebGPU

Commands:
  demo [--out DIR] [--pretrain-steps 600] [run flags] [--json]
                                                  the main job on its built-in default (no files
                                                  needed): pre-train a small byte-level reference on
                                                  the Brown Corpus, then run the recipe with a baseline
                                                  (= run with no --model; resumes when re-run)
  run [--model PATH --text FILE [--val-text FILE]] [--layers K | --select 0,1,2 | --select rank-guided] [--grow 2]
      [--max-rounds 3] [--tolerance 0] [--growth reinherit|warm-append] [--baseline]
      [--preset paper|official] [--analyze-sequences 100] [--tasks piqa,... --task-data DIR
      [--task-limit N]] [training flags as for train]
      --out DIR [--resume] [--json]
                                                  the Inheritune recipe: inherit k blocks, train,
                                                  grow until the reference's validation loss is
                                                  reached; report.json, val_loss.svg, summary.md
  (--model and --from take a Hugging Face directory or a llama2.c .bin checkpoint)
  info [--json]                                   WebGPU adapter, features, limits, runtime
  logits --model PATH --ids 1,403,407 [--layers K] [--json]
                                                  logits of every position; --layers K runs only
                                                  the first K blocks (then final norm and head)
  eval --model PATH [--tokenizer PATH] --text FILE --seq T --windows W [--layers K] [--batch B] [--json]
                                                  mean next-token cross-entropy over W windows of
                                                  T+1 tokens (stride T) of the tokenized file
  generate --model PATH --prompt TEXT [--max-new-tokens 64] [--temperature 0.8] [--top-k 50] [--top-p 1]
      [--seed 0] [--layers K] [--tokenizer PATH] [--json]
                                                  text from the model (KV cache on the GPU), streamed;
                                                  --temperature 0 is greedy; --json: {"text", "ids"}
  export --model PATH (--onnx FILE | --onnx-dir DIR) [--opset 17] [--json]
                                                  ONNX graph with a KV cache (Optimum's names)
                                                  that onnxruntime(-web) and transformers.js run
  analyze --model PATH --text FILE [--sequences 100] [--seq 100] [--tau 0.9] [--layers K] [--json]
                                                  lazy-layer analysis: approximate rank and mass of
                                                  every head's attention matrix, MaxRank per block
  eval --model PATH --task NAME --data DIR [--limit N] [--batch B] [--layers K] [--json]
                                                  zero-shot task scored as lm-evaluation-harness does:
                                                  lambada_openai, piqa, arc_easy, boolq, winogrande,
                                                  hellaswag (acc, acc_norm), wikitext (word perplexity)
  inherit --from PATH (--layers K | --select 0,1,4 | --select rank-guided --text FILE) [--preset paper|official] [--no-embeddings]
          [--no-final-norm] [--no-head] [--no-positions] [--seed N] --out DIR
                                                  write a K-block model built from the reference's
                                                  blocks as a Hugging Face directory, with
                                                  inheritune.json recording where each tensor came from
  train --model PATH [--tokenizer PATH] --text FILE [--val-text FILE] --steps N --batch B --seq T
        [--grad-accum G] [--lr 1e-3] [--min-lr 1e-4] [--warmup 0] [--schedule cosine|constant]
        [--beta1 0.9] [--beta2 0.95] [--eps 1e-8] [--wd 0.1] [--clip 1.0] [--sampling sequential|random]
        [--seed 0] [--eval-every N] [--val-windows 16] [--save-every N] [--tokens N] --out DIR
        [--metrics FILE] [--resume] [--json]
                                                  continued pre-training with AdamW; checkpoints
                                                  (HF directory + optimizer state) in DIR/checkpoint,
                                                  metrics in DIR/metrics.jsonl, curve in DIR/loss.svg
  tokenize --tokenizer PATH (--text STRING | --file F) [--json]
                                                  {"ids":[...]}: the plain encoding (no BOS/EOS);
                                                  PATH is a tokenizer file or a model directory
  pack --tokenizer PATH --input F [--input F ...] --out DIR [--val-fraction 0.005] [--subset X | --tokens N]
       [--seed N] [--docs file|jsonl|blankline] [--text-field text] [--shard-tokens N] [--json]
                                                  text -> llm.c token shards (train/val split, seeded
                                                  subset: "0.1%" or N tokens); --text/--val-text of
                                                  eval/train/run accept a shard or a shard directory
Options:
  -h, --help                                      this text
`;


const COMMANDS: Record<string, [Record<string, { type: 'string' | 'boolean' }>, (f: Flags, g: Gpu) => Promise<void>]> = {
  demo: [RUN_FLAGS, (f, g) => runCmd(f, g, true)],
  info: [{ json: { type: 'boolean' } }, info],
  logits: [{ model: { type: 'string' }, ids: { type: 'string' }, layers: { type: 'string' }, json: { type: 'boolean' } }, logits],
  eval: [{ model: { type: 'string' }, tokenizer: { type: 'string' }, text: { type: 'string' }, seq: { type: 'string' },
    windows: { type: 'string' }, layers: { type: 'string' }, batch: { type: 'string' }, task: { type: 'string' },
    data: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, evaluate],
  inherit: [{ from: { type: 'string' }, layers: { type: 'string' }, select: { type: 'string' }, preset: { type: 'string' },
    text: { type: 'string' }, tokenizer: { type: 'string' },
    'no-embeddings': { type: 'boolean' }, 'no-final-norm': { type: 'boolean' }, 'no-head': { type: 'boolean' },
    'no-positions': { type: 'boolean' }, seed: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } }, (f, g) => inheritCmd(f, g)],
  train: [TRAIN_FLAGS, trainCmd],
  tokenize: [TOKENIZE_FLAGS, (f) => tokenizeCmd(f)],
  export: [{ model: { type: 'string' }, onnx: { type: 'string' }, 'onnx-dir': { type: 'string' }, opset: { type: 'string' }, json: { type: 'boolean' } }, exportCmd],
  analyze: [{ model: { type: 'string' }, tokenizer: { type: 'string' }, text: { type: 'string' }, sequences: { type: 'string' },
    seq: { type: 'string' }, tau: { type: 'string' }, layers: { type: 'string' }, json: { type: 'boolean' } }, analyzeCmd],
  pack: [PACK_FLAGS, (f) => packCmd(f)],
  generate: [GENERATE_FLAGS, generateCmd],
  run: [RUN_FLAGS, (f, g) => runCmd(f, g)],
};

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') { process.stdout.write(USAGE); return; }
  const entry = COMMANDS[cmd];
  if (!entry) fail(`unknown command '${cmd}'`, `one of: ${Object.keys(COMMANDS).join(', ')} (see --help)`);
  let flags: Flags;
  try {
    flags = parseArgs({ args: rest, options: { ...entry[0], help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (e) {
    fail(`${cmd}: ${(e as Error).message}`, 'see `inheritune-rt --help`');
  }
  if (flags.help) { process.stdout.write(USAGE); return; }
  // CPU-only commands: no device needed
  if (cmd === 'inherit' && flags.select !== 'rank-guided') return inheritCmd(flags, null);
  if (cmd === 'tokenize' || cmd === 'pack' || cmd === 'export') return entry[1](flags, null as unknown as Gpu);
  const gpu = await createGpu();
  try {
    await entry[1](flags, gpu);
  } finally {
    gpu.destroy();
  }
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
  const ck = await readModel(path);
  const model = Model.create(gpu, layersOf(ck, flags));
  const out = await model.logits(ids);
  model.destroy();
  const V = ck.config.vocabSize;
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
  const ck = await readModel(path);
  const ids = await readTokens(textPath, () => readTokenizer(flags.tokenizer as string | undefined, path, ck.config.vocabSize), 'val');
  const model = Model.create(gpu, layersOf(ck, flags));
  const bar = new Progress('eval', W, flags.json ? null : stderrBar());
  const r = await windowedLoss(model, ids, T, W, { batch: int(flags, 'batch'), onWindow: (d) => bar.update(d) });
  model.destroy();
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(`loss ${r.loss.toFixed(6)} nats/token   ppl ${r.ppl.toFixed(4)}   (${r.windows} windows x ${T} tokens = ${r.tokens})`);
}

/** eval --task NAME --data DIR: zero-shot scoring as lm-evaluation-harness does */
async function evaluateTaskCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const task = str(flags, 'task') as TaskName;
  if (!TASK_NAMES.includes(task)) fail(`--task ${task} is not a known task`, `one of: ${TASK_NAMES.join(', ')}`);
  const files = await readTaskFiles(task, str(flags, 'data'));
  const ck = await readModel(path);
  const tok = await readTokenizer(flags.tokenizer as string | undefined, path, ck.config.vocabSize);
  const model = Model.create(gpu, layersOf(ck, flags));
  const bar = new Progress(task, 1, flags.json ? null : stderrBar());
  const r = await evaluateTask(model, tok, task, files, { limit: int(flags, 'limit'), batch: int(flags, 'batch'), onProgress: (d, t) => { bar.total = t; bar.update(d); } });
  model.destroy();
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(Object.entries(r).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`).join('   '));
}

async function exportCmd(flags: Flags): Promise<void> {
  const path = await modelPath(flags, 'model');
  const opset = int(flags, 'opset');
  if ((flags.onnx === undefined) === (flags['onnx-dir'] === undefined)) fail('pass --onnx FILE (the graph alone) or --onnx-dir DIR (config, tokenizer files and onnx/model.onnx, as transformers.js reads a directory)');
  if (typeof flags.onnx === 'string') {
    const bytes = await exportOnnxFile(path, flags.onnx, { opset });
    if (flags.json) console.log(JSON.stringify({ onnx: flags.onnx, bytes }));
    else console.log(`wrote ${flags.onnx} (${bytes} bytes): input_ids, attention_mask, position_ids, past_key_values.* -> logits, present.*`);
  } else {
    const files = await exportOnnxDir(path, flags['onnx-dir'] as string, { opset });
    if (flags.json) console.log(JSON.stringify({ dir: flags['onnx-dir'], files }));
    else console.log(`wrote ${flags['onnx-dir']}: ${files.join(', ')}`);
  }
}

async function analyzeCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const ck = await readModel(path);
  const tokens = await readTokens(str(flags, 'text'), () => readTokenizer(flags.tokenizer as string | undefined, path, ck.config.vocabSize), 'val');
  const m = Model.create(gpu, layersOf(ck, flags));
  const bar = new Progress('analyze', 1, flags.json ? null : stderrBar());
  const a = await analyzeAttention(m, tokens, { sequences: int(flags, 'sequences'), seq: int(flags, 'seq'), tau: flags.tau !== undefined ? num(flags, 'tau', 0.9) : undefined,
    onProgress: (d, t) => { bar.total = t; bar.update(d); } });
  m.destroy();
  if (flags.json) { console.log(JSON.stringify(a)); return; }
  console.log(`attention rank (tau ${a.tau}, ${a.sequences} sequences of ${a.seq} tokens); lazy = MaxRank rounds to 1`);
  for (const b of a.blocks) {
    console.log(`block ${String(b.block).padStart(2)}  MaxRank ${b.max_rank.toFixed(2).padStart(7)}  ${b.lazy ? 'LAZY' : '    '}  rank per head [${b.rank.map((r) => r.toFixed(1)).join(', ')}]`);
  }
}

async function inheritCmd(flags: Flags, gpu: Gpu | null): Promise<void> {
  const from = await modelPath(flags, 'from');
  const out = str(flags, 'out');
  const ref = await readModel(from);
  let select = blockList(flags);
  if (flags.select === 'rank-guided') {
    // the k blocks whose attention keeps the highest rank on --text (lazy blocks are left behind)
    const k = int(flags, 'layers') ?? Math.max(1, Math.floor(ref.config.nLayers / 2));
    const tokens = await readTokens(str(flags, 'text'), () => readTokenizer(flags.tokenizer as string | undefined, from, ref.config.vocabSize), 'val');
    const m = Model.create(gpu!, ref);
    const { blocks, analysis } = await rankGuidedBlocks(m, tokens, k);
    m.destroy();
    select = blocks;
    delete flags.layers;
    if (!flags.json) console.log(`rank-guided: MaxRank per block [${analysis.blocks.map((b) => b.max_rank.toFixed(1)).join(', ')}] -> blocks [${select}]`);
  }
  const { checkpoint, record } = inherit(ref, {
    layers: int(flags, 'layers'), select, preset: flags.preset as 'paper' | 'official' | undefined,
    embeddings: flags['no-embeddings'] ? false : undefined, finalNorm: flags['no-final-norm'] ? false : undefined,
    head: flags['no-head'] ? false : undefined, positions: flags['no-positions'] ? false : undefined,
    seed: int(flags, 'seed', { min: 0 }),
  }, from);
  const tok = tokenizerFiles(from);
  writeDirAtomic(out, { ...hfFiles(checkpoint), ...tok,
    'inheritune.json': [new TextEncoder().encode(JSON.stringify({ ...record, tokenizer_files: Object.keys(tok) }, null, 2) + '\n')] });
  const summary = { out, family: checkpoint.config.family, blocks: record.blocks, n_layers: checkpoint.config.nLayers,
    parameters: countParameters(checkpoint.config), reference_parameters: countParameters(ref.config), preset: record.preset,
    tokenizer_files: Object.keys(tok), notes: record.notes };
  if (flags.json) { console.log(JSON.stringify(summary)); return; }
  console.log(`wrote ${out}: ${summary.family}, blocks [${summary.blocks}] of ${ref.config.nLayers}, ` +
    `${summary.parameters} of ${summary.reference_parameters} parameters, preset ${summary.preset}`);
  for (const n of record.notes) console.log(`note: ${n}`);
}


/**
 * Library errors name options as the API spells them, in backticks (`gradAccum`); on the command line
 * the same option is a flag (--grad-accum), so every backticked name that is a flag becomes one.
 */
function flagsInMessage(message: string): string {
  const flags = new Set(Object.values(COMMANDS).flatMap(([spec]) => Object.keys(spec)));
  return message.replace(/`([a-z][A-Za-z0-9]*)`/g, (m, name: string) => {
    const flag = name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    return flags.has(flag) ? `--${flag}` : m;
  });
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof InherituneError) {
    process.stderr.write(`inheritune-rt: ${flagsInMessage(e.message)}\n`);
    process.exit(1);
  }
  throw e;
});
