// hfconfig: a Hugging Face config.json <-> ModelConfig, for model_type llama, mistral, qwen2, qwen3 (the
// Llama family), gpt2 and gpt_neox. Every field read is checked for its exact JSON type (a boolean is a
// boolean: the string "false" is an error, not a truthy value) and range before anything is allocated,
// and the result passes validateConfig (the cross-field rules); each problem names the file, the field
// and what would fix it. RoPE settings are read from the classic keys (rope_theta, rope_scaling) or
// from transformers 5's rope_parameters; they are written in the classic form, which both read.
import { validateConfig, CONFIG_LIMITS, headSize, type ModelConfig, type RopeScaling } from '../model/config.js';
import { fail } from '../util/errors.js';
import { show } from '../util/check.js';

type Json = Record<string, unknown>;
const FIX = 'fix config.json (or re-save it with transformers)';
export const HF_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'qwen3', 'gpt2', 'gpt_neox'] as const;

/** a value as a message shows it: its JSON when short; a deeply nested or long one by its type and size
 *  (JSON.stringify of a value nested 10,000 deep overflows the stack: a raw RangeError instead of this error) */
function quote(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    if (s !== undefined && s.length <= 80) return s;
  } catch { /* too deep */ }
  return show(v);
}

/** typed access to the fields of one JSON object */
class Fields {
  constructor(private cfg: Json, private name: string) {}

  private bad(k: string, what: string): never {
    return fail(`${this.name}: "${k}" is ${quote(this.cfg[k])}, not ${what}`, FIX);
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
  num(k: string, lo: number, hi: number, dflt?: number): number {
    if (!this.has(k)) return dflt ?? fail(`${this.name}: "${k}" is missing`, FIX);
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

  obj(k: string): Fields | null {
    if (!this.has(k)) return null;
    const v = this.cfg[k];
    if (typeof v !== 'object' || Array.isArray(v)) this.bad(k, 'an object');
    return new Fields(v as Json, `${this.name} ${k}`);
  }
}

// rope_theta and the scaling, from the classic keys or transformers 5's rope_parameters
function rope(f: Fields, thetaKey = 'rope_theta', dfltTheta = 10000): { theta: number; scaling: RopeScaling | null } {
  const params = f.obj('rope_parameters');
  const theta = params?.has('rope_theta') ? params.num('rope_theta', 1, Infinity) : f.num(thetaKey, 1, Infinity, dfltTheta);
  const sc = params ?? f.obj('rope_scaling');
  if (!sc) return { theta, scaling: null };
  const type = sc.has('rope_type') ? sc.str('rope_type', ['default', 'linear', 'llama3'], 'default') : sc.str('type', ['default', 'linear', 'llama3'], 'default');
  if (type === 'default') return { theta, scaling: null };
  if (type === 'linear') return { theta, scaling: { type, factor: sc.num('factor', 0, Infinity) } };
  return {
    theta, scaling: { type: 'llama3', factor: sc.num('factor', 0, Infinity), lowFreqFactor: sc.num('low_freq_factor', 0, Infinity),
      highFreqFactor: sc.num('high_freq_factor', 0, Infinity), originalMaxPositions: sc.int('original_max_position_embeddings', CONFIG_LIMITS.positions) },
  };
}

export function configFromHf(cfg: unknown, name = 'config.json'): ModelConfig {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) fail(`${name} is ${cfg === null ? 'null' : Array.isArray(cfg) ? 'an array' : typeof cfg}, not a JSON object`, FIX);
  const f = new Fields(cfg as Json, name), L = CONFIG_LIMITS, type = (cfg as Json).model_type;
  let c: ModelConfig;
  if (type === 'llama' || type === 'mistral' || type === 'qwen2' || type === 'qwen3') {
    f.str('hidden_act', ['silu'], 'silu');
    const C = f.int('hidden_size', L.dim), NH = f.int('num_attention_heads', L.heads);
    const hd = f.has('head_dim') ? f.int('head_dim', L.headSize) : undefined;
    const { theta, scaling } = rope(f);
    // a sliding window applies only when the model turns it on (Qwen's use_sliding_window; Mistral's is always on)
    const windowOn = type === 'mistral' ? true : f.bool('use_sliding_window', false);
    const window = windowOn && f.has('sliding_window') ? f.int('sliding_window', L.positions) : null;
    c = {
      family: 'llama', hfType: type, dim: C, hiddenDim: f.int('intermediate_size', L.dim), nLayers: f.int('num_hidden_layers', L.layers), nHeads: NH,
      nKvHeads: f.int('num_key_value_heads', L.heads, NH), vocabSize: f.int('vocab_size', L.vocab),
      maxSeqLen: f.int('max_position_embeddings', L.positions, 2048), normEps: f.num('rms_norm_eps', 0, 1, 1e-6),
      ropeTheta: theta, ropeMode: 'rotate_half', tiedEmbeddings: f.bool('tie_word_embeddings', false),
      attentionBias: type === 'llama' || type === 'qwen3' ? f.bool('attention_bias', false) : false,
      mlpBias: type === 'llama' ? f.bool('mlp_bias', false) : false,
      ...(type === 'qwen2' ? { qkvBias: true } : {}), ...(type === 'qwen3' ? { qkNorm: true } : {}),
      ...(hd !== undefined && hd * NH !== C ? { headDim: hd } : {}), ...(scaling ? { ropeScaling: scaling } : {}), ...(window ? { slidingWindow: window } : {}),
    };
  } else if (type === 'gpt2') {
    f.str('activation_function', ['gelu_new', 'gelu_pytorch_tanh'], 'gelu_new');
    const C = f.int('n_embd', L.dim);
    c = {
      family: 'gpt2', dim: C, hiddenDim: f.int('n_inner', L.dim, 4 * C), nLayers: f.int('n_layer', L.layers), nHeads: f.int('n_head', L.heads),
      nKvHeads: f.int('n_head', L.heads), vocabSize: f.int('vocab_size', L.vocab), maxSeqLen: f.int('n_positions', L.positions),
      normEps: f.num('layer_norm_epsilon', 0, 1, 1e-5), ropeTheta: 0, ropeMode: 'interleaved', tiedEmbeddings: f.bool('tie_word_embeddings', true),
    };
  } else if (type === 'gpt_neox') {
    f.str('hidden_act', ['gelu'], 'gelu');
    if (!f.bool('attention_bias', true)) fail(`${name}: attention_bias false is not supported for gpt_neox`, 'GPT-NeoX models (Pythia) use biased projections');
    const C = f.int('hidden_size', L.dim), NH = f.int('num_attention_heads', L.heads), HS = C / NH;
    const params = f.obj('rope_parameters');
    const pct = params?.has('partial_rotary_factor') ? params.num('partial_rotary_factor', 0, 1.0000001) : f.num('rotary_pct', 0, 1.0000001, 0.25);
    const { theta } = rope(f, f.has('rotary_emb_base') ? 'rotary_emb_base' : 'rope_theta');
    c = {
      family: 'neox', hfType: type, dim: C, hiddenDim: f.int('intermediate_size', L.dim), nLayers: f.int('num_hidden_layers', L.layers), nHeads: NH,
      nKvHeads: NH, vocabSize: f.int('vocab_size', L.vocab), maxSeqLen: f.int('max_position_embeddings', L.positions, 2048),
      normEps: f.num('layer_norm_eps', 0, 1, 1e-5), ropeTheta: theta, ropeMode: 'rotate_half', tiedEmbeddings: f.bool('tie_word_embeddings', false),
      rotaryDim: Math.floor(HS * pct), parallelResidual: f.bool('use_parallel_residual', true),
    };
  } else {
    return fail(`${name}: model_type ${quote(type)} is not supported`, `supported model types: ${HF_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`);
  }
  validateConfig(c, name);
  return c;
}

const ARCH: Record<string, string> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };

function ropeScalingJson(s: RopeScaling | null | undefined): Json | null {
  if (!s) return null;
  if (s.type === 'linear') return { rope_type: 'linear', type: 'linear', factor: s.factor };
  return { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositions };
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
  if (c.family === 'neox') {
    const HS = headSize(c);
    return {
      architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', vocab_size: c.vocabSize, hidden_size: c.dim, intermediate_size: c.hiddenDim,
      num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, max_position_embeddings: c.maxSeqLen, rotary_pct: (c.rotaryDim ?? HS) / HS,
      rotary_emb_base: c.ropeTheta, rope_theta: c.ropeTheta, layer_norm_eps: c.normEps, use_parallel_residual: c.parallelResidual ?? true,
      hidden_act: 'gelu', attention_bias: true, tie_word_embeddings: c.tiedEmbeddings, bos_token_id: 0, eos_token_id: 0, torch_dtype: 'float32',
    };
  }
  const type = c.hfType && c.hfType in ARCH ? c.hfType : 'llama';
  return {
    architectures: [ARCH[type]], model_type: type, vocab_size: c.vocabSize, hidden_size: c.dim,
    intermediate_size: c.hiddenDim, num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, num_key_value_heads: c.nKvHeads,
    head_dim: headSize(c), max_position_embeddings: c.maxSeqLen, rms_norm_eps: c.normEps, rope_theta: c.ropeTheta, hidden_act: 'silu',
    tie_word_embeddings: c.tiedEmbeddings, rope_scaling: ropeScalingJson(c.ropeScaling),
    ...(type === 'llama' ? { attention_bias: !!c.attentionBias, mlp_bias: !!c.mlpBias } : {}),
    ...(type === 'qwen3' ? { attention_bias: !!c.attentionBias } : {}),
    ...(type === 'mistral' || type === 'qwen2' || type === 'qwen3' ? { sliding_window: c.slidingWindow ?? null, use_sliding_window: !!c.slidingWindow } : {}),
    bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
  };
}
