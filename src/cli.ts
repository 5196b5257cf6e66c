#!/usr/bin/env node
// cli: the `inheritune-rt` command (Node). One function per command; flags are parsed with
// node:util parseArgs (strict, so a misspelt flag is an error, not silently ignored).
import { parseArgs } from 'node:util';
import { readFileSync, existsSync } from 'node:fs';
import { createGpu } from './node.js';
import { Model } from './model.js';
import { windowedLoss } from './evaluate.js';
import { readModel, readTokenizer, tokenizerFiles, writeDirAtomic } from './files.js';
import { inherit } from './inherit.js';
import { hfFiles } from './hf.js';
import { countParameters } from './config.js';
import { TRAIN_DEFAULTS, validateTrainOptions, type TrainOptions } from './train.js';
import { trainRun } from './train_node.js';
import { join } from 'node:path';
import { runDemo } from './demo.js';
import { Progress } from './progress.js';
import { InherituneError, fail } from './errors.js';
import type { Gpu } from './gpu.js';

const USAGE = `inheritune-rt — Inheritune on WebGPU

Commands:
  demo [--json]                                   the built-in default job (no files needed)
  (--model and --from take a Hugging Face directory or a llama2.c .bin checkpoint)
  info [--json]                                   WebGPU adapter, features, limits, runtime
  logits --model PATH --ids 1,403,407 [--layers K] [--json]
                                                  logits of every position; --layers K runs only
                                                  the first K blocks (then final norm and head)
  eval --model PATH [--tokenizer PATH] --text FILE --seq T --windows W [--layers K] [--batch B] [--json]
                                                  mean next-token cross-entropy over W windows of
                                                  T+1 tokens (stride T) of the tokenized file
  inherit --from PATH (--layers K | --select 0,1,4) [--preset paper|official] [--no-embeddings]
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
Options:
  -h, --help                                      this text
`;

type Flags = Record<string, string | boolean | undefined>;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') { process.stdout.write(USAGE); return; }
  const commands: Record<string, [Record<string, { type: 'string' | 'boolean' }>, (f: Flags, g: Gpu) => Promise<void>]> = {
    demo: [{ json: { type: 'boolean' } }, demo],
    info: [{ json: { type: 'boolean' } }, info],
    logits: [{ model: { type: 'string' }, ids: { type: 'string' }, layers: { type: 'string' }, json: { type: 'boolean' } }, logits],
    eval: [{ model: { type: 'string' }, tokenizer: { type: 'string' }, text: { type: 'string' }, seq: { type: 'string' },
      windows: { type: 'string' }, layers: { type: 'string' }, batch: { type: 'string' }, json: { type: 'boolean' } }, evaluate],
    inherit: [{ from: { type: 'string' }, layers: { type: 'string' }, select: { type: 'string' }, preset: { type: 'string' },
      'no-embeddings': { type: 'boolean' }, 'no-final-norm': { type: 'boolean' }, 'no-head': { type: 'boolean' },
      'no-positions': { type: 'boolean' }, seed: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } }, inheritCmd],
    train: [Object.fromEntries([...['model', 'tokenizer', 'text', 'val-text', 'steps', 'batch', 'seq', 'grad-accum', 'lr', 'min-lr',
      'warmup', 'schedule', 'beta1', 'beta2', 'eps', 'wd', 'clip', 'sampling', 'seed', 'eval-every', 'val-windows', 'save-every',
      'tokens', 'out', 'metrics'].map((k) => [k, { type: 'string' as const }]), ['resume', { type: 'boolean' as const }], ['json', { type: 'boolean' as const }]]), trainCmd],
  };
  const entry = commands[cmd];
  if (!entry) fail(`unknown command '${cmd}'`, `one of: ${Object.keys(commands).join(', ')} (see --help)`);
  let flags: Flags;
  try {
    flags = parseArgs({ args: rest, options: { ...entry[0], help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (e) {
    fail(`${cmd}: ${(e as Error).message}`, 'see `inheritune-rt --help`');
  }
  if (flags.help) { process.stdout.write(USAGE); return; }
  if (cmd === 'inherit') return inheritCmd(flags); // CPU only: no device needed
  const gpu = await createGpu();
  try {
    await entry[1](flags, gpu);
  } finally {
    gpu.destroy();
  }
}

function int(flags: Flags, name: string, opts: { required?: boolean; min?: number } = {}): number | undefined {
  const v = flags[name];
  if (v === undefined) {
    if (opts.required) fail(`--${name} is required`, 'see `inheritune-rt --help`');
    return undefined;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < (opts.min ?? 1)) fail(`--${name} ${v} is not an integer >= ${opts.min ?? 1}`);
  return n;
}

function str(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || !v) fail(`--${name} is required`, 'see `inheritune-rt --help`');
  return v;
}

function stderrBar(): ((s: string) => void) | null {
  return process.stderr.isTTY ? (s) => process.stderr.write(s) : null;
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
  const path = str(flags, 'model');
  const ids = str(flags, 'ids').split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) fail(`--ids: '${s}' is not a token id`, 'pass comma-separated integers, e.g. --ids 1,403,407');
    return n;
  });
  const ck = await readModel(path);
  const model = Model.create(gpu, ck, { layers: int(flags, 'layers') });
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
  const path = str(flags, 'model');
  const textPath = str(flags, 'text');
  if (!existsSync(textPath)) fail(`text file '${textPath}' does not exist`, 'pass --text FILE');
  const T = int(flags, 'seq', { required: true })!;
  const W = int(flags, 'windows', { required: true })!;
  const ck = await readModel(path);
  const tok = await readTokenizer(flags.tokenizer as string | undefined, path, ck.config.vocabSize);
  const ids = tok.encode(readFileSync(textPath, 'utf8'), { bos: true });
  const model = Model.create(gpu, ck, { layers: int(flags, 'layers') });
  const bar = new Progress('eval', W, flags.json ? null : stderrBar());
  const r = await windowedLoss(model, ids, T, W, { batch: int(flags, 'batch'), onWindow: (d) => bar.update(d) });
  model.destroy();
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(`loss ${r.loss.toFixed(6)} nats/token   ppl ${r.ppl.toFixed(4)}   (${r.windows} windows x ${T} tokens = ${r.tokens})`);
}

async function inheritCmd(flags: Flags): Promise<void> {
  const from = str(flags, 'from');
  const out = str(flags, 'out');
  const ref = await readModel(from);
  let select: number[] | undefined;
  if (flags.select !== undefined) {
    select = String(flags.select).split(',').map((s) => {
      const n = Number(s.trim());
      if (!Number.isInteger(n)) fail(`--select: '${s}' is not a block index`, 'pass comma-separated block indices, e.g. --select 0,1,4');
      return n;
    });
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

function num(flags: Flags, name: string, dflt: number): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) fail(`--${name} ${v} is not a number`);
  return n;
}

async function trainCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const path = str(flags, 'model');
  const out = str(flags, 'out');
  const textPath = str(flags, 'text');
  for (const f of [textPath, flags['val-text']]) if (typeof f === 'string' && !existsSync(f)) fail(`text file '${f}' does not exist`);
  const B = int(flags, 'batch', { required: true })!, T = int(flags, 'seq', { required: true })!;
  const G = int(flags, 'grad-accum') ?? TRAIN_DEFAULTS.gradAccum;
  const tokens = int(flags, 'tokens');
  const steps = int(flags, 'steps') ?? (tokens ? Math.ceil(tokens / (B * T * G)) : fail('--steps N (or --tokens N) is required'));
  const opts: TrainOptions = {
    steps, batch: B, seq: T, gradAccum: G,
    lr: num(flags, 'lr', TRAIN_DEFAULTS.lr), minLr: num(flags, 'min-lr', TRAIN_DEFAULTS.minLr), warmup: num(flags, 'warmup', TRAIN_DEFAULTS.warmup),
    schedule: (flags.schedule as TrainOptions['schedule']) ?? TRAIN_DEFAULTS.schedule,
    beta1: num(flags, 'beta1', TRAIN_DEFAULTS.beta1), beta2: num(flags, 'beta2', TRAIN_DEFAULTS.beta2), eps: num(flags, 'eps', TRAIN_DEFAULTS.eps),
    wd: num(flags, 'wd', TRAIN_DEFAULTS.wd), clip: num(flags, 'clip', TRAIN_DEFAULTS.clip),
    sampling: (flags.sampling as TrainOptions['sampling']) ?? TRAIN_DEFAULTS.sampling, seed: num(flags, 'seed', TRAIN_DEFAULTS.seed),
    evalEvery: num(flags, 'eval-every', TRAIN_DEFAULTS.evalEvery), valWindows: num(flags, 'val-windows', TRAIN_DEFAULTS.valWindows),
  };
  validateTrainOptions(opts);
  // the text is tokenized as `eval` does: BOS, then the whole file
  const ck = await readModel(path);
  const tok = await readTokenizer(flags.tokenizer as string | undefined, path, ck.config.vocabSize);
  let train = tok.encode(readFileSync(textPath, 'utf8'), { bos: true });
  let val: number[];
  if (typeof flags['val-text'] === 'string') val = tok.encode(readFileSync(flags['val-text'], 'utf8'), { bos: true });
  else {
    // no --val-text: the last 10% of the tokens are held out (never trained on)
    const cut = Math.floor(train.length * 0.9);
    val = train.slice(cut);
    train = train.slice(0, cut);
  }
  const r = await trainRun(gpu, { model: path, out, metrics: flags.metrics as string | undefined, resume: !!flags.resume,
    saveEvery: num(flags, 'save-every', 0), opts, train, val, progress: flags.json ? null : stderrBar() });
  if (flags.json) {
    console.log(JSON.stringify({ losses: r.metrics.map((m) => m.loss), grad_norms: r.metrics.map((m) => m.grad_norm), val_loss: r.valLoss }));
    return;
  }
  const last = r.metrics.at(-1);
  console.log(`trained ${r.metrics.length} steps: loss ${last?.loss.toFixed(4)}, val loss ${r.valLoss.toFixed(4)}; checkpoint in ${join(out, 'checkpoint')}`);
}

async function demo(flags: Flags, gpu: Gpu): Promise<void> {
  const r = await runDemo(gpu);
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(`inheritune-rt demo on ${r.device.runtime} / ${Object.values(r.device.adapter).join(' / ') || 'WebGPU'}`);
  console.log(`reference: random-init Llama, ${r.parameters} parameters, byte-level vocabulary, built-in text of ${r.tokens} tokens`);
  console.log(`  full model      loss ${r.reference.loss.toFixed(4)}  ppl ${r.reference.ppl.toFixed(2)}  (ln 256 = ${Math.log(256).toFixed(4)})`);
  console.log(`  first ${r.inherited.layers} blocks  loss ${r.inherited.loss.toFixed(4)}  ppl ${r.inherited.ppl.toFixed(2)}`);
  console.log(`  forward throughput ${r.tokensPerSecond.toFixed(0)} tokens/s`);
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof InherituneError) {
    process.stderr.write(`inheritune-rt: ${e.message}\n`);
    process.exit(1);
  }
  throw e;
});
