#!/usr/bin/env node
// cli: the `inheritune-rt` command (Node): dispatch to one file per command (./info.ts, logits.ts, eval.ts,
// analyze.ts, inherit.ts, export.ts, train.ts, distill_cache.ts, run.ts, pretrain.ts, tokenize.ts, pack.ts, generate.ts,
// plan.ts). The commands and the table of each one's flags are in src/node/cli/specs.ts, from which
// parseArgs's options (strict, so a misspelt flag is an error, not silently ignored) and every --help are
// generated. A command that needs the GPU runs in a worker process whose stderr is filtered
// (src/node/cli/stderr.ts).
import { createGpu } from '../index.js';
import { InherituneError, fail } from '../../util/errors.js';
import { fileError } from '../bytes.js';
import { cli, type Flags } from './args.js';
import { info } from './info.js';
import { logits } from './logits.js';
import { evaluate } from './eval.js';
import { analyzeCmd } from './analyze.js';
import { inheritCmd } from './inherit.js';
import { exportCmd } from './export.js';
import { trainCmd } from './train.js';
import { runCmd } from './run.js';
import { pretrainCmd } from './pretrain.js';
import { tokenizeCmd } from './tokenize.js';
import { packCmd } from './pack.js';
import { generateCmd } from './generate.js';
import { planCmd } from './plan.js';
import { distillCacheCmd } from './distill_cache.js';
import { SPECS, SPEC } from './specs.js';
import { parseFlags, commandHelp, overview, flagsInMessage, didYouMean } from './flags.js';
import { isWorker, runInWorker, watchParent } from './stderr.js';
import { VERSION } from '../../gen/version.js';
import type { Gpu } from '../../gpu/gpu.js';

const HANDLERS: Record<string, (f: Flags, g: Gpu) => Promise<void>> = {
  demo: (f, g) => runCmd(f, g, true), pretrain: pretrainCmd, run: (f, g) => runCmd(f, g), inherit: (f, g) => inheritCmd(f, g), train: trainCmd,
  eval: evaluate, analyze: analyzeCmd, logits, generate: generateCmd, export: exportCmd, tokenize: (f) => tokenizeCmd(f), pack: (f) => packCmd(f), info, plan: planCmd,
  'distill-cache': distillCacheCmd,
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

main(process.argv.slice(2)).catch((e) => {
  e = fileError(e) ?? e; // ENOENT, EISDIR, ... that no reader anticipated: the file named, no stack trace
  if (e instanceof InherituneError) {
    // `gradAccum` in a library message is --grad-accum here (the running command's flags; all of them before one is known)
    process.stderr.write(`inheritune-rt: ${flagsInMessage(e.message, cli.command ? [SPEC[cli.command]] : SPECS)}\n`);
    process.exit(1);
  }
  throw e;
});
