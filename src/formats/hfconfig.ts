// hfconfig: a Hugging Face config.json <-> ModelConfig, for model_type "llama" and "gpt2". Every field
// read is checked for its exact JSON type (a boolean is a boolean: the string "false" is an error, not
// a truthy value) and range before anything is allocated, and the result passes validateConfig (the
// cross-field rules); each problem names the file, the field and what would fix it.
import { validateConfig, CONFIG_LIMITS, type ModelConfig } from '../model/config.js';
import { fail } from '../util/errors.js';

type Json = Record<string, unknown>;
const FIX = 'fix config.json (or re-save it with transformers)';

/** typed access to the fields of one config.json */
class Fields {
  constructor(private cfg: Json, private name: string) {}

  private bad(k: string, what: string): never {
    return fail(`${this.name}: "${k}" is ${JSON.stringify(this.cfg[k])}, not ${what}`, FIX);
  }

  has(k: string): boolean {
    return this.cfg[k] !== undefined && this.cfg[k] !== null;
  }

  /** a positive integer at most max; `dflt` when absent (required without one) */
  int(k: string, max: number, dflt?: number): number {
    if (!this.has(k)) return dflt ?? fail(`${this.name}: "${k}" is missing`, FIX);
    const v = this.cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) this.bad(k, `an integer in [1, ${max}]`);
    return v;
  }

  /** a finite number in (lo, hi) */
  num(k: string, lo: number, hi: number, dflt: number): number {
    if (!this.has(k)) return dflt;
    const v = this.cfg[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= lo || v >= hi) this.bad(k, `a finite number in (${lo}, ${hi})`);
    return v;
  }

  bool(k: string, dflt: boolean): boolean {
    if (!this.has(k)) return dflt;
    const v = this.cfg[k];
    if (typeof v !== 'boolean') this.bad(k, 'true or false');
    return v;
  }

  str(k: string, allowed: string[], dflt: string): string {
    if (!this.has(k)) return dflt;
    const v = this.cfg[k];
    if (typeof v !== 'string' || !allowed.includes(v)) this.bad(k, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    return v;
  }
}

export function configFromHf(cfg: unknown, name = 'config.json'): ModelConfig {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) fail(`${name} is ${cfg === null ? 'null' : Array.isArray(cfg) ? 'an array' : typeof cfg}, not a JSON object`, FIX);
  const f = new Fields(cfg as Json, name), L = CONFIG_LIMITS, type = (cfg as Json).model_type;
  let c: ModelConfig;
  if (type === 'llama') {
    f.str('hidden_act', ['silu'], 'silu');
    if (f.has('rope_scaling')) fail(`${name}: rope_scaling ${JSON.stringify((cfg as Json).rope_scaling)} is not supported`, 'use a model without RoPE scaling');
    const C = f.int('hidden_size', L.dim), NH = f.int('num_attention_heads', L.heads);
    if (f.has('head_dim') && f.int('head_dim', L.headSize) * NH !== C) {
      fail(`${name}: head_dim ${(cfg as Json).head_dim} != hidden_size / num_attention_heads = ${C / NH}`, 'models with a decoupled head_dim are not supported');
    }
    c = {
      family: 'llama', dim: C, hiddenDim: f.int('intermediate_size', L.dim), nLayers: f.int('num_hidden_layers', L.layers), nHeads: NH,
      nKvHeads: f.int('num_key_value_heads', L.heads, NH), vocabSize: f.int('vocab_size', L.vocab),
      maxSeqLen: f.int('max_position_embeddings', L.positions, 2048), normEps: f.num('rms_norm_eps', 0, 1, 1e-6),
      ropeTheta: f.num('rope_theta', 1, Infinity, 10000), ropeMode: 'rotate_half', tiedEmbeddings: f.bool('tie_word_embeddings', false),
      attentionBias: f.bool('attention_bias', false), mlpBias: f.bool('mlp_bias', false),
    };
  } else if (type === 'gpt2') {
    f.str('activation_function', ['gelu_new', 'gelu_pytorch_tanh'], 'gelu_new');
    const C = f.int('n_embd', L.dim);
    c = {
      family: 'gpt2', dim: C, hiddenDim: f.int('n_inner', L.dim, 4 * C), nLayers: f.int('n_layer', L.layers), nHeads: f.int('n_head', L.heads),
      nKvHeads: f.int('n_head', L.heads), vocabSize: f.int('vocab_size', L.vocab), maxSeqLen: f.int('n_positions', L.positions),
      normEps: f.num('layer_norm_epsilon', 0, 1, 1e-5), ropeTheta: 0, ropeMode: 'interleaved', tiedEmbeddings: f.bool('tie_word_embeddings', true),
    };
  } else {
    return fail(`${name}: model_type ${JSON.stringify(type)} is not supported`, 'supported model types: "llama", "gpt2"');
  }
  validateConfig(c, name);
  return c;
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
