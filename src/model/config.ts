// config: the model configuration and the parameter table of each family (llm.c's
// fill_in_parameter_sizes). Llama-family tensors use llama2.c's names, GPT-2 and GPT-NeoX tensors
// llm.c's; per-layer tensors are stacked (L, ...) as in those checkpoints. The Llama family covers
// Hugging Face's llama (RoPE scaling "llama3"/"linear", a decoupled head_dim), mistral, qwen2 (q/k/v
// biases) and qwen3 (per-head q/k RMSNorm); the NeoX family is gpt_neox (Pythia).
// Sizes: C dim, H MLP hidden size, L layers, NH heads, KVH kv heads, HS head size (headDim, default C/NH),
// V vocab, maxT positions.

import { fail } from '../util/errors.js';

/** RoPE frequency scaling (Hugging Face rope_scaling / rope_parameters) */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface ModelConfig {
  family: 'llama' | 'gpt2' | 'neox';
  dim: number;          // C
  hiddenDim: number;    // H: SwiGLU width (Llama) or n_inner = 4C (GPT-2)
  nLayers: number;      // L
  nHeads: number;       // NH
  nKvHeads: number;     // KVH (grouped-query attention when < NH; GPT-2: = NH)
  vocabSize: number;    // V
  maxSeqLen: number;    // maxT: RoPE range (Llama) or rows of wpe (GPT-2)
  normEps: number;      // RMSNorm / LayerNorm eps
  ropeTheta: number;    // Llama only
  ropeMode: 'interleaved' | 'rotate_half'; // Llama q/k layout: llama2.c/Meta pairs vs Hugging Face halves
  tiedEmbeddings: boolean;                 // head = token embedding
  attentionBias?: boolean;                 // Llama: biases on q,k,v,o projections
  mlpBias?: boolean;                       // Llama: biases on gate, up, down projections
  qkvBias?: boolean;                       // Llama: biases on q,k,v only (Qwen2)
  qkNorm?: boolean;                        // Llama: RMSNorm of each q and k head before RoPE (Qwen3)
  headDim?: number;                        // HS when it is not C/NH (Qwen3, Mistral, ...)
  ropeScaling?: RopeScaling | null;        // Llama: scaled RoPE frequencies
  rotaryDim?: number;                      // NeoX: the leading dims of each head that RoPE turns (rotary_pct)
  parallelResidual?: boolean;              // NeoX: x + attn(ln1 x) + mlp(ln2 x) instead of two steps
  slidingWindow?: number | null;           // Mistral/Qwen: attention window; sequences longer than it are refused
  hfType?: string;                         // the Hugging Face model_type read and written back (default per family)
}

/** the head size HS: headDim, else C / NH */
export const headSize = (c: ModelConfig): number => c.headDim ?? c.dim / c.nHeads;

/** weights on the CPU, by table name */
export interface Checkpoint { config: ModelConfig; tensors: Record<string, Float32Array> }

/** [name, shape of one layer's slice (or the whole tensor), per-layer?] */
export type ParamEntry = [string, number[], boolean];

export function parameterShapes(c: ModelConfig): ParamEntry[] {
  const C = c.dim, H = c.hiddenDim, V = c.vocabSize;
  if (c.family === 'gpt2') {
    const t: ParamEntry[] = [
      ['wte', [V, C], false],          // (V, C)
      ['wpe', [c.maxSeqLen, C], false], // (maxT, C)
      ['ln1w', [C], true],             // (L, C)
      ['ln1b', [C], true],             // (L, C)
      ['qkvw', [3 * C, C], true],      // (L, 3C, C)
      ['qkvb', [3 * C], true],         // (L, 3C)
      ['attprojw', [C, C], true],      // (L, C, C)
      ['attprojb', [C], true],         // (L, C)
      ['ln2w', [C], true],             // (L, C)
      ['ln2b', [C], true],             // (L, C)
      ['fcw', [H, C], true],           // (L, 4C, C)
      ['fcb', [H], true],              // (L, 4C)
      ['fcprojw', [C, H], true],       // (L, C, 4C)
      ['fcprojb', [C], true],          // (L, C)
      ['lnfw', [C], false],            // (C)
      ['lnfb', [C], false],            // (C)
    ];
    if (!c.tiedEmbeddings) t.push(['wcls', [V, C], false]);
    return t;
  }
  if (c.family === 'neox') {
    // GPT-2's table without positions (RoPE) and with an untied head (embed_out); qkv rows [q | k | v]
    // (Hugging Face's per-head interleaving is undone on load, src/formats/hfkeys.ts)
    const t: ParamEntry[] = [
      ['wte', [V, C], false], ['ln1w', [C], true], ['ln1b', [C], true], ['qkvw', [3 * C, C], true], ['qkvb', [3 * C], true],
      ['attprojw', [C, C], true], ['attprojb', [C], true], ['ln2w', [C], true], ['ln2b', [C], true],
      ['fcw', [H, C], true], ['fcb', [H], true], ['fcprojw', [C, H], true], ['fcprojb', [C], true], ['lnfw', [C], false], ['lnfb', [C], false],
    ];
    if (!c.tiedEmbeddings) t.push(['wcls', [V, C], false]);
    return t;
  }
  const HS = headSize(c), qd = c.nHeads * HS, kvd = c.nKvHeads * HS;
  const t: ParamEntry[] = [
    ['token_embedding', [V, C], false], // (V, C)
    ['rms_att', [C], true],             // (L, C)
    ['wq', [qd, C], true],              // (L, NH*HS, C)
    ['wk', [kvd, C], true],             // (L, KVH*HS, C)
    ['wv', [kvd, C], true],             // (L, KVH*HS, C)
    ['wo', [C, qd], true],              // (L, C, NH*HS)
    ['rms_ffn', [C], true],             // (L, C)
    ['w1', [H, C], true],               // (L, H, C) gate
    ['w2', [C, H], true],               // (L, C, H) down
    ['w3', [H, C], true],               // (L, H, C) up
    ['rms_final', [C], false],          // (C)
  ];
  if (!c.tiedEmbeddings) t.push(['wcls', [V, C], false]); // (V, C)
  if (c.attentionBias || c.qkvBias) t.push(['bq', [qd], true], ['bk', [kvd], true], ['bv', [kvd], true]);
  if (c.attentionBias) t.push(['bo', [C], true]);
  if (c.mlpBias) t.push(['b1', [H], true], ['b2', [C], true], ['b3', [H], true]);
  if (c.qkNorm) t.push(['q_norm', [HS], true], ['k_norm', [HS], true]); // (L, HS)
  return t;
}

export const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function countParameters(c: ModelConfig): number {
  return parameterShapes(c).reduce((s, [, shape, perLayer]) => s + numel(shape) * (perLayer ? c.nLayers : 1), 0);
}

/** the row stride of the logits (B,T,V) on the GPU: V rounded up to 4, so the head's backward reads vec4 rows */
export function logitsStride(c: ModelConfig): number {
  return Math.ceil(c.vocabSize / 4) * 4;
}

/** the token embedding's table name in this family */
export function embeddingName(c: ModelConfig): string {
  return c.family === 'llama' ? 'token_embedding' : 'wte';
}

// sizes the kernels and typed arrays can hold: a tensor at most 2^31 - 1 elements, dims at most 2^20
export const CONFIG_LIMITS = { dim: 2 ** 20, layers: 4096, heads: 4096, vocab: 2 ** 24, positions: 2 ** 22, headSize: 128 };

/**
 * The cross-field rules every configuration must meet, from any source (config.json, a llama2.c header,
 * code): positive integers under CONFIG_LIMITS, heads that divide the width, a head size of at most
 * 128 (the attention kernels' MAX_HS) and, with RoPE, even; finite positive eps and theta; every
 * tensor under 2^31 elements. Problems name `source` and the field.
 */
export function validateConfig(c: ModelConfig, source = 'config'): void {
  const L = CONFIG_LIMITS;
  const int = (v: unknown, field: string, max: number) => {
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max)) fail(`${source}: ${field} ${JSON.stringify(v)} is not an integer in [1, ${max}]`, 'fix the model configuration');
  };
  if (c.family !== 'llama' && c.family !== 'gpt2' && c.family !== 'neox') fail(`${source}: unknown model family ${JSON.stringify(c.family)}`, 'families: llama, gpt2, neox');
  int(c.dim, 'dim', L.dim); int(c.hiddenDim, 'hiddenDim', L.dim); int(c.nLayers, 'nLayers', L.layers);
  int(c.nHeads, 'nHeads', L.heads); int(c.nKvHeads, 'nKvHeads', L.heads); int(c.vocabSize, 'vocabSize', L.vocab); int(c.maxSeqLen, 'maxSeqLen', L.positions);
  if (c.headDim !== undefined) {
    if (c.family !== 'llama') fail(`${source}: headDim is a Llama-family option`);
    int(c.headDim, 'headDim', L.headSize);
  } else if (c.dim % c.nHeads !== 0) fail(`${source}: dim ${c.dim} is not a multiple of nHeads ${c.nHeads}`, 'the heads must split the width evenly (or give headDim)');
  if (c.nHeads % c.nKvHeads !== 0) fail(`${source}: nHeads ${c.nHeads} is not a multiple of nKvHeads ${c.nKvHeads}`, 'grouped-query attention needs whole groups');
  const HS = headSize(c);
  if (HS > L.headSize) fail(`${source}: head size ${HS} (dim / nHeads) is over ${L.headSize}`, 'the attention kernels hold one head row in registers (kernels/attention.wgsl MAX_HS)');
  if (c.family !== 'llama' && c.nKvHeads !== c.nHeads) fail(`${source}: ${c.family} has no grouped-query attention (nKvHeads ${c.nKvHeads} != nHeads ${c.nHeads})`);
  if (c.family === 'neox') {
    const R = c.rotaryDim ?? HS;
    if (!(Number.isInteger(R) && R >= 2 && R <= HS && R % 2 === 0)) fail(`${source}: rotaryDim ${R} must be an even number of dims in [2, ${HS}]`, 'fix rotary_pct');
    if (!(typeof c.ropeTheta === 'number' && Number.isFinite(c.ropeTheta) && c.ropeTheta > 1)) fail(`${source}: ropeTheta ${JSON.stringify(c.ropeTheta)} is not a finite number above 1`, 'e.g. 10000');
  }
  if (c.slidingWindow !== undefined && c.slidingWindow !== null) int(c.slidingWindow, 'slidingWindow', L.positions);
  const sc = c.ropeScaling;
  if (sc) {
    const pos = (v: unknown, f: string) => { if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) fail(`${source}: ropeScaling.${f} ${JSON.stringify(v)} is not a positive number`); };
    if (sc.type !== 'linear' && sc.type !== 'llama3') fail(`${source}: ropeScaling type ${JSON.stringify((sc as { type: unknown }).type)}: expected linear or llama3`);
    pos(sc.factor, 'factor');
    if (sc.type === 'llama3') {
      pos(sc.lowFreqFactor, 'lowFreqFactor'); pos(sc.highFreqFactor, 'highFreqFactor'); int(sc.originalMaxPositions, 'ropeScaling.originalMaxPositions', L.positions);
      if (!(sc.highFreqFactor > sc.lowFreqFactor)) fail(`${source}: ropeScaling highFreqFactor ${sc.highFreqFactor} must exceed lowFreqFactor ${sc.lowFreqFactor}`);
    }
  }
  if (!(typeof c.normEps === 'number' && Number.isFinite(c.normEps) && c.normEps > 0 && c.normEps < 1)) fail(`${source}: normEps ${JSON.stringify(c.normEps)} is not a finite number in (0, 1)`, 'e.g. 1e-5');
  if (typeof c.tiedEmbeddings !== 'boolean') fail(`${source}: tiedEmbeddings ${JSON.stringify(c.tiedEmbeddings)} is not a boolean`);
  if (c.family === 'llama') {
    if (HS < 2 || HS % 2 !== 0) fail(`${source}: head size ${HS} must be even (and at least 2) for RoPE`, 'fix dim / nHeads');
    if (!(typeof c.ropeTheta === 'number' && Number.isFinite(c.ropeTheta) && c.ropeTheta > 1)) fail(`${source}: ropeTheta ${JSON.stringify(c.ropeTheta)} is not a finite number above 1`, 'e.g. 10000');
    if (c.ropeMode !== 'interleaved' && c.ropeMode !== 'rotate_half') fail(`${source}: ropeMode ${JSON.stringify(c.ropeMode)}: expected interleaved or rotate_half`);
  }
  for (const [name, shape, perLayer] of parameterShapes(c)) {
    const n = numel(shape) * (perLayer ? c.nLayers : 1);
    if (n >= 2 ** 31) fail(`${source}: tensor '${name}' would hold ${n} values, over 2^31`, 'such a model does not fit this runtime');
  }
}

/** check that a checkpoint holds every tensor of its table with the right size */
export function validateCheckpoint(ck: Checkpoint, source = 'checkpoint'): string[] {
  validateConfig(ck.config, source);
  const problems: string[] = [];
  for (const [name, shape, perLayer] of parameterShapes(ck.config)) {
    const want = numel(shape) * (perLayer ? ck.config.nLayers : 1);
    const t = ck.tensors[name];
    if (!t) problems.push(`missing '${name}'`);
    else if (t.length !== want) problems.push(`'${name}' has ${t.length} values, expected ${want}`);
  }
  return problems.map((p) => `${source}: ${p}`);
}
