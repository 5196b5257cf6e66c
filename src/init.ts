// init: seeded random initialization of a model from its config (GPT-2 / llama2.c style:
// N(0, 0.02) for matrices and embeddings, ones for norm weights). Used by the built-in demo and,
// later, by the random-init baseline of the Inheritune recipe.
import { parameterShapes, type Checkpoint, type ModelConfig } from './config.js';

/** mulberry32 PRNG, uniform in [0, 1) */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function initCheckpoint(config: ModelConfig, seed = 0, std = 0.02): Checkpoint {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand()); // Box-Muller
  const tensors: Record<string, Float32Array> = {};
  for (const [name, shape, perLayer] of parameterShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1) * (perLayer ? config.nLayers : 1);
    const t = new Float32Array(n);
    if (shape.length === 1) t.fill(1); // norm weights
    else for (let i = 0; i < n; i++) t[i] = std * normal();
    tensors[name] = t;
  }
  return { config, tensors };
}
