// crossentropy: losses[n] = logsumexp(logits[n,:]) - logits[n, targets[n]] (softmax + NLL, fused)
// losses: (N)   logits: (N,V) in rows of ld >= V floats   targets: (N) u32
// backward (fused with the softmax, llm.c crossentropy_softmax_backward), in place:
//   logits[n,i] <- (softmax(logits[n,:])_i - [i == targets[n]]) * dlosses[n]   (dlosses: (N); 1/(B*T) for a mean)
// so training keeps one (N, ld) buffer, not logits and dlogits (llm.c's fused classifier does the same);
// the ld - V padding columns are set to 0. Nothing is cached by forward: backward recomputes the softmax.
// reference: llm.c crossentropy_forward; PyTorch F.cross_entropy(reduction='none')
// one workgroup per row: 1) max  2) sum of exp(x - max)  3) loss, or the gradient of each logit
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/crossentropy.ts)
struct Dims { N: u32, V: u32, ld: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<u32>;

//#include _rows.wgsl

@compute @workgroup_size(WG)
fn crossentropy_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.ld;                  // seek to logits[row,:]
  // 1) max
  var m = -3.4e38;
  for (var i = lid.x; i < d.V; i += WG) { m = max(m, logits[x + i]); }
  let maxv = row_max(m, lid.x);
  // 2) sum of exp
  var sum = 0.0;
  for (var i = lid.x; i < d.V; i += WG) { sum += exp(logits[x + i] - maxv); }
  let total = row_sum(sum, lid.x);
  // 3) loss
  if (lid.x == 0u) { losses[row] = log(total) + maxv - logits[x + targets[row]]; }
}

@group(0) @binding(1) var<storage, read_write> blogits: array<f32>;   // in: logits, out: dlogits
@group(0) @binding(2) var<storage, read> dlosses: array<f32>;
@group(0) @binding(3) var<storage, read> btargets: array<u32>;

@compute @workgroup_size(WG)
fn crossentropy_softmax_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                                 @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.ld;                  // seek to logits[row,:]
  // 1) max
  var m = -3.4e38;
  for (var i = lid.x; i < d.V; i += WG) { m = max(m, blogits[x + i]); }
  let maxv = row_max(m, lid.x);
  // 2) sum of exp
  var sum = 0.0;
  for (var i = lid.x; i < d.V; i += WG) { sum += exp(blogits[x + i] - maxv); }
  let inv = 1.0 / row_sum(sum, lid.x);
  // 3) dlogits = (p - onehot(target)) * dloss, over the logits (each thread rewrites what it read)
  let tgt = btargets[row];
  let dloss = dlosses[row];
  for (var i = lid.x; i < d.V; i += WG) {
    let p = exp(blogits[x + i] - maxv) * inv;
    blogits[x + i] = (p - select(0.0, 1.0, i == tgt)) * dloss;
  }
  for (var i = d.V + lid.x; i < d.ld; i += WG) { blogits[x + i] = 0.0; }
}
