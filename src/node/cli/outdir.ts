// cli/outdir: the rule for writing into an --out directory. A directory that does not exist or is
// empty is always fine; one that holds a resumable run of the same command is continued with --resume
// (`demo` continues its own run by default); anything else — another command's output, a model, a
// train run that never reached a checkpoint, a file — is refused unless --force, so that no command
// silently replaces or mixes into what is there.
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { fail } from '../../util/errors.js';
import { hasCompleteStep, lostSteps, MANIFEST } from '../checkpoint.js';

export type OutKind = 'missing' | 'empty' | 'file' | 'train' | 'train-unsaved' | 'run' | 'demo' | 'distill-cache' | 'other';

const TRAIN_FILES = /^(checkpoint|checkpoints|checkpoints\.json|metrics\.jsonl|loss\.svg|\.checkpoint\..*)$/;

/** what a directory holds, by the files each command writes (src/node/train.ts, src/node/recipe.ts) */
export function outKind(dir: string): OutKind {
  if (!existsSync(dir)) return 'missing';
  if (!statSync(dir).isDirectory()) return 'file';
  const names = readdirSync(dir);
  if (!names.length) return 'empty';
  if (existsSync(join(dir, 'checkpoint', 'trainer.json'))) return 'train';
  // the checkpoint link lost or dangling, a complete step beside it: still a run to resume (src/node/checkpoint.ts re-points the link)
  if (hasCompleteStep(dir)) return 'train';
  // the built-in job pre-trains its reference in DIR/reference first; a recipe run has rounds (run.json once one finished)
  if (names.includes('reference') && statSync(join(dir, 'reference')).isDirectory()) return 'demo';
  if (names.includes('run.json') || names.some((n) => /^(round-\d+|baseline)$/.test(n))) return 'run';
  if (names.includes('distill_cache.json') || names.includes('distill_cache.partial.json')) return 'distill-cache'; // src/node/distill_cache.ts
  if (names.every((n) => TRAIN_FILES.test(n))) return 'train-unsaved';
  return 'other';
}

const WHAT: Record<OutKind, string> = {
  missing: 'does not exist', empty: 'is empty', file: 'is a file, not a directory',
  train: 'holds a training run of `inheritune-rt train`',
  'train-unsaved': 'holds a training run of `inheritune-rt train` that stopped before its first checkpoint',
  run: 'holds a recipe run of `inheritune-rt run`',
  demo: 'holds a run of the built-in job (`inheritune-rt demo`, or inheritune-rt run without --model)',
  'distill-cache': 'holds a cache of teacher logits (`inheritune-rt distill-cache`)',
  other: 'already exists and is not empty',
};

export interface OutRule {
  flag: string;                 // '--out', '--onnx-dir'
  own?: 'train' | 'run' | 'demo' | 'distill-cache'; // the resumable run this command continues
  resumeByDefault?: boolean;    // demo, distill-cache: a re-run continues its own run without --resume
  replaces?: boolean;           // the command replaces the directory whole (inherit, export --onnx-dir)
}

/**
 * Checks `dir` against the rule (`resume`, `force`: the command's --resume and --force); returns
 * whether the command continues the run there.
 */
export function checkOut(dir: string, rule: OutRule, resume = false, force = false): boolean {
  const kind = outKind(dir), f = rule.flag;
  if (kind === 'file') return fail(`${f} ${dir} ${WHAT[kind]}`, `pass a directory (new or empty) for ${f}`);
  if (kind === 'missing' || kind === 'empty') {
    if (resume && !rule.resumeByDefault) fail(`--resume: no checkpoint to continue in ${f} ${dir} (it ${WHAT[kind]})`, `run without --resume to start a run there, or pass the ${f} of the run to continue`);
    return false;
  }
  if (kind === rule.own) {
    if (resume || rule.resumeByDefault) return true;
    if (force) return false;
    return fail(`${f} ${dir} ${WHAT[kind]}`, `pass --resume to continue it, --force to start over in it, or another ${f}`);
  }
  if (resume && rule.own) {
    const lost = kind === 'train-unsaved' ? lostSteps(dir) : [];
    if (lost.length) {
      fail(`--resume: ${f} ${dir} holds a training run whose checkpoint${lost.length > 1 ? 's' : ''} ${lost.map((d) => join('checkpoints', d)).join(', ')} (listed in ${MANIFEST}) ${lost.length > 1 ? 'are' : 'is'} missing or incomplete (no trainer.json): nothing is left to resume`,
        `restore ${lost.length > 1 ? 'them' : 'it'}, or pass --force instead of --resume to start the run over`);
    }
    const nothing = kind === 'train-unsaved' && rule.own === 'train' ? ': nothing to resume' : '';
    fail(`--resume: ${f} ${dir} ${WHAT[kind]}${nothing}`, nothing ? 'pass --force instead of --resume to start it over' :
      `pass the ${f} of a run of this command, or start a new one without --resume in another ${f}`);
  }
  if (force) return false;
  const how = rule.replaces ? '--force to replace it (its contents are removed)' : rule.own ? '--force to start a new run in it' : '--force to write into it';
  return fail(`${f} ${dir} ${WHAT[kind]}`, `choose another ${f}, or pass ${how}`);
}

/** the real path of p, or of its nearest existing ancestor with the rest appended (p need not exist) */
function realish(p: string): string {
  const abs = resolve(p);
  if (existsSync(abs)) return realpathSync(abs);
  const up = dirname(abs);
  return up === abs ? abs : join(realish(up), abs.slice(up.length));
}

/** a inside b, or the same path */
const within = (a: string, b: string): boolean => { const r = relative(b, a); return r === '' || (!r.startsWith('..') && !isAbsolute(r)); };

/**
 * Refuses an output that is, contains or lies inside one of the command's sources (links resolved), before
 * anything is written: `inherit --model M --out M --force` would otherwise replace the model with its child.
 */
export function refuseOverlap(out: string, outFlag: string, sources: [flag: string, path: string][]): void {
  const o = realish(out);
  for (const [flag, path] of sources) {
    if (!existsSync(path)) continue;
    const s = realpathSync(path);
    const how = o === s ? 'is' : within(s, o) ? 'contains' : within(o, s) ? 'lies inside' : '';
    if (how) fail(`${outFlag} ${out} ${how} ${flag} ${path}: writing there would replace or mix into the source`, `pass an ${outFlag} outside ${path}`);
  }
}
