// cpu: the float64 CPU oracle, a plain port of llm.c train_gpt2.c's layer functions (plus the
// Llama additions). Every kernel test compares the GPU against these on odd shapes.
// Sizes as in src/kernels.ts: N rows, C channels, OC out channels, V vocab, NH/KVH heads, HS head size.
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

/** RoPE on x: (B,T,NH,HS); mode 0 interleaved pairs (2i,2i+1), 1 rotate_half pairs (i, i+HS/2) */
export function ropeForward(x: Arr, B: number, T: number, NH: number, HS: number, theta: number, mode: 0 | 1): Float64Array {
  const out = Float64Array.from(x);
  const half = HS / 2;
  for (let bt = 0; bt < B * T; bt++) {
    const t = bt % T;
    for (let h = 0; h < NH; h++) {
      const base = (bt * NH + h) * HS;
      for (let i = 0; i < half; i++) {
        const ang = t * Math.pow(theta, (-2 * i) / HS);
        const [ia, ib] = mode === 0 ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + half];
        const a = x[ia], b = x[ib];
        out[ia] = a * Math.cos(ang) - b * Math.sin(ang);
        out[ib] = a * Math.sin(ang) + b * Math.cos(ang);
      }
    }
  }
  return out;
}

/** causal grouped-query attention; returns out (B,T,NH,HS) and att (B,NH,T,T) */
export function attentionForward(q: Arr, k: Arr, v: Arr, B: number, T: number, NH: number, KVH: number, HS: number) {
  const out = new Float64Array(B * T * NH * HS), att = new Float64Array(B * NH * T * T);
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
    for (let t2 = 0; t2 <= t; t2++) {
      const vo = ((b * T + t2) * KVH + kvh) * HS;
      for (let i = 0; i < HS; i++) out[qo + i] += att[ao + t2] * v[vo + i];
    }
  }
  return { out, att };
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
