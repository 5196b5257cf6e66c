// gpt2: the GPT-2 family (llm.c's train_gpt2.c, Hugging Face GPT2LMHeadModel) on the GPU, forward and
// backward as straight lists of kernel launches: learned positions, LayerNorm with biases, fused qkv
// projection, causal attention, GELU (tanh) MLP, tied or untied head. Parameter table:
// src/model/config.ts (llm.c's names).
// Sizes: B batch, T time, C dim, H = n_inner (4C), L layers, NH heads, HS = C/NH, V vocab.
import * as K from '../gpu/kernels/index.js';
import type { View } from '../gpu/gpu.js';
import type { QkvLayout } from '../gpu/kernels/attention.js';
import { attend, enterBlock, forwardBlocks, type Acts, type BackwardPass, type Family, type Pass, type TableSpec } from './family.js';
import { logitsStride, type ModelConfig } from './config.js';

export interface Gpt2Acts extends Acts {
  ln1: View[]; ln1_mean: View[]; ln1_rstd: View[];  // (B,T,C), (B,T), (B,T)
  qkv: View[];                                       // (B,T,3C)
  atty: View[]; residual2: View[];                  // (B,T,C)
  ln2: View[]; ln2_mean: View[]; ln2_rstd: View[];  // (B,T,C), (B,T), (B,T)
  fch: View[]; fch_act: View[];                      // (B,T,H) before and after GELU
  lnf: View; lnf_mean: View; lnf_rstd: View;         // (B,T,C), (B,T), (B,T)
}

export interface Gpt2Grads {
  dlnf: View; dresidual: View; dln: View; datty: View; // (B,T,C) x4
  dfch: View;                                                          // (B,T,H)
  dqkv: View;                                                          // (B,T,3C)
}

const sizes = (c: ModelConfig, B: number, T: number) => ({ BT: B * T, C: c.dim, H: c.hiddenDim, HS: c.dim / c.nHeads, NH: c.nHeads, V: c.vocabSize, Vp: logitsStride(c) });
// q, k and v of a head sit in one qkv row of 3C floats at offsets 0, C, 2C
const fused = (C: number): QkvLayout => ({ qs: 3 * C, q0: 0, kvs: 3 * C, k0: C, v0: 2 * C });

export const gpt2: Family<Gpt2Acts, Gpt2Grads> = {
  activations(c, B, T): TableSpec {
    const { BT, C, H, NH, Vp } = sizes(c, B, T);
    return {
      ids: [BT, false], targets: [BT, false], encoded: [BT * C, false],
      ln1: [BT * C, true, 'f16'], ln1_mean: [BT, true], ln1_rstd: [BT, true], qkv: [BT * 3 * C, true, 'f16'],
      lse: [B * NH * T, true], atty: [BT * C, true], residual2: [BT * C, true],
      ln2: [BT * C, true, 'f16'], ln2_mean: [BT, true], ln2_rstd: [BT, true],
      fch: [BT * H, true, 'f16'], fch_act: [BT * H, true, 'f16'], residual3: [BT * C, true],
      lnf: [BT * C, false], lnf_mean: [BT, false], lnf_rstd: [BT, false], logits: [BT * Vp, false], losses: [BT, false],
    };
  },

  gradients(c, B, T): TableSpec {
    const { BT, C, H } = sizes(c, B, T);
    return {
      dlnf: [BT * C, false], dresidual: [BT * C, false], dln: [BT * C, false], datty: [BT * C, false],
      dfch: [BT * H, false], dqkv: [BT * 3 * C, false],
    };
  },

  forward(pass: Pass<Gpt2Acts>) {
    const { g, c, p, a, B, T, precision, cache } = pass, { BT, C, V, Vp } = sizes(c, B, T), L = c.nLayers, eps = c.normEps;
    K.encoderForward(g, a.encoded, a.ids, p.wte[0], p.wpe[0], B, T, C, cache?.past);               // (B,T,C), positions from the cache's length
    forwardBlocks(pass, block);                                                                     // (B,T,C) -> residual3[l]
    K.layernormForward(g, a.lnf, a.lnf_mean, a.lnf_rstd, a.residual3[L - 1], p.lnfw[0], p.lnfb[0], BT, C, eps); // (B,T,C)
    const head = c.tiedEmbeddings ? p.wte[0] : p.wcls[0];                                          // (V,C)
    K.matmulForward(g, a.logits, a.lnf, head, null, BT, C, V, Vp, { precision, f32Out: true });                           // (B,T,V)
  },

  // forward in reverse (llm.c gpt2_backward); accumulation and scratch as in src/model/llama.ts
  backward(pass: BackwardPass<Gpt2Acts, Gpt2Grads>) {
    const { g, c, p, a, d, s, B, T, precision } = pass;
    const { BT, C, H, HS, NH, V, Vp } = sizes(c, B, T), L = c.nLayers;
    // logits -> head -> final norm
    const head = c.tiedEmbeddings ? 'wte' : 'wcls';
    K.matmulBackward(g, s.dlnf, d[head][0], null, a.logits, a.lnf, p[head][0], BT, C, V, { precision, ldd: Vp });                            // (B,T,C), (V,C)
    g.clear(s.dresidual);
    K.layernormBackward(g, s.dresidual, d.lnfw[0], d.lnfb[0], s.dlnf, a.residual3[L - 1], p.lnfw[0], a.lnf_mean, a.lnf_rstd, BT, C); // (B,T,C)
    for (let l = L - 1; l >= 0; l--) {
      enterBlock(pass, block, l); // block l's activations again: recomputed from its kept input, or out of f16 storage
      const residual = l === 0 ? a.encoded : a.residual3[l - 1];
      // MLP block (residual3 = residual2 + c_proj(...): s.dresidual is the gradient of both)
      K.matmulBackward(g, s.dfch, d.fcprojw[l], d.fcprojb[l], s.dresidual, a.fch_act[l], p.fcprojw[l], BT, H, C,
        { precision, gelu: { form: 'tanh', pre: a.fch[l] } });                                                                  // (B,T,H), through the GELU
      K.matmulBackward(g, s.dln, d.fcw[l], d.fcb[l], s.dfch, a.ln2[l], p.fcw[l], BT, C, H, { precision });                          // (B,T,C)
      K.layernormBackward(g, s.dresidual, d.ln2w[l], d.ln2b[l], s.dln, a.residual2[l], p.ln2w[l], a.ln2_mean[l], a.ln2_rstd[l], BT, C); // (B,T,C) +=
      // attention block (residual2 = residual + c_proj(attention))
      K.matmulBackward(g, s.datty, d.attprojw[l], d.attprojb[l], s.dresidual, a.atty[l], p.attprojw[l], BT, C, C, { precision });  // (B,T,C)
      const qkv = a.qkv[l];
      K.attentionBackward(g, s.dqkv, s.dqkv, s.dqkv, s.datty, a.atty[l], a.lse[l], qkv, qkv, qkv, B, T, NH, NH, HS, fused(C)); // (B,T,3C)
      K.matmulBackward(g, s.dln, d.qkvw[l], d.qkvb[l], s.dqkv, a.ln1[l], p.qkvw[l], BT, C, 3 * C, { precision });                   // (B,T,C)
      K.layernormBackward(g, s.dresidual, d.ln1w[l], d.ln1b[l], s.dln, residual, p.ln1w[l], a.ln1_mean[l], a.ln1_rstd[l], BT, C); // (B,T,C) +=
      pass.blockDone?.(l);                                                                                         // block l's gradients are complete
    }
    K.encoderBackward(g, d.wte[0], d.wpe[0], s.dresidual, a.hostIds, B, T, C);                                     // (V,C), (maxT,C) +=
  },

  attentionProbs({ g, c, a, B, T }: Pass<Gpt2Acts>, l: number, probs: View) {
    K.attentionProbs(g, probs, a.lse[l], a.qkv[l], a.qkv[l], B, T, c.nHeads, c.nHeads, c.dim / c.nHeads, fused(c.dim));  // (B,NH,T,T)
  },
};

/** block l's forward, from its input (the embeddings or block l-1's output) to residual3[l] */
function block({ g, c, p, a, B, T, precision, cache }: Pass<Gpt2Acts>, l: number): void {
  const { BT, C, H, HS, NH } = sizes(c, B, T), eps = c.normEps;
  const residual = l === 0 ? a.encoded : a.residual3[l - 1];                                     // (B,T,C)
  // attention block: residual2 = residual + c_proj(attention(c_attn(ln_1(residual))))
  K.layernormForward(g, a.ln1[l], a.ln1_mean[l], a.ln1_rstd[l], residual, p.ln1w[l], p.ln1b[l], BT, C, eps); // (B,T,C)
  K.matmulForward(g, a.qkv[l], a.ln1[l], p.qkvw[l], p.qkvb[l], BT, C, 3 * C, 3 * C, { precision });                  // (B,T,3C)
  attend(g, a.atty[l], a.lse[l], a.qkv[l], a.qkv[l], a.qkv[l], B, T, NH, NH, HS, fused(C), cache, l); // (B,T,C), lse (B,NH,T)
  K.matmulForward(g, a.residual2[l], a.atty[l], p.attprojw[l], p.attprojb[l], BT, C, C, C, { precision, residual }); // (B,T,C), + residual
  // MLP block: residual3 = residual2 + c_proj(gelu(c_fc(ln_2(residual2))))
  K.layernormForward(g, a.ln2[l], a.ln2_mean[l], a.ln2_rstd[l], a.residual2[l], p.ln2w[l], p.ln2b[l], BT, C, eps); // (B,T,C)
  K.matmulForward(g, a.fch[l], a.ln2[l], p.fcw[l], p.fcb[l], BT, C, H, H, { precision, gelu: { form: 'tanh', act: a.fch_act[l] } }); // (B,T,H) x2
  K.matmulForward(g, a.residual3[l], a.fch_act[l], p.fcprojw[l], p.fcprojb[l], BT, H, C, C, { precision, residual: a.residual2[l] }); // (B,T,C), + residual2
}
