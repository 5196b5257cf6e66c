// adamw8bit_train: 8-bit AdamW (TrainOptions.optim 'adamw8bit') in training on the real stories260K
// (5 blocks, TinyStories). (1) The must-show: 200 steps with adamw and with adamw8bit, same
// seed and data: the 8-bit run's final validation loss (and its last 20 training losses' mean) within
// 2% of f32 AdamW's. (2) Checkpoints: 4 steps, save, --resume 4 more gives bit-identical losses,
// parameters and optimizer state to 8 straight steps; resuming with another optimizer is refused.
// (3) The optimizer's GPU footprint: f32 AdamW 8 bytes a parameter, 8-bit about 2.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, mkdtempSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { SHARED, testGpu } from './helpers.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { parseLlama2c } from '../src/formats/llama2c.js';
import { Llama2cTokenizer } from '../src/tokenizers/llama2c.js';
import { Model } from '../src/model/model.js';
import { Trainer, TRAIN_DEFAULTS, type TrainOptions } from '../src/train/trainer.js';
import { trainRun } from '../src/node/train.js';
import { SafetensorsFile } from '../src/formats/safetensors.js';
import { fileSource } from '../src/node/filesource.js';

const MODEL = resolve(SHARED, 'stories260k/stories260K.bin');
let g: Gpu | null = null;
let train: number[] = [], val: number[] = [];
beforeAll(async () => {
  g = await testGpu();
  const tok = await Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(resolve(SHARED, 'stories260k/tok512.bin'))), { vocabSize: 512 });
  const text = readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8');
  const ids = tok.encode(text.slice(0, 400000), { bos: true });
  const cut = Math.floor(ids.length * 0.9);
  train = ids.slice(0, cut); val = ids.slice(cut);
});
afterAll(() => g?.destroy());

const base = (o: Partial<TrainOptions>): TrainOptions =>
  ({ ...TRAIN_DEFAULTS, steps: 200, batch: 2, seq: 32, sampling: 'random', seed: 3, valWindows: 32, ...o } as TrainOptions);

describe('8-bit AdamW training stories260K', () => {
  it('200 steps: the final loss of adamw8bit is within 2% of f32 adamw\'s', async (ctx) => {
    if (!g) return ctx.skip();
    const res: Record<string, { val: number; tail: number; secs: number; bytes: number; params: number }> = {};
    for (const optim of ['adamw', 'adamw8bit'] as const) {
      const model = Model.create(g, parseLlama2c(new Uint8Array(readFileSync(MODEL))));
      const t0 = performance.now();
      const tr = new Trainer(model, train, val, base({ optim }));
      const losses: number[] = [];
      let v = NaN;
      while (!tr.done) { const s = await tr.step(); losses.push(s.loss); if (s.val_loss !== undefined) v = s.val_loss; }
      res[optim] = { val: v, tail: losses.slice(-20).reduce((a, b) => a + b, 0) / 20, secs: (performance.now() - t0) / 1000,
        bytes: tr.optimizer.stateBytes, params: model.params.numel };
      tr.destroy(); model.destroy();
    }
    const f = res.adamw, q = res.adamw8bit;
    console.log(`stories260K 200 steps (B2 T32): val loss adamw ${f.val.toFixed(5)}, adamw8bit ${q.val.toFixed(5)} (ratio ${(q.val / f.val).toFixed(5)}); ` +
      `last-20 train loss ${f.tail.toFixed(5)} / ${q.tail.toFixed(5)}; ${f.secs.toFixed(1)} s / ${q.secs.toFixed(1)} s; ` +
      `state ${(f.bytes / f.params).toFixed(3)} / ${(q.bytes / q.params).toFixed(3)} bytes a parameter`);
    expect(Math.abs(q.val / f.val - 1)).toBeLessThanOrEqual(0.02);
    expect(Math.abs(q.tail / f.tail - 1)).toBeLessThanOrEqual(0.02);
    expect(f.bytes / f.params).toBe(8);
    expect(q.bytes / q.params).toBeLessThan(2.5);
  }, 300_000);

  it('4 steps + --resume 4 steps is bit-identical to 8 steps (adamw8bit); another --optim on resume is refused', async (ctx) => {
    if (!g) return ctx.skip();
    const work = mkdtempSync(join(tmpdir(), 'itrt-adam8-'));
    const opts = (steps: number, optim: TrainOptions['optim'] = 'adamw8bit') => base({ steps, optim, schedule: 'constant', valWindows: 4 });
    const go = (out: string, steps: number, resume: boolean, optim?: TrainOptions['optim']) =>
      trainRun(g!, { model: MODEL, out, resume, saveEvery: 0, opts: opts(steps, optim), train, val, progress: null });
    const whole = await go(join(work, 'whole'), 8, false);
    await go(join(work, 'split'), 4, false);
    const opt = await SafetensorsFile.open(await fileSource(join(work, 'split/checkpoint/optimizer.safetensors')));
    expect(opt.metadata.format).toBe('inheritune-adamw8bit');
    expect(opt.tensors.get('m.codes.wq')?.dtype).toBe('U8');
    expect(opt.tensors.get('v.absmax.wq')?.dtype).toBe('F32');
    await opt.close();
    const err = await go(join(work, 'split'), 8, true, 'adamw').then(() => null, (e: Error) => e.message);
    expect(err).toMatch(/optimizer state is adamw8bit's, and `optim` is adamw now/);
    const resumed = await go(join(work, 'split'), 8, true);
    expect(resumed.metrics.map((m) => m.loss)).toEqual(whole.metrics.map((m) => m.loss));
    expect(resumed.metrics.map((m) => m.grad_norm)).toEqual(whole.metrics.map((m) => m.grad_norm));
    expect(resumed.valLoss).toBe(whole.valLoss);
    for (const f of ['model.safetensors', 'optimizer.safetensors']) {
      expect(readFileSync(join(work, 'split/checkpoint', f)).equals(readFileSync(join(work, 'whole/checkpoint', f))), f).toBe(true);
    }
  }, 120_000);
});
