// cli/flags: one table of flag definitions per command (src/node/cli/specs.ts), from which both
// node:util parseArgs's options and the command's --help are generated, so the two cannot drift.
// Also the one mechanism that turns the API's option names in library messages (`gradAccum`) into
// the flags of the running command (--grad-accum).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fail } from '../../util/errors.js';
import type { Flags } from './args.js';

/** a value placeholder; FILE, DIR and PATH (a file or a directory) mark the flags that take a path on disk */
export type Meta = 'FILE' | 'DIR' | 'PATH' | 'N' | 'X' | 'LIST' | 'NAME' | 'S';

export interface FlagDef {
  name: string;                 // as typed, without the dashes (kebab-case)
  value?: Meta | string;        // placeholder of a string flag; absent: a boolean switch
  meaning: string;
  default?: string;             // what applies without the flag, as --help shows it
  required?: boolean | string;  // true, or the condition under which it is ('with --text')
  multiple?: boolean;           // may be repeated (--input a --input b)
  aliases?: string[];           // older names that still work (inherit --from = --model)
  api?: string[];               // the API options the flag sets, as library messages name them (default: its camelCase)
}

export interface CommandSpec {
  name: string;
  synopsis: string;             // the usage line after `inheritune-rt NAME`
  summary: string;              // what it does (one or two sentences; the overview shows it)
  more?: string;                // what --help adds (where it writes, what it refuses)
  flags: FlagDef[];
  gpu: boolean | ((f: Flags) => boolean);   // needs a WebGPU device
}

/** FILE, DIR or PATH: the flag takes a path on disk */
export const takesPath = (f: FlagDef) => f.value === 'FILE' || f.value === 'DIR' || f.value === 'PATH';

const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * parses a command's arguments strictly (an unknown or misspelt flag is an error, with the nearest
 * flag of the command as a suggestion); aliases fold into their flag. `others`: every command, so that
 * a flag of another command is named as such.
 */
export function parseFlags(spec: CommandSpec, args: string[], others: CommandSpec[] = []): Flags {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const f of spec.flags) {
    for (const n of [f.name, ...(f.aliases ?? [])]) options[n] = { type: f.value ? 'string' : 'boolean', ...(f.multiple ? { multiple: true } : {}) };
  }
  let flags: Flags;
  try {
    flags = parseArgs({ args, options, strict: true, allowPositionals: false }).values as Flags;
  } catch (e) {
    const hint = `\`inheritune-rt ${spec.name} --help\` lists its flags`;
    const unknown = unknownFlag(args, options);
    if (unknown) {
      const near = didYouMean(unknown.name, Object.keys(options), '--');
      const elsewhere = others.filter((s) => s.name !== spec.name && s.flags.some((f) => f.name === unknown.name)).map((s) => s.name);
      fail(`unknown flag ${unknown.raw} for \`inheritune-rt ${spec.name}\`${near ? `; did you mean ${near}?` : ''}`,
        elsewhere.length ? `${unknown.raw} is a flag of ${elsewhere.join(', ')}; ${hint}` : hint);
    }
    return fail(`${spec.name}: ${(e as Error).message}`, hint);
  }
  if (flags.help) return flags;
  for (const f of spec.flags) {
    for (const a of f.aliases ?? []) {
      if (flags[a] === undefined) continue;
      if (flags[f.name] !== undefined) fail(`${spec.name}: --${a} and --${f.name} name the same thing`, `pass one of them (--${f.name}; --${a} is its older name)`);
      flags[f.name] = flags[a];
      delete flags[a];
    }
  }
  return flags;
}

/** the first option in args that the command does not know (parseArgs's own tokens, so `--out=x` and `--` are read as it reads them) */
function unknownFlag(args: string[], options: NonNullable<ParseArgsConfig['options']>): { name: string; raw: string } | null {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const t = tokens.find((x) => x.kind === 'option' && !(x.name in options));
  return t && t.kind === 'option' ? { name: t.name, raw: t.rawName } : null;
}

/**
 * Damerau-Levenshtein distance (optimal string alignment: an adjacent transposition counts as one
 * edit, as in `--stpes`), for did-you-mean suggestions.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known names nearest to `typed`, as "--a" or "--a or --b" (at most three), or '' when none is
 * near: within one edit per three characters typed (at least one, so `--step` finds --steps and
 * `--lrr` finds --lr), else the names that `typed` (three characters or more) begins.
 */
export function didYouMean(typed: string, known: string[], prefix = ''): string {
  const t = typed.toLowerCase();
  const scored = known.map((k) => ({ k, d: editDistance(t, k) }));
  const best = Math.min(...scored.map((s) => s.d));
  let near = best <= Math.max(1, Math.floor(t.length / 3)) ? scored.filter((s) => s.d === best).map((s) => s.k) : [];
  if (!near.length && t.length >= 3) near = known.filter((k) => k.startsWith(t));
  if (!near.length || near.length > 3) return '';
  const names = near.map((k) => `${prefix}${k}`);
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/** the placeholder as help shows it: `--text FILE`, `--resume` */
const usageOf = (f: FlagDef) => `--${f.name}${f.value ? ` ${f.value}` : ''}`;

/** words wrapped to `width` columns, continuation lines indented by `indent` */
function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/)) {
    if (line && line.length + 1 + w.length > width - indent) { lines.push(line); line = w; } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

const WIDTH = 100, COL = 28;

/** `inheritune-rt CMD --help`: the usage line, what the command does, and every flag with its meaning and default */
export function commandHelp(spec: CommandSpec): string {
  const out = [`Usage: inheritune-rt ${spec.name} ${spec.synopsis}`, '', ...wrap(`${spec.summary}${spec.more ? ` ${spec.more}` : ''}`, WIDTH, 0), '', 'Flags:'];
  const rows: [string, string][] = spec.flags.map((f) => {
    const req = f.required === true ? 'required' : f.required ? `required ${f.required}` : '';
    const notes = [req, f.default !== undefined ? `default: ${f.default}` : '', f.multiple ? 'repeatable' : '',
      ...(f.aliases ?? []).map((a) => `also --${a}`)].filter(Boolean);
    return [usageOf(f), `${f.meaning}${notes.length ? ` (${notes.join('; ')})` : ''}`];
  });
  rows.push(['-h, --help', 'this text']);
  for (const [left, meaning] of rows) {
    const text = wrap(meaning, WIDTH, COL);
    if (left.length + 2 > COL - 2) { out.push(`  ${left}`); out.push(...text.map((l) => ' '.repeat(COL) + l)); continue; }
    out.push(`  ${left.padEnd(COL - 2)}${text[0] ?? ''}`, ...text.slice(1).map((l) => ' '.repeat(COL) + l));
  }
  out.push('', 'FILE, DIR and PATH (a file or a directory) are paths on disk; a model PATH may also be hf:owner/name[@revision].');
  return out.join('\n') + '\n';
}

/** `inheritune-rt --help`: every command, one paragraph each */
export function overview(specs: CommandSpec[], version: string): string {
  const out = [`inheritune-rt ${version} — Inheritune on WebGPU: build small language models from big ones`, '',
    'Usage: inheritune-rt COMMAND [flags]     (inheritune-rt COMMAND --help lists the flags of a command)', '', 'Commands:'];
  for (const s of specs) {
    const text = wrap(s.summary, WIDTH, 14);
    out.push(`  ${s.name.padEnd(10)}  ${text[0]}`, ...text.slice(1).map((l) => ' '.repeat(14) + l));
  }
  out.push('', 'Options:', '  -h, --help    this text (COMMAND --help: that command\'s flags)', '  --version     the package version');
  return out.join('\n') + '\n';
}

/**
 * Library errors name options as the API spells them, in backticks (`gradAccum`); on the command line
 * the same option is a flag of the running command (--grad-accum; `limit` of `run` is --task-limit),
 * so every backticked name that the command has a flag for becomes that flag. Without a command (an
 * error before one is known) every command's flags count.
 */
export function flagsInMessage(message: string, specs: CommandSpec[]): string {
  const names = new Map<string, string>();
  for (const s of specs) {
    for (const f of s.flags) for (const a of f.api ?? [camel(f.name)]) if (!names.has(a)) names.set(a, f.name);
  }
  return message.replace(/`([a-z][A-Za-z0-9]*)`/g, (m, name: string) => (names.has(name) ? `--${names.get(name)}` : m));
}
