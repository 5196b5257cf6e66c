// node/teacher: is a teacher fit to distil into a student? Knowledge distillation compares the two
// models' distributions id by id, so both must index the same vocabulary with the same tokens: the
// vocabulary sizes must agree, and where both models carry tokenizer files, every id must decode to the
// same text after the same prefix (so a tokenizer.json, a tokenizer.model and a llama2.c tokenizer.bin of
// one tokenizer agree, each stripping a first piece's space its own way; two tokenizers of one size do
// not). Control ids (BOS, EOS, unknown: empty, <...> or sentencepiece's ⁇ in either) render by format and
// are not compared. The first id that differs is named, with both models. And the teacher on the GPU:
// forward only, its matrices in their stored 16-bit dtype where they have one (loadTeacher).
import { existsSync, statSync } from 'node:fs';
import { readModelConfig, loadModel, nodeDir } from './models.js';
import { openHfModel, hfSlices } from '../formats/hf.js';
import { hfKey } from '../formats/hfkeys.js';
import type { HfWeights } from '../formats/hfweights.js';
import { parameterShapes, type ModelConfig } from '../model/config.js';
import { keptIn16, type Dtype16 } from '../model/arena.js';
import { Model } from '../model/model.js';
import type { Gpu } from '../gpu/gpu.js';
import { Progress } from '../util/progress.js';
import { readTokenizer, tokenizerFiles } from './tokfiles.js';
import { isTokenizerFile } from '../tokenizers/load.js';
import { fail } from '../util/errors.js';
import type { Tokenizer } from '../tokenizers/types.js';

export async function checkTeacher(student: string, teacher: string): Promise<void> {
  const [s, t] = [await readModelConfig(student), await readModelConfig(teacher)];
  if (s.vocabSize !== t.vocabSize) {
    fail(`the teacher ${teacher} has a vocabulary of ${t.vocabSize} ids, the student ${student} ${s.vocabSize}: knowledge distillation compares them id by id`,
      "distil from a teacher with the student's tokenizer (an inherited model shares its reference's)");
  }
  // a model with no tokenizer files beside it has only its vocabulary size to compare; a broken one is an error
  const tok = async (p: string): Promise<Tokenizer | null> => (Object.keys(tokenizerFiles(p)).some(isTokenizerFile) ? readTokenizer(undefined, p, s.vocabSize) : null);
  const [ts, tt] = [await tok(student), await tok(teacher)];
  if (!ts || !tt) return; // a model without tokenizer files beside it: the vocabulary sizes are all there is to compare
  const [as, bs] = [tokenPieces(ts, s.vocabSize), tokenPieces(tt, s.vocabSize)];
  for (let id = 0; id < s.vocabSize; id++) {
    const a = as[id], b = bs[id];
    if (a !== b && a !== '' && b !== '') { // a control id in either is not compared
      fail(`the teacher's tokenizer differs from the student's: id ${id} is ${JSON.stringify(b)} for the teacher ${teacher} and ${JSON.stringify(a)} for the student ${student}`,
        "distil from a teacher with the student's tokenizer (an inherited model shares its reference's)");
    }
  }
}

/**
 * the text of every id below V after the same prefix, as the formats of one tokenizer agree on it; control
 * ids (empty, <...> or sentencepiece's ⁇) are '' (src/node/distill_cache.ts digests these for a cache)
 */
export function tokenPieces(t: Tokenizer, V: number): string[] {
  const p = t.encode('x', { bos: false, eos: false }), skip = t.decode(p).length;
  const control = (x: string) => x === '' || /^\s*(<[^<>]*>|\u2047)\s*$/.test(x);
  return Array.from({ length: V }, (_, id) => { const x = t.decode([...p, id]).slice(skip); return control(x) ? '' : x; });
}

/**
 * The 16-bit dtype a teacher's matrices are stored in (a Hugging Face directory whose 2-D tensors are all
 * BF16, or all F16), which it is then kept in on the GPU at 2 bytes a parameter (Arena keep16); null: it
 * is held in f32 (a llama2.c .bin, f32 or mixed weights). plan --teacher counts what loadTeacher loads.
 */
export async function teacherDtype(path: string): Promise<Dtype16 | null> {
  if (!(existsSync(path) && statSync(path).isDirectory())) return null;
  const { config, weights } = await openHfModel(nodeDir(path));
  try { return stored16(config, weights); } finally { await weights.close(); }
}

function stored16(c: ModelConfig, w: HfWeights): Dtype16 | null {
  const seen = new Set<string>();
  for (const [name, shape, perLayer] of parameterShapes(c)) {
    if (!keptIn16(shape)) continue;
    for (let l = 0; l < (perLayer ? c.nLayers : 1); l++) seen.add(w.floatDtype(hfKey(c, name, l).key));
  }
  const [d] = seen;
  return seen.size === 1 && (d === 'BF16' || d === 'F16') ? d : null;
}

/**
 * A teacher on the GPU, forward only: a directory of 16-bit weights keeps its matrices in their stored
 * dtype (Model.load keep16: 2 bytes a parameter, widened in the kernels; norms and biases in f32); any
 * other model is loaded as loadModel loads it (f32).
 */
export async function loadTeacher(gpu: Gpu, path: string, progress?: ((s: string) => void) | null): Promise<Model> {
  if (!(existsSync(path) && statSync(path).isDirectory())) return loadModel(gpu, path, { progress });
  const { config, weights } = await openHfModel(nodeDir(path));
  try {
    const keep16 = stored16(config, weights);
    if (!keep16) return await loadModel(gpu, path, { progress });
    const bar = new Progress('load', 1, progress ?? null);
    return await Model.load(gpu, config, hfSlices(config, weights, keep16), path, (d, t) => { bar.total = t; bar.update(d, 'tensors'); }, { keep16 });
  } finally {
    await weights.close();
  }
}
