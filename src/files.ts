// files: Node-only file access for the CLI: read a model from a path, find its tokenizer.
// (Browsers and Deno pass bytes to parseLlama2c / Llama2cTokenizer.fromBytes themselves.)
import { readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { parseLlama2c } from './llama2c.js';
import { Llama2cTokenizer } from './tokenizer.js';
import type { Checkpoint } from './config.js';
import { fail } from './errors.js';

export function readModel(path: string): Checkpoint {
  if (!existsSync(path)) fail(`model '${path}' does not exist`, 'pass --model PATH to a llama2.c .bin checkpoint');
  if (statSync(path).isDirectory()) {
    fail(`model '${path}' is a directory; this version reads llama2.c .bin checkpoints`, 'pass the .bin file itself, e.g. --model stories260K.bin');
  }
  return parseLlama2c(new Uint8Array(readFileSync(path)), path);
}

const TOKENIZER_NAMES = ['tok512.bin', 'tokenizer.bin', 'tokenizer.model', 'tokenizer.json'];

/** --tokenizer PATH (a file, or a directory holding one), else a tokenizer file beside the model */
export async function readTokenizer(explicit: string | undefined, modelPath: string, vocabSize: number): Promise<Llama2cTokenizer> {
  let path = explicit;
  if (path && existsSync(path) && statSync(path).isDirectory()) path = TOKENIZER_NAMES.map((n) => join(path!, n)).find(existsSync) ?? path;
  if (!path) {
    const dir = statSync(modelPath).isDirectory() ? modelPath : dirname(modelPath);
    path = TOKENIZER_NAMES.map((n) => join(dir, n)).find(existsSync);
    if (!path) fail(`no tokenizer found beside the model (looked for ${TOKENIZER_NAMES.join(', ')} in ${dir})`, 'pass --tokenizer PATH');
  }
  if (!existsSync(path)) fail(`tokenizer '${path}' does not exist`, 'pass --tokenizer PATH to a llama2.c tokenizer .bin');
  if (path.endsWith('.model') || path.endsWith('.json')) {
    fail(`tokenizer '${path}': SentencePiece .model and tokenizer.json files are not read by this version`,
      'pass the llama2.c tokenizer .bin of the same vocabulary (e.g. --tokenizer tok512.bin)');
  }
  return Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(path)), { vocabSize });
}
