// cli/pack: `inheritune-rt pack`, text files to llm.c token shards with a train/validation split and a
// seeded subset (src/node/pack.ts).
import { join } from 'node:path';
import { packFiles, type PackFilesSummary } from '../pack.js';
import { parseAmount } from '../../data/pack.js';
import { Progress } from '../../util/progress.js';
import { str, num, int, stderrBar, type Flags } from './args.js';
import { fail } from '../../util/errors.js';
import { checkOut, refuseOverlap } from './outdir.js';
import { tokenizerOf } from './tokenize.js';
import { regularSize } from '../bytes.js';

/** "0.05" (a fraction) -> "5%"; "1%", "2M tokens" pass through */
function fraction(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  return /^\s*(0?\.\d+|0|1(\.0*)?)\s*$/.test(v) ? `${Number(v) * 100}%` : v;
}

export async function packCmd(flags: Flags): Promise<void> {
  const tok = await tokenizerOf(flags);
  const inputs = (flags.input as unknown as string[] | undefined) ?? [];
  if (!inputs.length) fail('--input F is required (repeat it for several files)', 'e.g. --input a.txt --input b.jsonl');
  for (const f of inputs) regularSize(f, '--input'); // a directory, FIFO or device is refused before anything is written
  const out = str(flags, 'out');
  checkOut(out, { flag: '--out' }, false, !!flags.force);
  refuseOverlap(out, '--out', [...inputs.map((f): [string, string] => ['--input', f]), ['--tokenizer', str(flags, 'tokenizer')]]);
  if (flags.subset !== undefined && flags.tokens !== undefined) fail('pass either --subset X or --tokens N, not both');
  const docs = (flags.docs as 'file' | 'jsonl' | 'blankline' | undefined) ?? 'file';
  if (!['file', 'jsonl', 'blankline'].includes(docs)) fail(`--docs ${docs}: expected file, jsonl or blankline`);
  const val = fraction(flags['val-fraction']);
  const subset = fraction(flags.subset) ?? (flags.tokens !== undefined ? `${int(flags, 'tokens')} tokens` : undefined);
  const seed = num(flags, 'seed', 1337), shardTokens = flags['shard-tokens'] !== undefined ? int(flags, 'shard-tokens') : undefined;
  for (const [a, what] of [[val, '`val`'], [subset, '`subset`']] as const) if (a !== undefined) parseAmount(a, what); // bad values fail before anything is touched
  const progress = new Progress('pack (bytes)', 1, flags.json ? null : stderrBar());
  // packFiles writes beside --out and moves the pack in when complete, replacing only what an earlier pack
  // there listed in its data_pack.json (shards it did not write are refused, never removed: src/node/packdir.ts)
  const summary = await packFiles(tok, inputs, out, {
    onProgress: (done, total) => { progress.total = total; progress.update(done); },
    docs, textField: flags['text-field'] as string | undefined, val, subset, seed, shardTokens,
  });
  emptySplitWarnings(summary, val !== undefined && parseFloat(val) === 0);
  if (flags.json) { console.log(JSON.stringify(summary)); return; }
  const where = `-> ${out} (manifest ${join(out, 'data_pack.json')})`;
  if (summary.valSplit === 'tail') {
    console.log(`packed ${inputs[0]}: ${summary.train.tokens} train tokens in ${summary.train.shards} shard(s), ${summary.val.tokens} validation tokens ` +
      `(the last ${summary.valShare} of the text) in ${summary.val.shards} shard(s) ${where}`);
    return;
  }
  console.log(`packed ${summary.kept} of ${summary.docs} documents: ${summary.train.tokens} train tokens in ${summary.train.shards} shard(s), ` +
    `${summary.val.tokens} validation tokens in ${summary.val.shards} shard(s) ${where}`);
}

/** a split that came out empty, unless asked for (--val-fraction 0): said on stderr, the shards are written all the same */
function emptySplitWarnings(s: PackFilesSummary, noValAsked: boolean): void {
  const warn = (problem: string, hint: string): void => void process.stderr.write(`inheritune-rt: warning: ${problem}\n---> HINT: ${hint}\n`);
  const more = 'split the input into more documents (--docs blankline or --docs jsonl) or add --input files';
  if (s.valSplit === 'tail') {
    // one text file: its last --val-fraction is the validation split
    if (s.train.tokens === 0) warn(`the training split is empty: --val-fraction ${s.valShare} put the whole text in validation`, 'lower --val-fraction');
    if (s.val.tokens === 0 && !noValAsked) warn(`the validation split is empty: the text is too short for its last ${s.valShare}`, 'raise --val-fraction, or pack a longer text');
    return;
  }
  if (s.kept === 0) return warn(`no document was kept (of ${s.docs}): both splits are empty`, 'raise --subset or --tokens');
  if (s.train.tokens === 0) warn(`the training split is empty: all ${s.kept} kept document(s) went to validation`, `lower --val-fraction, or ${more}`);
  if (s.val.tokens === 0 && !noValAsked) {
    warn(`the validation split is empty: none of the ${s.kept} kept document(s) went to it`,
      `raise --val-fraction, or ${more}; train and run on these shards then need --val-text`);
  }
}
