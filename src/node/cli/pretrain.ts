// cli/pretrain: `inheritune-rt pretrain`, the built-in reference pre-trained from random init on the Brown
// Corpus (src/node/recipe.ts): the command that made the one the package ships.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../../gpu/gpu.js';
import { pretrainReference } from '../recipe.js';
import { int, stderrBar, type Flags } from './args.js';
import { fail } from '../../util/errors.js';
import { checkOut } from './outdir.js';
import { PRETRAIN_OUT } from './specs.js';

/** `pretrain`: the built-in reference from random init on the Brown Corpus (src/node/recipe.ts) */
export async function pretrainCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const out = typeof flags.out === 'string' ? flags.out : PRETRAIN_OUT;
  // a training run is continued only if it is this command's (its start is the built-in config)
  if (checkOut(out, { flag: '--out', own: 'train', resumeByDefault: true }) && !existsSync(join(out, 'init', 'config.json'))) {
    fail(`--out ${out} holds a training run that \`inheritune-rt pretrain\` did not start`, 'pass another --out (or the --out of an earlier pretrain run to continue it)');
  }
  await pretrainReference(gpu, out, flags.json ? null : stderrBar(), flags.json ? () => {} : (l) => console.log(l), int(flags, 'steps'));
  const summary = join(out, 'model', 'pretrain.json');
  const s = existsSync(summary) ? JSON.parse(readFileSync(summary, 'utf8')) : null;
  if (flags.json) { console.log(JSON.stringify(s ?? { out })); return; }
  console.log(s ? `the reference: ${join(out, 'model')} — ${s.parameters} parameters, validation loss ${s.final_val_loss.toFixed(4)} nats/byte ` +
    `after ${s.options.steps} steps (${s.tokens} tokens, ${s.wall_seconds} s)` : `the reference: ${join(out, 'checkpoint')}`);
}
