// profile: where one training step's time goes, kernel by kernel. Records the dispatches of one step
// through the Trainer, then replays each alone, REPEAT times back to back in one submit (small: 4, so the wait's
// latency is spread over them), best of 3, and sums per entry point. The sum is close to the step's
// time on a CPU driver, which runs one dispatch at a time anyway; on a GPU, where dispatches overlap,
// read it as each kernel's cost in isolation. Kernels that accumulate are run REPEAT times too: the
// values are lost, the timing is not. Uses dist/.
//   node bench/profile.mjs [small|gpt2] [B] [T]    small: the bench's small GPT-2-style config, B 8 T 64;
//                                                  gpt2: GPT-2 124M, B 1 T 256 (a step is ~10 s on lavapipe)
import { createGpu, Model, Trainer, TRAIN_DEFAULTS, initCheckpoint } from '../dist/node.mjs';
import { SMALL, GPT2 } from './configs.mjs';

const which = process.argv[2] ?? 'small';
if (which !== 'small' && which !== 'gpt2') { console.error('usage: node bench/profile.mjs [small|gpt2] [B] [T]'); process.exit(2); }
const cfg = which === 'gpt2' ? GPT2 : SMALL;
const B = Number(process.argv[3] ?? (which === 'gpt2' ? 1 : 8)), T = Number(process.argv[4] ?? (which === 'gpt2' ? 256 : 64));
const reps = which === 'gpt2' ? 1 : 3, REPEAT = which === 'gpt2' ? 1 : 4;

const g = await createGpu();
const m = Model.create(g, initCheckpoint(cfg, 1));
const data = new Uint32Array(8 * B * T + 1).map((_, i) => (i * 7919) % cfg.vocabSize);
const tr = new Trainer(m, data, data.subarray(0, T + 1), { ...TRAIN_DEFAULTS, steps: 4, batch: B, seq: T, sampling: 'random', valWindows: 1 });
await tr.step();                                   // compiles and tunes the kernels
const dispatch = g.dispatch.bind(g), calls = [];
g.dispatch = (...a) => { calls.push(a); return dispatch(...a); };
const t0 = performance.now();
await tr.step();
const stepMs = performance.now() - t0;
g.dispatch = dispatch;

const per = new Map();
for (const a of calls) {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    await g.sync();
    const t = performance.now();
    for (let k = 0; k < REPEAT; k++) dispatch(...a);
    await g.sync();
    best = Math.min(best, (performance.now() - t) / REPEAT);
  }
  const e = per.get(a[0]) ?? { n: 0, ms: 0 };
  e.n++; e.ms += best; per.set(a[0], e);
}
const total = [...per.values()].reduce((s, e) => s + e.ms, 0);
console.log(`${which}, B ${B} T ${T}: step ${stepMs.toFixed(1)} ms, ${calls.length} dispatches, replayed one at a time ${total.toFixed(1)} ms\n`);
console.log('| entry point | dispatches | ms | % |\n| --- | ---: | ---: | ---: |');
for (const [k, e] of [...per].sort((x, y) => y[1].ms - x[1].ms)) console.log(`| ${k} | ${e.n} | ${e.ms.toFixed(1)} | ${((100 * e.ms) / total).toFixed(1)} |`);
tr.destroy(); m.destroy(); g.destroy();
process.exit(0);
