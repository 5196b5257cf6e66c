// normalizers: the Hugging Face normalizers of a tokenizer.json that we implement, as one string -> string
// function (HF applies them to each segment between added tokens), validated field by field.
// Replace patterns come from the file, so a Regex pattern runs on RE2 (re2js, a linear-time engine: no
// backtracking, so no pattern can make an encode take exponential time) and never on V8's RegExp. RE2 has
// no look-around and no backreferences: such a pattern is refused with an error. `content` is inserted
// literally, as HF's NormalizedString::replace does ("$1" is text, not a group).
import { RE2JS } from 're2js';
import { fail } from '../util/errors.js';
import { arr, obj, show, str, type Src } from '../util/check.js';

/** Longest Regex pattern accepted: RE2's cost is pattern size x text length, so bound the first factor. */
export const MAX_PATTERN = 1000;
/** Sequences nested deeper than this are refused (real files nest one level). */
export const MAX_DEPTH = 8;

export type Normalize = (s: string) => string;

/** A Regex pattern of a tokenizer.json compiled for RE2 (JavaScript/Oniguruma escapes such as \uHHHH translated). */
export function compilePattern(src: Src, field: string, pattern: string): RE2JS {
  if (pattern.length > MAX_PATTERN) {
    fail(`${src.file}: ${field} is a ${pattern.length}-character regex; at most ${MAX_PATTERN} characters are accepted`, src.hint);
  }
  try {
    return RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (e) {
    return fail(`${src.file}: ${field} ${show(pattern)} cannot run on the linear-time regex engine (RE2): ${(e as Error).message}`,
      'patterns from files run on RE2, which has no look-around, backreferences or possessive quantifiers; ' +
      'rewrite the pattern without them (or as a String pattern), or use a tokenizer without this normalizer');
  }
}

/** replaces every match of `re` in `s` by `content`, literally */
export const replaceRe2 = (re: RE2JS, s: string, content: string): string => re.matcher(s).replaceAll(() => content);

/** The normalizer at `field` (an object or null), or null when there is none. */
export function normalizerFn(src: Src, field: string, n: unknown, depth = 0): Normalize | null {
  if (n === null || n === undefined) return null;
  const o = obj(src, field, n);
  const type = str(src, `${field}.type`, o.type);
  switch (type) {
    case 'Sequence': {
      if (depth >= MAX_DEPTH) fail(`${src.file}: ${field} nests normalizer Sequences more than ${MAX_DEPTH} deep`, src.hint);
      const list = arr(src, `${field}.normalizers`, o.normalizers);
      const fs = list.map((x, i) => normalizerFn(src, `${field}.normalizers[${i}]`, obj(src, `${field}.normalizers[${i}]`, x), depth + 1)!);
      return (s) => fs.reduce((acc, f) => f(acc), s);
    }
    case 'Prepend': {
      const prepend = str(src, `${field}.prepend`, o.prepend);
      return (s) => s.length ? prepend + s : s;
    }
    case 'Replace': {
      const pat = obj(src, `${field}.pattern`, o.pattern);
      const content = str(src, `${field}.content`, o.content);
      const keys = Object.keys(pat);
      if (keys.length !== 1 || (keys[0] !== 'String' && keys[0] !== 'Regex')) {
        fail(`${src.file}: ${field}.pattern has the keys [${keys.slice(0, 5).join(', ')}], expected exactly one of String, Regex`, src.hint);
      }
      if (keys[0] === 'String') {
        const lit = str(src, `${field}.pattern.String`, pat.String, true);
        return (s) => s.split(lit).join(content);
      }
      const re = compilePattern(src, `${field}.pattern.Regex`, str(src, `${field}.pattern.Regex`, pat.Regex, true));
      return (s) => replaceRe2(re, s, content);
    }
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': return (s) => s.normalize(type);
    case 'Lowercase': return (s) => s.toLowerCase();
    default: return fail(`${src.file}: ${field}.type '${type.slice(0, 40)}' is not a supported normalizer ` +
      '(Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase)', 'Llama-style tokenizer.json files use only these; ' +
      'pass the model\'s tokenizer.model or vocab.json + merges.txt instead if it has them');
  }
}
