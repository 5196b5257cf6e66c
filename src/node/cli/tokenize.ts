// cli/tokenize: `inheritune-rt tokenize`, a text to ids exactly as the reference tokenizer does.
import { existsSync } from 'node:fs';
import { readRegular } from '../bytes.js';
import { readTokenizer } from '../tokfiles.js';
import { str, tokenizerOpts, type Flags } from './args.js';
import { fail } from '../../util/errors.js';

/** the tokenizer of --tokenizer (a file or a model directory) */
export async function tokenizerOf(flags: Flags) {
  const path = str(flags, 'tokenizer');
  if (!existsSync(path)) fail(`tokenizer '${path}' does not exist`, 'pass --tokenizer FILE or a model directory');
  return readTokenizer(path, path, undefined, tokenizerOpts(flags));
}

/** the plain encoding of the text: no BOS/EOS (sentencepiece's encode; special tokens as HF tokenizers, or as text
 *  with --split-special-tokens) */
export async function tokenizeCmd(flags: Flags): Promise<void> {
  const tok = await tokenizerOf(flags);
  if ((flags.text === undefined) === (flags.file === undefined)) fail('pass exactly one of --text STRING or --file F');
  const text = typeof flags.text === 'string' ? flags.text : readRegular(flags.file as string, '--file').toString('utf8');
  const ids = tok.encode(text, { bos: false, eos: false });
  if (flags.json) { console.log(JSON.stringify({ ids })); return; }
  console.log(ids.join(' '));
}
