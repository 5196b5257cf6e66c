// crossentropy: losses[n] = logsumexp(logits[n,:]) - logits[n, targets[n]] (softmax + NLL, fused)
// losses: (N)   logits: (N,V)   targets: (N) u32
// reference: llm.c crossentropy_forward; PyTorch F.cross_entropy(reduction='none')
// one workgroup per row: 1) max  2) sum of exp(x - max)  3) loss
override WG: u32 = 64;
struct Dims { N: u32, V: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<u32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn crossentropy_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.V;                   // seek to logits[row,:]
  // 1) max
  var m = -3.4e38;
  for (var i = lid.x; i < d.V; i += WG) { m = max(m, logits[x + i]); }
  partial[lid.x] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid.x < s) { partial[lid.x] = max(partial[lid.x], partial[lid.x + s]); }
    workgroupBarrier();
  }
  let maxv = partial[0];
  workgroupBarrier();
  // 2) sum of exp
  var sum = 0.0;
  for (var i = lid.x; i < d.V; i += WG) { sum += exp(logits[x + i] - maxv); }
  partial[lid.x] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  // 3) loss
  if (lid.x == 0u) { losses[row] = log(partial[0]) + maxv - logits[x + targets[row]]; }
}
