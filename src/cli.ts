#!/usr/bin/env node
// cli: the `inheritune-rt` command (Node). One function per command; flags are parsed with
// node:util parseArgs (strict, so a misspelt flag is an error, not silently ignored).
import { parseArgs } from 'node:util';
import { readFileSync, existsSync } from 'node:fs';
import { createGpu } from './node.js';
import { Model } from './model.js';
import { windowedLoss } from './evaluate.js';
import { readModel, readTokenizer } from './files.js';
import { runDemo } from './demo.js';
import { Progress } from './progress.js';
import { InherituneError, fail } from './errors.js';
import type { Gpu } from './gpu.js';

const USAGE = `inheritune-rt — Inheritune on WebGPU

Commands:
  demo [--json]                                   the built-in default job (no files needed)
  info [--json]                                   WebGPU adapter, features, limits, runtime
  logits --model PATH --ids 1,403,407 [--layers K] [--json]
                                                  logits of every position; --layers K runs only
                                                  the first K blocks (then final norm and head)
  eval --model PATH [--tokenizer PATH] --text FILE --seq T --windows W [--layers K] [--batch B] [--json]
                                                  mean next-token cross-entropy over W windows of
                                                  T+1 tokens (stride T) of the tokenized file
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
  const ck = readModel(path);
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
  const ck = readModel(path);
  const tok = await readTokenizer(flags.tokenizer as string | undefined, path, ck.config.vocabSize);
  const ids = tok.encode(readFileSync(textPath, 'utf8'), { bos: true });
  const model = Model.create(gpu, ck, { layers: int(flags, 'layers') });
  const bar = new Progress('eval', W, flags.json ? null : stderrBar());
  const r = await windowedLoss(model, ids, T, W, { batch: int(flags, 'batch'), onWindow: (d) => bar.update(d) });
  model.destroy();
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(`loss ${r.loss.toFixed(6)} nats/token   ppl ${r.ppl.toFixed(4)}   (${r.windows} windows x ${T} tokens = ${r.tokens})`);
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
