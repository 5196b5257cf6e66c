// demo: the built-in default job, runnable anywhere with no files: a seeded random Llama-family
// reference (byte-level vocabulary), a built-in text, and a forward pass of the reference and of
// its first-half sub-model (the model Inheritune starts from). Reports losses and throughput.
import type { Gpu } from './gpu.js';
import { Model } from './model.js';
import { countParameters, type ModelConfig } from './config.js';
import { initCheckpoint } from './init.js';
import { windowedLoss, type WindowedLoss } from './evaluate.js';

export const DEMO_TEXT = `The old lighthouse keeper climbed the spiral stairs every evening before the sun went down. \
He counted the steps out loud, one hundred and twelve of them, and at the top he wound the clockwork that turned the \
great lens. Ships that passed in the night never saw him, but they saw his light, and that was enough for him. \
One winter a storm broke the window at the top of the tower. Snow blew across the lamp room and the flame began to \
flicker. The keeper wrapped his coat around the glass, held it there with both arms, and waited. In the morning the \
storm had gone, the sea was flat and grey, and a fishing boat was tied safely at the harbour wall. The fishermen \
climbed the hill with bread, cheese and a new pane of glass, and they stayed to help him fix the window. After that, \
every winter, someone from the village walked up the hill to check on the lighthouse and the man who kept it.`;

export const DEMO_CONFIG: ModelConfig = {
  family: 'llama', dim: 64, hiddenDim: 172, nLayers: 4, nHeads: 8, nKvHeads: 4, vocabSize: 256, maxSeqLen: 256,
  normEps: 1e-5, ropeTheta: 10000, ropeMode: 'interleaved', tiedEmbeddings: true,
};

export interface DemoResult {
  device: ReturnType<Gpu['report']>;
  parameters: number;
  tokens: number;
  reference: WindowedLoss;
  inherited: WindowedLoss & { layers: number };
  tokensPerSecond: number;
}

export async function runDemo(gpu: Gpu, opts: { seed?: number; seq?: number } = {}): Promise<DemoResult> {
  const config = DEMO_CONFIG;
  const ck = initCheckpoint(config, opts.seed ?? 1337);
  const ids = Array.from(new TextEncoder().encode(DEMO_TEXT)); // byte-level tokens: id = byte
  const T = opts.seq ?? 64;
  const W = Math.floor((ids.length - 1) / T);
  const ref = Model.create(gpu, ck);
  const t0 = Date.now();
  const reference = await windowedLoss(ref, ids, T, W);
  const secs = (Date.now() - t0) / 1000;
  ref.destroy();
  const k = config.nLayers / 2;
  const sub = Model.create(gpu, ck, { layers: k });
  const inherited = { ...(await windowedLoss(sub, ids, T, W)), layers: k };
  sub.destroy();
  return { device: gpu.report(), parameters: countParameters(config), tokens: ids.length, reference, inherited,
    tokensPerSecond: (W * T) / Math.max(secs, 1e-6) };
}
