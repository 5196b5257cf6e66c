// bench: `npm run bench`, the one place speed is measured. Every row is timed on the same adapter in the
// same run, so the ratios mean something even on a shared or slow machine (lavapipe). Uses dist/.
//   1) an FMA-only microbench: this adapter's practical f32 peak (the kernel of ../shared/bench/fma_peak.mjs)
//   2) matmul, every variant this adapter runs, at 1024^3 and at GPT-2 124M's shapes (1024 tokens x
//      768->2304, 768->3072, 3072->768, 768->50257; 4096^3 with BENCH_MATMUL_BIG=1): GFLOP/s and % of the
//      peak, at f32 and (shader-f16) f16, the f16 rows with the subgroup-matrix variant where it runs
//   3) attention forward + backward (GPT-2 heads: 12 x 64) at T 256 and 1024, every variant
//   4) training tokens/s and model-FLOPs utilisation (6 * params * tokens/s / peak) of a small GPT-2-style
//      model (V 512, C 128, L 4, H 4, T 64, B 8) and of GPT-2 124M (B 4, T 256), at f32 and (shader-f16) f16,
//      and the memory plan against the measured peak
//   4b) the same training step with knowledge distillation from a teacher of twice the blocks (kd)
//   5) the peer: tfjs-webgpu's training step (../shared/bench/tfjs_gpt_step.mjs) on the same two configs,
//      installed on first use into node_modules/.cache/inheritune-bench (npm registry)
//   6) the PyTorch CPU peer (bench/torch_peer.mjs, bench/torch_gpt2_step.py) on the same configs, B, T and
//      timed steps, at one thread and at all threads, when /usr/bin/python3 has torch on a real BLAS (the
//      header says which BLAS, and a 1024^3 sgemm's GFLOP/s; a reference BLAS skips the rows, saying so)
// Environment: BENCH_SKIP_GPT2=1 leaves out the GPT-2 124M rows (minutes on a CPU driver); BENCH_PEER_TIMEOUT
// (seconds, default 900) bounds each peer run; BENCH_JSON=FILE also writes every figure as JSON;
// BENCH_ONLY=a,b runs only those sections (peak, matmul, attention, train, kd, tfjs, torch; for development:
// e.g. BENCH_ONLY=train,torch BENCH_SKIP_GPT2=1); BENCH_PYTHON (default /usr/bin/python3) and
// BENCH_TORCH_MIN_GFLOPS (default 20; 1e9 fakes a reference BLAS) steer the PyTorch rows.
import { existsSync, mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { createGpu, kernels as K, Model, Trainer, TRAIN_DEFAULTS, initCheckpoint, countParameters, memoryPlan } from '../dist/node.mjs';
import { SMALL, GPT2 } from './configs.mjs';
import { probeTorch, torchStep } from './torch_peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SHARED_BENCH = resolve(here, '../../shared/bench');
const SKIP_GPT2 = process.env.BENCH_SKIP_GPT2 === '1';
const PEER_TIMEOUT = Number(process.env.BENCH_PEER_TIMEOUT ?? 900);
const SECTIONS = ['peak', 'matmul', 'attention', 'train', 'kd', 'tfjs', 'torch'];
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : SECTIONS;
const unknown = ONLY.filter((s) => !SECTIONS.includes(s));
if (unknown.length) throw new Error(`BENCH_ONLY: unknown section ${unknown.join(', ')}; expected a comma list of ${SECTIONS.join(', ')}`);
const on = (s) => ONLY.includes(s);
const g = await createGpu();
const report = g.report();
const out = { date: new Date().toISOString(), adapter: report.adapter, features: report.features, rows: [] };
const rows = out.rows;
// each row also rewrites BENCH_JSON, so a run stopped by a time limit (bench/device.sh) keeps what it measured
const row = (what, variant, fields) => { rows.push({ what, variant, ...fields }); print(rows[rows.length - 1]); saveJson(); };
const saveJson = () => { if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(out, null, 1) + '\n'); };
console.log(`adapter: ${Object.values(report.adapter).join(' / ')} (${report.runtime}); features: ${report.features.join(' ')}`);
const torch = on('torch') ? probeTorch() : null;    // before the GPU rows, so its subprocesses are done by then
if (torch) { out.torch = { header: torch.header, skipped: torch.why ?? undefined }; for (const l of [torch.header, torch.why]) if (l) console.log(l); }
console.log('');

const rnd = (n, seed) => { let x = seed >>> 0; const a = new Float32Array(n); for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; a[i] = x / 2 ** 32 - 0.5; } return a; };

// 1) FMA peak: 65536 threads x 1024 iterations x 4 vec4 fma, awaited as every other row is (g.sync: in Node
//    through src/node/settle.ts, without Dawn's busy poll, which would take a core from a CPU driver)
const peak = !on('peak') ? NaN : await (async () => {
  const d = g.device;
  const code = `@group(0) @binding(0) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  var a = vec4<f32>(f32(id.x)); var b = a + 1.0; var c = a + 2.0; var e = a + 3.0; let m = vec4<f32>(0.999); let k = vec4<f32>(0.001);
  for (var i = 0u; i < 1024u; i++) { a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); e = fma(e, m, k); }
  o[id.x] = a + b + c + e; }`;
  const p = d.createComputePipeline({ layout: 'auto', compute: { module: d.createShaderModule({ code }), entryPoint: 'main' } });
  const threads = 65536, buf = d.createBuffer({ size: threads * 16, usage: GPUBufferUsage.STORAGE });
  const bg = d.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] });
  const run = async () => { const e = d.createCommandEncoder(); const ps = e.beginComputePass(); ps.setPipeline(p); ps.setBindGroup(0, bg); ps.dispatchWorkgroups(threads / 64); ps.end(); d.queue.submit([e.finish()]); await g.sync(); };
  await run();
  let best = 0;
  for (let r = 0; r < 5; r++) { const t0 = performance.now(); await run(); best = Math.max(best, (threads * 1024 * 4 * 4 * 2) / ((performance.now() - t0) / 1000) / 1e9); }
  buf.destroy();
  return best;
})();
out.fma_peak_gflops = peak;
if (on('peak')) row('FMA-only microbench (the peak below)', '', { gflops: peak, pct: 100 });

// 2) matmul: every variant at 1024^3 and at GPT-2 124M's forward shapes (and 4096^3 with BENCH_MATMUL_BIG=1),
//    at f32 and, where the adapter has shader-f16, at --precision f16 (operands rounded to f16, f32 sums),
//    where the tensor-core variant 'sgmatrix' (kernels/matmul_sgmatrix.wgsl) joins where the adapter has it
const variants = on('matmul') ? [...K.matmulCandidates(g, 4), 'scalar'] : [];
const f16Variants = on('matmul') && g.shaderF16 ? [...(K.hasSgmatrix(g) ? ['sgmatrix'] : []), ...variants] : [];
if (on('matmul')) console.log(`subgroup-matrix matmul: ${K.hasSgmatrix(g) ? `runs (${g.subgroupMatrix.M}x${g.subgroupMatrix.N}x${g.subgroupMatrix.K}, ${g.subgroupMatrix.lanes} lanes)` : `not run: ${K.sgmatrixMissing(g)}`}\n`);
const gpus = new Map();
for (const v of new Set([...variants, ...f16Variants])) gpus.set(v, await createGpu({ force: { matmul: v } }));
const mmShapes = [[1024, 1024, 1024, '1024^3'], [1024, 768, 2304, 'GPT-2 qkv 768->2304'], [1024, 768, 3072, 'GPT-2 fc 768->3072'],
  [1024, 3072, 768, 'GPT-2 proj 3072->768'], [1024, 768, 50257, 'GPT-2 head 768->50257'], ...(process.env.BENCH_MATMUL_BIG === '1' ? [[4096, 4096, 4096, '4096^3']] : [])];
for (const [N, C, OC, label] of mmShapes) for (const precision of f16Variants.length ? ['f32', 'f16'] : ['f32']) {
  for (const [v, gv] of gpus) {
    if (!(precision === 'f32' ? variants : f16Variants).includes(v)) continue;
    const t = (n, s) => { const x = gv.tensor(n, 'bench'); gv.upload(x, rnd(n, s)); return x; };
    const x = t(N * C, 1), w = t(OC * C, 2), o = gv.tensor(N * OC, 'bench');
    const fn = () => K.matmulForward(gv, o, x, w, null, N, C, OC, OC, { precision, f32Out: true });
    fn(); await gv.sync();
    let best = Infinity;
    for (let r = 0; r < 2; r++) { const t0 = performance.now(); fn(); await gv.sync(); best = Math.min(best, performance.now() - t0); }
    const gf = (2 * N * C * OC) / (best / 1e3) / 1e9;
    row(`matmul ${label}`, precision === 'f32' ? v : `${v} f16`, { ms: best, gflops: gf, pct: (100 * gf) / peak });
    for (const b of [x, w, o]) gv.release(b.buffer);
    await gv.sync();
  }
}
for (const gv of gpus.values()) gv.destroy();

// 3) attention forward + backward, GPT-2 heads, every variant this adapter runs
const agpus = new Map();
for (const v of on('attention') ? K.attentionVariants(g) : []) agpus.set(v, await createGpu({ force: { attention: v } }));
for (const [B, T] of [[4, 256], [1, 1024]]) for (const [av, ga] of agpus) {
  const NH = 12, HS = 64, C = NH * HS;
  const put = (a) => { const x = ga.tensor(a.length, 'bench'); ga.upload(x, a); return x; };
  const q = put(rnd(B * T * C, 3)), k = put(rnd(B * T * C, 4)), v = put(rnd(B * T * C, 5)), dout = put(rnd(B * T * C, 6));
  const o = ga.tensor(B * T * C, 'bench'), lse = ga.tensor(B * NH * T, 'bench'), dq = ga.tensor(B * T * C, 'bench');
  const dkv = ga.tensor(2 * Math.ceil((B * T * C) / 64) * 64, 'bench');
  const dk = K.slice(dkv, 0, B * T * C), dv = K.slice(dkv, Math.ceil((B * T * C) / 64) * 64, B * T * C);
  const flop = 2 * B * NH * T * T * HS;           // QK^T and PV over the causal half
  const time = async (fn) => { fn(); await ga.sync(); let best = Infinity; for (let r = 0; r < 2; r++) { const t0 = performance.now(); fn(); await ga.sync(); best = Math.min(best, performance.now() - t0); } return best; };
  const f = await time(() => K.attentionForward(ga, o, lse, q, k, v, B, T, NH, NH, HS));
  const b = await time(() => K.attentionBackward(ga, dq, dk, dv, dout, o, lse, q, k, v, B, T, NH, NH, HS));
  row(`attention forward, B ${B} T ${T}, 12 heads x 64`, av, { ms: f, gflops: flop / (f / 1e3) / 1e9, pct: (100 * flop / (f / 1e3) / 1e9) / peak });
  row(`attention backward, B ${B} T ${T}, 12 heads x 64`, av, { ms: b, gflops: (2.5 * flop) / (b / 1e3) / 1e9, pct: (100 * 2.5 * flop / (b / 1e3) / 1e9) / peak });
  for (const x of [q, k, v, dout, o, lse, dq, dkv]) ga.release(x.buffer);
  await ga.sync();
}
for (const ga of agpus.values()) ga.destroy();

// 4) training steps through the Trainer (forward, backward, clip, AdamW, one readback)
const configs = [['small GPT-2-style (V 512, C 128, L 4, H 4)', SMALL, 8, 64, 10, [512, 128, 4, 4, 64, 8, 10]],
  ...(SKIP_GPT2 ? [] : [['GPT-2 124M', GPT2, 4, 256, 2, [50257, 768, 12, 12, 256, 4, 1]]])];
// at f32 and, where the adapter has shader-f16, at --precision f16 (f16 matmul operands and outputs, the
// blocks' f16 activations stored in f16)
const precisions = !on('train') ? [] : g.shaderF16 ? ['f32', 'f16'] : ['f32'];
for (const [name, cfg, B, T, steps] of configs) for (const precision of precisions) {
  await g.sync();
  const live0 = g.memory.live;
  g.resetPeak();
  const m = Model.create(g, initCheckpoint(cfg, 1));
  const data = new Uint32Array((steps + 4) * B * T + 1).map((_, i) => (i * 7919) % cfg.vocabSize);
  const tr = new Trainer(m, data, data.subarray(0, T + 1), { ...TRAIN_DEFAULTS, steps: steps + 2, batch: B, seq: T, sampling: 'random', valWindows: 1, precision });
  await tr.step();                                 // the first step also tunes the kernels
  await tr.step();                                 // and the second makes the chosen pipelines' bind groups (the peer also warms up)
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await tr.step();
  const s = (performance.now() - t0) / 1000 / steps, tps = (B * T) / s, P = countParameters(cfg);
  const variant = precision === 'f32' ? 'inheritune-rt' : 'inheritune-rt --precision f16';
  row(`train ${name}, B ${B} T ${T}`, variant, { ms: s * 1000, tokens_per_s: tps, mfu: (100 * 6 * P * tps) / 1e9 / peak });
  // the memory plan (inheritune-rt plan) against the peak of live GPU bytes over creation and the steps
  const plan = memoryPlan(cfg, { batch: B, seq: T, optim: 'adamw', precision }, { maxBufferSize: g.limits.maxBufferSize, maxStorageBufferBindingSize: g.limits.maxStorageBufferBindingSize });
  const measured = g.memory.peak - live0, mib = (x) => (x / 2 ** 20).toFixed(1), acts = plan.parts.find((p) => p.part === 'activations').bytes;
  row(`memory plan vs measured peak, ${name}, B ${B} T ${T}`, variant, { note: `plan ${mib(plan.total)} MiB (activations ${mib(acts)}, measured ${mib(m.activationBytes)}), measured peak ${mib(measured)} MiB: plan/measured ${(plan.total / measured).toFixed(3)}` });
  tr.destroy(); m.destroy();
  await g.sync();
}

// 4b) the knowledge-distillation step (train --teacher): the same student step plus the teacher's forward and
// the fused KD loss, the teacher the same config at twice the blocks (the reference an inherited half comes
// from), over its whole distribution and over its top 32
for (const [name, cfg, B, T, steps] of on('kd') ? configs : []) for (const topk of [0, 32]) {
  await g.sync();
  const m = Model.create(g, initCheckpoint(cfg, 1)), teacher = Model.create(g, initCheckpoint({ ...cfg, nLayers: 2 * cfg.nLayers }, 2));
  const data = new Uint32Array((steps + 4) * B * T + 1).map((_, i) => (i * 7919) % cfg.vocabSize);
  const tr = new Trainer(m, data, data.subarray(0, T + 1), { ...TRAIN_DEFAULTS, steps: steps + 2, batch: B, seq: T, sampling: 'random', valWindows: 1,
    distill: { alpha: 0.5, temperature: 1, topk } }, undefined, { model: teacher });
  await tr.step();
  await tr.step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await tr.step();
  const sec = (performance.now() - t0) / 1000 / steps, plain = rows.find((x) => x.what === `train ${name}, B ${B} T ${T}` && x.variant === 'inheritune-rt');
  row(`train ${name}, B ${B} T ${T}`, `inheritune-rt + KD from a ${2 * cfg.nLayers}-block teacher${topk ? `, top ${topk}` : ''}`,
    { ms: sec * 1000, tokens_per_s: (B * T) / sec, note: plain?.ms ? `${(sec * 1000 / plain.ms).toFixed(2)}x the plain step's time` : '' });
  tr.destroy(); m.destroy(); teacher.destroy();
  await g.sync();
}

// 5) the peer in the same run: tfjs-webgpu's training step on the same configs
const peerDir = resolve(here, '../node_modules/.cache/inheritune-bench');
function peerReady() {
  if (!existsSync(join(SHARED_BENCH, 'tfjs_gpt_step.mjs'))) return 'no ../shared/bench/tfjs_gpt_step.mjs beside the repository';
  if (!existsSync(join(peerDir, 'node_modules/@tensorflow/tfjs-backend-webgpu'))) {
    mkdirSync(peerDir, { recursive: true });
    console.log('installing the tfjs peer into node_modules/.cache/inheritune-bench (once) ...');
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', peerDir,
      '@tensorflow/tfjs@4.22.0', '@tensorflow/tfjs-backend-webgpu@4.22.0', 'webgpu@0.6.2'], { stdio: 'inherit' });
    if (r.status !== 0) return 'npm install of @tensorflow/tfjs failed';
  }
  copyFileSync(join(SHARED_BENCH, 'tfjs_gpt_step.mjs'), join(peerDir, 'tfjs_gpt_step.mjs'));
  return null;
}
const why = on('tfjs') ? peerReady() : null;
for (const [name, , B, T, , args] of on('tfjs') ? configs : []) {
  if (why) { row(`train ${name}, B ${B} T ${T}`, 'tfjs-webgpu 4.22', { note: why }); continue; }
  const r = spawnSync(process.execPath, [join(peerDir, 'tfjs_gpt_step.mjs'), ...args.map(String)], { encoding: 'utf8', timeout: PEER_TIMEOUT * 1000 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
  if (!line) { row(`train ${name}, B ${B} T ${T}`, 'tfjs-webgpu 4.22', { note: r.error?.code === 'ETIMEDOUT' ? `no step within ${PEER_TIMEOUT} s` : `failed: ${(r.stderr ?? '').split('\n').filter(Boolean).at(-1)}` }); continue; }
  const j = JSON.parse(line);
  const ours = rows.find((x) => x.what === `train ${name}, B ${B} T ${T}` && x.variant === 'inheritune-rt');
  row(`train ${name}, B ${B} T ${T}`, 'tfjs-webgpu 4.22', { ms: j.ms_per_step, tokens_per_s: j.tokens_per_s, mfu: (100 * 6 * countParameters(name.startsWith('GPT') ? GPT2 : SMALL) * j.tokens_per_s) / 1e9 / peak,
    note: ours ? `inheritune-rt is ${(ours.tokens_per_s / j.tokens_per_s).toFixed(1)}x` : undefined });
}

// 6) the PyTorch CPU peer: the same configs, B, T, warm-up and timed steps, AdamW with the Trainer's
//    defaults, at one thread and at all threads; the ratio is ours / PyTorch tokens/s
for (const [name, cfg, B, T, steps] of torch ? configs : []) {
  const what = `train ${name}, B ${B} T ${T}`;
  if (torch.why) { row(what, 'PyTorch CPU', { note: torch.why }); continue; }
  const ours = rows.find((x) => x.what === what && x.variant === 'inheritune-rt');
  let one;                                         // the one-thread figure, for the all-threads row's sanity note
  for (const n of torch.threads) {
    const variant = `${torch.label}, ${n} thread${n > 1 ? 's' : ''}`;
    const j = torchStep(cfg, B, T, steps, n, TRAIN_DEFAULTS, PEER_TIMEOUT);
    if (j.note) { row(what, variant, { note: j.note }); continue; }
    const P = countParameters(cfg), ratio = ours ? ours.tokens_per_s / j.tokens_per_s : undefined;
    const notes = [ratio ? `inheritune-rt is ${ratio.toFixed(2)}x` : '', j.params !== P ? `PyTorch model has ${j.params} parameters, ours ${P}` : '',
      j.attention !== 'sdpa' ? `attention: ${j.attention} (torch < 2.0)` : '', j.blas_threads !== null && j.blas_threads !== n ? `BLAS ran ${j.blas_threads} threads` : '',
      // OpenMP's spinning barriers stall when other work holds a core: such a row is the host's, not torch's
      n > 1 && one && j.tokens_per_s < one ? `slower than 1 thread (load average ${loadavg()[0].toFixed(1)}: busy cores stall OpenMP's barriers)` : ''];
    if (n === 1) one = j.tokens_per_s;
    row(what, variant, { ms: j.ms_per_step, tokens_per_s: j.tokens_per_s, threads: n, blas_threads: j.blas_threads, params: j.params,
      ours_over_torch: ratio, note: notes.filter(Boolean).join('; ') || undefined });
  }
}

function print(r) {
  if (rows.length === 1) { console.log('| what | variant | ms | GFLOP/s | % of peak | tokens/s | MFU % | note |'); console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |'); }
  const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '');
  console.log(`| ${r.what} | ${r.variant} | ${f(r.ms, 1)} | ${f(r.gflops, 2)} | ${f(r.pct, 0)} | ${f(r.tokens_per_s, 0)} | ${f(r.mfu, 0)} | ${r.note ?? ''} |`);
}
saveJson();
g.destroy();
process.exit(0);
