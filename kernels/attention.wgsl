// attention: causal self-attention with grouped-query heads (llm.c attention_forward, plus GQA).
// out: (B,T,NH,HS)   att: (B,NH,T,T) post-softmax, cached for backward (zero above the diagonal)
// q: (B,T,NH,HS)   k, v: (B,T,KVH,HS); query head h reads kv head h / (NH/KVH); HS <= MAX_HS
// q, k, v are read with row strides and offsets (qs/q0, kvs/k0/v0), so GPT-2's fused qkv (B,T,3C)
// binds as all three with offsets 0, C, 2C, and Llama's separate q, k, v with offsets 0.
// one thread per (b,t,h), one pass over t2 <= t with an online softmax (Milakov & Gimelshein 2018):
// 1) s = q.k * scale, kept in att; running max m and sum l; acc = acc * exp(m_old - m) + exp(s - m) v
// 2) out = acc / l   3) att = exp(s - m) / l, zeros above the diagonal
// backward (llm.c attention_backward, plus GQA), from dout (B,T,NH,HS) and the cached att, in 3 entry points:
//   attention_backward      one thread per (b,h,t) row: datt = dout.v, then through the softmax
//                           dpreatt[b,h,t,t2] = att * (datt - sum_t2 att * datt) * scale  (scratch, (B,NH,T,T))
//   attention_backward_dq   one thread per (b,t,h,i):   dq = sum_{t2<=t} dpreatt[t,t2] k[t2]
//   attention_backward_dkv  one thread per (b,t2,kvh,i): dk = sum_{h in group} sum_{t>=t2} dpreatt[t,t2] q[t],
//                           and (a second dispatch) dv = same with att and dout in place of dpreatt and q
// dq, dk, dv are written (=) through the forward's strides/offsets, so GPT-2's fused dqkv is one buffer;
// each dispatch writes one of them. Every sum runs in a fixed order (heads, then positions), so the
// result is deterministic.
const MAX_HS: u32 = 128u;
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/attention.ts)
struct Dims { B: u32, T: u32, NH: u32, KVH: u32, HS: u32, qs: u32, q0: u32, kvs: u32, k0: u32, v0: u32, scale: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> att: array<f32>;
@group(0) @binding(3) var<storage, read> q: array<f32>;
@group(0) @binding(4) var<storage, read> k: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;

@compute @workgroup_size(WG)
fn attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat (b, h, t)
  if (idx >= d.B * d.NH * d.T) { return; }
  let t = idx % d.T;
  let h = (idx / d.T) % d.NH;
  let b = idx / (d.T * d.NH);
  let kvh = h / (d.NH / d.KVH);
  let oo = ((b * d.T + t) * d.NH + h) * d.HS;       // seek to out[b,t,h,:]
  let qo = (b * d.T + t) * d.qs + d.q0 + h * d.HS;  // seek to q[b,t,h,:]
  let ao = ((b * d.NH + h) * d.T + t) * d.T;        // seek to att[b,h,t,:]
  var qv: array<f32, MAX_HS>;
  var acc: array<f32, MAX_HS>;
  for (var i = 0u; i < d.HS; i++) { qv[i] = q[qo + i] * d.scale; acc[i] = 0.0; }
  // 1) one pass: scores, running max/sum, rescaled value accumulator
  var m = -3.4e38;
  var l = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    let ro = (b * d.T + t2) * d.kvs + kvh * d.HS;   // seek to row t2, kv head kvh
    let ko = ro + d.k0;
    let vo = ro + d.v0;
    var s = 0.0;
    for (var i = 0u; i < d.HS; i++) { s += qv[i] * k[ko + i]; }
    att[ao + t2] = s;
    let m_new = max(m, s);
    let corr = exp(m - m_new);
    let p = exp(s - m_new);
    l = l * corr + p;
    for (var i = 0u; i < d.HS; i++) { acc[i] = acc[i] * corr + p * v[vo + i]; }
    m = m_new;
  }
  // 2) normalized output
  let inv = 1.0 / l;
  for (var i = 0u; i < d.HS; i++) { out[oo + i] = acc[i] * inv; }
  // 3) the probabilities themselves, for backward and analysis
  for (var t2 = 0u; t2 < d.T; t2++) { att[ao + t2] = select(0.0, exp(att[ao + t2] - m) * inv, t2 <= t); }
}

// ab.xs/ab.x0: row stride and offset of the tensor read per position (v, k, q or dout);
// ab.os/ab.o0: row stride and offset of the gradient written (dq, dk or dv)
struct BDims { B: u32, T: u32, NH: u32, KVH: u32, HS: u32, xs: u32, x0: u32, os: u32, o0: u32, scale: f32 }
@group(0) @binding(0) var<uniform> ab: BDims;
@group(0) @binding(1) var<storage, read_write> dpreatt: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> batt: array<f32>;
@group(0) @binding(4) var<storage, read> bv: array<f32>;

@compute @workgroup_size(WG)
fn attention_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat (b, h, t)
  if (idx >= ab.B * ab.NH * ab.T) { return; }
  let t = idx % ab.T;
  let h = (idx / ab.T) % ab.NH;
  let b = idx / (ab.T * ab.NH);
  let kvh = h / (ab.NH / ab.KVH);
  let go = ((b * ab.T + t) * ab.NH + h) * ab.HS;    // seek to dout[b,t,h,:]
  let ao = ((b * ab.NH + h) * ab.T + t) * ab.T;     // seek to att[b,h,t,:]
  // 1) datt[t2] = dout[b,t,h,:] . v[b,t2,kvh,:], kept in dpreatt; and sum_t2 att * datt
  var s = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    let vo = (b * ab.T + t2) * ab.xs + ab.x0 + kvh * ab.HS;   // seek to v[b,t2,kvh,:]
    var da = 0.0;
    for (var i = 0u; i < ab.HS; i++) { da += dout[go + i] * bv[vo + i]; }
    dpreatt[ao + t2] = da;
    s += batt[ao + t2] * da;
  }
  // 2) softmax backward, with the 1/sqrt(HS) of the scores folded in
  for (var t2 = 0u; t2 <= t; t2++) { dpreatt[ao + t2] = batt[ao + t2] * (dpreatt[ao + t2] - s) * ab.scale; }
}

@group(0) @binding(1) var<storage, read_write> dq: array<f32>;
@group(0) @binding(2) var<storage, read> qdpreatt: array<f32>;
@group(0) @binding(3) var<storage, read> qk: array<f32>;

@compute @workgroup_size(WG)
fn attention_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat (b, t, h, i)
  if (idx >= ab.B * ab.T * ab.NH * ab.HS) { return; }
  let i = idx % ab.HS;
  let h = (idx / ab.HS) % ab.NH;
  let bt = idx / (ab.HS * ab.NH);                    // b * T + t
  let t = bt % ab.T;
  let b = bt / ab.T;
  let kvh = h / (ab.NH / ab.KVH);
  let ao = ((b * ab.NH + h) * ab.T + t) * ab.T;      // seek to dpreatt[b,h,t,:]
  var s = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) { s += qdpreatt[ao + t2] * qk[(b * ab.T + t2) * ab.xs + ab.x0 + kvh * ab.HS + i]; }
  dq[bt * ab.os + ab.o0 + h * ab.HS + i] = s;        // dq[b,t,h,i]
}

@group(0) @binding(1) var<storage, read_write> dkv: array<f32>;
@group(0) @binding(2) var<storage, read> kp: array<f32>;
@group(0) @binding(3) var<storage, read> ky: array<f32>;

// dk: kp = dpreatt, ky = q (strides qs, q0);  dv: kp = att, ky = dout (strides NH*HS, 0)
@compute @workgroup_size(WG)
fn attention_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat (b, t2, kvh, i)
  if (idx >= ab.B * ab.T * ab.KVH * ab.HS) { return; }
  let i = idx % ab.HS;
  let kvh = (idx / ab.HS) % ab.KVH;
  let bt2 = idx / (ab.HS * ab.KVH);                  // b * T + t2
  let t2 = bt2 % ab.T;
  let b = bt2 / ab.T;
  let G = ab.NH / ab.KVH;                            // query heads per kv head
  var s = 0.0;
  for (var h = kvh * G; h < (kvh + 1u) * G; h++) {
    for (var t = t2; t < ab.T; t++) {
      let p = kp[((b * ab.NH + h) * ab.T + t) * ab.T + t2];           // P[b,h,t,t2]
      s += p * ky[(b * ab.T + t) * ab.xs + ab.x0 + h * ab.HS + i];    // Y[b,t,h,i]
    }
  }
  dkv[bt2 * ab.os + ab.o0 + kvh * ab.HS + i] = s;    // dk or dv [b,t2,kvh,i]
}
