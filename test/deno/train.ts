// Deno: inherit + a few training steps with the built browser/Deno bundle (the same code as Node).
// Inherits the first 3 blocks of stories260K, trains 6 AdamW steps on TinyStories text and checks
// that the inherited model starts at the PyTorch golden logits and that the loss falls; then 3 steps at
// precision f16 (real f16 arithmetic where the adapter has shader-f16: lavapipe does).
//
//   npx deno run --no-prompt --allow-read=<data dir> test/deno/train.ts [<data dir>]
//
// Permissions: only --allow-read for the data directory (the checkpoint, tokenizer and text);
// WebGPU (navigator.gpu) and local module imports need none. Prints one JSON line; exits 1 on failure.
declare const Deno: { args: string[]; readFile(path: string): Promise<Uint8Array>; exit(code: number): never };
// @ts-ignore -- resolved by Deno; Node's tsc has no declarations for the built bundle
import * as api from '../../dist/index.mjs';

const dataDir = (Deno.args[0] ?? decodeURIComponent(new URL('../../../shared/data', import.meta.url).pathname)).replace(/\/+$/, '');
const out: Record<string, unknown> = { runtime: api.runtimeName() };
try {
  const gpu = await api.createGpu();
  const ref = api.parseLlama2c(await Deno.readFile(`${dataDir}/stories260k/stories260K.bin`));
  const { checkpoint } = api.inherit(ref, { layers: 3 });
  const model = api.Model.create(gpu, checkpoint);
  // the inherited model before training is the reference's first-3-block sub-model
  const golden = new Float32Array((await Deno.readFile(`${dataDir}/stories260k/golden/prompt_logits_k3.f32`)).slice().buffer);
  const logits = await model.logits([1, 403, 407, 261, 378]);
  let maxAbsDiff = 0;
  for (let i = 0; i < golden.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(logits[i] - golden[i]));
  const tok = await api.Llama2cTokenizer.fromBytes(await Deno.readFile(`${dataDir}/stories260k/tok512.bin`), { vocabSize: 512 });
  const text = new TextDecoder().decode(await Deno.readFile(`${dataDir}/tinystories-sample/tinystories_val.txt`));
  const ids = tok.encode(text.slice(0, 40000), { bos: true });
  const cut = Math.floor(ids.length * 0.9);
  const trainer = new api.Trainer(model, ids.slice(0, cut), ids.slice(cut),
    { ...api.TRAIN_DEFAULTS, steps: 6, batch: 2, seq: 64, lr: 2e-3, warmup: 0, sampling: 'random', valWindows: 4 });
  const losses: number[] = [];
  while (!trainer.done) losses.push((await trainer.step()).loss);
  model.destroy();
  // precision f16 (named: auto is f32 on a CPU adapter): on a shader-f16 adapter the matmuls multiply in
  // f16 (kernels/matmul_f16.wgsl, which Deno's WGSL compiler must take), from the weights' f16 copy
  const m16 = api.Model.create(gpu, checkpoint);
  const t16 = new api.Trainer(m16, ids.slice(0, cut), ids.slice(cut),
    { ...api.TRAIN_DEFAULTS, steps: 3, batch: 2, seq: 64, lr: 2e-3, warmup: 0, sampling: 'random', valWindows: 4, precision: 'f16', lossScale: 1024 });
  const f16losses: number[] = [];
  while (!t16.done) f16losses.push((await t16.step()).loss);
  const f16 = { arithmetic: gpu.f16Arithmetic, copyBytes: m16.halfWeightBytes, losses: f16losses };
  t16.destroy();
  m16.destroy();
  gpu.destroy();
  Object.assign(out, { maxAbsDiff, losses, f16, ok: maxAbsDiff <= 1e-4 && losses.every(Number.isFinite) && losses[losses.length - 1] < losses[0] &&
    f16losses.every(Number.isFinite) && (f16.copyBytes > 0) === f16.arithmetic });
} catch (e) {
  Object.assign(out, { ok: false, error: String((e as Error)?.stack ?? e) });
}
console.log(JSON.stringify(out));
if (!out.ok) Deno.exit(1);
