// cli/data: the data commands: `tokenize` (a text to ids, exactly as the reference tokenizer does)
// and `pack` (text files -> llm.c token shards with a train/validation split and a seeded subset).
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readTokenizer } from '../files.js';
import { packFiles } from '../pack.js';
import { Progress } from '../../util/progress.js';
import { str, num, stderrBar, type Flags } from './args.js';
import { fail } from '../../util/errors.js';

type Spec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
export const TOKENIZE_FLAGS: Spec = { tokenizer: { type: 'string' }, text: { type: 'string' }, file: { type: 'string' }, json: { type: 'boolean' } };
export const PACK_FLAGS: Spec = { tokenizer: { type: 'string' }, input: { type: 'string', multiple: true }, out: { type: 'string' },
  'val-fraction': { type: 'string' }, subset: { type: 'string' }, tokens: { type: 'string' }, seed: { type: 'string' },
  docs: { type: 'string' }, 'text-field': { type: 'string' }, 'shard-tokens': { type: 'string' }, json: { type: 'boolean' } };

/** the tokenizer of --tokenizer (a file or a model directory) */
async function tokenizerOf(flags: Flags) {
  const path = str(flags, 'tokenizer');
  if (!existsSync(path)) fail(`tokenizer '${path}' does not exist`, 'pass --tokenizer FILE or a model directory');
  return readTokenizer(path, path);
}

/** the plain encoding of the text: no BOS/EOS (sentencepiece's encode, tiktoken's encode_ordinary) */
export async function tokenizeCmd(flags: Flags): Promise<void> {
  const tok = await tokenizerOf(flags);
  if ((flags.text === undefined) === (flags.file === undefined)) fail('pass exactly one of --text STRING or --file F');
  const text = typeof flags.text === 'string' ? flags.text : readFileSync(flags.file as string, 'utf8');
  const ids = tok.encode(text, { bos: false, eos: false });
  if (flags.json) { console.log(JSON.stringify({ ids })); return; }
  console.log(ids.join(' '));
}

/** "0.05" (a fraction) -> "5%"; "1%", "2M tokens" pass through */
function fraction(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  return /^\s*(0?\.\d+|0|1(\.0*)?)\s*$/.test(v) ? `${Number(v) * 100}%` : v;
}

export async function packCmd(flags: Flags): Promise<void> {
  const tok = await tokenizerOf(flags);
  const inputs = (flags.input as unknown as string[] | undefined) ?? [];
  if (!inputs.length) fail('--input F is required (repeat it for several files)', 'e.g. --input a.txt --input b.jsonl');
  for (const f of inputs) if (!existsSync(f) || statSync(f).isDirectory()) fail(`input '${f}' is not a file`);
  const out = str(flags, 'out');
  if (flags.subset !== undefined && flags.tokens !== undefined) fail('pass either --subset X or --tokens N, not both');
  const docs = (flags.docs as 'file' | 'jsonl' | 'blankline' | undefined) ?? 'file';
  if (!['file', 'jsonl', 'blankline'].includes(docs)) fail(`--docs ${docs}: expected file, jsonl or blankline`);
  const bar = flags.json ? null : stderrBar();
  const progress = new Progress('pack (bytes)', 1, bar);
  const summary = await packFiles(tok, inputs, out, {
    onProgress: (done, total) => { progress.total = total; progress.update(done); },
    docs, textField: flags['text-field'] as string | undefined,
    val: fraction(flags['val-fraction']),
    subset: fraction(flags.subset) ?? (flags.tokens !== undefined ? `${flags.tokens} tokens` : undefined),
    seed: num(flags, 'seed', 1337), shardTokens: flags['shard-tokens'] !== undefined ? num(flags, 'shard-tokens', 1e7) : undefined,
  });
  if (flags.json) { console.log(JSON.stringify(summary)); return; }
  console.log(`packed ${summary.kept} of ${summary.docs} documents: ${summary.train.tokens} train tokens in ${summary.train.shards} shard(s), ` +
    `${summary.val.tokens} validation tokens in ${summary.val.shards} shard(s) -> ${out} (manifest ${join(out, 'data_pack.json')})`);
}
