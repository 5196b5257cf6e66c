import { env, AutoTokenizer } from '@huggingface/transformers';
import { tokenizerFromFiles } from './dist/node.mjs';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hfTokenizerFiles } from './src/tokenizers/export.ts';
