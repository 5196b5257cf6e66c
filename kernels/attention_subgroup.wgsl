// attention_subgroup: the forward, dq and dkv passes of kernels/attention.wgsl for adapters with the
// `subgroups` feature and subgroups made of whole groups of 8 lanes. Compiled after the text of
// kernels/attention.wgsl (scripts/gen.mjs: this file's directives first), whose shapes, helpers and
// bindings it uses. Same tiles, sums and order, so the same bits; but instead of staging each tile of
// 16 rows in workgroup memory behind barriers, every lane loads rows r0 + l and r0 + 8 + l (l: its lane
// in its group of 8) into registers and the others read them by subgroupShuffle: on lavapipe a shuffle
// is a register permute, where a broadcast read of workgroup memory is a gather, and no barrier splits
// the loops. Which row a lane owns does not matter to the shuffles, so any subgroup layout works; each
// subgroup bounds its loops by its own rows (subgroupMax / subgroupMin), uniform per subgroup, which is
// all the shuffles need. Two forms (src/gpu/kernels/attention.ts tunes between them per pass and head size):
//   *_sg   a lane owns one row of the workgroup's 64 (BR lanes)
//   *_sg2  a lane owns two adjacent rows (BR / 2 lanes; a and b: queries, or keys for dkv), so that every
//          shuffled row feeds both: half the shuffles per fma, twice the registers (lavapipe: 1.4x at
//          head size 32 in all three passes; at 64 the forward gains, dq and dkv spill and lose)
//   attention_forward_sg*       out (=), lse (=), as attention_forward (KV cache: P, Tk as there)
//   attention_backward_dq_sg*   dq (=), as attention_backward_dq
//   attention_backward_dkv_sg*  dk, dv (=) into one binding, as attention_backward_dkv
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

// ---- two rows a lane ----

@compute @workgroup_size(BR / 2u)
fn attention_forward_sg2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let bht = tileOf(wid, nwg, d.T, d.NH);
  let b = bht.x; let h = bht.y;
  if (b >= d.B) { return; }
  let kvh = h / (d.NH / d.KVH);
  let ta = bht.z * BR + 2u * lid.x;
  let tb = ta + 1u;
  let livea = ta < d.T; let liveb = tb < d.T;
  let H4 = h4(d.HS);
  let l8 = sl & 7u; let base = sl & ~7u;
  var qa: array<vec4<f32>, H4M>; var qb: array<vec4<f32>, H4M>;
  var aa: array<vec4<f32>, H4M>; var ab: array<vec4<f32>, H4M>;
  let qoa = (b * d.T + min(ta, d.T - 1u)) * d.qs + d.q0 + h * d.HS;
  let qob = (b * d.T + min(tb, d.T - 1u)) * d.qs + d.q0 + h * d.HS;
  for (var i = 0u; i < H4; i++) { qa[i] = ldq(qoa, i, d.HS) * d.scale; qb[i] = ldq(qob, i, d.HS) * d.scale; aa[i] = vec4<f32>(0.0); ab[i] = vec4<f32>(0.0); }
  var ma = -3.4e38; var mb = -3.4e38;
  var la = 0.0; var lb = 0.0;
  let tqa = d.P + ta; let tqb = d.P + tb;
  let last = subgroupMax(d.P + min(tb, d.T - 1u));
  for (var k0 = 0u; k0 <= last; k0 += BC) {
    let na = select(0u, min(BC, tqa - k0 + 1u), livea && k0 <= tqa);
    let nb = select(0u, min(BC, tqb - k0 + 1u), liveb && k0 <= tqb);
    var sa: array<f32, BC>; var sb: array<f32, BC>;
    var mta = ma; var mtb = mb;
    for (var g = 0u; g < 2u; g++) {
      var kr: array<vec4<f32>, H4M>;
      let ro = (b * d.Tk + min(k0 + 8u * g + l8, d.Tk - 1u)) * d.kvs + kvh * d.HS + d.k0;
      for (var i = 0u; i < H4; i++) { kr[i] = ldk(ro, i, d.HS); }
      for (var j = 0u; j < 8u; j++) {
        var xa = vec4<f32>(0.0); var xb = vec4<f32>(0.0);
        for (var i = 0u; i < H4; i++) { let kj = subgroupShuffle(kr[i], base + j); xa = fma(qa[i], kj, xa); xb = fma(qb[i], kj, xb); }
        sa[8u * g + j] = select(-3.4e38, hsum(xa), 8u * g + j < na);
        sb[8u * g + j] = select(-3.4e38, hsum(xb), 8u * g + j < nb);
        mta = max(mta, sa[8u * g + j]); mtb = max(mtb, sb[8u * g + j]);
      }
    }
    let ca = exp(ma - mta); let cb = exp(mb - mtb);
    la *= ca; lb *= cb;
    for (var i = 0u; i < H4; i++) { aa[i] *= ca; ab[i] *= cb; }
    for (var g = 0u; g < 2u; g++) {
      var vr: array<vec4<f32>, H4M>;
      let ro = (b * d.Tk + min(k0 + 8u * g + l8, d.Tk - 1u)) * d.kvs + kvh * d.HS + d.v0;
      for (var i = 0u; i < H4; i++) { vr[i] = ldv(ro, i, d.HS); }
      for (var j = 0u; j < 8u; j++) {
        let ona = 8u * g + j < na; let onb = 8u * g + j < nb;
        let pa = exp(sa[8u * g + j] - mta); let pb = exp(sb[8u * g + j] - mtb);
        la = select(la, la + pa, ona); lb = select(lb, lb + pb, onb);
        for (var i = 0u; i < H4; i++) {
          let vj = subgroupShuffle(vr[i], base + j);
          aa[i] = select(aa[i], fma(vec4<f32>(pa), vj, aa[i]), ona);
          ab[i] = select(ab[i], fma(vec4<f32>(pb), vj, ab[i]), onb);
        }
      }
    }
    ma = mta; mb = mtb;
  }
  if (livea) {
    let oo = ((b * d.T + ta) * d.NH + h) * d.HS;
    for (var i = 0u; i < H4; i++) { st4(oo, 4u * i, d.HS, aa[i] * (1.0 / la)); }
    lse[(b * d.NH + h) * d.T + ta] = ma + log(la);
  }
  if (liveb) {
    let oo = ((b * d.T + tb) * d.NH + h) * d.HS;
    for (var i = 0u; i < H4; i++) { st4(oo, 4u * i, d.HS, ab[i] * (1.0 / lb)); }
    lse[(b * d.NH + h) * d.T + tb] = mb + log(lb);
  }
}

@compute @workgroup_size(BR / 2u)
fn attention_backward_dq_sg2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                            @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let bht = tileOf(wid, nwg, bd.T, bd.NH);
  let b = bht.x; let h = bht.y;
  if (b >= bd.B) { return; }
  let kvh = h / (bd.NH / bd.KVH);
  let ta = bht.z * BR + 2u * lid.x;
  let tb = ta + 1u;
  let livea = ta < bd.T; let liveb = tb < bd.T;
  let tqa = min(ta, bd.T - 1u); let tqb = min(tb, bd.T - 1u);
  let H4 = h4(bd.HS);
  let l8 = sl & 7u; let base = sl & ~7u;
  var qa: array<vec4<f32>, H4M>; var qb: array<vec4<f32>, H4M>;
  var ga: array<vec4<f32>, H4M>; var gb: array<vec4<f32>, H4M>;
  var da: array<vec4<f32>, H4M>; var db: array<vec4<f32>, H4M>;
  let qoa = (b * bd.T + tqa) * bd.qs + bd.q0 + h * bd.HS;
  let qob = (b * bd.T + tqb) * bd.qs + bd.q0 + h * bd.HS;
  let ooa = ((b * bd.T + tqa) * bd.NH + h) * bd.HS;
  let oob = ((b * bd.T + tqb) * bd.NH + h) * bd.HS;
  for (var i = 0u; i < H4; i++) {
    qa[i] = ldbq(qoa, i, bd.HS) * bd.scale; qb[i] = ldbq(qob, i, bd.HS) * bd.scale;
    ga[i] = ldbo(ooa, i, bd.HS); gb[i] = ldbo(oob, i, bd.HS);
    da[i] = vec4<f32>(0.0); db[i] = vec4<f32>(0.0);
  }
  let rowa = (b * bd.NH + h) * bd.T + tqa;
  let rowb = (b * bd.NH + h) * bd.T + tqb;
  let lsa = bother[rowa]; let lsb = bother[rowb];
  let Da = bD[rowa]; let Db = bD[rowb];
  let last = subgroupMax(tqb);
  for (var k0 = 0u; k0 <= last; k0 += BC) {
    let na = select(0u, min(BC, ta - k0 + 1u), livea && k0 <= ta);
    let nb = select(0u, min(BC, tb - k0 + 1u), liveb && k0 <= tb);
    for (var g = 0u; g < 2u; g++) {
      var kr: array<vec4<f32>, H4M>;
      var vr: array<vec4<f32>, H4M>;
      let ro = (b * bd.T + min(k0 + 8u * g + l8, bd.T - 1u)) * bd.kvs + kvh * bd.HS;
      for (var i = 0u; i < H4; i++) { kr[i] = ldbk(ro + bd.k0, i, bd.HS); vr[i] = ldbv(ro + bd.v0, i, bd.HS); }
      for (var j = 0u; j < 8u; j++) {
        var sa = vec4<f32>(0.0); var sb = vec4<f32>(0.0);
        var pa = vec4<f32>(0.0); var pb = vec4<f32>(0.0);
        for (var i = 0u; i < H4; i++) {
          let kj = subgroupShuffle(kr[i], base + j);
          let vj = subgroupShuffle(vr[i], base + j);
          sa = fma(qa[i], kj, sa); sb = fma(qb[i], kj, sb);
          pa = fma(ga[i], vj, pa); pb = fma(gb[i], vj, pb);
        }
        let ona = 8u * g + j < na; let onb = 8u * g + j < nb;
        let dsa = exp(hsum(sa) - lsa) * (hsum(pa) - Da);
        let dsb = exp(hsum(sb) - lsb) * (hsum(pb) - Db);
        for (var i = 0u; i < H4; i++) {
          let kj = subgroupShuffle(kr[i], base + j);
          da[i] = select(da[i], fma(vec4<f32>(dsa), kj, da[i]), ona);
          db[i] = select(db[i], fma(vec4<f32>(dsb), kj, db[i]), onb);
        }
      }
    }
  }
  if (livea) {
    let to = (b * bd.T + ta) * bd.os + bd.o0 + h * bd.HS;
    for (var i = 0u; i < H4; i++) { stg(to, 4u * i, bd.HS, da[i] * bd.scale); }
  }
  if (liveb) {
    let to = (b * bd.T + tb) * bd.os + bd.o0 + h * bd.HS;
    for (var i = 0u; i < H4; i++) { stg(to, 4u * i, bd.HS, db[i] * bd.scale); }
  }
}

@compute @workgroup_size(BR / 2u)
fn attention_backward_dkv_sg2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                             @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let bht = tileOf(wid, nwg, bd.T, bd.KVH);
  let b = bht.x; let kvh = bht.y;
  if (b >= bd.B) { return; }
  let G = bd.NH / bd.KVH;
  let ua = bht.z * BR + 2u * lid.x;       // this lane's key rows ua, ub
  let ub = ua + 1u;
  let livea = ua < bd.T; let liveb = ub < bd.T;
  let H4 = h4(bd.HS);
  let l8 = sl & 7u; let base = sl & ~7u;
  var ka: array<vec4<f32>, H4M>; var kb: array<vec4<f32>, H4M>;
  var va: array<vec4<f32>, H4M>; var vb: array<vec4<f32>, H4M>;
  var dka: array<vec4<f32>, H4M>; var dkb: array<vec4<f32>, H4M>;
  var dva: array<vec4<f32>, H4M>; var dvb: array<vec4<f32>, H4M>;
  let roa = (b * bd.T + min(ua, bd.T - 1u)) * bd.kvs + kvh * bd.HS;
  let rob = (b * bd.T + min(ub, bd.T - 1u)) * bd.kvs + kvh * bd.HS;
  for (var i = 0u; i < H4; i++) {
    ka[i] = ldbk(roa + bd.k0, i, bd.HS); va[i] = ldbv(roa + bd.v0, i, bd.HS);
    kb[i] = ldbk(rob + bd.k0, i, bd.HS); vb[i] = ldbv(rob + bd.v0, i, bd.HS);
    dka[i] = vec4<f32>(0.0); dva[i] = vec4<f32>(0.0); dkb[i] = vec4<f32>(0.0); dvb[i] = vec4<f32>(0.0);
  }
  let first = subgroupMin(min(ua, bd.T - 1u));   // the first query any key of this subgroup is seen by
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
          let ona = livea && t >= ua && t < bd.T; let onb = liveb && t >= ub && t < bd.T;
          var sa = vec4<f32>(0.0); var sb = vec4<f32>(0.0);
          var pa = vec4<f32>(0.0); var pb = vec4<f32>(0.0);
          for (var i = 0u; i < H4; i++) {
            let qj = subgroupShuffle(qr[i], base + j);
            let oj = subgroupShuffle(or[i], base + j);
            sa = fma(qj, ka[i], sa); sb = fma(qj, kb[i], sb);
            pa = fma(oj, va[i], pa); pb = fma(oj, vb[i], pb);
          }
          let lj = subgroupShuffle(lr, base + j);
          let Dj = subgroupShuffle(Dr, base + j);
          let ea = exp(hsum(sa) - lj); let eb = exp(hsum(sb) - lj);
          let dsa = ea * (hsum(pa) - Dj); let dsb = eb * (hsum(pb) - Dj);
          for (var i = 0u; i < H4; i++) {
            let qj = subgroupShuffle(qr[i], base + j);
            let oj = subgroupShuffle(or[i], base + j);
            dva[i] = select(dva[i], fma(vec4<f32>(ea), oj, dva[i]), ona);
            dka[i] = select(dka[i], fma(vec4<f32>(dsa), qj, dka[i]), ona);
            dvb[i] = select(dvb[i], fma(vec4<f32>(eb), oj, dvb[i]), onb);
            dkb[i] = select(dkb[i], fma(vec4<f32>(dsb), qj, dkb[i]), onb);
          }
        }
      }
    }
  }
  if (livea) {
    let to = (b * bd.T + ua) * bd.os + kvh * bd.HS;
    for (var i = 0u; i < H4; i++) { stg(to + bd.dk0, 4u * i, bd.HS, dka[i]); stg(to + bd.dv0, 4u * i, bd.HS, dva[i]); }
  }
  if (liveb) {
    let to = (b * bd.T + ub) * bd.os + kvh * bd.HS;
    for (var i = 0u; i < H4; i++) { stg(to + bd.dk0, 4u * i, bd.HS, dkb[i]); stg(to + bd.dv0, 4u * i, bd.HS, dvb[i]); }
  }
}
