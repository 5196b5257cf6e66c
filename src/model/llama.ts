// llama: the Llama family on the GPU (llama2.c / Meta checkpoints; Hugging Face llama, mistral, qwen2,
// qwen3), forward and backward as straight lists of kernel launches, llm.c style: RMSNorm, q/k/v
// projections with grouped-query heads (optional biases: all four, or q/k/v only as Qwen2), a head size
// that may differ from C/NH, optional per-head RMSNorm of q and k before RoPE (Qwen3), RoPE
// (interleaved or rotate_half pairs, scaled frequencies), causal attention, SwiGLU MLP (optional
// biases), tied or untied head. Parameter table: src/model/config.ts.
// Sizes: B batch, T time, C dim, H hidden_dim, L layers, NH heads, KVH kv heads, HS head size,
// QD = NH*HS, KVD = KVH*HS, V vocab.
import * as K from '../gpu/kernels/index.js';
import type { View } from '../gpu/gpu.js';
import { alignUp, slice } from '../gpu/view.js';
import { attend, enterBlock, forwardBlocks, type Acts, type BackwardPass, type Family, type Pass, type TableSpec } from './family.js';
import { headSize, logitsStride, type ModelConfig } from './config.js';
import { ropeOf, tablesOf } from './rope.js';

export interface LlamaActs extends Acts {
  ln1: View[]; ln1_rstd: View[];      // (B,T,C), (B,T)   rms_att(residual)
  q: View[]; k: View[]; v: View[];    // (B,T,NH,HS), (B,T,KVH,HS) x2, after the q/k norms and RoPE
  q_pre: View[]; k_pre: View[];       // (B,T,NH,HS), (B,T,KVH,HS) before the q/k norms (qkNorm only)
  q_rstd: View[]; k_rstd: View[];     // (B,T,NH), (B,T,KVH) (qkNorm only)
  atty: View[]; residual2: View[];    // (B,T,QD), (B,T,C)
  ln2: View[]; ln2_rstd: View[];      // (B,T,C), (B,T)   rms_ffn(residual2)
  fch: View[]; fch_up: View[]; fch_act: View[]; // (B,T,H) gate = w1 x, up = w3 x, silu(gate) * up
  lnf: View; lnf_rstd: View;          // (B,T,C), (B,T)
  freqs_cos: View; freqs_sin: View;   // (T, HS/2)
}

export interface LlamaGrads {
  dlnf: View; dresidual: View; dln: View; datty: View; // (B,T,C) x3, (B,T,QD)
  dfch_act: View; dfch: View; dup: View;               // (B,T,H)
  dq: View; dkv: View;                                 // (B,T,QD); (B,T,KVD) dk then dv, one buffer
  dq_pre: View; dk_pre: View;                          // (B,T,QD), (B,T,KVD) before the q/k norms (qkNorm only)
}

const sizes = (c: ModelConfig, B: number, T: number) => {
  const BT = B * T, HS = headSize(c);
  return { BT, C: c.dim, H: c.hiddenDim, HS, QD: c.nHeads * HS, KVD: c.nKvHeads * HS, NH: c.nHeads, V: c.vocabSize, Vp: logitsStride(c) };
};

export const llama: Family<LlamaActs, LlamaGrads> = {
  activations(c, B, T): TableSpec {
    const { BT, C, H, HS, QD, KVD, NH, Vp } = sizes(c, B, T), qn = c.qkNorm ? 1 : 0;
    return {
      ids: [BT, false], targets: [BT, false], encoded: [BT * C, false],
      ln1: [BT * C, true, 'f16'], ln1_rstd: [BT, true],
      q: [BT * QD, true], k: [BT * KVD, true], v: [BT * KVD, true, 'f16'],   // q, k after RoPE: not f16 values
      q_pre: [qn * BT * QD, true, 'f16'], k_pre: [qn * BT * KVD, true, 'f16'], q_rstd: [qn * BT * NH, true], k_rstd: [qn * BT * c.nKvHeads, true],
      lse: [B * NH * T, true], atty: [BT * QD, true], residual2: [BT * C, true],
      ln2: [BT * C, true, 'f16'], ln2_rstd: [BT, true],
      fch: [BT * H, true, 'f16'], fch_up: [BT * H, true, 'f16'], fch_act: [BT * H, true, 'f16'], residual3: [BT * C, true],
      lnf: [BT * C, false], lnf_rstd: [BT, false], logits: [BT * Vp, false], losses: [BT, false],
      freqs_cos: [T * (HS / 2), false], freqs_sin: [T * (HS / 2), false],
    };
  },

  gradients(c, B, T): TableSpec {
    const { BT, C, H, QD, KVD } = sizes(c, B, T), qn = c.qkNorm ? 1 : 0;
    return {
      dlnf: [BT * C, false], dresidual: [BT * C, false], dln: [BT * C, false], datty: [BT * QD, false],
      dfch_act: [BT * H, false], dfch: [BT * H, false], dup: [BT * H, false],
      dq: [BT * QD, false], dkv: [alignUp(BT * KVD) + BT * KVD, false], dq_pre: [qn * BT * QD, false], dk_pre: [qn * BT * KVD, false],
    };
  },

  setup(g, c, a) {
    const { cos, sin } = tablesOf(a.T, ropeOf(c, headSize(c)));
    g.upload(a.freqs_cos, cos);
    g.upload(a.freqs_sin, sin);
  },

  forward(pass: Pass<LlamaActs>) {
    const { g, c, p, a, B, T, precision } = pass, { BT, C, V, Vp } = sizes(c, B, T), L = c.nLayers, eps = c.normEps;
    K.encoderForward(g, a.encoded, a.ids, p.token_embedding[0], null, B, T, C);          // (B,T,C)
    forwardBlocks(pass, block);                                                         // (B,T,C) -> residual3[l]
    K.rmsnormForward(g, a.lnf, a.lnf_rstd, a.residual3[L - 1], p.rms_final[0], BT, C, eps); // (B,T,C)
    const head = c.tiedEmbeddings ? p.token_embedding[0] : p.wcls[0];                  // (V,C)
    K.matmulForward(g, a.logits, a.lnf, head, null, BT, C, V, Vp, { precision, f32Out: true });                     // (B,T,V)
  },

  // forward in reverse (llm.c gpt2_backward): parameter gradients accumulate (+=) so micro-batches add
  // up; s.dresidual carries the residual stream's gradient down through the blocks (the norm backwards
  // add into it); the other activation gradients are one block's scratch, reused by every block.
  backward(pass: BackwardPass<LlamaActs, LlamaGrads>) {
    const { g, c, p, a, d, s, B, T, precision } = pass;
    const { BT, C, H, HS, QD, KVD, NH, V, Vp } = sizes(c, B, T), KVH = c.nKvHeads, L = c.nLayers;
    const bias = (name: string, l: number) => (d[name] ? d[name][l] : null);
    const mode = c.ropeMode === 'interleaved' ? 0 : 1;
    const dk = slice(s.dkv, 0, BT * KVD), dv = slice(s.dkv, alignUp(BT * KVD), BT * KVD);
    // logits -> head -> final norm
    const head = c.tiedEmbeddings ? 'token_embedding' : 'wcls';
    K.matmulBackward(g, s.dlnf, d[head][0], null, a.logits, a.lnf, p[head][0], BT, C, V, { precision, ldd: Vp });            // (B,T,C), (V,C)
    g.clear(s.dresidual);
    K.rmsnormBackward(g, s.dresidual, d.rms_final[0], s.dlnf, a.residual3[L - 1], p.rms_final[0], a.lnf_rstd, BT, C); // (B,T,C)
    for (let l = L - 1; l >= 0; l--) {
      enterBlock(pass, block, l); // block l's activations again: recomputed from its kept input, or out of f16 storage
      const residual = l === 0 ? a.encoded : a.residual3[l - 1];
      // MLP block (residual3 = residual2 + w2(...): s.dresidual is the gradient of both)
      K.matmulBackward(g, s.dfch_act, d.w2[l], bias('b2', l), s.dresidual, a.fch_act[l], p.w2[l], BT, H, C, { precision });        // (B,T,H)
      K.swigluBackward(g, s.dfch, s.dup, s.dfch_act, a.fch[l], a.fch_up[l], BT * H);                                 // (B,T,H) x2
      K.matmulBackward(g, s.dln, d.w1[l], bias('b1', l), s.dfch, a.ln2[l], p.w1[l], BT, C, H, { precision });                       // (B,T,C)
      K.matmulBackward(g, s.dln, d.w3[l], bias('b3', l), s.dup, a.ln2[l], p.w3[l], BT, C, H, { precision, accumulate: true });  // (B,T,C) +=
      K.rmsnormBackward(g, s.dresidual, d.rms_ffn[l], s.dln, a.residual2[l], p.rms_ffn[l], a.ln2_rstd[l], BT, C);    // (B,T,C) +=
      // attention block (residual2 = residual + wo(...))
      K.matmulBackward(g, s.datty, d.wo[l], bias('bo', l), s.dresidual, a.atty[l], p.wo[l], BT, QD, C, { precision });              // (B,T,QD)
      K.attentionBackward(g, s.dq, dk, dv, s.datty, a.atty[l], a.lse[l], a.q[l], a.k[l], a.v[l], B, T, NH, KVH, HS); // (B,T,QD), (B,T,KVD) x2
      K.ropeBackward(g, s.dq, a.freqs_cos, a.freqs_sin, B, T, NH, HS, mode);                                         // (B,T,NH,HS) in place
      K.ropeBackward(g, dk, a.freqs_cos, a.freqs_sin, B, T, KVH, HS, mode);                                          // (B,T,KVH,HS) in place
      let [dq, dkk] = [s.dq, dk];
      if (c.qkNorm) {   // through the per-head norms: dq_pre (=) from dq, d(q_norm) +=
        g.clear(s.dq_pre);
        g.clear(s.dk_pre);
        K.rmsnormBackward(g, s.dq_pre, d.q_norm[l], s.dq, a.q_pre[l], p.q_norm[l], a.q_rstd[l], BT * NH, HS);        // (B,T,NH,HS)
        K.rmsnormBackward(g, s.dk_pre, d.k_norm[l], dk, a.k_pre[l], p.k_norm[l], a.k_rstd[l], BT * KVH, HS);         // (B,T,KVH,HS)
        [dq, dkk] = [s.dq_pre, s.dk_pre];
      }
      K.matmulBackward(g, s.dln, d.wq[l], bias('bq', l), dq, a.ln1[l], p.wq[l], BT, C, QD, { precision });                          // (B,T,C)
      K.matmulBackward(g, s.dln, d.wk[l], bias('bk', l), dkk, a.ln1[l], p.wk[l], BT, C, KVD, { precision, accumulate: true });  // (B,T,C) +=
      K.matmulBackward(g, s.dln, d.wv[l], bias('bv', l), dv, a.ln1[l], p.wv[l], BT, C, KVD, { precision, accumulate: true });   // (B,T,C) +=
      K.rmsnormBackward(g, s.dresidual, d.rms_att[l], s.dln, residual, p.rms_att[l], a.ln1_rstd[l], BT, C);          // (B,T,C) +=
      pass.blockDone?.(l);                                                                                         // block l's gradients are complete
    }
    K.encoderBackward(g, d.token_embedding[0], null, s.dresidual, a.hostIds, B, T, C);                             // (V,C) +=
  },

  attentionProbs({ g, c, a, B, T }: Pass<LlamaActs>, l: number, probs: View) {
    K.attentionProbs(g, probs, a.lse[l], a.q[l], a.k[l], B, T, c.nHeads, c.nKvHeads, headSize(c));  // (B,NH,T,T)
  },
};

/** block l's forward, from its input (the embeddings or block l-1's output) to residual3[l] */
function block({ g, c, p, a, B, T, precision, cache }: Pass<LlamaActs>, l: number): void {
  const { BT, C, H, HS, QD, KVD, NH } = sizes(c, B, T), KVH = c.nKvHeads, eps = c.normEps;
  const [cos, sin, pos0] = cache ? [cache.cos!, cache.sin!, cache.past] : [a.freqs_cos, a.freqs_sin, 0]; // positions pos0..pos0+T-1
  const bias = (name: string, l: number) => (p[name] ? p[name][l] : null);
  const mode = c.ropeMode === 'interleaved' ? 0 : 1;
  const residual = l === 0 ? a.encoded : a.residual3[l - 1];                         // (B,T,C)
  // attention block: residual2 = residual + wo(attention(rope(norm(wq x)), rope(norm(wk x)), wv x)), x = rms_att(residual)
  K.rmsnormForward(g, a.ln1[l], a.ln1_rstd[l], residual, p.rms_att[l], BT, C, eps); // (B,T,C)
  const [q, k] = c.qkNorm ? [a.q_pre[l], a.k_pre[l]] : [a.q[l], a.k[l]];
  K.matmulForward(g, q, a.ln1[l], p.wq[l], bias('bq', l), BT, C, QD, QD, { precision });              // (B,T,NH,HS)
  K.matmulForward(g, k, a.ln1[l], p.wk[l], bias('bk', l), BT, C, KVD, KVD, { precision });             // (B,T,KVH,HS)
  K.matmulForward(g, a.v[l], a.ln1[l], p.wv[l], bias('bv', l), BT, C, KVD, KVD, { precision });        // (B,T,KVH,HS)
  if (c.qkNorm) {   // Qwen3: RMSNorm over each head's HS dims, (B*T*heads) rows
    K.rmsnormForward(g, a.q[l], a.q_rstd[l], q, p.q_norm[l], BT * NH, HS, eps);     // (B,T,NH,HS)
    K.rmsnormForward(g, a.k[l], a.k_rstd[l], k, p.k_norm[l], BT * KVH, HS, eps);    // (B,T,KVH,HS)
  }
  K.ropeForward(g, a.q[l], cos, sin, B, T, NH, HS, mode, { pos0 });               // (B,T,NH,HS) in place
  K.ropeForward(g, a.k[l], cos, sin, B, T, KVH, HS, mode, { pos0 });              // (B,T,KVH,HS) in place
  attend(g, a.atty[l], a.lse[l], a.q[l], a.k[l], a.v[l], B, T, NH, KVH, HS, undefined, cache, l); // (B,T,QD), lse (B,NH,T)
  K.matmulForward(g, a.residual2[l], a.atty[l], p.wo[l], bias('bo', l), BT, QD, C, C, { precision, residual }); // (B,T,C), + residual
  // MLP block: residual3 = residual2 + w2(silu(w1 x) * w3 x), x = rms_ffn(residual2)
  K.rmsnormForward(g, a.ln2[l], a.ln2_rstd[l], a.residual2[l], p.rms_ffn[l], BT, C, eps); // (B,T,C)
  K.matmulForward(g, a.fch[l], a.ln2[l], p.w1[l], bias('b1', l), BT, C, H, H, { precision });        // (B,T,H) gate
  K.matmulForward(g, a.fch_up[l], a.ln2[l], p.w3[l], bias('b3', l), BT, C, H, H, { precision });     // (B,T,H) up
  K.swigluForward(g, a.fch_act[l], a.fch[l], a.fch_up[l], BT * H);                 // (B,T,H)
  K.matmulForward(g, a.residual3[l], a.fch_act[l], p.w2[l], bias('b2', l), BT, H, C, C, { precision, residual: a.residual2[l] }); // (B,T,C), + residual2
}
