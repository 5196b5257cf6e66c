// attention: causal self-attention with grouped-query heads (llm.c attention_forward, plus GQA).
// out: (B,T,NH,HS)   att: (B,NH,T,T) post-softmax, cached for backward (zero above the diagonal)
// q: (B,T,NH,HS)   k, v: (B,T,KVH,HS); query head h reads kv head h / (NH/KVH)
// one thread per (b,t,h): 1) scores q.k * scale for t2 <= t and their max  2) exp and sum
// 3) normalize into att  4) out = att @ v
override WG: u32 = 64;
struct Dims { B: u32, T: u32, NH: u32, KVH: u32, HS: u32, scale: f32 }
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
  let qo = ((b * d.T + t) * d.NH + h) * d.HS;       // seek to q[b,t,h,:]
  let ao = ((b * d.NH + h) * d.T + t) * d.T;        // seek to att[b,h,t,:]
  // 1) scores and their max
  var maxv = -3.4e38;
  for (var t2 = 0u; t2 <= t; t2++) {
    let ko = ((b * d.T + t2) * d.KVH + kvh) * d.HS; // seek to k[b,t2,kvh,:]
    var s = 0.0;
    for (var i = 0u; i < d.HS; i++) { s += q[qo + i] * k[ko + i]; }
    s *= d.scale;
    att[ao + t2] = s;
    maxv = max(maxv, s);
  }
  // 2) exp and sum
  var sum = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    let e = exp(att[ao + t2] - maxv);
    att[ao + t2] = e;
    sum += e;
  }
  // 3) normalize; the masked part is stored as zeros
  let inv = 1.0 / sum;
  for (var t2 = 0u; t2 < d.T; t2++) { att[ao + t2] = select(0.0, att[ao + t2] * inv, t2 <= t); }
  // 4) weighted sum of values
  let oo = qo;                                      // out has q's layout
  for (var i = 0u; i < d.HS; i++) { out[oo + i] = 0.0; }
  for (var t2 = 0u; t2 <= t; t2++) {
    let vo = ((b * d.T + t2) * d.KVH + kvh) * d.HS;
    let a = att[ao + t2];
    for (var i = 0u; i < d.HS; i++) { out[oo + i] += a * v[vo + i]; }
  }
}
