// backward: the whole-model backward pass, written out by hand in reverse order of forward()
// (llm.c gpt2_backward): no autograd graph, one straight list of backward launches. Parameter
// gradients accumulate (+=) into the gradient arena, so micro-batches add up. Activation gradients
// use one layer's worth of scratch, reused by every layer; `dresidual` carries the gradient of the
// residual stream down through the blocks (the norm backwards add into it).
// Sizes: B, T, C, H, NH, KVH, HS, V as in src/model.ts.
import * as K from '../gpu/kernels.js';
import type { Acts, Model } from './model.js';
import type { TrainState } from './adamw.js';

export function modelBackward(model: Model, a: Acts, st: TrainState, dloss: number): void {
  const g = model.gpu, c = model.config, p = model.params, d = st.grads;
  const { B, T } = a;
  const { dim: C, hiddenDim: H, nLayers: L, nHeads: NH, nKvHeads: KVH, vocabSize: V } = c;
  const HS = C / NH, kvd = KVH * HS, BT = B * T;
  const gpt2 = c.family === 'gpt2';
  const s = st.scratchFor(B, T);
  const bias = (name: string, l: number) => (d[name] ? d[name][l] : null);
  const mode = c.ropeMode === 'interleaved' ? 0 : 1;
  const emb = gpt2 ? 'wte' : 'token_embedding';

  // loss -> logits -> head -> final norm
  K.crossentropySoftmaxBackward(g, s.dlogits, st.dlossView(BT, dloss), a.logits, a.targets, BT, V);
  const head = c.tiedEmbeddings ? emb : 'wcls';
  K.matmulBackward(g, s.dlnf, d[head][0], null, s.dlogits, a.lnf, p[head][0], BT, C, V);
  g.clear(s.dresidual);
  const last = a.residual3[L - 1];
  if (gpt2) K.layernormBackward(g, s.dresidual, d.lnfw[0], d.lnfb[0], s.dlnf, last, p.lnfw[0], a.lnf_mean, a.lnf_rstd, BT, C);
  else K.rmsnormBackward(g, s.dresidual, d.rms_final[0], s.dlnf, last, p.rms_final[0], a.lnf_rstd, BT, C);

  for (let l = L - 1; l >= 0; l--) {
    const residual = l === 0 ? a.encoded : a.residual3[l - 1];
    // residual3 = residual2 + fcproj: dresidual is the gradient of both
    // MLP block, backwards
    if (gpt2) {
      K.matmulBackward(g, s.dfch_act, d.fcprojw[l], d.fcprojb[l], s.dresidual, a.fch_act[l], p.fcprojw[l], BT, H, C);
      K.geluBackward(g, s.dfch, a.fch[l], s.dfch_act, BT * H);
      K.matmulBackward(g, s.dln, d.fcw[l], d.fcb[l], s.dfch, a.ln2[l], p.fcw[l], BT, C, H);
      K.layernormBackward(g, s.dresidual, d.ln2w[l], d.ln2b[l], s.dln, a.residual2[l], p.ln2w[l], a.ln2_mean[l], a.ln2_rstd[l], BT, C);
    } else {
      K.matmulBackward(g, s.dfch_act, d.w2[l], bias('b2', l), s.dresidual, a.fch_act[l], p.w2[l], BT, H, C);
      K.swigluBackward(g, s.dfch, s.dup, s.dfch_act, a.fch[l], a.fch_up[l], BT * H);
      K.matmulBackward(g, s.dln, d.w1[l], bias('b1', l), s.dfch, a.ln2[l], p.w1[l], BT, C, H);
      K.matmulBackward(g, s.dln, d.w3[l], bias('b3', l), s.dup, a.ln2[l], p.w3[l], BT, C, H, { accumulate: true });
      K.rmsnormBackward(g, s.dresidual, d.rms_ffn[l], s.dln, a.residual2[l], p.rms_ffn[l], a.ln2_rstd[l], BT, C);
    }
    // residual2 = residual + attproj; attention block, backwards
    if (gpt2) {
      K.matmulBackward(g, s.datty, d.attprojw[l], d.attprojb[l], s.dresidual, a.atty[l], p.attprojw[l], BT, C, C);
      const qkv = a.qkv[l], layout = { qs: 3 * C, q0: 0, kvs: 3 * C, k0: C, v0: 2 * C };
      K.attentionBackward(g, s.dq, s.dq, s.dq, s.dpreatt, s.datty, a.att[l], qkv, qkv, qkv, B, T, NH, NH, HS, layout);
      K.matmulBackward(g, s.dln, d.qkvw[l], d.qkvb[l], s.dq, a.ln1[l], p.qkvw[l], BT, C, 3 * C);
      K.layernormBackward(g, s.dresidual, d.ln1w[l], d.ln1b[l], s.dln, residual, p.ln1w[l], a.ln1_mean[l], a.ln1_rstd[l], BT, C);
    } else {
      K.matmulBackward(g, s.datty, d.wo[l], bias('bo', l), s.dresidual, a.atty[l], p.wo[l], BT, C, C);
      K.attentionBackward(g, s.dq, s.dk, s.dv, s.dpreatt, s.datty, a.att[l], a.q[l], a.k[l], a.v[l], B, T, NH, KVH, HS);
      K.ropeBackward(g, s.dq, a.freqs_cos, a.freqs_sin, B, T, NH, HS, mode);
      K.ropeBackward(g, s.dk, a.freqs_cos, a.freqs_sin, B, T, KVH, HS, mode);
      K.matmulBackward(g, s.dln, d.wq[l], bias('bq', l), s.dq, a.ln1[l], p.wq[l], BT, C, C);
      K.matmulBackward(g, s.dln, d.wk[l], bias('bk', l), s.dk, a.ln1[l], p.wk[l], BT, C, kvd, { accumulate: true });
      K.matmulBackward(g, s.dln, d.wv[l], bias('bv', l), s.dv, a.ln1[l], p.wv[l], BT, C, kvd, { accumulate: true });
      K.rmsnormBackward(g, s.dresidual, d.rms_att[l], s.dln, residual, p.rms_att[l], a.ln1_rstd[l], BT, C);
    }
  }
  // embeddings (positions for GPT-2)
  K.encoderBackward(g, d[emb][0], gpt2 ? d.wpe[0] : null, s.dresidual, a.hostIds, B, T, C);
}
