// attention_subgroup: the FlashAttention kernels of kernels/attention.wgsl (same shapes, bindings, tiles
// and sums, so the same results bit for bit) for adapters with the `subgroups` feature and subgroups made
// of whole groups of 8 lanes. Instead of staging each tile of 16 key (or query) rows in workgroup memory
// behind barriers, every lane loads rows k0 + l and k0 + 8 + l (l: its lane in its group of 8) into
// registers and the other lanes read them by subgroupShuffle: on lavapipe a shuffle is a register permute,
// where a broadcast read of workgroup memory is a gather, and no barrier splits the loops. Which query
// (or key) row a lane owns does not matter to the shuffles, so any subgroup layout works.
//   attention_forward_sg       out (=), lse (=), as attention_forward (KV cache: P, Tk as there)
//   attention_backward_dq_sg   dq (=), as attention_backward_dq
//   attention_backward_dkv_sg  dk, dv (=) into one binding, as attention_backward_dkv
// (attention_backward_d, attention_probs and kv_cache_write have one version, in kernels/attention.wgsl)
enable subgroups;
// loop bounds below are uniform per subgroup (subgroupMax/Min of the rows its lanes own), which is all the
// shuffles need; the analysis only knows workgroup uniformity
diagnostic(off, subgroup_uniformity);
const MAX_HS: u32 = 128u;
const H4M: u32 = MAX_HS / 4u;
const BR: u32 = 64u;   // query (or key) rows per workgroup, one per thread
const BC: u32 = 16u;   // rows per tile: two groups of 8, one row per lane each
override H4C: u32 = 0u;
fn h4(hs: u32) -> u32 { return select((hs + 3u) / 4u, H4C, H4C > 0u); }
fn hsum(x: vec4<f32>) -> f32 { return (x.x + x.y) + (x.z + x.w); }
fn tileOf(wid: vec3<u32>, nwg: vec3<u32>, T: u32, heads: u32) -> vec3<u32> {
  let nt = (T + BR - 1u) / BR;
  let w = wid.y * nwg.x + wid.x;
  return vec3<u32>(w / (nt * heads), (w / nt) % heads, w % nt);
}
struct Dims { B: u32, T: u32, NH: u32, KVH: u32, HS: u32, qs: u32, q0: u32, kvs: u32, k0: u32, v0: u32, P: u32, Tk: u32, scale: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> q: array<f32>;
@group(0) @binding(4) var<storage, read> k: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;

// dims 4i..4i+3 of a head row starting at `at` (0 past HS), of q, k and v
fn ldq(at: u32, i: u32, hs: u32) -> vec4<f32> {
  let c = 4u * i;
  return vec4<f32>(select(0.0, q[at + c], c < hs), select(0.0, q[at + c + 1u], c + 1u < hs),
                   select(0.0, q[at + c + 2u], c + 2u < hs), select(0.0, q[at + c + 3u], c + 3u < hs));
}
fn ldk(at: u32, i: u32, hs: u32) -> vec4<f32> {
  let c = 4u * i;
  return vec4<f32>(select(0.0, k[at + c], c < hs), select(0.0, k[at + c + 1u], c + 1u < hs),
                   select(0.0, k[at + c + 2u], c + 2u < hs), select(0.0, k[at + c + 3u], c + 3u < hs));
}
fn ldv(at: u32, i: u32, hs: u32) -> vec4<f32> {
  let c = 4u * i;
  return vec4<f32>(select(0.0, v[at + c], c < hs), select(0.0, v[at + c + 1u], c + 1u < hs),
                   select(0.0, v[at + c + 2u], c + 2u < hs), select(0.0, v[at + c + 3u], c + 3u < hs));
}

@compute @workgroup_size(BR)
fn attention_forward_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let bht = tileOf(wid, nwg, d.T, d.NH);
  let b = bht.x; let h = bht.y;
  if (b >= d.B) { return; }
  let kvh = h / (d.NH / d.KVH);
  let t = bht.z * BR + lid.x;
  let live = t < d.T;
  let H4 = h4(d.HS);
  let l8 = sl & 7u; let base = sl & ~7u;
  var qv: array<vec4<f32>, H4M>;
  var acc: array<vec4<f32>, H4M>;
  let qo = (b * d.T + min(t, d.T - 1u)) * d.qs + d.q0 + h * d.HS;
  for (var i = 0u; i < H4; i++) { qv[i] = ldq( qo, i, d.HS) * d.scale; acc[i] = vec4<f32>(0.0); }
  var m = -3.4e38;
  var l = 0.0;
  let tq = d.P + t;
  // the last key any row of this subgroup sees (tiles past it hold no key for any lane)
  let last = subgroupMax(d.P + min(t, d.T - 1u));
  for (var k0 = 0u; k0 <= last; k0 += BC) {
    // keys j >= n are masked (n = 0: this row sees none of the tile, and m, l, acc stay as they are)
    let n = select(0u, min(BC, tq - k0 + 1u), live && k0 <= tq);
    var s: array<f32, BC>;
    var mt = m;
    for (var g = 0u; g < 2u; g++) {
      var kr: array<vec4<f32>, H4M>;                // this lane's key row k0 + 8g + l8
      let ro = (b * d.Tk + min(k0 + 8u * g + l8, d.Tk - 1u)) * d.kvs + kvh * d.HS + d.k0;
      for (var i = 0u; i < H4; i++) { kr[i] = ldk( ro, i, d.HS); }
      for (var j = 0u; j < 8u; j++) {
        var x = vec4<f32>(0.0);
        for (var i = 0u; i < H4; i++) { x = fma(qv[i], subgroupShuffle(kr[i], base + j), x); }
        s[8u * g + j] = select(-3.4e38, hsum(x), 8u * g + j < n);
        mt = max(mt, s[8u * g + j]);
      }
    }
    let corr = exp(m - mt);
    l *= corr;
    for (var i = 0u; i < H4; i++) { acc[i] *= corr; }
    for (var g = 0u; g < 2u; g++) {
      var vr: array<vec4<f32>, H4M>;
      let ro = (b * d.Tk + min(k0 + 8u * g + l8, d.Tk - 1u)) * d.kvs + kvh * d.HS + d.v0;
      for (var i = 0u; i < H4; i++) { vr[i] = ldv( ro, i, d.HS); }
      for (var j = 0u; j < 8u; j++) {
        let on = 8u * g + j < n;
        let p = exp(s[8u * g + j] - mt);
        l = select(l, l + p, on);
        for (var i = 0u; i < H4; i++) { acc[i] = select(acc[i], fma(vec4<f32>(p), subgroupShuffle(vr[i], base + j), acc[i]), on); }
      }
    }
    m = mt;
  }
  if (!live) { return; }
  let inv = 1.0 / l;
  let oo = ((b * d.T + t) * d.NH + h) * d.HS;
  for (var i = 0u; i < H4; i++) {
    let x = acc[i] * inv;
    let c = 4u * i;
    out[oo + c] = x.x;
    if (c + 1u < d.HS) { out[oo + c + 1u] = x.y; }
    if (c + 2u < d.HS) { out[oo + c + 2u] = x.z; }
    if (c + 3u < d.HS) { out[oo + c + 3u] = x.w; }
  }
  lse[(b * d.NH + h) * d.T + t] = m + log(l);
}

// ---- backward (bd.os/o0: row stride and offset of dq; dkv: rows of os, dk at dk0, dv at dv0) ----
struct BDims { B: u32, T: u32, NH: u32, KVH: u32, HS: u32, qs: u32, q0: u32, kvs: u32, k0: u32, v0: u32,
               os: u32, o0: u32, dk0: u32, dv0: u32, scale: f32 }
@group(0) @binding(0) var<uniform> bd: BDims;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;   // dq or dk+dv
@group(0) @binding(2) var<storage, read> bdout: array<f32>;        // (B,T,NH,HS)
@group(0) @binding(3) var<storage, read> blse: array<f32>;         // (B,NH,T)
@group(0) @binding(4) var<storage, read> bD: array<f32>;           // (B,NH,T)
@group(0) @binding(5) var<storage, read> bq: array<f32>;
@group(0) @binding(6) var<storage, read> bk: array<f32>;
@group(0) @binding(7) var<storage, read> bv: array<f32>;

fn ldbq(at: u32, i: u32, hs: u32) -> vec4<f32> {
  let c = 4u * i;
  return vec4<f32>(select(0.0, bq[at + c], c < hs), select(0.0, bq[at + c + 1u], c + 1u < hs),
                   select(0.0, bq[at + c + 2u], c + 2u < hs), select(0.0, bq[at + c + 3u], c + 3u < hs));
}
fn ldbk(at: u32, i: u32, hs: u32) -> vec4<f32> {
  let c = 4u * i;
  return vec4<f32>(select(0.0, bk[at + c], c < hs), select(0.0, bk[at + c + 1u], c + 1u < hs),
                   select(0.0, bk[at + c + 2u], c + 2u < hs), select(0.0, bk[at + c + 3u], c + 3u < hs));
}
fn ldbv(at: u32, i: u32, hs: u32) -> vec4<f32> {
  let c = 4u * i;
  return vec4<f32>(select(0.0, bv[at + c], c < hs), select(0.0, bv[at + c + 1u], c + 1u < hs),
                   select(0.0, bv[at + c + 2u], c + 2u < hs), select(0.0, bv[at + c + 3u], c + 3u < hs));
}
fn ldbo(at: u32, i: u32, hs: u32) -> vec4<f32> {
  let c = 4u * i;
  return vec4<f32>(select(0.0, bdout[at + c], c < hs), select(0.0, bdout[at + c + 1u], c + 1u < hs),
                   select(0.0, bdout[at + c + 2u], c + 2u < hs), select(0.0, bdout[at + c + 3u], c + 3u < hs));
}
fn stg(at: u32, c: u32, hs: u32, x: vec4<f32>) {
  grad[at + c] = x.x;
  if (c + 1u < hs) { grad[at + c + 1u] = x.y; }
  if (c + 2u < hs) { grad[at + c + 2u] = x.z; }
  if (c + 3u < hs) { grad[at + c + 3u] = x.w; }
}

@compute @workgroup_size(BR)
fn attention_backward_dq_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                            @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let bht = tileOf(wid, nwg, bd.T, bd.NH);
  let b = bht.x; let h = bht.y;
  if (b >= bd.B) { return; }
  let kvh = h / (bd.NH / bd.KVH);
  let t = bht.z * BR + lid.x;
  let live = t < bd.T;
  let tq = min(t, bd.T - 1u);
  let H4 = h4(bd.HS);
  let l8 = sl & 7u; let base = sl & ~7u;
  var qv: array<vec4<f32>, H4M>;
  var go: array<vec4<f32>, H4M>;
  var dq: array<vec4<f32>, H4M>;
  let qo = (b * bd.T + tq) * bd.qs + bd.q0 + h * bd.HS;
  let oo = ((b * bd.T + tq) * bd.NH + h) * bd.HS;
  for (var i = 0u; i < H4; i++) { qv[i] = ldbq(qo, i, bd.HS) * bd.scale; go[i] = ldbo(oo, i, bd.HS); dq[i] = vec4<f32>(0.0); }
  let row = (b * bd.NH + h) * bd.T + tq;
  let ls = blse[row];
  let Dt = bD[row];
  let last = subgroupMax(tq);
  for (var k0 = 0u; k0 <= last; k0 += BC) {
    let n = select(0u, min(BC, t - k0 + 1u), live && k0 <= t);
    for (var g = 0u; g < 2u; g++) {
      var kr: array<vec4<f32>, H4M>;
      var vr: array<vec4<f32>, H4M>;
      let ro = (b * bd.T + min(k0 + 8u * g + l8, bd.T - 1u)) * bd.kvs + kvh * bd.HS;
      for (var i = 0u; i < H4; i++) { kr[i] = ldbk(ro + bd.k0, i, bd.HS); vr[i] = ldbv(ro + bd.v0, i, bd.HS); }
      for (var j = 0u; j < 8u; j++) {
        var s = vec4<f32>(0.0);
        var dp = vec4<f32>(0.0);
        for (var i = 0u; i < H4; i++) {
          s = fma(qv[i], subgroupShuffle(kr[i], base + j), s);
          dp = fma(go[i], subgroupShuffle(vr[i], base + j), dp);
        }
        let on = 8u * g + j < n;
        let ds = exp(hsum(s) - ls) * (hsum(dp) - Dt);
        for (var i = 0u; i < H4; i++) { dq[i] = select(dq[i], fma(vec4<f32>(ds), subgroupShuffle(kr[i], base + j), dq[i]), on); }
      }
    }
  }
  if (!live) { return; }
  let to = (b * bd.T + t) * bd.os + bd.o0 + h * bd.HS;
  for (var i = 0u; i < H4; i++) { stg(to, 4u * i, bd.HS, dq[i] * bd.scale); }
}

@compute @workgroup_size(BR)
fn attention_backward_dkv_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                             @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let bht = tileOf(wid, nwg, bd.T, bd.KVH);
  let b = bht.x; let kvh = bht.y;
  if (b >= bd.B) { return; }
  let G = bd.NH / bd.KVH;
  let t2 = bht.z * BR + lid.x;
  let live = t2 < bd.T;
  let H4 = h4(bd.HS);
  let l8 = sl & 7u; let base = sl & ~7u;
  var kv: array<vec4<f32>, H4M>;
  var vv: array<vec4<f32>, H4M>;
  var dk: array<vec4<f32>, H4M>;
  var dv: array<vec4<f32>, H4M>;
  let ro = (b * bd.T + min(t2, bd.T - 1u)) * bd.kvs + kvh * bd.HS;
  for (var i = 0u; i < H4; i++) {
    kv[i] = ldbk(ro + bd.k0, i, bd.HS); vv[i] = ldbv(ro + bd.v0, i, bd.HS);
    dk[i] = vec4<f32>(0.0); dv[i] = vec4<f32>(0.0);
  }
  let first = subgroupMin(min(t2, bd.T - 1u));   // the first query any key of this subgroup is seen by
  for (var h = kvh * G; h < (kvh + 1u) * G; h++) {
    for (var t0 = first - first % BC; t0 < bd.T; t0 += BC) {
      for (var g = 0u; g < 2u; g++) {
        // this lane's query row t0 + 8g + l8 of head h: q * scale, dout, lse, D
        let tt = min(t0 + 8u * g + l8, bd.T - 1u);
        var qr: array<vec4<f32>, H4M>;
        var or: array<vec4<f32>, H4M>;
        let qo = (b * bd.T + tt) * bd.qs + bd.q0 + h * bd.HS;
        let oo = ((b * bd.T + tt) * bd.NH + h) * bd.HS;
        for (var i = 0u; i < H4; i++) { qr[i] = ldbq(qo, i, bd.HS) * bd.scale; or[i] = ldbo(oo, i, bd.HS); }
        let r = (b * bd.NH + h) * bd.T + tt;
        let lr = blse[r];
        let Dr = bD[r];
        for (var j = 0u; j < 8u; j++) {
          let t = t0 + 8u * g + j;
          let on = live && t >= t2 && t < bd.T;
          var s = vec4<f32>(0.0);
          var dp = vec4<f32>(0.0);
          for (var i = 0u; i < H4; i++) {
            s = fma(subgroupShuffle(qr[i], base + j), kv[i], s);
            dp = fma(subgroupShuffle(or[i], base + j), vv[i], dp);
          }
          let p = exp(hsum(s) - subgroupShuffle(lr, base + j));
          let ds = p * (hsum(dp) - subgroupShuffle(Dr, base + j));
          for (var i = 0u; i < H4; i++) {
            dv[i] = select(dv[i], fma(vec4<f32>(p), subgroupShuffle(or[i], base + j), dv[i]), on);
            dk[i] = select(dk[i], fma(vec4<f32>(ds), subgroupShuffle(qr[i], base + j), dk[i]), on);
          }
        }
      }
    }
  }
  if (!live) { return; }
  let to = (b * bd.T + t2) * bd.os + kvh * bd.HS;
  for (var i = 0u; i < H4; i++) { stg(to + bd.dk0, 4u * i, bd.HS, dk[i]); stg(to + bd.dv0, 4u * i, bd.HS, dv[i]); }
}
