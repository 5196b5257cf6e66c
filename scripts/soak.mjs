// soak: `npm run soak`. 20,000 tiny training steps with a checkpoint (an HF directory, the optimizer
// moments, trainer state) written every 1,000 through the same code as `train`, memory sampled every
// 1,000 steps. Passes when no GPU error or non-finite step occurred and memory stayed flat: the resident
// set and the JS heap at the end within 64 MiB / 16 MiB of their value after the first 2,000 steps
// (warm-up: pipelines, caches). Prints a table of the samples; SOAK_STEPS overrides the step count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGpu, TRAIN_DEFAULTS, initCheckpoint, trainRun, writeDirAtomic, hfFiles } from '../dist/node.mjs';

const STEPS = Number(process.env.SOAK_STEPS ?? 20000), EVERY = 1000;
const cfg = { family: 'llama', dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, ropeMode: 'rotate_half', tiedEmbeddings: true };
let x = 1;
const tokens = Array.from({ length: 40000 }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) % cfg.vocabSize);
const dir = mkdtempSync(join(tmpdir(), 'itrt-soak-'));
const g = await createGpu();
const MiB = 2 ** 20;
const samples = [];
const sample = (step) => { global.gc?.(); const m = process.memoryUsage(); samples.push({ step, rss: m.rss / MiB, heap: m.heapUsed / MiB, external: m.external / MiB }); };

// the checkpoints go through train's own save path: chunks of EVERY steps, each a trainRun resumed from the last
const opts = { ...TRAIN_DEFAULTS, batch: 4, seq: 16, lr: 1e-3, sampling: 'random', evalEvery: 0, valWindows: 2 };
writeDirAtomic(join(dir, 'init'), hfFiles(initCheckpoint(cfg, 1)));
const t0 = performance.now();
let losses = [];
sample(0);
for (let done = 0; done < STEPS; done += EVERY) {
  const r = await trainRun(g, { model: join(dir, 'init'), out: join(dir, 'run'), resume: done > 0, saveEvery: EVERY,
    opts: { ...opts, steps: done + EVERY }, train: tokens.slice(0, 36000), val: tokens.slice(36000), progress: null });
  losses = r.metrics.map((m) => m.loss);
  if (!losses.every(Number.isFinite)) throw new Error(`a non-finite loss by step ${done + EVERY}`);
  await g.sync(); // throws any GPU error
  sample(done + EVERY);
}
const s = (performance.now() - t0) / 1000;
console.log(`soak: ${STEPS} steps (B 4, T 16, a 2-block model), a checkpoint every ${EVERY}, ${s.toFixed(0)} s (${(STEPS / s).toFixed(0)} steps/s); loss ${losses[0].toFixed(3)} -> ${losses.at(-1).toFixed(3)}`);
console.log('| step | RSS MiB | JS heap MiB | external MiB |\n| ---: | ---: | ---: | ---: |');
for (const m of samples) console.log(`| ${m.step} | ${m.rss.toFixed(0)} | ${m.heap.toFixed(1)} | ${m.external.toFixed(1)} |`);
const ref = samples.find((m) => m.step >= 2 * EVERY) ?? samples[0], end = samples.at(-1);
g.destroy();
rmSync(dir, { recursive: true, force: true });
const grew = { rss: end.rss - ref.rss, heap: end.heap - ref.heap };
console.log(`growth after step ${ref.step}: RSS ${grew.rss.toFixed(1)} MiB, heap ${grew.heap.toFixed(1)} MiB`);
if (grew.rss > 64 || grew.heap > 16) { console.error('soak: memory grew: FAIL'); process.exit(1); }
console.log('soak: PASS');
process.exit(0);
