// distill: knowledge distillation's loss and its gradient over the student's logits, fused with the
// next-token cross-entropy (Hinton et al. 2015; torchtune's KD recipe is this form at T = 1):
//   loss[n] = (1 - A) ce[n] + A T^2 kd[n]
//   ce[n] = logsumexp(zs[n,:]) - zs[n, y[n]]
//   full:  kd[n] = sum_i p_i (log p_i - log q_i),   p = softmax(zt[n,:] / T), q = softmax(zs[n,:] / T)
//   top-K: kd[n] = sum_k p_k (log p_k - log q[id_k]), p_k = softmax over the K teacher logits vk[n,k] / T
//          (the teacher's K most probable ids at T, renormalized), q the student's whole softmax at T
// zs (student logits), zt (teacher logits): (N,V) in rows of ld >= V floats   y: (N) u32
// vk: (N,K) f32 teacher logits, ik: (N,K) u32 their ids (distinct within a row)   ce, kd, dl: (N)
//   forward_full  (zs, y, zt, ce, kd)      forward_topk  (zs, y, vk, ik, ce, kd)
//   backward_full (zs, y, zt, dl)          backward_topk (zs, y, vk, ik, dl)      topk (zt, vk, ik)
// backward, in place over the student's logits (as crossentropy_softmax_backward), dl = dloss[n]:
//   dzs[n,i] = dl ((1 - A)(softmax(zs)_i - [i == y]) + A T (q_i - p_i))   (p_i = 0 off the top K)
// the ld - V padding columns are set to 0. Nothing is cached: backward recomputes the row statistics.
// distill_topk: the K largest teacher logits of each row in (value descending, id ascending) order,
// K rounds of a workgroup arg-max over what the previous round left (no mask, no sort buffer).
// reference: test/cpu.ts distill*; the PyTorch formulas of test/ref/distill_ref.py
// one workgroup per row, tree-reduced in workgroup memory (kernels/_rows.wgsl, as kernels/crossentropy.wgsl)
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/distill.ts)
struct Dims { N: u32, V: u32, ld: u32, K: u32, alpha: f32, temp: f32 }
@group(0) @binding(0) var<uniform> d: Dims;

//#include _rows.wgsl
var<workgroup> partial_id: array<u32, WG>;   // distill_topk's arg-max: the ids beside _rows' partial values

// the student row's statistics: max, sum exp(z - max), sum exp((z - max) / T)
struct Student { m: f32, s: f32, sT: f32 }

fn student_stats(x: u32, lid: u32) -> Student {
  var m = -3.4e38;
  for (var i = lid; i < d.V; i += WG) { m = max(m, zs[x + i]); }
  let mx = row_reduce(m, lid, true);
  var s = 0.0;
  var sT = 0.0;
  for (var i = lid; i < d.V; i += WG) { let z = zs[x + i] - mx; s += exp(z); sT += exp(z / d.temp); }
  return Student(mx, row_reduce(s, lid, false), row_reduce(sT, lid, false));
}

// the teacher row at T: max and sum exp((z - max) / T), over the whole row (full) or its K kept logits
struct Teacher { m: f32, s: f32 }

fn teacher_full(x: u32, lid: u32) -> Teacher {
  var m = -3.4e38;
  for (var i = lid; i < d.V; i += WG) { m = max(m, zt[x + i]); }
  let mx = row_reduce(m, lid, true);
  var s = 0.0;
  for (var i = lid; i < d.V; i += WG) { s += exp((zt[x + i] - mx) / d.temp); }
  return Teacher(mx, row_reduce(s, lid, false));
}

fn teacher_topk(k0: u32, lid: u32) -> Teacher {
  var m = -3.4e38;
  for (var k = lid; k < d.K; k += WG) { m = max(m, vk[k0 + k]); }
  let mx = row_reduce(m, lid, true);
  var s = 0.0;
  for (var k = lid; k < d.K; k += WG) { s += exp((vk[k0 + k] - mx) / d.temp); }
  return Teacher(mx, row_reduce(s, lid, false));
}

// bindings: the student's logits, targets and the teacher's side first (the row helpers above read them),
// then what each entry writes or scales by
@group(0) @binding(1) var<storage, read_write> zs: array<f32>;   // student logits (dlogits out in backward)
@group(0) @binding(2) var<storage, read> y: array<u32>;
@group(0) @binding(3) var<storage, read> zt: array<f32>;         // full: the teacher's logits
@group(0) @binding(3) var<storage, read> vk: array<f32>;         // top-K: the teacher's kept logits
@group(0) @binding(4) var<storage, read> ik: array<u32>;         //        and their ids
@group(0) @binding(4) var<storage, read_write> ce_full: array<f32>;
@group(0) @binding(5) var<storage, read_write> kd_full: array<f32>;
@group(0) @binding(5) var<storage, read_write> ce_topk: array<f32>;
@group(0) @binding(6) var<storage, read_write> kd_topk: array<f32>;
@group(0) @binding(4) var<storage, read> dl_full: array<f32>;    // backward: d(objective)/d(loss[n])
@group(0) @binding(5) var<storage, read> dl_topk: array<f32>;

@compute @workgroup_size(WG)
fn distill_forward_full(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.ld;                  // seek to zs[row,:], zt[row,:]
  let st = student_stats(x, lid.x);
  let te = teacher_full(x, lid.x);
  // kd = sum_i p_i (a_i - b_i) - log tT + log sT, with a = (zt - mt) / T, b = (zs - ms) / T, p = exp(a) / tT
  var acc = 0.0;
  for (var i = lid.x; i < d.V; i += WG) {
    let a = (zt[x + i] - te.m) / d.temp;
    acc += exp(a) * (a - (zs[x + i] - st.m) / d.temp);
  }
  let tot = row_reduce(acc, lid.x, false);
  if (lid.x == 0u) {
    ce_full[row] = log(st.s) + st.m - zs[x + y[row]];
    kd_full[row] = tot / te.s - log(te.s) + log(st.sT);
  }
}

@compute @workgroup_size(WG)
fn distill_forward_topk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.ld;
  let k0 = row * d.K;                  // seek to vk[row,:], ik[row,:]
  let st = student_stats(x, lid.x);
  let te = teacher_topk(k0, lid.x);
  // kd = sum_k p_k (a_k - b_k) - log tK + log sT, a_k = (vk - mt) / T, b_k = (zs[id_k] - ms) / T
  var acc = 0.0;
  for (var k = lid.x; k < d.K; k += WG) {
    let a = (vk[k0 + k] - te.m) / d.temp;
    acc += exp(a) * (a - (zs[x + ik[k0 + k]] - st.m) / d.temp);
  }
  let tot = row_reduce(acc, lid.x, false);
  if (lid.x == 0u) {
    ce_topk[row] = log(st.s) + st.m - zs[x + y[row]];
    kd_topk[row] = tot / te.s - log(te.s) + log(st.sT);
  }
}

// the dense part of the gradient of row x: (1 - A)(softmax(zs) - onehot(y)) + A T q, times dl
fn backward_dense(x: u32, row: u32, lid: u32, st: Student, dl: f32) {
  let tgt = y[row];
  for (var i = lid; i < d.V; i += WG) {
    let z = zs[x + i] - st.m;
    let p = exp(z) / st.s;
    let q = exp(z / d.temp) / st.sT;
    zs[x + i] = dl * ((1.0 - d.alpha) * (p - select(0.0, 1.0, i == tgt)) + d.alpha * d.temp * q);
  }
  for (var i = d.V + lid; i < d.ld; i += WG) { zs[x + i] = 0.0; }
}

@compute @workgroup_size(WG)
fn distill_backward_full(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.ld;
  let st = student_stats(x, lid.x);
  let te = teacher_full(x, lid.x);
  let dl = dl_full[row];
  let tgt = y[row];
  for (var i = lid.x; i < d.V; i += WG) {
    let z = zs[x + i] - st.m;
    let p = exp(z) / st.s;
    let q = exp(z / d.temp) / st.sT;
    let pt = exp((zt[x + i] - te.m) / d.temp) / te.s;
    zs[x + i] = dl * ((1.0 - d.alpha) * (p - select(0.0, 1.0, i == tgt)) + d.alpha * d.temp * (q - pt));
  }
  for (var i = d.V + lid.x; i < d.ld; i += WG) { zs[x + i] = 0.0; }
}

@compute @workgroup_size(WG)
fn distill_backward_topk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.ld;
  let k0 = row * d.K;
  let st = student_stats(x, lid.x);
  let te = teacher_topk(k0, lid.x);
  let dl = dl_topk[row];
  backward_dense(x, row, lid.x, st, dl);
  storageBarrier();                    // the dense writes of every thread, before the K columns are corrected
  workgroupBarrier();
  for (var k = lid.x; k < d.K; k += WG) {
    let pt = exp((vk[k0 + k] - te.m) / d.temp) / te.s;
    zs[x + ik[k0 + k]] -= dl * d.alpha * d.temp * pt;
  }
}

// topk: for each row of zt, its K largest values (vk) and their ids (ik), in (value desc, id asc) order
@compute @workgroup_size(WG)
fn distill_topk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.ld;
  let k0 = row * d.K;
  var pv = 3.4e38;                     // the previous round's pick: each round takes the best strictly after it
  var pi = 0xffffffffu;
  for (var k = 0u; k < d.K; k++) {
    var bv = -3.4e38;
    var bi = 0xffffffffu;
    for (var i = lid.x; i < d.V; i += WG) {
      let v = tz[x + i];
      let after = v < pv || (v == pv && (pi == 0xffffffffu || i > pi));
      if (after && (v > bv || (v == bv && i < bi))) { bv = v; bi = i; }
    }
    // arg-max over the workgroup, ties to the lower id
    partial[lid.x] = bv;
    partial_id[lid.x] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
      if (lid.x < s) {
        let ov = partial[lid.x + s];
        let oi = partial_id[lid.x + s];
        if (ov > partial[lid.x] || (ov == partial[lid.x] && oi < partial_id[lid.x])) { partial[lid.x] = ov; partial_id[lid.x] = oi; }
      }
      workgroupBarrier();
    }
    pv = partial[0];
    pi = partial_id[0];
    workgroupBarrier();
    if (lid.x == 0u) { vkw[k0 + k] = pv; ikw[k0 + k] = pi; }
  }
}

@group(0) @binding(1) var<storage, read> tz: array<f32>;          // topk: the teacher's logits
@group(0) @binding(2) var<storage, read_write> vkw: array<f32>;
@group(0) @binding(3) var<storage, read_write> ikw: array<u32>;
