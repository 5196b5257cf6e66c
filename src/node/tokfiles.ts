// node/tokfiles: a model's tokenizer on disk: the tokenizer to encode with (--tokenizer, or the files
// beside the model), and the tokenizer files a written model directory carries for the Hugging Face stack.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import { tokenizerFromFiles, TOKENIZER_FILES, isTokenizerBin, isTokenizerFile, type Tokenizer } from '../tokenizers/load.js';
import { hfTokenizerFiles } from '../tokenizers/export.js';
import { fail } from '../util/errors.js';
import { inside, readHead, readRegular, readRegularText } from './bytes.js';

/** the tokenizer files of a directory, as tokenizerFromFiles takes them */
function tokenizerFilesIn(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const f of readdirSync(dir)) {
    if (isTokenizerFile(f)) out[f] = new Uint8Array(readRegular(inside(dir, f), 'tokenizer file'));
  }
  // a llama2.c tokenizer.bin beside a llama2.c model wins: llama2.c checkpoints were trained and
  // evaluated with run.c's encoding (SentencePiece's own differs on runs of spaces)
  const bin = Object.keys(out).find(isTokenizerBin);
  return bin ? { [bin]: out[bin] } : out;
}

/**
 * --tokenizer PATH (a file, or a directory of tokenizer files), else the tokenizer files of the model's
 * directory (or beside a .bin). Every format of src/tokenizers/load.ts.
 */
export async function readTokenizer(explicit: string | undefined, modelPath: string, vocabSize?: number,
  opts: { splitSpecialTokens?: boolean } = {}): Promise<Tokenizer> {
  let files: Record<string, Uint8Array>;
  if (explicit) {
    if (!existsSync(explicit)) fail(`tokenizer '${explicit}' does not exist`, 'pass --tokenizer PATH to a tokenizer file or a model directory');
    if (statSync(explicit).isDirectory()) files = tokenizerFilesIn(explicit);
    else {
      const dir = dirname(explicit);
      let name = basename(explicit);
      // a SentencePiece model or an HF tokenizer.json under another name (tok512.model, gpt2-tokenizer.json)
      if (name.endsWith('.model')) name = 'tokenizer.model';
      else if (name.endsWith('.json') && !['vocab.json', 'encoder.json', 'tokenizer_config.json'].includes(name)) name = 'tokenizer.json';
      files = { [name]: new Uint8Array(readRegular(explicit, 'tokenizer')) };
      // a GPT-2 vocabulary file needs its merges partner beside it
      const partner: Record<string, string> = { 'vocab.json': 'merges.txt', 'merges.txt': 'vocab.json', 'encoder.json': 'vocab.bpe', 'vocab.bpe': 'encoder.json' };
      if (partner[name] && existsSync(join(dir, partner[name]))) files[partner[name]] = new Uint8Array(readRegular(join(dir, partner[name]), 'tokenizer file'));
      if (name === 'tokenizer.json' && existsSync(join(dir, 'tokenizer_config.json'))) files['tokenizer_config.json'] = new Uint8Array(readRegular(join(dir, 'tokenizer_config.json'), 'tokenizer file'));
    }
  } else {
    const dir = statSync(modelPath).isDirectory() ? modelPath : dirname(modelPath);
    files = tokenizerFilesIn(dir);
    if (!Object.keys(files).length) fail(`no tokenizer files beside the model in ${dir}`, `pass --tokenizer PATH (${TOKENIZER_FILES.join(', ')})`);
  }
  return tokenizerFromFiles(files, { vocabSize, splitSpecialTokens: opts.splitSpecialTokens });
}

// tokenizer files that travel with a model: HF names, plus llama2.c's beside a .bin checkpoint
const HF_TOKENIZER_FILES = [...TOKENIZER_FILES, 'special_tokens_map.json', 'generation_config.json'];

/**
 * tokenizer files of a model (dir or beside a .bin) as {name in the output: bytes}, with the files the
 * Hugging Face stack reads added where the source lacks them (tokenizer.json converted from a llama2.c
 * .bin, a tokenizer.model or GPT-2's files; tokenizer_config.json, special_tokens_map.json,
 * generation_config.json; GPT-2's vocab.json + merges.txt): src/tokenizers/export.ts
 */
export function tokenizerFiles(modelPath: string): Record<string, Uint8Array[]> {
  const own = ownTokenizerFiles(modelPath);
  const flat = Object.fromEntries(Object.entries(own).map(([k, v]) => [k, v[0]]));
  return Object.fromEntries(Object.entries(hfTokenizerFiles(flat, maxPositions(modelPath))).map(([k, v]) => [k, [v]]));
}

/** the model's positions (model_max_length), from config.json or a llama2.c header, without reading weights */
function maxPositions(modelPath: string): number {
  try {
    if (statSync(modelPath).isDirectory()) {
      const c = JSON.parse(readRegularText(join(modelPath, 'config.json'), 'model file'));
      return c.max_position_embeddings ?? c.n_positions ?? 2048;
    }
    const { head } = readHead(modelPath, 36, 'model');
    const dv = new DataView(head.buffer, head.byteOffset, 36);
    return dv.getUint32(0, true) === 0x616b3432 ? dv.getInt32(32, true) : dv.getInt32(24, true); // v1 "ak42" header, or legacy
  } catch {
    return 2048;
  }
}

function ownTokenizerFiles(modelPath: string): Record<string, Uint8Array[]> {
  const out: Record<string, Uint8Array[]> = {};
  if (!existsSync(modelPath)) return out;
  const isDir = statSync(modelPath).isDirectory();
  const dir = isDir ? modelPath : dirname(modelPath);
  const read = (f: string) => [readRegular(inside(dir, f), 'tokenizer file')];
  for (const f of HF_TOKENIZER_FILES) if (existsSync(join(dir, f))) out[f] = read(f);
  if (isDir) {
    // llama2.c tokenizers carried by an earlier inherit/train (tok512.bin etc.)
    for (const f of readdirSync(dir)) if (isTokenizerBin(f)) out[f] = read(f);
  } else {
    // llama2.c: tok512.bin keeps its name (our CLI finds it), tok512.model becomes tokenizer.model (transformers reads it)
    if (existsSync(join(dir, 'tok512.bin'))) out['tok512.bin'] = read('tok512.bin');
    if (!out['tokenizer.model'] && existsSync(join(dir, 'tok512.model'))) out['tokenizer.model'] = read('tok512.model');
  }
  return out;
}
