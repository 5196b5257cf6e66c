// attention: causal self-attention with grouped-query heads (llm.c attention_forward, plus GQA).
// out: (B,T,NH,HS)   att: (B,NH,T,T) post-softmax, cached for backward (zero above the diagonal)
// q: (B,T,NH,HS)   k, v: (B,T,KVH,HS); query head h reads kv head h / (NH/KVH); HS <= MAX_HS
// q, k, v are read with row strides and offsets (qs/q0, kvs/k0/v0), so GPT-2's fused qkv (B,T,3C)
// binds as all three with offsets 0, C, 2C, and Llama's separate q, k, v with offsets 0.
// one thread per (b,t,h), one pass over t2 <= t with an online softmax (Milakov & Gimelshein 2018):
// 1) s = q.k * scale, kept in att; running max m and sum l; acc = acc * exp(m_old - m) + exp(s - m) v
// 2) out = acc / l   3) att = exp(s - m) / l, zeros above the diagonal
const MAX_HS: u32 = 128u;
override WG: u32 = 64;
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
