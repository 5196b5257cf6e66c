// neox: the GPT-NeoX family (Hugging Face GPTNeoXForCausalLM: Pythia) on the GPU, forward and backward as
// straight lists of kernel launches: LayerNorm with biases, one fused qkv projection with biases (rows
// [q | k | v]: Hugging Face's per-head interleaving is undone on load), rotary embeddings on the first
// rotaryDim dims of each head (rotate_half within them), causal attention, exact (erf) GELU MLP, a
// parallel residual (x + attn(ln1 x) + mlp(ln2 x), use_parallel_residual) or the sequential one, an
// untied head (embed_out). Parameter table: src/model/config.ts.
// Sizes: B batch, T time, C dim, H intermediate size, L layers, NH heads, HS = C/NH, R rotary dims, V vocab.
import * as K from '../gpu/kernels/index.js';
import type { View } from '../gpu/gpu.js';
import type { QkvLayout } from '../gpu/kernels/attention.js';
import { attend, enterBlock, forwardBlocks, type Acts, type BackwardPass, type Family, type Pass, type TableSpec } from './family.js';
import { headSize, logitsStride, type ModelConfig } from './config.js';
import { ropeOf, tablesOf } from './rope.js';

export interface NeoxActs extends Acts {
  ln1: View[]; ln1_mean: View[]; ln1_rstd: View[];  // (B,T,C), (B,T), (B,T)
  qkv: View[];                                       // (B,T,3C), q and k rotated in place
  atty: View[]; residual2: View[];                  // (B,T,C); residual2 = residual + the attention's projection
  ln2: View[]; ln2_mean: View[]; ln2_rstd: View[];  // (B,T,C), (B,T), (B,T): of residual (parallel) or residual2
  fch: View[]; fch_act: View[];                      // (B,T,H) before and after GELU
  lnf: View; lnf_mean: View; lnf_rstd: View;         // (B,T,C), (B,T), (B,T)
  freqs_cos: View; freqs_sin: View;                  // (T, R/2)
}

export interface NeoxGrads {
  dlnf: View; dresidual: View; dln: View; datty: View; dblock: View; // (B,T,C) x5 (dblock: the block output's, parallel)
  dfch: View;                                                        // (B,T,H)
  dqkv: View;                                                        // (B,T,3C)
}

const sizes = (c: ModelConfig, B: number, T: number) => {
  const HS = headSize(c);
  return { BT: B * T, C: c.dim, H: c.hiddenDim, HS, R: c.rotaryDim ?? HS, NH: c.nHeads, V: c.vocabSize, Vp: logitsStride(c) };
};
const fused = (C: number): QkvLayout => ({ qs: 3 * C, q0: 0, kvs: 3 * C, k0: C, v0: 2 * C });

export const neox: Family<NeoxActs, NeoxGrads> = {
  activations(c, B, T): TableSpec {
    const { BT, C, H, R, NH, Vp } = sizes(c, B, T);
    return {
      ids: [BT, false], targets: [BT, false], encoded: [BT * C, false],
      ln1: [BT * C, true, 'f16'], ln1_mean: [BT, true], ln1_rstd: [BT, true], qkv: [BT * 3 * C, true], // qkv: RoPE'd in place
      lse: [B * NH * T, true], atty: [BT * C, true], residual2: [BT * C, true],
      ln2: [BT * C, true, 'f16'], ln2_mean: [BT, true], ln2_rstd: [BT, true],
      fch: [BT * H, true, 'f16'], fch_act: [BT * H, true, 'f16'], residual3: [BT * C, true],
      lnf: [BT * C, false], lnf_mean: [BT, false], lnf_rstd: [BT, false], logits: [BT * Vp, false], losses: [BT, false],
      freqs_cos: [T * (R / 2), false], freqs_sin: [T * (R / 2), false],
    };
  },

  gradients(c, B, T): TableSpec {
    const { BT, C, H } = sizes(c, B, T);
    return {
      dlnf: [BT * C, false], dresidual: [BT * C, false], dln: [BT * C, false], datty: [BT * C, false],
      dblock: [c.parallelResidual ? BT * C : 0, false], dfch: [BT * H, false], dqkv: [BT * 3 * C, false],
    };
  },

  setup(g, c, a) {
    const { cos, sin } = tablesOf(a.T, ropeOf(c, headSize(c)));
    g.upload(a.freqs_cos, cos);
    g.upload(a.freqs_sin, sin);
  },

  forward(pass: Pass<NeoxActs>) {
    const { g, c, p, a, B, T, precision } = pass, { BT, C, V, Vp } = sizes(c, B, T), L = c.nLayers, eps = c.normEps;
    K.encoderForward(g, a.encoded, a.ids, p.wte[0], null, B, T, C);                                 // (B,T,C)
    forwardBlocks(pass, block);                                                                     // (B,T,C) -> residual3[l]
    K.layernormForward(g, a.lnf, a.lnf_mean, a.lnf_rstd, a.residual3[L - 1], p.lnfw[0], p.lnfb[0], BT, C, eps); // (B,T,C)
    const head = c.tiedEmbeddings ? p.wte[0] : p.wcls[0];                                          // (V,C)
    K.matmulForward(g, a.logits, a.lnf, head, null, BT, C, V, Vp, { precision, f32Out: true });                                 // (B,T,V)
  },

  // forward in reverse; accumulation and scratch as in src/model/llama.ts. With the parallel residual
  // the attention branch's output gradient is the block's (s.dblock, kept aside), not including what
  // the MLP branch adds to the residual stream's gradient.
  backward(pass: BackwardPass<NeoxActs, NeoxGrads>) {
    const { g, c, p, a, d, s, B, T, precision } = pass;
    const { BT, C, H, HS, R, NH, V, Vp } = sizes(c, B, T), L = c.nLayers;
    const rot = (off: number) => ({ rotary: R, rowStride: 3 * C, offset: off });
    const head = c.tiedEmbeddings ? 'wte' : 'wcls';
    K.matmulBackward(g, s.dlnf, d[head][0], null, a.logits, a.lnf, p[head][0], BT, C, V, { precision, ldd: Vp });                 // (B,T,C), (V,C)
    g.clear(s.dresidual);
    K.layernormBackward(g, s.dresidual, d.lnfw[0], d.lnfb[0], s.dlnf, a.residual3[L - 1], p.lnfw[0], a.lnf_mean, a.lnf_rstd, BT, C); // (B,T,C)
    for (let l = L - 1; l >= 0; l--) {
      enterBlock(pass, block, l); // block l's activations again: recomputed from its kept input, or out of f16 storage
      const residual = l === 0 ? a.encoded : a.residual3[l - 1];
      if (c.parallelResidual) g.copy(s.dblock, s.dresidual);                                                            // (B,T,C)
      // MLP branch
      K.matmulBackward(g, s.dfch, d.fcprojw[l], d.fcprojb[l], s.dresidual, a.fch_act[l], p.fcprojw[l], BT, H, C,
        { precision, gelu: { form: 'erf', pre: a.fch[l] } });                                                                   // (B,T,H), through the GELU
      K.matmulBackward(g, s.dln, d.fcw[l], d.fcb[l], s.dfch, a.ln2[l], p.fcw[l], BT, C, H, { precision });                          // (B,T,C)
      const mlpIn = c.parallelResidual ? residual : a.residual2[l];
      K.layernormBackward(g, s.dresidual, d.ln2w[l], d.ln2b[l], s.dln, mlpIn, p.ln2w[l], a.ln2_mean[l], a.ln2_rstd[l], BT, C); // (B,T,C) +=
      // attention branch: its output's gradient is the block's (parallel) or residual2's (sequential)
      const dattn = c.parallelResidual ? s.dblock : s.dresidual;
      K.matmulBackward(g, s.datty, d.attprojw[l], d.attprojb[l], dattn, a.atty[l], p.attprojw[l], BT, C, C, { precision });        // (B,T,C)
      const qkv = a.qkv[l];
      K.attentionBackward(g, s.dqkv, s.dqkv, s.dqkv, s.datty, a.atty[l], a.lse[l], qkv, qkv, qkv, B, T, NH, NH, HS, fused(C)); // (B,T,3C)
      K.ropeBackward(g, s.dqkv, a.freqs_cos, a.freqs_sin, B, T, NH, HS, 1, rot(0));                                 // dq
      K.ropeBackward(g, s.dqkv, a.freqs_cos, a.freqs_sin, B, T, NH, HS, 1, rot(C));                                 // dk
      K.matmulBackward(g, s.dln, d.qkvw[l], d.qkvb[l], s.dqkv, a.ln1[l], p.qkvw[l], BT, C, 3 * C, { precision });                   // (B,T,C)
      K.layernormBackward(g, s.dresidual, d.ln1w[l], d.ln1b[l], s.dln, residual, p.ln1w[l], a.ln1_mean[l], a.ln1_rstd[l], BT, C); // (B,T,C) +=
      pass.blockDone?.(l);                                                                                         // block l's gradients are complete
    }
    K.encoderBackward(g, d.wte[0], null, s.dresidual, a.hostIds, B, T, C);                                         // (V,C) +=
  },

  attentionProbs({ g, c, a, B, T }: Pass<NeoxActs>, l: number, probs: View) {
    K.attentionProbs(g, probs, a.lse[l], a.qkv[l], a.qkv[l], B, T, c.nHeads, c.nHeads, headSize(c), fused(c.dim));  // (B,NH,T,T)
  },
};

/** block l's forward, from its input (the embeddings or block l-1's output) to residual3[l] */
function block({ g, c, p, a, B, T, precision, cache }: Pass<NeoxActs>, l: number): void {
  const { BT, C, H, HS, R, NH } = sizes(c, B, T), eps = c.normEps;
  const [cos, sin, pos0] = cache ? [cache.cos!, cache.sin!, cache.past] : [a.freqs_cos, a.freqs_sin, 0]; // positions pos0..pos0+T-1
  const rot = (off: number) => ({ rotary: R, rowStride: 3 * C, offset: off, pos0 });
  const residual = l === 0 ? a.encoded : a.residual3[l - 1];                                     // (B,T,C)
  // attention branch: attention(rope(q), rope(k), v) of ln_1(residual)
  K.layernormForward(g, a.ln1[l], a.ln1_mean[l], a.ln1_rstd[l], residual, p.ln1w[l], p.ln1b[l], BT, C, eps); // (B,T,C)
  K.matmulForward(g, a.qkv[l], a.ln1[l], p.qkvw[l], p.qkvb[l], BT, C, 3 * C, 3 * C, { precision });                  // (B,T,3C)
  K.ropeForward(g, a.qkv[l], cos, sin, B, T, NH, HS, 1, rot(0));                               // q: first R dims per head
  K.ropeForward(g, a.qkv[l], cos, sin, B, T, NH, HS, 1, rot(C));                               // k
  attend(g, a.atty[l], a.lse[l], a.qkv[l], a.qkv[l], a.qkv[l], B, T, NH, NH, HS, fused(C), cache, l); // (B,T,C)
  K.matmulForward(g, a.residual2[l], a.atty[l], p.attprojw[l], p.attprojb[l], BT, C, C, C, { precision, residual }); // (B,T,C), + residual
  // MLP branch: mlp(ln_2(residual)) (parallel) or mlp(ln_2(residual2)); residual3 = residual2 + mlp
  const mlpIn = c.parallelResidual ? residual : a.residual2[l];
  K.layernormForward(g, a.ln2[l], a.ln2_mean[l], a.ln2_rstd[l], mlpIn, p.ln2w[l], p.ln2b[l], BT, C, eps); // (B,T,C)
  K.matmulForward(g, a.fch[l], a.ln2[l], p.fcw[l], p.fcb[l], BT, C, H, H, { precision, gelu: { form: 'erf', act: a.fch_act[l] } }); // (B,T,H) x2
  K.matmulForward(g, a.residual3[l], a.fch_act[l], p.fcprojw[l], p.fcprojb[l], BT, H, C, C, { precision, residual: a.residual2[l] }); // (B,T,C), + residual2
}
