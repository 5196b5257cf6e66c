// node/models: a model from a path on disk, for the CLI and the Node API: a Hugging Face directory
// (config.json + safetensors, read tensor by tensor) or a llama2.c .bin; a file inside a model directory
// is answered with the directory to pass. (Browsers and Deno pass bytes to parseLlama2c themselves.)
import { statSync, existsSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import { parseLlama2c } from '../formats/llama2c.js';
import { readHfModel, readHfConfig, openHfModel, hfSlices, type ModelDir } from '../formats/hf.js';
import { selectLayers, firstBlocks } from '../model/surgery.js';
import { Model } from '../model/model.js';
import type { Gpu } from '../gpu/gpu.js';
import type { Checkpoint, ModelConfig } from '../model/config.js';
import { fail, InherituneError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { inside, readRegular, readRegularText } from './bytes.js';
import { fileSource } from './filesource.js';

/** a Hugging Face directory (config.json + safetensors) or a llama2.c .bin file */
export async function readModel(path: string): Promise<Checkpoint> {
  if (!existsSync(path)) fail(`model '${path}' does not exist`, 'pass --model PATH to a Hugging Face model directory or a llama2.c .bin checkpoint');
  if (statSync(path).isDirectory()) return readHfModel(nodeDir(path));
  notInsideModelDir(path);
  try {
    return parseLlama2c(new Uint8Array(readRegular(path, 'model')), path);
  } catch (e) {
    // any other file of a model directory (tokenizer.json, pytorch_model.bin): not a checkpoint, but its directory is
    if (e instanceof InherituneError && existsSync(join(dirname(path), 'config.json'))) {
      // (what the header read is worth saying only of a .bin, which may be a damaged llama2.c checkpoint)
      const why = path.endsWith('.bin') ? ` (${e.message.split('\n')[0]})` : '';
      fail(`model '${path}' is not a llama2.c checkpoint${why}, and it is a file inside the Hugging Face model directory '${dirname(path)}'`,
        `pass the directory '${dirname(path)}' itself, not a file in it`);
    }
    throw e;
  }
}

// the files of a Hugging Face model directory that are never a model by themselves
const HF_DIR_FILE = /^config\.json$|\.safetensors$|\.safetensors\.index\.json$/;

/**
 * The one check of every model path that is a file (readModel, so readModelConfig and loadModel too):
 * config.json or a safetensors file is part of a model directory, and the directory is what to pass.
 * (Checked by name before reading: a safetensors file may be gigabytes.)
 */
function notInsideModelDir(path: string): void {
  if (HF_DIR_FILE.test(basename(path))) passTheDirectory(path);
}

function passTheDirectory(path: string): never {
  const dir = dirname(path);
  if (existsSync(join(dir, 'config.json'))) {
    fail(`model '${path}' is a file inside the Hugging Face model directory '${dir}'`, `pass the directory '${dir}' itself, not a file in it`);
  }
  return fail(`model '${path}' is one file of a Hugging Face model, and '${dir}' has no config.json beside it`,
    'pass the model directory that holds config.json and the safetensors files (or a llama2.c .bin checkpoint)');
}

/** a model's config without its weights (a llama2.c .bin is read whole: its header is its config) */
export async function readModelConfig(path: string): Promise<ModelConfig> {
  if (existsSync(path) && statSync(path).isDirectory()) return readHfConfig(nodeDir(path));
  return (await readModel(path)).config;
}

/**
 * A model on the GPU from a path, cut to its first `layers` blocks if given: a Hugging Face directory is
 * uploaded tensor by tensor in its stored dtype and widened on the GPU (Model.load: no whole-model copy
 * on the CPU, and only the blocks kept are read); a llama2.c .bin is read, passed through `prepare`
 * (e.g. toRotateHalf), cut and uploaded.
 */
export async function loadModel(gpu: Gpu, path: string, opts: { prepare?: (ck: Checkpoint) => Checkpoint; layers?: number; progress?: ((s: string) => void) | null } = {}): Promise<Model> {
  if (!(existsSync(path) && statSync(path).isDirectory())) {
    const ck = (opts.prepare ?? ((c: Checkpoint) => c))(await readModel(path));
    return Model.create(gpu, opts.layers === undefined ? ck : selectLayers(ck, firstBlocks(opts.layers, ck.config.nLayers)));
  }
  const { config, weights } = await openHfModel(nodeDir(path));
  try {
    const kept = opts.layers === undefined ? config : { ...config, nLayers: firstBlocks(opts.layers, config.nLayers).length };
    const bar = new Progress('load', 1, opts.progress ?? null);
    return await Model.load(gpu, kept, hfSlices(kept, weights), path, (d, t) => { bar.total = t; bar.update(d, 'tensors'); });
  } finally {
    await weights.close();
  }
}

export function nodeDir(path: string): ModelDir {
  return {
    name: path,
    exists: async (f) => existsSync(inside(path, f)),
    readText: async (f) => readRegularText(inside(path, f), 'model file'),
    source: (f) => fileSource(inside(path, f), 'model file'),
  };
}
