// hfkeys: where each tensor of the parameter tables (src/model/config.ts) lives in a Hugging Face
// checkpoint, and how its layout differs: GPT-2's Conv1D weights are stored (in, out); GPT-NeoX's
// query_key_value rows are interleaved per head ([q_h | k_h | v_h] for each head h, the view
// (NH, 3, HS) of modeling_gpt_neox.py) where the package keeps [all q | all k | all v], as GPT-2 does.
// fromHf / toHf turn one (tensor, layer) slice from the stored layout into the table's and back.
import { headSize, type ModelConfig } from '../model/config.js';

export interface HfKey { key: string; layout?: 'transposed' | 'neox-qkv' }

/** our table name -> the HF key of layer l (and its stored layout) */
export function hfKey(c: ModelConfig, name: string, l: number): HfKey {
  if (c.family === 'gpt2') {
    const h = `h.${l}.`;
    const map: Record<string, HfKey> = {
      wte: { key: 'wte.weight' }, wpe: { key: 'wpe.weight' }, lnfw: { key: 'ln_f.weight' }, lnfb: { key: 'ln_f.bias' },
      ln1w: { key: h + 'ln_1.weight' }, ln1b: { key: h + 'ln_1.bias' }, ln2w: { key: h + 'ln_2.weight' }, ln2b: { key: h + 'ln_2.bias' },
      qkvw: { key: h + 'attn.c_attn.weight', layout: 'transposed' }, qkvb: { key: h + 'attn.c_attn.bias' },
      attprojw: { key: h + 'attn.c_proj.weight', layout: 'transposed' }, attprojb: { key: h + 'attn.c_proj.bias' },
      fcw: { key: h + 'mlp.c_fc.weight', layout: 'transposed' }, fcb: { key: h + 'mlp.c_fc.bias' },
      fcprojw: { key: h + 'mlp.c_proj.weight', layout: 'transposed' }, fcprojb: { key: h + 'mlp.c_proj.bias' },
    };
    // written as GPT2LMHeadModel.save_pretrained does: `transformer.` prefix, lm_head only when untied
    return name === 'wcls' ? { key: 'lm_head.weight' } : { key: 'transformer.' + map[name].key, layout: map[name].layout };
  }
  if (c.family === 'neox') {
    const p = `gpt_neox.layers.${l}.`;
    const map: Record<string, HfKey> = {
      wte: { key: 'gpt_neox.embed_in.weight' }, wcls: { key: 'embed_out.weight' },
      lnfw: { key: 'gpt_neox.final_layer_norm.weight' }, lnfb: { key: 'gpt_neox.final_layer_norm.bias' },
      ln1w: { key: p + 'input_layernorm.weight' }, ln1b: { key: p + 'input_layernorm.bias' },
      ln2w: { key: p + 'post_attention_layernorm.weight' }, ln2b: { key: p + 'post_attention_layernorm.bias' },
      qkvw: { key: p + 'attention.query_key_value.weight', layout: 'neox-qkv' }, qkvb: { key: p + 'attention.query_key_value.bias', layout: 'neox-qkv' },
      attprojw: { key: p + 'attention.dense.weight' }, attprojb: { key: p + 'attention.dense.bias' },
      fcw: { key: p + 'mlp.dense_h_to_4h.weight' }, fcb: { key: p + 'mlp.dense_h_to_4h.bias' },
      fcprojw: { key: p + 'mlp.dense_4h_to_h.weight' }, fcprojb: { key: p + 'mlp.dense_4h_to_h.bias' },
    };
    return map[name];
  }
  const p = `model.layers.${l}.`;
  const map: Record<string, string> = {
    token_embedding: 'model.embed_tokens.weight', rms_final: 'model.norm.weight', wcls: 'lm_head.weight',
    rms_att: p + 'input_layernorm.weight', rms_ffn: p + 'post_attention_layernorm.weight',
    wq: p + 'self_attn.q_proj.weight', wk: p + 'self_attn.k_proj.weight', wv: p + 'self_attn.v_proj.weight', wo: p + 'self_attn.o_proj.weight',
    bq: p + 'self_attn.q_proj.bias', bk: p + 'self_attn.k_proj.bias', bv: p + 'self_attn.v_proj.bias', bo: p + 'self_attn.o_proj.bias',
    q_norm: p + 'self_attn.q_norm.weight', k_norm: p + 'self_attn.k_norm.weight',
    w1: p + 'mlp.gate_proj.weight', w2: p + 'mlp.down_proj.weight', w3: p + 'mlp.up_proj.weight',
    b1: p + 'mlp.gate_proj.bias', b2: p + 'mlp.down_proj.bias', b3: p + 'mlp.up_proj.bias',
  };
  return { key: map[name] };
}

/** keys a family's checkpoints may carry that are not weights (mask buffers, cached RoPE frequencies) */
export const IGNORED_KEYS = /(^|\.)(attn\.bias|attn\.masked_bias|attention\.bias|attention\.masked_bias|rotary_emb\.inv_freq)$/;

/** one stored slice -> the table's layout; shape: the table's shape of the slice */
export function fromHf(c: ModelConfig, k: HfKey, data: Float32Array, shape: number[]): Float32Array {
  if (k.layout === 'transposed') return transpose(data, shape[1], shape[0]);
  if (k.layout === 'neox-qkv') return neoxQkv(c, data, shape.length === 2 ? shape[1] : 1, true);
  return data;
}

/** the stored shape of a slice of the table's shape */
export function storedShape(k: HfKey, shape: number[]): number[] {
  return k.layout === 'transposed' ? [shape[1], shape[0]] : shape;
}

/** the table's slice -> the stored layout */
export function toHf(c: ModelConfig, k: HfKey, data: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  if (k.layout === 'transposed') return { data: transpose(data, shape[0], shape[1]), shape: storedShape(k, shape) };
  if (k.layout === 'neox-qkv') return { data: neoxQkv(c, data, shape.length === 2 ? shape[1] : 1, false), shape };
  return { data, shape };
}

function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

// rows (NH, 3, HS) <-> (3, NH, HS), each row `cols` floats (the weight's C, or 1 for the bias)
function neoxQkv(c: ModelConfig, src: Float32Array, cols: number, toTable: boolean): Float32Array {
  const NH = c.nHeads, HS = headSize(c), out = new Float32Array(src.length);
  for (let h = 0; h < NH; h++) {
    for (let j = 0; j < 3; j++) {
      const hf = (h * 3 + j) * HS * cols, ours = (j * NH + h) * HS * cols, n = HS * cols;
      if (toTable) out.set(src.subarray(hf, hf + n), ours);
      else out.set(src.subarray(ours, ours + n), hf);
    }
  }
  return out;
}
