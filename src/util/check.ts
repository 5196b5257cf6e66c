// check: typed reads of values parsed from input files (JSON), so that every bad value becomes an
// InherituneError naming the file, the field (a path such as `model.vocab` or `added_tokens[3].id`)
// and the fix. Nothing here walks a value recursively or stringifies a whole object, so a deeply nested or
// huge value costs nothing to describe.
import { fail } from './errors.js';

/** Where a value comes from: the file name and the fix for the whole file. */
export interface Src { file: string; hint: string }

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A short description of a value for messages: its JSON when short, else its type and size. */
export function show(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? `${v}` : `${v} (not a finite number)`;
  if (typeof v === 'string') return v.length > 40 ? `${JSON.stringify(v.slice(0, 37))}... (a ${v.length}-character string)` : JSON.stringify(v);
  if (typeof v === 'boolean') return `${v} (a boolean)`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return `an object with ${Object.keys(v).length} keys`;
  return typeof v;
}

/** fails: `file: field is VALUE, expected WHAT` */
export function bad(src: Src, field: string, v: unknown, expected: string): never {
  fail(`${src.file}: ${field} is ${show(v)}, expected ${expected}`, src.hint);
}

export function obj(src: Src, field: string, v: unknown): Record<string, unknown> {
  if (!isObject(v)) bad(src, field, v, 'an object');
  return v;
}

/** an object, or null when the value is null or missing */
export function optObj(src: Src, field: string, v: unknown): Record<string, unknown> | null {
  return v === undefined || v === null ? null : obj(src, field, v);
}

export function arr(src: Src, field: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) bad(src, field, v, 'an array');
  return v;
}

export function str(src: Src, field: string, v: unknown, nonEmpty = false): string {
  if (typeof v !== 'string' || (nonEmpty && v.length === 0)) bad(src, field, v, nonEmpty ? 'a non-empty string' : 'a string');
  return v;
}

export function optStr(src: Src, field: string, v: unknown): string | null {
  return v === undefined || v === null ? null : str(src, field, v);
}

export function optBool(src: Src, field: string, v: unknown): boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') bad(src, field, v, 'true or false');
  return v;
}

/** an integer in [lo, hi) */
export function int(src: Src, field: string, v: unknown, lo: number, hi: number, what = `an integer in ${lo}..${hi - 1}`): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v >= hi) bad(src, field, v, what);
  return v;
}

/** one of the given strings */
export function oneOf<T extends string>(src: Src, field: string, v: unknown, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) bad(src, field, v, `one of ${options.map((o) => `'${o}'`).join(', ')}`);
  return v as T;
}
