// bench: `npm run bench`. Speed is measured here, never in tests: every row is timed on the same
// adapter in the same run, and ratios are printed side by side. Uses the built package (dist/).
//   1) matmul: the package kernel vs the 16x16 shared-memory tiled variant (bench/matmul_tiled16.wgsl)
//   2) one forward kernel of each kind at stories260K eval shapes (B=8, T=256)
//   3) whole-model forward throughput (demo model; stories260K when ../shared/data is present)
import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGpu, kernels as K, Model, Trainer, TRAIN_DEFAULTS, ropeTables, parseLlama2c, initCheckpoint, BUILTIN_REFERENCE } from '../dist/node.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const g = await createGpu();
const rows = [];
const report = g.report();
console.log(`adapter: ${Object.values(report.adapter).join(' / ')} (${report.runtime})\n`);

async function time(fn, reps = 5) {
  fn(); await g.sync();                         // warm-up: pipeline compile, first touch
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  await g.sync();
  return (performance.now() - t0) / reps;
}
const buf = (n) => g.tensor(n, 'bench');

// 1) matmul variants
const tiled = (() => {
  const module = g.device.createShaderModule({ code: readFileSync(resolve(here, 'matmul_tiled16.wgsl'), 'utf8') });
  const pipeline = g.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'matmul_tiled16' } });
  return (out, inp, w, N, C, OC) => {
    const u = g.device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    g.device.queue.writeBuffer(u, 0, new Uint32Array([N, C, OC, OC, 0, 0, 0, 0]));
    const bg = g.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0),
      entries: [u, out.buffer, inp.buffer, w.buffer].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    return () => {
      g.flush();
      const e = g.device.createCommandEncoder(), p = e.beginComputePass();
      p.setPipeline(pipeline); p.setBindGroup(0, bg); p.dispatchWorkgroups(Math.ceil(OC / 16), Math.ceil(N / 16)); p.end();
      g.device.queue.submit([e.finish()]);
    };
  };
})();
for (const [N, C, OC] of [[2048, 64, 64], [2048, 64, 172], [2048, 172, 64], [2048, 64, 512]]) {
  const x = buf(N * C), w = buf(OC * C), o = buf(N * OC);
  const gflop = (2 * N * C * OC) / 1e9;
  const ours = await time(() => K.matmulForward(g, o, x, w, null, N, C, OC));
  const base = await time(tiled(o, x, w, N, C, OC));
  rows.push([`matmul ${N}x${C}x${OC}`, 'tiled16 (shared mem)', base, gflop / (base / 1e3), 1]);
  rows.push(['', 'matmul_forward (4x4 regs)', ours, gflop / (ours / 1e3), base / ours]);
}

// 2) one kernel of each kind at stories260K eval shapes
{
  const B = 8, T = 256, C = 64, H = 172, NH = 8, KVH = 4, HS = 8, V = 512, BT = B * T;
  const x = buf(BT * C), y = buf(BT * C), q = buf(BT * C), k = buf(BT * KVH * HS), v = buf(BT * KVH * HS);
  const att = buf(B * NH * T * T), r = buf(BT), h1 = buf(BT * H), h2 = buf(BT * H), h3 = buf(BT * H), lg = buf(BT * V), w = buf(C);
  const tg = buf(BT);
  g.upload(tg, new Uint32Array(BT));
  const { cos, sin } = ropeTables(T, HS, 10000);
  const fc = buf(cos.length), fs = buf(sin.length);
  g.upload(fc, cos); g.upload(fs, sin);
  for (const [name, fn] of [
    ['rmsnorm_forward', () => K.rmsnormForward(g, y, r, x, w, BT, C, 1e-5)],
    ['rope_forward', () => K.ropeForward(g, q, fc, fs, B, T, NH, HS, 0)],
    ['attention_forward', () => K.attentionForward(g, y, att, q, k, v, B, T, NH, KVH, HS)],
    ['swiglu_forward', () => K.swigluForward(g, h1, h2, h3, BT * H)],
    ['residual_forward', () => K.residualForward(g, y, x, q, BT * C)],
    ['crossentropy_forward', () => K.crossentropyForward(g, r, lg, tg, BT, V)],
  ]) rows.push([name, 'B=8 T=256 (stories260K)', await time(fn), NaN, NaN]);
}

// 3) whole-model forward throughput
const models = [['built-in reference (random init)', initCheckpoint(BUILTIN_REFERENCE, 1)]];
const s260 = resolve(here, '../../shared/data/stories260k/stories260K.bin');
if (existsSync(s260)) models.push(['stories260K', parseLlama2c(new Uint8Array(readFileSync(s260)))]);
for (const [name, ck] of models) {
  const m = Model.create(g, ck);
  for (const [B, T] of [[1, 256], [8, 256]]) {
    const ids = new Uint32Array(B * T).map((_, i) => i % ck.config.vocabSize);
    const ms = await time(() => m.forward(ids, B, T, ids), 3);
    rows.push([`forward ${name}`, `B=${B} T=${T}`, ms, NaN, NaN, (B * T) / (ms / 1e3)]);
  }
  // training steps (forward + backward + clip + AdamW, one readback) through the Trainer
  const [B, T] = [16, 64];
  const data = new Uint32Array(20 * B * T + 1).map((_, i) => (i * 7) % ck.config.vocabSize);
  const trainer = new Trainer(m, data, data.subarray(0, T + 1), { ...TRAIN_DEFAULTS, steps: 4, batch: B, seq: T, sampling: 'random', evalEvery: 0, valWindows: 1 });
  await trainer.step();
  const t0 = performance.now();
  for (let i = 0; i < 2; i++) await trainer.step();
  const ms = (performance.now() - t0) / 2;
  trainer.destroy();
  rows.push([`train step ${name}`, `B=${B} T=${T}`, ms, NaN, NaN, (B * T) / (ms / 1e3)]);
  m.destroy();
}

const fmt = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '');
console.log('| what | variant | ms | GFLOP/s | speed-up | tokens/s |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const [a, b, ms, gf, ratio, tps] of rows) {
  console.log(`| ${a} | ${b} | ${fmt(ms, 2)} | ${fmt(gf, 2)} | ${Number.isFinite(ratio) ? fmt(ratio, 2) + 'x' : ''} | ${fmt(tps ?? NaN, 0)} |`);
}
g.destroy();
