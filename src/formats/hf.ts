// hf: Hugging Face model directories (config.json + safetensors, sharded or not) in and out, for
// model_type "llama" and "gpt2", mapped onto the parameter tables of src/model/config.ts.
// - GPT-2 stores Conv1D weights as (in, out): transposed here to (out, in); keys may carry the
//   `transformer.` prefix; the `attn.bias` / `attn.masked_bias` mask buffers are ignored.
// - HF Llama q/k rows are laid out for rotate_half RoPE and are kept that way (ropeMode
//   'rotate_half'); a llama2.c model (interleaved pairs) is written with the same q/k permutation as
//   Hugging Face's own convert_llama_weights_to_hf.py, so the directory loads in transformers as is.
// Directory access is abstract (ModelDir), so the same code reads files in Node, Blobs/OPFS/URLs in
// a browser, and files in Deno.
import type { Checkpoint, ModelConfig } from '../model/config.js';
import { parameterShapes, numel } from '../model/config.js';
import { SafetensorsFile, serializeSafetensors, type ByteSource, type TensorOut } from './safetensors.js';
import { fail } from '../util/errors.js';

export interface ModelDir {
  name: string;
  exists(file: string): Promise<boolean>;
  readText(file: string): Promise<string>;
  source(file: string): Promise<ByteSource>;
}

type Json = Record<string, any>;

export function configFromHf(cfg: Json, name = 'config.json'): ModelConfig {
  const need = (k: string): number => {
    const v = cfg[k];
    if (!Number.isInteger(v) || v <= 0) fail(`${name}: '${k}' is missing or not a positive integer (${JSON.stringify(v)})`, 'write a complete config.json for this model');
    return v;
  };
  const type = cfg.model_type;
  if (type === 'llama') {
    const act = cfg.hidden_act ?? 'silu';
    if (act !== 'silu') fail(`${name}: hidden_act '${act}' is not supported for llama`, 'only SwiGLU (hidden_act "silu") models are supported');
    if (cfg.rope_scaling) fail(`${name}: rope_scaling ${JSON.stringify(cfg.rope_scaling)} is not supported`, 'use a model without RoPE scaling');
    const C = need('hidden_size'), NH = need('num_attention_heads');
    if (cfg.head_dim !== undefined && cfg.head_dim !== null && cfg.head_dim !== C / NH) {
      fail(`${name}: head_dim ${cfg.head_dim} != hidden_size / num_attention_heads = ${C / NH}`, 'models with a decoupled head_dim are not supported');
    }
    const c: ModelConfig = {
      family: 'llama', dim: C, hiddenDim: need('intermediate_size'), nLayers: need('num_hidden_layers'), nHeads: NH,
      nKvHeads: cfg.num_key_value_heads ?? NH, vocabSize: need('vocab_size'), maxSeqLen: cfg.max_position_embeddings ?? 2048,
      normEps: cfg.rms_norm_eps ?? 1e-6, ropeTheta: cfg.rope_theta ?? 10000, ropeMode: 'rotate_half',
      tiedEmbeddings: cfg.tie_word_embeddings ?? false, attentionBias: !!cfg.attention_bias, mlpBias: !!cfg.mlp_bias,
    };
    if (C % NH !== 0 || NH % c.nKvHeads !== 0) fail(`${name}: hidden_size ${C}, num_attention_heads ${NH}, num_key_value_heads ${c.nKvHeads} do not divide`);
    return c;
  }
  if (type === 'gpt2') {
    const act = cfg.activation_function ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') fail(`${name}: activation_function '${act}' is not supported`, 'GPT-2 models use "gelu_new" (tanh GELU)');
    const C = need('n_embd'), NH = need('n_head');
    if (C % NH !== 0) fail(`${name}: n_embd ${C} is not a multiple of n_head ${NH}`);
    return {
      family: 'gpt2', dim: C, hiddenDim: cfg.n_inner ?? 4 * C, nLayers: need('n_layer'), nHeads: NH, nKvHeads: NH,
      vocabSize: need('vocab_size'), maxSeqLen: need('n_positions'), normEps: cfg.layer_norm_epsilon ?? 1e-5,
      ropeTheta: 0, ropeMode: 'interleaved', tiedEmbeddings: cfg.tie_word_embeddings ?? true,
    };
  }
  return fail(`${name}: model_type ${JSON.stringify(type)} is not supported`, 'supported model types: "llama", "gpt2"');
}

export function configToHf(c: ModelConfig): Json {
  if (c.family === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: c.vocabSize, n_positions: c.maxSeqLen, n_ctx: c.maxSeqLen,
      n_embd: c.dim, n_layer: c.nLayers, n_head: c.nHeads, n_inner: c.hiddenDim === 4 * c.dim ? null : c.hiddenDim,
      activation_function: 'gelu_new', layer_norm_epsilon: c.normEps, tie_word_embeddings: c.tiedEmbeddings,
      resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0, bos_token_id: 50256, eos_token_id: 50256, torch_dtype: 'float32',
    };
  }
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: c.vocabSize, hidden_size: c.dim,
    intermediate_size: c.hiddenDim, num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, num_key_value_heads: c.nKvHeads,
    max_position_embeddings: c.maxSeqLen, rms_norm_eps: c.normEps, rope_theta: c.ropeTheta, hidden_act: 'silu',
    tie_word_embeddings: c.tiedEmbeddings, attention_bias: !!c.attentionBias, mlp_bias: !!c.mlpBias, rope_scaling: null,
    bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
  };
}

// our table name -> HF key of layer l; `t` marks GPT-2 Conv1D weights stored transposed (in, out)
export function hfKey(c: ModelConfig, name: string, l: number): { key: string; t?: boolean } {
  if (c.family === 'gpt2') {
    const h = `h.${l}.`;
    const map: Record<string, { key: string; t?: boolean }> = {
      wte: { key: 'wte.weight' }, wpe: { key: 'wpe.weight' }, lnfw: { key: 'ln_f.weight' }, lnfb: { key: 'ln_f.bias' },
      ln1w: { key: h + 'ln_1.weight' }, ln1b: { key: h + 'ln_1.bias' }, ln2w: { key: h + 'ln_2.weight' }, ln2b: { key: h + 'ln_2.bias' },
      qkvw: { key: h + 'attn.c_attn.weight', t: true }, qkvb: { key: h + 'attn.c_attn.bias' },
      attprojw: { key: h + 'attn.c_proj.weight', t: true }, attprojb: { key: h + 'attn.c_proj.bias' },
      fcw: { key: h + 'mlp.c_fc.weight', t: true }, fcb: { key: h + 'mlp.c_fc.bias' },
      fcprojw: { key: h + 'mlp.c_proj.weight', t: true }, fcprojb: { key: h + 'mlp.c_proj.bias' },
    };
    // written as GPT2LMHeadModel.save_pretrained does: `transformer.` prefix, lm_head only when untied
    return name === 'wcls' ? { key: 'lm_head.weight' } : { key: 'transformer.' + map[name].key, t: map[name].t };
  }
  const p = `model.layers.${l}.`;
  const map: Record<string, string> = {
    token_embedding: 'model.embed_tokens.weight', rms_final: 'model.norm.weight', wcls: 'lm_head.weight',
    rms_att: p + 'input_layernorm.weight', rms_ffn: p + 'post_attention_layernorm.weight',
    wq: p + 'self_attn.q_proj.weight', wk: p + 'self_attn.k_proj.weight', wv: p + 'self_attn.v_proj.weight', wo: p + 'self_attn.o_proj.weight',
    bq: p + 'self_attn.q_proj.bias', bk: p + 'self_attn.k_proj.bias', bv: p + 'self_attn.v_proj.bias', bo: p + 'self_attn.o_proj.bias',
    w1: p + 'mlp.gate_proj.weight', w2: p + 'mlp.down_proj.weight', w3: p + 'mlp.up_proj.weight',
    b1: p + 'mlp.gate_proj.bias', b2: p + 'mlp.down_proj.bias', b3: p + 'mlp.up_proj.bias',
  };
  return { key: map[name] };
}

function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

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

export async function readHfModel(dir: ModelDir): Promise<Checkpoint> {
  if (!(await dir.exists('config.json'))) fail(`${dir.name}: no config.json`, 'pass a Hugging Face model directory (config.json + *.safetensors)');
  let raw: Json;
  try { raw = JSON.parse(await dir.readText('config.json')); } catch (e) {
    return fail(`${dir.name}/config.json is not valid JSON (${(e as Error).message})`, 'fix or re-save config.json');
  }
  const config = configFromHf(raw, `${dir.name}/config.json`);
  // which file holds each key
  const files = new Map<string, SafetensorsFile>();
  const where = new Map<string, SafetensorsFile>();
  const open = async (file: string) => {
    let f = files.get(file);
    if (!f) { f = await SafetensorsFile.open(await dir.source(file), `${dir.name}/${file}`); files.set(file, f); }
    return f;
  };
  if (await dir.exists('model.safetensors.index.json')) {
    let index: Json;
    try { index = JSON.parse(await dir.readText('model.safetensors.index.json')); } catch (e) {
      return fail(`${dir.name}/model.safetensors.index.json is not valid JSON (${(e as Error).message})`);
    }
    if (typeof index.weight_map !== 'object') fail(`${dir.name}/model.safetensors.index.json has no weight_map`);
    for (const [key, file] of Object.entries(index.weight_map as Record<string, string>)) where.set(key, await open(file));
  } else if (await dir.exists('model.safetensors')) {
    const f = await open('model.safetensors');
    for (const key of f.tensors.keys()) where.set(key, f);
  } else {
    const pt = await dir.exists('pytorch_model.bin');
    fail(`${dir.name}: no model.safetensors or model.safetensors.index.json${pt ? ' (only pytorch_model.bin, a pickle, which is not read)' : ''}`,
      'save the model with safetensors (model.save_pretrained(dir, safe_serialization=True))');
  }
  // GPT-2 keys come with or without the `transformer.` prefix
  const lookup = (key: string) => where.get(key) ? key : where.get(key.replace(/^transformer\./, '')) ? key.replace(/^transformer\./, '') : null;
  const tensors: Record<string, Float32Array> = {};
  const missing: string[] = [];
  for (const [name, shape, perLayer] of parameterShapes(config)) {
    const n = numel(shape);
    const L = perLayer ? config.nLayers : 1;
    const out = new Float32Array(n * L);
    for (let l = 0; l < L; l++) {
      const { key, t } = hfKey(config, name, l);
      const k = lookup(key);
      if (!k) { missing.push(key); continue; }
      let data = await where.get(k)!.read(k);
      if (data.length !== n) fail(`${dir.name}: tensor '${k}' has ${data.length} values, expected ${n} (shape [${shape}]) from config.json`, 'config.json does not describe these weights');
      if (t) data = transpose(data, shape[1], shape[0]); // stored (in, out)
      out.set(data, l * n);
    }
    tensors[name] = out;
  }
  for (const f of files.values()) await f.close();
  if (missing.length) {
    fail(`${dir.name}: missing ${missing.length} tensor(s) for a ${config.family} model with ${config.nLayers} layers: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}`,
      `expected keys like ${hfKey(config, parameterShapes(config)[1][0], 0).key}; is config.json from the same model?`);
  }
  return { config, tensors };
}

/** the files of an HF directory for a checkpoint: config.json and model.safetensors (as parts) */
export function hfFiles(ck: Checkpoint): Record<string, Uint8Array[]> {
  const c = ck.config;
  const HS = c.dim / c.nHeads;
  const out: TensorOut[] = [];
  for (const [name, shape, perLayer] of parameterShapes(c)) {
    const n = numel(shape);
    for (let l = 0; l < (perLayer ? c.nLayers : 1); l++) {
      const { key, t } = hfKey(c, name, l);
      let data = ck.tensors[name].subarray(l * n, (l + 1) * n);
      let hfShape = shape;
      if (t) { data = transpose(data, shape[0], shape[1]); hfShape = [shape[1], shape[0]]; }
      if (c.family === 'llama' && c.ropeMode === 'interleaved' && (name === 'wq' || name === 'wk')) {
        data = permuteToHf(data, name === 'wq' ? c.nHeads : c.nKvHeads, HS, c.dim);
      }
      out.push({ name: key, shape: hfShape, data });
    }
  }
  const hfConfig = configToHf({ ...c, ropeMode: 'rotate_half' });
  const files: Record<string, Uint8Array[]> = {
    'config.json': [new TextEncoder().encode(JSON.stringify(hfConfig, null, 2) + '\n')],
    'model.safetensors': serializeSafetensors(out, { format: 'pt' }),
  };
  if (c.family === 'llama') files['model_config.yaml'] = [new TextEncoder().encode(litgptConfig(c))];
  return files;
}

/** litgpt's model_config.yaml for a Llama-family model, read by `litgpt convert_to_litgpt DIR` */
export function litgptConfig(c: ModelConfig): string {
  const HS = c.dim / c.nHeads;
  return [
    `name: inheritune-${c.nLayers}-blocks`, `block_size: ${c.maxSeqLen}`, `vocab_size: ${c.vocabSize}`,
    `padded_vocab_size: ${c.vocabSize}`, `n_layer: ${c.nLayers}`, `n_head: ${c.nHeads}`, `n_embd: ${c.dim}`,
    `n_query_groups: ${c.nKvHeads}`, `head_size: ${HS}`, 'rotary_percentage: 1.0', 'parallel_residual: false',
    `bias: ${!!c.attentionBias}`, 'norm_class_name: RMSNorm', `norm_eps: ${c.normEps}`, 'mlp_class_name: LLaMAMLP',
    `intermediate_size: ${c.hiddenDim}`, `rope_base: ${c.ropeTheta}`, '',
  ].join('\n');
}
