// cpu: the float64 CPU oracle, a plain port of llm.c train_gpt2.c's layer functions, forward and
// backward (plus the Llama additions), and of torch's AdamW and clip_grad_norm_. Every kernel test
// compares the GPU against these on odd shapes; test/backward.test.ts checks the backward ones by
// finite differences.
// Sizes as in src/gpu/kernels/: N rows, C channels, OC out channels, V vocab, NH/KVH heads, HS head size.
type Arr = ArrayLike<number>;

export function encoderForward(ids: Arr, wte: Arr, wpe: Arr | null, B: number, T: number, C: number): Float64Array {
  const out = new Float64Array(B * T * C);
  for (let bt = 0; bt < B * T; bt++) {
    for (let c = 0; c < C; c++) out[bt * C + c] = wte[ids[bt] * C + c] + (wpe ? wpe[(bt % T) * C + c] : 0);
  }
  return out;
}

export function rmsnormForward(inp: Arr, weight: Arr, N: number, C: number, eps: number): { out: Float64Array; rstd: Float64Array } {
  const out = new Float64Array(N * C), rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += inp[n * C + c] ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[n * C + c] = inp[n * C + c] * r * weight[c];
  }
  return { out, rstd };
}

export function matmulForward(inp: Arr, weight: Arr, bias: Arr | null, N: number, C: number, OC: number): Float64Array {
  const out = new Float64Array(N * OC);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      let s = bias ? bias[o] : 0;
      for (let c = 0; c < C; c++) s += inp[n * C + c] * weight[o * C + c];
      out[n * OC + o] = s;
    }
  }
  return out;
}

/**
 * rotate every RoPE pair of x by sign * angle: rows of rs floats per (b,t) (default NH*HS), head h at
 * off + h*HS, only its first R dims (default HS); pair i turns by t * theta^(-2i/R); mode 0 interleaved
 * pairs (2i,2i+1), 1 rotate_half (i, i+R/2)
 */
export interface RopeAt { R?: number; rs?: number; off?: number }
function ropeRotate(x: Arr, B: number, T: number, NH: number, HS: number, theta: number, mode: 0 | 1, sign: 1 | -1, at: RopeAt = {}): Float64Array {
  const out = Float64Array.from(x);
  const R = at.R ?? HS, rs = at.rs ?? NH * HS, off = at.off ?? 0, half = R / 2;
  for (let bt = 0; bt < B * T; bt++) {
    const t = bt % T;
    for (let h = 0; h < NH; h++) {
      const base = bt * rs + off + h * HS;
      for (let i = 0; i < half; i++) {
        const ang = sign * t * Math.pow(theta, (-2 * i) / R);
        const [ia, ib] = mode === 0 ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + half];
        const a = x[ia], b = x[ib];
        out[ia] = a * Math.cos(ang) - b * Math.sin(ang);
        out[ib] = a * Math.sin(ang) + b * Math.cos(ang);
      }
    }
  }
  return out;
}

export function ropeForward(x: Arr, B: number, T: number, NH: number, HS: number, theta: number, mode: 0 | 1, at: RopeAt = {}): Float64Array {
  return ropeRotate(x, B, T, NH, HS, theta, mode, 1, at);
}

/** causal grouped-query attention; returns out (B,T,NH,HS), att (B,NH,T,T) and lse (B,NH,T) */
export function attentionForward(q: Arr, k: Arr, v: Arr, B: number, T: number, NH: number, KVH: number, HS: number) {
  const out = new Float64Array(B * T * NH * HS), att = new Float64Array(B * NH * T * T), lse = new Float64Array(B * NH * T);
  const scale = 1 / Math.sqrt(HS);
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const kvh = Math.floor(h / (NH / KVH));
    const qo = ((b * T + t) * NH + h) * HS, ao = ((b * NH + h) * T + t) * T;
    let max = -Infinity;
    for (let t2 = 0; t2 <= t; t2++) {
      const ko = ((b * T + t2) * KVH + kvh) * HS;
      let s = 0;
      for (let i = 0; i < HS; i++) s += q[qo + i] * k[ko + i];
      att[ao + t2] = s * scale;
      max = Math.max(max, s * scale);
    }
    let sum = 0;
    for (let t2 = 0; t2 <= t; t2++) { att[ao + t2] = Math.exp(att[ao + t2] - max); sum += att[ao + t2]; }
    for (let t2 = 0; t2 <= t; t2++) att[ao + t2] /= sum;
    lse[(b * NH + h) * T + t] = max + Math.log(sum);
    for (let t2 = 0; t2 <= t; t2++) {
      const vo = ((b * T + t2) * KVH + kvh) * HS;
      for (let i = 0; i < HS; i++) out[qo + i] += att[ao + t2] * v[vo + i];
    }
  }
  return { out, att, lse };
}

export function swigluForward(gate: Arr, up: Arr): Float64Array {
  return Float64Array.from({ length: gate.length }, (_, i) => (gate[i] / (1 + Math.exp(-gate[i]))) * up[i]);
}

export function residualForward(a: Arr, b: Arr): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => a[i] + b[i]);
}

export function crossentropyForward(logits: Arr, targets: Arr, N: number, V: number): Float64Array {
  const losses = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, logits[n * V + i]);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[n * V + i] - max);
    losses[n] = Math.log(sum) + max - logits[n * V + targets[n]];
  }
  return losses;
}

export function layernormForward(inp: Arr, weight: Arr, bias: Arr, N: number, C: number, eps: number) {
  const out = new Float64Array(N * C), mean = new Float64Array(N), rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let c = 0; c < C; c++) m += inp[n * C + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (inp[n * C + c] - m) ** 2;
    const r = 1 / Math.sqrt(v / C + eps);
    mean[n] = m; rstd[n] = r;
    for (let c = 0; c < C; c++) out[n * C + c] = (inp[n * C + c] - m) * r * weight[c] + bias[c];
  }
  return { out, mean, rstd };
}

export function geluForward(inp: Arr): Float64Array {
  const s = Math.sqrt(2 / Math.PI);
  return Float64Array.from({ length: inp.length }, (_, i) => {
    const x = inp[i];
    return 0.5 * x * (1 + Math.tanh(s * (x + 0.044715 * x ** 3)));
  });
}

/** erf in float64: the Maclaurin series below 3 (terms < 2^-60), a continued fraction of erfc above */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax, sum = ax;
    for (let n = 1; n < 80; n++) { term *= -ax * ax / n; sum += term / (2 * n + 1); }
    return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
  }
  let cf = ax; // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  for (let k = 60; k >= 1; k--) cf = ax + (k / 2) / cf;
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / cf);
}

/** exact GELU, x * Phi(x) (GPT-NeoX's "gelu") */
export function geluErfForward(inp: Arr): Float64Array {
  return Float64Array.from({ length: inp.length }, (_, i) => 0.5 * inp[i] * (1 + erf(inp[i] / Math.SQRT2)));
}

// ---------------------------------------------------------------------------------------------
// backward: ports of train_gpt2.c's *_backward (plus the Llama layers). Each returns the plain
// gradients (as if every output started at zero); the tests add the GPU's += themselves.

export function encoderBackward(dout: Arr, ids: Arr, B: number, T: number, C: number, V: number) {
  const dwte = new Float64Array(V * C), dwpe = new Float64Array(T * C);
  for (let bt = 0; bt < B * T; bt++) {
    for (let c = 0; c < C; c++) {
      dwte[ids[bt] * C + c] += dout[bt * C + c];
      dwpe[(bt % T) * C + c] += dout[bt * C + c];
    }
  }
  return { dwte, dwpe };
}

export function matmulBackward(dout: Arr, inp: Arr, weight: Arr, N: number, C: number, OC: number) {
  const dinp = new Float64Array(N * C), dweight = new Float64Array(OC * C), dbias = new Float64Array(OC);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      const d = dout[n * OC + o];
      dbias[o] += d;
      for (let c = 0; c < C; c++) {
        dinp[n * C + c] += weight[o * C + c] * d;
        dweight[o * C + c] += inp[n * C + c] * d;
      }
    }
  }
  return { dinp, dweight, dbias };
}

export function rmsnormBackward(dout: Arr, inp: Arr, weight: Arr, rstd: Arr, N: number, C: number) {
  const dinp = new Float64Array(N * C), dweight = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const x = n * C, r = rstd[n];
    let m = 0; // mean of dnorm * norm
    for (let c = 0; c < C; c++) m += dout[x + c] * weight[c] * inp[x + c] * r;
    m /= C;
    for (let c = 0; c < C; c++) {
      const norm = inp[x + c] * r;
      dweight[c] += dout[x + c] * norm;
      dinp[x + c] = r * (dout[x + c] * weight[c] - norm * m);
    }
  }
  return { dinp, dweight };
}

export function layernormBackward(dout: Arr, inp: Arr, weight: Arr, mean: Arr, rstd: Arr, N: number, C: number) {
  const dinp = new Float64Array(N * C), dweight = new Float64Array(C), dbias = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let dnormMean = 0, dnormNormMean = 0;
    for (let c = 0; c < C; c++) {
      const dnorm = weight[c] * dout[x + c];
      dnormMean += dnorm;
      dnormNormMean += dnorm * (inp[x + c] - mean[n]) * rstd[n];
    }
    dnormMean /= C; dnormNormMean /= C;
    for (let c = 0; c < C; c++) {
      const norm = (inp[x + c] - mean[n]) * rstd[n];
      dbias[c] += dout[x + c];
      dweight[c] += norm * dout[x + c];
      dinp[x + c] = rstd[n] * (weight[c] * dout[x + c] - dnormMean - norm * dnormNormMean);
    }
  }
  return { dinp, dweight, dbias };
}

/** RoPE is a rotation per pair, so its backward is the rotation by the opposite angle */
export function ropeBackward(dout: Arr, B: number, T: number, NH: number, HS: number, theta: number, mode: 0 | 1, at: RopeAt = {}): Float64Array {
  return ropeRotate(dout, B, T, NH, HS, theta, mode, -1, at);
}

/** llm.c attention_backward with grouped-query heads; att is the post-softmax (B,NH,T,T) */
export function attentionBackward(dout: Arr, q: Arr, k: Arr, v: Arr, att: Arr, B: number, T: number, NH: number, KVH: number, HS: number) {
  const dq = new Float64Array(B * T * NH * HS), dk = new Float64Array(B * T * KVH * HS), dv = new Float64Array(B * T * KVH * HS);
  const scale = 1 / Math.sqrt(HS);
  const datt = new Float64Array(T), dpreatt = new Float64Array(T);
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const kvh = Math.floor(h / (NH / KVH));
    const qo = ((b * T + t) * NH + h) * HS, ao = ((b * NH + h) * T + t) * T;
    // backward through the value accumulation: out = sum_t2 att[t2] v[t2]
    for (let t2 = 0; t2 <= t; t2++) {
      const vo = ((b * T + t2) * KVH + kvh) * HS;
      let s = 0;
      for (let i = 0; i < HS; i++) { s += v[vo + i] * dout[qo + i]; dv[vo + i] += att[ao + t2] * dout[qo + i]; }
      datt[t2] = s;
    }
    // backward through the softmax: dpreatt = att * (datt - sum att * datt)
    let dot = 0;
    for (let t2 = 0; t2 <= t; t2++) dot += att[ao + t2] * datt[t2];
    for (let t2 = 0; t2 <= t; t2++) dpreatt[t2] = att[ao + t2] * (datt[t2] - dot);
    // backward through preatt = q.k * scale
    for (let t2 = 0; t2 <= t; t2++) {
      const ko = ((b * T + t2) * KVH + kvh) * HS;
      for (let i = 0; i < HS; i++) {
        dq[qo + i] += k[ko + i] * dpreatt[t2] * scale;
        dk[ko + i] += q[qo + i] * dpreatt[t2] * scale;
      }
    }
  }
  return { dq, dk, dv };
}

export function swigluBackward(dout: Arr, gate: Arr, up: Arr) {
  const n = gate.length, dgate = new Float64Array(n), dup = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = 1 / (1 + Math.exp(-gate[i]));
    dgate[i] = dout[i] * up[i] * s * (1 + gate[i] * (1 - s));
    dup[i] = dout[i] * gate[i] * s;
  }
  return { dgate, dup };
}

export function geluBackward(dout: Arr, inp: Arr): Float64Array {
  const s = Math.sqrt(2 / Math.PI);
  return Float64Array.from({ length: inp.length }, (_, i) => {
    const x = inp[i];
    const u = s * (x + 0.044715 * x ** 3);
    const th = Math.tanh(u), sech = 1 / Math.cosh(u);
    return dout[i] * (0.5 * (1 + th) + x * 0.5 * sech * sech * s * (1 + 3 * 0.044715 * x * x));
  });
}

export function geluErfBackward(dout: Arr, inp: Arr): Float64Array {
  return Float64Array.from({ length: inp.length }, (_, i) => {
    const x = inp[i];
    return dout[i] * (0.5 * (1 + erf(x / Math.SQRT2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI));
  });
}

/** llm.c crossentropy_softmax_backward: dlogits = (softmax - onehot(target)) * dlosses[n] */
export function crossentropySoftmaxBackward(dlosses: Arr, logits: Arr, targets: Arr, N: number, V: number): Float64Array {
  const dlogits = new Float64Array(N * V);
  for (let n = 0; n < N; n++) {
    let max = -Infinity, sum = 0;
    for (let i = 0; i < V; i++) max = Math.max(max, logits[n * V + i]);
    for (let i = 0; i < V; i++) sum += Math.exp(logits[n * V + i] - max);
    for (let i = 0; i < V; i++) dlogits[n * V + i] = (Math.exp(logits[n * V + i] - max) / sum - (i === targets[n] ? 1 : 0)) * dlosses[n];
  }
  return dlogits;
}

// ---------------------------------------------------------------------------------------------
// optimizer: torch.optim.AdamW (decoupled decay first) and clip_grad_norm_, in float64

export interface AdamWHyper { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }

/** one AdamW step t (from 1), in place on params, m, v; grads scaled by `scale`; decay: per-element multiplier of weightDecay */
export function adamwStep(params: Float64Array, m: Float64Array, v: Float64Array, grads: Arr, decay: Arr, scale: number, t: number, h: AdamWHyper): void {
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] * scale;
    params[i] -= h.lr * h.weightDecay * decay[i] * params[i];
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
    const mhat = m[i] / (1 - h.beta1 ** t), vhat = v[i] / (1 - h.beta2 ** t);
    params[i] -= h.lr * mhat / (Math.sqrt(vhat) + h.eps);
  }
}

/** global L2 norm and torch.nn.utils.clip_grad_norm_'s factor (1 when maxNorm <= 0 or infinite) */
export function gradnormClip(grads: Arr, maxNorm: number): { norm: number; scale: number } {
  let ss = 0;
  for (let i = 0; i < grads.length; i++) ss += grads[i] * grads[i];
  const norm = Math.sqrt(ss);
  const scale = maxNorm > 0 && Number.isFinite(maxNorm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  return { norm, scale };
}
