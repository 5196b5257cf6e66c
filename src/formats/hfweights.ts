// hfweights: the weights of a Hugging Face directory, opened lazily: model.safetensors, or
// model.safetensors.index.json and its shards. Opening reads only the headers; each tensor's dtype and
// shape are known from them, and its raw bytes (or a range of them, for chunked copies of tensors of any
// size) are read on demand with positional reads. Offsets are Numbers, exact to 2^53, so files and
// tensors over 4 GiB are read like any other. checkHfWeights holds the directory against its config.json
// (no tensor missing or extra, each the size the config says) before anything is read.
import type { ModelConfig } from '../model/config.js';
import { parameterShapes } from '../model/config.js';
import { SafetensorsFile, checkFinite, type TensorInfo } from './safetensors.js';
import { hfKey, storedShape, IGNORED_KEYS } from './hfkeys.js';
import { isFloatDtype, FLOAT_SIZE, type FloatDtype } from './dtype.js';
import { fail } from '../util/errors.js';
import type { ByteSource } from './safetensors.js';

/** a model directory: files in Node, Blobs/OPFS/URLs in a browser, files in Deno */
export interface ModelDir {
  name: string;
  exists(file: string): Promise<boolean>;
  readText(file: string): Promise<string>;
  source(file: string): Promise<ByteSource>;
}

export const INDEX = 'model.safetensors.index.json';

/** bytes read per step of a chunked copy */
export const CHUNK_BYTES = 64 * 2 ** 20;

export class HfWeights {
  private constructor(readonly name: string, private files: SafetensorsFile[], private where: Map<string, SafetensorsFile>,
                      private index: string | null) {}

  static async open(dir: ModelDir): Promise<HfWeights> {
    const files = new Map<string, SafetensorsFile>(), where = new Map<string, SafetensorsFile>();
    const open = async (file: string) => {
      let f = files.get(file);
      if (!f) { f = await SafetensorsFile.open(await dir.source(file), `${dir.name}/${file}`); files.set(file, f); }
      return f;
    };
    let indexName: string | null = null;
    try {
      if (await dir.exists(INDEX)) {
        indexName = `${dir.name}/${INDEX}`;
        let index: { weight_map?: unknown };
        try { index = JSON.parse(await dir.readText(INDEX)); } catch (e) {
          return fail(`${dir.name}/${INDEX} is not valid JSON (${(e as Error).message})`, `restore ${INDEX} from the model's source, or download the model again`);
        }
        const map = index?.weight_map;
        if (typeof map !== 'object' || map === null || Array.isArray(map)) {
          fail(`${dir.name}/${INDEX} has no weight_map object`, 'write the index as save_pretrained does: {"weight_map": {tensor: file}}');
        }
        for (const [key, file] of Object.entries(map as Record<string, unknown>)) {
          if (typeof file !== 'string' || !/^[^/\\]+\.safetensors$/.test(file)) {
            fail(`${dir.name}/${INDEX}: weight_map["${key}"] is ${JSON.stringify(file)}, not a .safetensors file name in the directory`,
              'shards live beside the index and are named by plain file names (model-00001-of-00002.safetensors)');
          }
          if (!files.has(file) && !(await dir.exists(file))) {
            fail(`${dir.name}/${INDEX} puts '${key}' in ${file}, which is not in the directory`, 'the shard is missing: copy or download it beside the index (or write the model again)');
          }
          const f = await open(file);
          if (!f.tensors.has(key)) fail(`${dir.name}/${INDEX} puts '${key}' in ${file}, which does not hold it`, 'the index and its shards disagree; write them again');
          where.set(key, f);
        }
      } else if (await dir.exists('model.safetensors')) {
        const f = await open('model.safetensors');
        for (const key of f.tensors.keys()) where.set(key, f);
      } else {
        const pt = await dir.exists('pytorch_model.bin');
        fail(`${dir.name}: no model.safetensors or ${INDEX}${pt ? ' (only pytorch_model.bin, a pickle, which is not read)' : ''}`,
          'save the model with safetensors (model.save_pretrained(dir, safe_serialization=True))');
      }
    } catch (e) {
      for (const f of files.values()) await f.close();
      throw e;
    }
    return new HfWeights(dir.name, [...files.values()], where, indexName);
  }

  /** the files read (the index, when there is one, and the safetensors files), by the names errors give them (dir/file) */
  get fileNames(): string[] {
    return [...(this.index ? [this.index] : []), ...this.files.map((f) => f.name)];
  }

  keys(): string[] {
    return [...this.where.keys()];
  }

  /** the stored key for an HF key: GPT-2 keys come with or without the `transformer.` prefix */
  resolve(key: string): string | null {
    if (this.where.has(key)) return key;
    const bare = key.replace(/^transformer\./, '');
    return this.where.has(bare) ? bare : null;
  }

  /** dtype, shape and byte length of a tensor (its key as resolve() takes it) */
  info(key: string): TensorInfo & { key: string; bytes: number; file: string } {
    const k = this.resolve(key) ?? fail(`${this.name}: no tensor '${key}'`);
    const f = this.where.get(k)!, t = f.info(k);
    return { ...t, key: k, bytes: t.end - t.begin, file: f.name };
  }

  /** a float tensor's dtype (others are refused: weights are F32, F16 or BF16) */
  floatDtype(key: string): FloatDtype {
    const t = this.info(key);
    if (!isFloatDtype(t.dtype)) fail(`${t.file}: tensor '${t.key}' is ${t.dtype}; only F32, F16 and BF16 weights are read`, 'convert the checkpoint to a float dtype');
    return t.dtype;
  }

  /** raw bytes [offset, offset + length) of a tensor */
  readRaw(key: string, offset?: number, length?: number): Promise<Uint8Array> {
    const k = this.info(key).key;
    return this.where.get(k)!.readRaw(k, offset, length);
  }

  /**
   * A float tensor's raw values in chunks of about chunkBytes (whole elements), in order, each checked
   * finite before it is handed over: a copy of a tensor of any size holds one chunk at a time.
   */
  async stream(key: string, emit: (raw: Uint8Array, dtype: FloatDtype) => Promise<void>, chunkBytes = CHUNK_BYTES): Promise<void> {
    const dtype = this.floatDtype(key), t = this.info(key), size = FLOAT_SIZE[dtype];
    const step = Math.max(size, Math.floor(chunkBytes / size) * size);
    for (let at = 0; at < t.bytes; at += step) {
      const raw = await this.readRaw(t.key, at, Math.min(step, t.bytes - at));
      checkFinite(raw, dtype, `${t.file}: tensor '${t.key}'`, at / size, t.bytes / size);
      await emit(raw, dtype);
    }
  }

  /** a tensor as f32 (finite values only) */
  read(key: string): Promise<Float32Array> {
    const k = this.info(key).key;
    return this.where.get(k)!.read(k);
  }

  async close(): Promise<void> {
    for (const f of this.files) await f.close();
  }
}

/**
 * The directory's tensors against its config: every (tensor, block) of the parameter table present as
 * a float tensor of the shape it is stored in (hfkeys.ts storedShape), and nothing else (a tied model may still store its head; mask
 * buffers and cached RoPE frequencies are skipped). Reads no data.
 */
export function checkHfWeights(config: ModelConfig, w: HfWeights): void {
  const missing: string[] = [], used = new Set<string>();
  for (const [name, shape, perLayer] of parameterShapes(config)) {
    for (let l = 0; l < (perLayer ? config.nLayers : 1); l++) {
      const hk = hfKey(config, name, l).key, k = w.resolve(hk);
      if (!k) { missing.push(hk); continue; }
      used.add(k);
      w.floatDtype(k);
      // the stored shape, not just the count: a transposed projection ([in, out] for [out, in]) has the right count
      const t = w.info(k), want = storedShape(hfKey(config, name, l), shape);
      if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
        fail(`${t.file}: tensor '${k}' has shape [${t.shape}], expected [${want}] from config.json`,
          t.shape.length === 2 && t.shape[0] === want[1] && t.shape[1] === want[0]
            ? 'the tensor is stored transposed: Hugging Face checkpoints store a linear layer\'s weight as [out_features, in_features] (GPT-2\'s Conv1D as [in, out]); re-export the checkpoint with save_pretrained'
            : 'config.json does not describe these weights');
      }
    }
  }
  if (missing.length) {
    fail(`${w.fileNames.join(', ')}: missing ${missing.length} tensor(s) for a ${config.family} model with ${config.nLayers} layers: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}`,
      `expected keys like ${hfKey(config, parameterShapes(config)[1][0], 0).key}; is config.json from the same model?`);
  }
  const unused = w.keys().filter((k) => !used.has(k) && !IGNORED_KEYS.test(k) && !(config.tiedEmbeddings && /^(lm_head|embed_out)\.weight$/.test(k)));
  if (unused.length) {
    fail(`${w.fileNames.join(', ')}: ${unused.length} tensor(s) that a ${config.hfType ?? config.family} model with ${config.nLayers} layers does not have: ${unused.slice(0, 6).join(', ')}${unused.length > 6 ? ', ...' : ''}`,
      'config.json does not describe these weights (wrong model_type, num_hidden_layers or attention_bias?)');
  }
}
