// init: seeded random initialization (GPT-2 / llama2.c style): N(0, 0.02) for matrices and
// embeddings, ones for norm weights, zeros for biases. Used by the demo, by `inherit` for whatever
// is not inherited, and by the random-init baseline of the Inheritune recipe.
import { parameterShapes, numel, type Checkpoint, type ModelConfig } from './config.js';

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

export const INIT_STD = 0.02;

/** how a parameter of this name starts: norm weights at one, biases at zero, the rest N(0, std) */
export function initKind(name: string): 'ones' | 'zeros' | 'normal' {
  if (/^(rms_|ln\dw|lnfw|q_norm|k_norm)/.test(name)) return 'ones';
  if (/^(ln\db|lnfb|qkvb|attprojb|fcb|fcprojb|b[qkvo123])$/.test(name)) return 'zeros';
  return 'normal';
}

/** n values for parameter `name`, from a PRNG stream derived from (seed, name) */
export function initTensor(name: string, n: number, seed: number, std = INIT_STD): Float32Array {
  const t = new Float32Array(n);
  const kind = initKind(name);
  if (kind === 'ones') return t.fill(1);
  if (kind === 'zeros') return t;
  let h = seed >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0; // FNV-style mix
  const rand = mulberry32(h);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12), v = rand(); // Box-Muller
    t[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return t;
}

export function initCheckpoint(config: ModelConfig, seed = 0, std = INIT_STD): Checkpoint {
  const tensors: Record<string, Float32Array> = {};
  for (const [name, shape, perLayer] of parameterShapes(config)) {
    tensors[name] = initTensor(name, numel(shape) * (perLayer ? config.nLayers : 1), seed, std);
  }
  return { config, tensors };
}
