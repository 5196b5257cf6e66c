// cli/args: flag helpers shared by the CLI's command files. Every bad value is an InherituneError
// that names the flag.
import { fail } from '../../util/errors.js';
import { isSelectRule, SELECT_RULES, type SelectRule } from '../../method/select.js';
import { isHubSpec } from '../../formats/hub.js';
import { downloadModel } from '../hub.js';
import { STDERR_TTY } from './stderr.js';

export type Flags = Record<string, string | boolean | undefined>;

/** the command running (set by main once it is known), for hints that point at its --help */
export const cli = { command: '' };
const helpHint = () => `\`inheritune-rt ${cli.command ? `${cli.command} ` : ''}--help\` lists the flags`;

export function int(flags: Flags, name: string, opts: { required?: boolean; min?: number } = {}): number | undefined {
  const v = flags[name];
  if (v === undefined) {
    if (opts.required) fail(`--${name} is required`, helpHint());
    return undefined;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < (opts.min ?? 1)) fail(`--${name} ${v} is not an integer >= ${opts.min ?? 1}`);
  return n;
}

/** the tokenizer options of --split-special-tokens (readTokenizer's) */
export const tokenizerOpts = (flags: Flags) => ({ splitSpecialTokens: flags['split-special-tokens'] === true });

export function str(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || !v) fail(`--${name} is required`, helpHint());
  return v;
}

export function num(flags: Flags, name: string, dflt: number): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) fail(`--${name} ${v} is not a number`);
  return n;
}

/** --select: a block list (0,1,4) or a rule (rank-guided, block-influence, angular); undefined without the flag */
export function selectFlag(flags: Flags): number[] | SelectRule | undefined {
  if (typeof flags.select !== 'string') return undefined;
  if (isSelectRule(flags.select)) return flags.select;
  return flags.select.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 0) fail(`--select: '${x}' is not a block index`, `pass comma-separated block indices, e.g. --select 0,1,4, or one of the rules ${SELECT_RULES.join(', ')}`);
    return n;
  });
}

/** a progress-bar writer when stderr is a terminal (the CLI's worker's stderr reaches one through its parent) */
export function stderrBar(): ((s: string) => void) | null {
  return process.stderr.isTTY || process.env[STDERR_TTY] === '1' ? (s) => process.stderr.write(s) : null;
}

/**
 * A model path flag: a local HF directory or llama2.c .bin, or hf:owner/name[@revision], which is read
 * from huggingface_hub's cache (downloaded into it first, resumably, when incomplete there and
 * HF_ENDPOINT is set): the snapshot folder's path is returned.
 */
export async function modelPath(flags: Flags, name: string): Promise<string> {
  const p = str(flags, name);
  return isHubSpec(p) ? downloadModel(p, { progress: flags.json ? null : stderrBar() }) : p;
}
