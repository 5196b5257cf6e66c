// arena: the parameter table spread over as many GPU buffers as maxBufferSize needs (issue 12 item 2),
// forced here with a tiny arenaPartBytes so a small model spans many parts. Against the one-buffer
// arena of the same model: the layout puts every slice inside one part of at most the cap; logits,
// every gradient and a training run without clipping are bit-identical (the kernels see the same
// views' values); with clipping the gradient norm sums the same partition. Also the memory counter.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { resolve } from 'node:path';
import { createGpu, Model, Arena, Trainer, TRAIN_DEFAULTS, type Gpu } from '../src/node/index.js';
import { arenaLayout, PART_ALIGN } from '../src/model/arena.js';
import { readModel } from '../src/node/models.js';
import { REPO, testGpu, ids } from './helpers.js';

let one: Gpu | null = null, split: Gpu | null = null;
const CAP = 16 * 1024; // bytes: 4096 floats per part, the largest tiny tensor
beforeAll(async () => {
  one = await testGpu();
  if (one) split = await createGpu({ arenaPartBytes: CAP });
});
afterAll(() => { one?.destroy(); split?.destroy(); });

describe('split arenas', () => {
  it('every slice lies inside one part, parts at most the cap and multiples of the reduction chunk', async () => {
    const { config: c } = await readModel(resolve(REPO, 'test/ref/hf', 'llama-tiny'));
    const { layout, parts } = arenaLayout(c, CAP / 4);
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) expect(p <= CAP / 4 && p % PART_ALIGN === 0).toBe(true);
    const seen = new Map<string, number>();
    for (const s of layout) {
      expect(s.offset % 64).toBe(0);
      expect(s.offset + s.numel).toBeLessThanOrEqual(parts[s.part]);
      seen.set(s.name, (seen.get(s.name) ?? 0) + 1);
    }
    // no two slices of a part overlap
    for (let i = 0; i < parts.length; i++) {
      const mine = layout.filter((s) => s.part === i).sort((a, b) => a.offset - b.offset);
      for (let k = 1; k < mine.length; k++) expect(mine[k].offset).toBeGreaterThanOrEqual(mine[k - 1].offset + mine[k - 1].numel);
    }
    expect(seen.get('wq')).toBe(c.nLayers);
    expect(() => arenaLayout(c, 1024)).toThrow(/larger than one GPU buffer/);
  });

  for (const [dir, optim] of [['llama-tiny', 'adamw'], ['gpt2-tiny', 'adamw'], ['llama-tiny', 'adamw8bit']] as const) {
    it(`${dir}: logits, gradients and 3 unclipped ${optim} steps bit-identical to one buffer`, async (ctx) => {
      if (!one || !split) return ctx.skip();
      const ck = await readModel(resolve(REPO, 'test/ref/hf', dir));
      const tokens = Array.from(ids(3000, ck.config.vocabSize, 5));
      const go = async (g: Gpu) => {
        const m = Model.create(g, ck);
        const grads = new Arena(g, ck.config, 'grads');
        grads.clear();
        m.forward(tokens.slice(0, 32), 2, 16, tokens.slice(1, 33));
        m.backward(grads, 1 / 32);
        const gr = await grads.read();
        grads.destroy();
        const t = new Trainer(m, tokens, tokens.slice(0, 100), { ...TRAIN_DEFAULTS, steps: 3, batch: 2, seq: 16, clip: 0, valWindows: 2, optim });
        const losses: number[] = [];
        while (!t.done) losses.push((await t.step()).loss);
        const w = (await m.readCheckpoint()).tensors, parts = m.params.parts.length;
        // the optimizer state by name, gathered over the parts a name spans, and loaded back
        const state = Object.fromEntries((await t.optimizer.readState()).map((x) => [x.name, x.data]));
        await t.optimizer.writeState(state);
        const again = Object.fromEntries((await t.optimizer.readState()).map((x) => [x.name, x.data]));
        expect(Object.keys(again)).toEqual(Object.keys(state));
        for (const k of Object.keys(state)) expect(Buffer.from(again[k].buffer).equals(Buffer.from(state[k].buffer)), k).toBe(true);
        t.destroy();
        m.destroy();
        return { gr, losses, w, parts, state };
      };
      const a = await go(one), b = await go(split);
      expect(a.parts).toBe(1);
      expect(b.parts).toBeGreaterThan(2);
      const same = (x: Record<string, Float32Array>, y: Record<string, Float32Array>) => {
        expect(Object.keys(y).sort()).toEqual(Object.keys(x).sort());
        for (const k of Object.keys(x)) expect(Buffer.from(y[k].buffer).equals(Buffer.from(x[k].buffer)), k).toBe(true);
      };
      same(a.gr, b.gr);
      expect(b.losses).toEqual(a.losses);
      same(a.w, b.w);
      expect(Object.keys(b.state)).toEqual(Object.keys(a.state)); // one tensor per name, not per part
      for (const k of Object.keys(a.state)) expect(Buffer.from(b.state[k].buffer).equals(Buffer.from(a.state[k].buffer)), k).toBe(true);
    });
  }

  it('Gpu.memory counts live and peak storage bytes', async (ctx) => {
    if (!split) return ctx.skip();
    const g = split, before = g.memory.live;
    g.resetPeak();
    const x = g.tensor(1000, 'x'), y = g.tensor(64, 'y');
    expect(g.memory.live - before).toBe((1024 + 64) * 4); // sizes rounded up to 64 floats
    g.release(x.buffer);
    g.release(y.buffer);
    expect(g.memory.live).toBe(before);
    expect(g.memory.peak - before).toBe((1024 + 64) * 4);
  });
});
