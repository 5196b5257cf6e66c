// attention: causal self-attention with grouped-query heads, FlashAttention-2 style (Dao 2023): the
// (T,T) scores never reach memory. Forward keeps, per query row, a running max m and sum l of the
// softmax (online softmax, Milakov & Gimelshein 2018) over key/value tiles staged in workgroup memory,
// and saves only lse = m + log(l) for backward, which recomputes P = exp(s - lse) tile by tile.
// Shapes: out, dout: (B,T,NH,HS)   lse, D: (B,NH,T)   q: rows of qs floats, query head h at q0 + h*HS;
// k, v: rows of kvs floats, kv head at k0 / v0 + kvh*HS (GPT-2's fused qkv (B,T,3C) binds as all three
// with offsets 0, C, 2C; Llama's q (B,T,NH,HS), k, v (B,T,KVH,HS) with offsets 0). Query head h reads kv
// head h / (NH/KVH); HS <= MAX_HS. s = (q * scale) . k, scale = 1/sqrt(HS). Head rows are held as vec4
// (zero-padded past HS), in registers and in the staged tiles.
//   attention_forward      a workgroup per (b, h, 64 query rows), a thread per row, key tiles of 16:
//                          out = softmax(s) v (=), lse (=). With a KV cache (generation): query row t
//                          is position P + t and sees keys 0..P+t of k/v rows (B,Tk,..) (training: P 0, Tk T)
//   kv_cache_write         a thread per float: rows t of src (row stride ss, from so) into the cache
//                          rows P + t of dst (B,Tk,W) (=)
//   attention_probs        a thread per (b, h, t): P[b,h,t,t2] = exp(s - lse) for t2 <= t, else 0 (=),
//                          for the lazy-layer analysis, which needs the matrices themselves
// backward, with dP = dout . v and D = rowsum(dout * out) (= rowsum(P * dP)), dS = P * (dP - D):
//   attention_backward_d   a thread per (b, h, t): D (=)
//   attention_backward_dq  a workgroup per (b, h, 64 query rows), key tiles of 16: dq = scale * sum dS k (=)
//   attention_backward_dkv a workgroup per (b, kvh, 64 key rows), a thread per key, query tiles of 16 over
//                          the query heads of its group: dk = scale * sum dS q, dv = sum P dout (=), both
//                          into one binding (GPT-2: dqkv; Llama: one buffer holding dk then dv)
// Every sum runs in a fixed order (tiles, then rows, then heads), so the result is deterministic.
// kernels/attention_subgroup.wgsl: the forward, dq and dkv passes again, sharing tiles by subgroupShuffle.
const MAX_HS: u32 = 128u;
const H4M: u32 = MAX_HS / 4u;
const BR: u32 = 64u;   // query (or key) rows per workgroup, one per thread
const BC: u32 = 16u;   // rows per staged tile
// vec4s of a head row, ceil(HS/4): set by the launcher, so that every loop over a row has a constant
// trip count and the row arrays stay in registers (0: taken from the uniform's HS)
override H4C: u32 = 0u;
fn h4(hs: u32) -> u32 { return select((hs + 3u) / 4u, H4C, H4C > 0u); }
struct Dims { B: u32, T: u32, NH: u32, KVH: u32, HS: u32, qs: u32, q0: u32, kvs: u32, k0: u32, v0: u32, P: u32, Tk: u32, scale: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> q: array<f32>;
@group(0) @binding(4) var<storage, read> k: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;

var<workgroup> tk: array<vec4<f32>, BC * H4M>;   // [j * H4M + i]: tile row j, dims 4i..4i+3
var<workgroup> tv: array<vec4<f32>, BC * H4M>;
var<workgroup> tl: array<f32, BC>;               // dkv: lse and D of the staged query rows
var<workgroup> tD: array<f32, BC>;

// dims 4i..4i+3 of a head row starting at `at` (0 past HS)
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
fn hsum(x: vec4<f32>) -> f32 { return (x.x + x.y) + (x.z + x.w); }
// dims c..c+3 (those below HS; c < HS always) of a row of out at `at`
fn st4(at: u32, c: u32, hs: u32, x: vec4<f32>) {
  out[at + c] = x.x;
  if (c + 1u < hs) { out[at + c + 1u] = x.y; }
  if (c + 2u < hs) { out[at + c + 2u] = x.z; }
  if (c + 3u < hs) { out[at + c + 3u] = x.w; }
}

// which (b, h or kvh, tile) this workgroup is: the 1-D grid is folded into 2-D above 65535
fn tileOf(wid: vec3<u32>, nwg: vec3<u32>, T: u32, heads: u32) -> vec3<u32> {
  let nt = (T + BR - 1u) / BR;
  let w = wid.y * nwg.x + wid.x;
  return vec3<u32>(w / (nt * heads), (w / nt) % heads, w % nt);   // (b, head, tile)
}

@compute @workgroup_size(BR)
fn attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
  let bht = tileOf(wid, nwg, d.T, d.NH);
  let b = bht.x; let h = bht.y;
  if (b >= d.B) { return; }                        // whole workgroups only: barriers stay uniform
  let kvh = h / (d.NH / d.KVH);
  let t = bht.z * BR + lid.x;
  let live = t < d.T;
  let H4 = h4(d.HS);
  var qv: array<vec4<f32>, H4M>;
  var acc: array<vec4<f32>, H4M>;
  let qo = (b * d.T + min(t, d.T - 1u)) * d.qs + d.q0 + h * d.HS;   // seek to q[b,t,h,:]
  for (var i = 0u; i < H4; i++) { qv[i] = ldq(qo, i, d.HS) * d.scale; acc[i] = vec4<f32>(0.0); }
  var m = -3.4e38;
  var l = 0.0;
  let last = d.P + min(d.T - 1u, bht.z * BR + BR - 1u);   // the tile's last query sees keys 0..last
  let tq = d.P + t;                                       // this query's position: keys 0..tq
  for (var k0 = 0u; k0 <= last; k0 += BC) {
    // 1) stage keys/values k0 .. k0+BC-1 (clamped) of kv head kvh
    for (var e = lid.x; e < BC * H4; e += BR) {
      let j = e / H4; let i = e % H4;
      let ro = (b * d.Tk + min(k0 + j, d.Tk - 1u)) * d.kvs + kvh * d.HS;
      tk[j * H4M + i] = ldk(ro + d.k0, i, d.HS);
      tv[j * H4M + i] = ldv(ro + d.v0, i, d.HS);
    }
    workgroupBarrier();
    // 2) this tile's scores s_j (keys k0 + j <= tq), one rescale of the running sums per tile
    if (live && k0 <= tq) {
      var s: array<f32, BC>;
      var mt = m;
      let n = min(BC, tq - k0 + 1u);
      for (var j = 0u; j < BC; j++) {                // a constant count (keys j >= n are masked): s stays in registers
        var x = vec4<f32>(0.0);
        for (var i = 0u; i < H4; i++) { x = fma(qv[i], tk[j * H4M + i], x); }
        s[j] = select(-3.4e38, hsum(x), j < n);
        mt = max(mt, s[j]);
      }
      let corr = exp(m - mt);
      l *= corr;
      for (var i = 0u; i < H4; i++) { acc[i] *= corr; }
      for (var j = 0u; j < BC; j++) {
        if (j < n) {
          let p = exp(s[j] - mt);
          l += p;
          for (var i = 0u; i < H4; i++) { acc[i] = fma(vec4<f32>(p), tv[j * H4M + i], acc[i]); }
        }
      }
      m = mt;
    }
    workgroupBarrier();
  }
  if (!live) { return; }
  let inv = 1.0 / l;
  let oo = ((b * d.T + t) * d.NH + h) * d.HS;       // seek to out[b,t,h,:]
  for (var i = 0u; i < H4; i++) { st4(oo, 4u * i, d.HS, acc[i] * inv); }
  lse[(b * d.NH + h) * d.T + t] = m + log(l);
}

// P (B,NH,T,T) for analysis: binding 1 holds P, binding 2 the forward's lse
@compute @workgroup_size(BR)
fn attention_probs(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * BR + gid.x;             // flat (b, h, t)
  if (idx >= d.B * d.NH * d.T) { return; }
  let t = idx % d.T; let h = (idx / d.T) % d.NH; let b = idx / (d.T * d.NH);
  let kvh = h / (d.NH / d.KVH);
  let H4 = h4(d.HS);
  let qo = (b * d.T + t) * d.qs + d.q0 + h * d.HS;
  var qv: array<vec4<f32>, H4M>;
  for (var i = 0u; i < H4; i++) { qv[i] = ldq(qo, i, d.HS) * d.scale; }
  let ls = lse[idx];
  let po = idx * d.T;                                // seek to P[b,h,t,:]
  for (var t2 = 0u; t2 < d.T; t2++) {
    var p = 0.0;
    if (t2 <= t) {
      let ko = (b * d.T + t2) * d.kvs + d.k0 + kvh * d.HS;
      var x = vec4<f32>(0.0);
      for (var i = 0u; i < H4; i++) { x = fma(qv[i], ldk(ko, i, d.HS), x); }
      p = exp(hsum(x) - ls);
    }
    out[po + t2] = p;
  }
}

// the new keys or values of a step into a KV cache: dst[b, P + t, i] = src[(b*T + t)*ss + so + i], i < W
struct CDims { N: u32, T: u32, W: u32, ss: u32, so: u32, P: u32, Tk: u32 }
@group(0) @binding(0) var<uniform> cd: CDims;
@group(0) @binding(1) var<storage, read_write> cdst: array<f32>;   // (B,Tk,W) the cache
@group(0) @binding(2) var<storage, read> csrc: array<f32>;         // (B,T) rows of ss floats

@compute @workgroup_size(BR)
fn kv_cache_write(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * BR + gid.x;             // flat (b, t, i)
  if (idx >= cd.N) { return; }
  let i = idx % cd.W; let bt = idx / cd.W;
  let t = bt % cd.T; let b = bt / cd.T;
  cdst[(b * cd.Tk + cd.P + t) * cd.W + i] = csrc[bt * cd.ss + cd.so + i];
}

// ---- backward ----
// bd.os/o0: row stride and offset of the gradient written (dq: qs, q0); dkv: rows of os, dk at dk0, dv at dv0
struct BDims { B: u32, T: u32, NH: u32, KVH: u32, HS: u32, qs: u32, q0: u32, kvs: u32, k0: u32, v0: u32,
               os: u32, o0: u32, dk0: u32, dv0: u32, scale: f32 }
@group(0) @binding(0) var<uniform> bd: BDims;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;   // D, dq or dk+dv
@group(0) @binding(2) var<storage, read> bdout: array<f32>;        // (B,T,NH,HS)
@group(0) @binding(3) var<storage, read> bother: array<f32>;       // D: out; dq, dkv: lse
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

// dims c..c+3 (those below HS) of a gradient row at `at`
fn stg(at: u32, c: u32, hs: u32, x: vec4<f32>) {
  grad[at + c] = x.x;
  if (c + 1u < hs) { grad[at + c + 1u] = x.y; }
  if (c + 2u < hs) { grad[at + c + 2u] = x.z; }
  if (c + 3u < hs) { grad[at + c + 3u] = x.w; }
}

@compute @workgroup_size(BR)
fn attention_backward_d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * BR + gid.x;             // flat (b, h, t)
  if (idx >= bd.B * bd.NH * bd.T) { return; }
  let t = idx % bd.T; let h = (idx / bd.T) % bd.NH; let b = idx / (bd.T * bd.NH);
  let o = ((b * bd.T + t) * bd.NH + h) * bd.HS;
  var s = 0.0;
  for (var i = 0u; i < bd.HS; i++) { s += bdout[o + i] * bother[o + i]; }
  grad[idx] = s;
}

@compute @workgroup_size(BR)
fn attention_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_id) lid: vec3<u32>) {
  let bht = tileOf(wid, nwg, bd.T, bd.NH);
  let b = bht.x; let h = bht.y;
  if (b >= bd.B) { return; }
  let kvh = h / (bd.NH / bd.KVH);
  let t = bht.z * BR + lid.x;
  let live = t < bd.T;
  let tq = min(t, bd.T - 1u);
  let H4 = h4(bd.HS);
  var qv: array<vec4<f32>, H4M>;
  var go: array<vec4<f32>, H4M>;
  var dq: array<vec4<f32>, H4M>;
  let qo = (b * bd.T + tq) * bd.qs + bd.q0 + h * bd.HS;
  let oo = ((b * bd.T + tq) * bd.NH + h) * bd.HS;
  for (var i = 0u; i < H4; i++) { qv[i] = ldbq(qo, i, bd.HS) * bd.scale; go[i] = ldbo(oo, i, bd.HS); dq[i] = vec4<f32>(0.0); }
  let row = (b * bd.NH + h) * bd.T + tq;
  let ls = bother[row];
  let Dt = bD[row];
  let last = min(bd.T - 1u, bht.z * BR + BR - 1u);
  for (var k0 = 0u; k0 <= last; k0 += BC) {
    for (var e = lid.x; e < BC * H4; e += BR) {
      let j = e / H4; let i = e % H4;
      let ro = (b * bd.T + min(k0 + j, bd.T - 1u)) * bd.kvs + kvh * bd.HS;
      tk[j * H4M + i] = ldbk(ro + bd.k0, i, bd.HS);
      tv[j * H4M + i] = ldbv(ro + bd.v0, i, bd.HS);
    }
    workgroupBarrier();
    if (live && k0 <= t) {
      let n = min(BC, t - k0 + 1u);
      for (var j = 0u; j < n; j++) {
        var s = vec4<f32>(0.0);
        var dp = vec4<f32>(0.0);
        for (var i = 0u; i < H4; i++) { s = fma(qv[i], tk[j * H4M + i], s); dp = fma(go[i], tv[j * H4M + i], dp); }
        let ds = exp(hsum(s) - ls) * (hsum(dp) - Dt);
        for (var i = 0u; i < H4; i++) { dq[i] = fma(vec4<f32>(ds), tk[j * H4M + i], dq[i]); }
      }
    }
    workgroupBarrier();
  }
  if (!live) { return; }
  let to = (b * bd.T + t) * bd.os + bd.o0 + h * bd.HS;   // dq[b,t,h,:] in the forward's layout
  for (var i = 0u; i < H4; i++) { stg(to, 4u * i, bd.HS, dq[i] * bd.scale); }
}

@compute @workgroup_size(BR)
fn attention_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_id) lid: vec3<u32>) {
  let bht = tileOf(wid, nwg, bd.T, bd.KVH);
  let b = bht.x; let kvh = bht.y;
  if (b >= bd.B) { return; }
  let G = bd.NH / bd.KVH;
  let t2 = bht.z * BR + lid.x;                      // this thread's key row
  let live = t2 < bd.T;
  let H4 = h4(bd.HS);
  var kv: array<vec4<f32>, H4M>;
  var vv: array<vec4<f32>, H4M>;
  var dk: array<vec4<f32>, H4M>;
  var dv: array<vec4<f32>, H4M>;
  let ro = (b * bd.T + min(t2, bd.T - 1u)) * bd.kvs + kvh * bd.HS;
  for (var i = 0u; i < H4; i++) {
    kv[i] = ldbk(ro + bd.k0, i, bd.HS); vv[i] = ldbv(ro + bd.v0, i, bd.HS);
    dk[i] = vec4<f32>(0.0); dv[i] = vec4<f32>(0.0);
  }
  let first = bht.z * BR;                           // the tile's first key: queries from here on see it
  for (var h = kvh * G; h < (kvh + 1u) * G; h++) {
    for (var t0 = first - first % BC; t0 < bd.T; t0 += BC) {
      // stage the query rows t0 .. t0+BC-1 of head h: q * scale, dout, lse, D
      for (var e = lid.x; e < BC * H4; e += BR) {
        let j = e / H4; let i = e % H4;
        let tt = min(t0 + j, bd.T - 1u);
        tk[j * H4M + i] = ldbq((b * bd.T + tt) * bd.qs + bd.q0 + h * bd.HS, i, bd.HS) * bd.scale;
        tv[j * H4M + i] = ldbo(((b * bd.T + tt) * bd.NH + h) * bd.HS, i, bd.HS);
      }
      if (lid.x < BC) {
        let r = (b * bd.NH + h) * bd.T + min(t0 + lid.x, bd.T - 1u);
        tl[lid.x] = bother[r];
        tD[lid.x] = bD[r];
      }
      workgroupBarrier();
      if (live) {
        for (var j = 0u; j < BC; j++) {
          let t = t0 + j;
          if (t < t2 || t >= bd.T) { continue; }
          var s = vec4<f32>(0.0);
          var dp = vec4<f32>(0.0);
          for (var i = 0u; i < H4; i++) { s = fma(tk[j * H4M + i], kv[i], s); dp = fma(tv[j * H4M + i], vv[i], dp); }
          let p = exp(hsum(s) - tl[j]);
          let ds = p * (hsum(dp) - tD[j]);
          for (var i = 0u; i < H4; i++) { dv[i] = fma(vec4<f32>(p), tv[j * H4M + i], dv[i]); dk[i] = fma(vec4<f32>(ds), tk[j * H4M + i], dk[i]); }
        }
      }
      workgroupBarrier();
    }
  }
  if (!live) { return; }
  let to = (b * bd.T + t2) * bd.os + kvh * bd.HS;    // dk / dv [b,t2,kvh,:] in the forward's layout
  for (var i = 0u; i < H4; i++) { stg(to + bd.dk0, 4u * i, bd.HS, dk[i]); stg(to + bd.dv0, 4u * i, bd.HS, dv[i]); }
}
