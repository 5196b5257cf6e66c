// attention_subgroup: the forward, dq and dkv passes of kernels/attention.wgsl for adapters with the
// `subgroups` feature and subgroups made of whole groups of 8 lanes. Compiled after the text of
// kernels/attention.wgsl (scripts/gen.mjs: this file's directives first), whose shapes, helpers and
// bindings it uses. Same tiles, sums and order, so the same bits; but instead of staging each tile of
// 16 rows in workgroup memory behind barriers, every
// lane loads rows r0 + l and r0 + 8 + l (l: its lane in its group of 8) into registers and the others
// read them by subgroupShuffle: on lavapipe a shuffle is a register permute, where a broadcast read of
// workgroup memory is a gather, and no barrier splits the loops. Which row a lane owns does not matter to
// the shuffles, so any subgroup layout works; each subgroup bounds its loops by its own rows (subgroupMax
// / subgroupMin), uniform per subgroup, which is all the shuffles need.
//   attention_forward_sg       out (=), lse (=), as attention_forward (KV cache: P, Tk as there)
//   attention_backward_dq_sg   dq (=), as attention_backward_dq
//   attention_backward_dkv_sg  dk, dv (=) into one binding, as attention_backward_dkv
enable subgroups;
diagnostic(off, subgroup_uniformity);

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
  for (var i = 0u; i < H4; i++) { qv[i] = ldq(qo, i, d.HS) * d.scale; acc[i] = vec4<f32>(0.0); }
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
      for (var i = 0u; i < H4; i++) { kr[i] = ldk(ro, i, d.HS); }
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
      for (var i = 0u; i < H4; i++) { vr[i] = ldv(ro, i, d.HS); }
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
  for (var i = 0u; i < H4; i++) { st4(oo, 4u * i, d.HS, acc[i] * inv); }
  lse[(b * d.NH + h) * d.T + t] = m + log(l);
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
  let ls = bother[row];
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
        let lr = bother[r];
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
