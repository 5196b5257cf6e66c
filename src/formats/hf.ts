// hf: Hugging Face model directories (config.json + safetensors, sharded or not) in and out, for
// the model types of hfconfig.ts, mapped onto the parameter tables of src/model/config.ts through
// hfkeys.ts (key names and stored layouts per family).
// - GPT-2 keys may carry the `transformer.` prefix; mask buffers and cached RoPE frequencies
//   (IGNORED_KEYS) are skipped; any other tensor the model would not use is an error (a Qwen3
//   checkpoint labelled qwen2 would otherwise run without its q/k norms).
// - HF Llama q/k rows are laid out for rotate_half RoPE and are kept that way (ropeMode
//   'rotate_half'); a llama2.c model (interleaved pairs) is written with the same q/k permutation as
//   Hugging Face's own convert_llama_weights_to_hf.py, so the directory loads in transformers as is.
// Directory access is abstract (ModelDir), so the same code reads files in Node, Blobs/OPFS/URLs in
// a browser, and files in Deno.
import type { Checkpoint, ModelConfig } from '../model/config.js';
import { keptIn16, type SliceSource } from '../model/arena.js';
import { parameterShapes, numel, headSize } from '../model/config.js';
import { serializeSafetensors, type TensorOut } from './safetensors.js';
import { HfWeights, checkHfWeights, type ModelDir } from './hfweights.js';
import { f32ToRaw, type FloatDtype } from './dtype.js';
import type { TensorWrite } from './stwrite.js';
import { fail } from '../util/errors.js';
import { configFromHf, configToHf } from './hfconfig.js';
import { hfKey, fromHf, toHf, storedShape } from './hfkeys.js';
export { hfKey } from './hfkeys.js';
export { HfWeights, type ModelDir } from './hfweights.js';
export { configFromHf, configToHf } from './hfconfig.js';


/**
 * llama2.c/Meta q or k rows (pairs 2i, 2i+1 within each head) -> Hugging Face rows (i, i + HS/2):
 * w.view(heads, HS/2, 2, C).transpose(1, 2).reshape(heads*HS, C), as convert_llama_weights_to_hf.py.
 */
export function permuteToHf(w: Float32Array, heads: number, HS: number, C: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) for (let i = 0; i < HS / 2; i++) for (let j = 0; j < 2; j++) {
    const src = (h * HS + 2 * i + j) * C, dst = (h * HS + j * (HS / 2) + i) * C;
    out.set(w.subarray(src, src + C), dst);
  }
  return out;
}

/**
 * The same model with q/k rows (and their biases) in Hugging Face's rotate_half order: what hfFiles
 * writes, so training that starts from a llama2.c file computes, from step 0, in the layout its
 * checkpoints hold (the two layouts round differently; a resume must not switch).
 */
export function toRotateHalf(ck: Checkpoint): Checkpoint {
  const c = ck.config;
  if (c.family !== 'llama' || c.ropeMode === 'rotate_half') return ck;
  const HS = headSize(c);
  const perLayer = (t: Float32Array | undefined, heads: number, cols: number) => {
    if (!t) return t;
    const n = heads * HS * cols, out = new Float32Array(t.length);
    for (let l = 0; l < c.nLayers; l++) out.set(permuteToHf(t.subarray(l * n, (l + 1) * n), heads, HS, cols), l * n);
    return out;
  };
  const tensors: Record<string, Float32Array> = { ...ck.tensors, wq: perLayer(ck.tensors.wq, c.nHeads, c.dim)!, wk: perLayer(ck.tensors.wk, c.nKvHeads, c.dim)! };
  if (ck.tensors.bq) tensors.bq = perLayer(ck.tensors.bq, c.nHeads, 1)!;
  if (ck.tensors.bk) tensors.bk = perLayer(ck.tensors.bk, c.nKvHeads, 1)!;
  return { config: { ...c, ropeMode: 'rotate_half' }, tensors };
}

/** config.json of an HF directory, as a ModelConfig */
export async function readHfConfig(dir: ModelDir): Promise<ModelConfig> {
  if (typeof dir === 'string') fail(`readHfModel('${dir}'): a path string is not a ModelDir`, 'in Node pass nodeDir(path), or call readModel(path) (an HF directory or a llama2.c .bin); elsewhere a ModelDir over your files');
  if (!(await dir.exists('config.json'))) fail(`${dir.name}: no config.json`, 'pass a Hugging Face model directory (config.json + *.safetensors)');
  let raw: unknown;
  try { raw = JSON.parse(await dir.readText('config.json')); } catch (e) {
    return fail(`${dir.name}/config.json is not valid JSON (${(e as Error).message})`, 'fix or re-save config.json');
  }
  return configFromHf(raw, `${dir.name}/config.json`);
}

/** an HF directory's config and its weights, opened (headers read and checked against the config, no data) */
export async function openHfModel(dir: ModelDir): Promise<{ config: ModelConfig; weights: HfWeights }> {
  const config = await readHfConfig(dir);
  const weights = await HfWeights.open(dir);
  try { checkHfWeights(config, weights); } catch (e) { await weights.close(); throw e; }
  return { config, weights };
}

export async function readHfModel(dir: ModelDir): Promise<Checkpoint> {
  const { config, weights } = await openHfModel(dir);
  const tensors: Record<string, Float32Array> = {};
  try {
    for (const [name, shape, perLayer] of parameterShapes(config)) {
      const n = numel(shape), L = perLayer ? config.nLayers : 1;
      const out = new Float32Array(n * L);
      for (let l = 0; l < L; l++) {
        const hk = hfKey(config, name, l);
        out.set(fromHf(config, hk, await weights.read(hk.key), shape), l * n);
      }
      tensors[name] = out;
    }
  } finally {
    await weights.close();
  }
  return { config, tensors };
}

/**
 * The weights of an opened HF directory as the arena's slices (Model.load): tensors stored in the
 * table's layout (every Llama-family tensor: HF's rotate_half q/k rows are what the GPU computes with)
 * go over raw, in their dtype, chunk by chunk; a transposed GPT-2 or interleaved NeoX qkv tensor is
 * rearranged on the CPU first, one tensor at a time, in f32, and handed over in f32 or, with narrow16
 * (an arena that keeps its matrices in that 16-bit dtype), back in it (exact when it was stored so).
 */
export function hfSlices(config: ModelConfig, w: HfWeights, narrow16?: 'BF16' | 'F16'): SliceSource {
  const shapes = new Map(parameterShapes(config).map(([name, shape]) => [name, shape]));
  return async (name, layer, emit) => {
    const hk = hfKey(config, name, layer);
    if (!hk.layout) return w.stream(hk.key, (raw, dtype) => emit(dtype, raw));
    const data = fromHf(config, hk, await w.read(hk.key), shapes.get(name)!);
    if (narrow16 && keptIn16(shapes.get(name)!)) return emit(narrow16, f32ToRaw(data, narrow16));
    await emit('F32', new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  };
}

/** the table's tensors as HF tensors (keys, stored layouts, q/k rows in rotate_half order), f32 */
function hfTensors(ck: Checkpoint): TensorOut[] {
  ck = toRotateHalf(ck);
  const c = ck.config;
  const out: TensorOut[] = [];
  for (const [name, shape, perLayer] of parameterShapes(c)) {
    const n = numel(shape);
    for (let l = 0; l < (perLayer ? c.nLayers : 1); l++) {
      const hk = hfKey(c, name, l);
      const stored = toHf(c, hk, ck.tensors[name].subarray(l * n, (l + 1) * n), shape);
      out.push({ name: hk.key, shape: stored.shape, data: stored.data });
    }
  }
  return out;
}

/** the files of an HF directory beside its weights: config.json (and litgpt's model_config.yaml) */
export function hfConfigFiles(c: ModelConfig): Record<string, Uint8Array[]> {
  const files: Record<string, Uint8Array[]> = { 'config.json': [new TextEncoder().encode(JSON.stringify(configToHf(c), null, 2) + '\n')] };
  // litgpt's converter reads plain Llama-family models with this file (not Qwen's norms/biases or scaled RoPE)
  if (c.family === 'llama' && !c.qkNorm && !c.qkvBias && !c.ropeScaling && !c.headDim) files['model_config.yaml'] = [new TextEncoder().encode(litgptConfig(c))];
  return files;
}

/** the files of an HF directory for a checkpoint: config.json and model.safetensors (f32, as parts) */
export function hfFiles(ck: Checkpoint): Record<string, Uint8Array[]> {
  return { ...hfConfigFiles(ck.config), 'model.safetensors': serializeSafetensors(hfTensors(ck), { format: 'pt' }) };
}

/**
 * A model's weights as tensor writes in `dtype` (src/formats/stwrite.ts: sharded above a size), each
 * slice fetched by `read(name, block)` only when its bytes are written (from the GPU, say), put in the
 * stored layout and converted: one slice in memory at a time. Llama q/k rows must already be in
 * rotate_half order (toRotateHalf), as they are on the GPU in training.
 */
/**
 * The weights as tensor writes, each (tensor, block) slice read when its turn comes: read(name, layer,
 * start, n) gives floats [start, start + n) of it. A slice stored as it is laid out (every Llama-family
 * tensor) is read and written in chunks of READ_CHUNK floats; a transposed or re-ordered one whole.
 */
export function hfSliceWrites(c: ModelConfig, read: (name: string, layer: number, start: number, n: number) => Promise<Float32Array>, dtype: FloatDtype = 'F32',
                              chunk = READ_CHUNK): TensorWrite[] {
  if (c.family === 'llama' && c.ropeMode !== 'rotate_half') fail('hfSliceWrites: Llama q/k rows in the interleaved layout', 'pass the model through toRotateHalf first (training does, from step 0)');
  const out: TensorWrite[] = [];
  for (const [name, shape, perLayer] of parameterShapes(c)) {
    for (let l = 0; l < (perLayer ? c.nLayers : 1); l++) {
      const hk = hfKey(c, name, l);
      const n = numel(shape);
      out.push({ name: hk.key, dtype, shape: storedShape(hk, shape), produce: async (emit) => {
        if (hk.layout) return emit(f32ToRaw(toHf(c, hk, await read(name, l, 0, n), shape).data, dtype));
        for (let at = 0; at < n; at += chunk) await emit(f32ToRaw(await read(name, l, at, Math.min(chunk, n - at)), dtype));
      } });
    }
  }
  return out;
}

const READ_CHUNK = 1 << 24; // floats (64 MiB) read back and written at a time

/** a checkpoint's weights as tensor writes in `dtype` */
export function hfWrites(ck: Checkpoint, dtype: FloatDtype = 'F32'): TensorWrite[] {
  ck = toRotateHalf(ck);
  const sizes = new Map(parameterShapes(ck.config).map(([name, shape]) => [name, numel(shape)]));
  return hfSliceWrites(ck.config, async (name, l, start, n) => ck.tensors[name].subarray(l * sizes.get(name)! + start, l * sizes.get(name)! + start + n), dtype);
}

/** litgpt's model_config.yaml for a Llama-family model, read by `litgpt convert_to_litgpt DIR` */
export function litgptConfig(c: ModelConfig): string {
  const HS = headSize(c);
  return [
    `name: inheritune-${c.nLayers}-blocks`, `block_size: ${c.maxSeqLen}`, `vocab_size: ${c.vocabSize}`,
    `padded_vocab_size: ${c.vocabSize}`, `n_layer: ${c.nLayers}`, `n_head: ${c.nHeads}`, `n_embd: ${c.dim}`,
    `n_query_groups: ${c.nKvHeads}`, `head_size: ${HS}`, 'rotary_percentage: 1.0', 'parallel_residual: false',
    `bias: ${!!c.attentionBias}`, 'norm_class_name: RMSNorm', `norm_eps: ${c.normEps}`, 'mlp_class_name: LLaMAMLP',
    `intermediate_size: ${c.hiddenDim}`, `rope_base: ${c.ropeTheta}`, '',
  ].join('\n');
}
