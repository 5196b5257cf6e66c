// surgery: checkpoints cut on the CPU, the one way to choose blocks. selectLayers keeps chosen
// blocks (inherit, `--layers K` of eval/logits/analyze). The recipe's warm-append growth is a plan over
// files (appendPlan, src/method/inherit.ts).
import { parameterShapes, numel, type Checkpoint } from './config.js';
import { assert } from '../util/errors.js';

/** blocks 0..K-1 of a model with L blocks */
export function firstBlocks(K: number, L: number): number[] {
  assert(Number.isInteger(K) && K >= 1 && K <= L, `\`layers\` ${K}: the model has ${L} blocks`, `pick \`layers\` between 1 and ${L}`);
  return Array.from({ length: K }, (_, i) => i);
}

/** blocks to keep of a model with L blocks: at least one, each existing */
export function checkBlocks(layers: number[], L: number): void {
  assert(layers.length > 0, 'at least one block must be kept');
  for (const l of layers) {
    assert(Number.isInteger(l) && l >= 0 && l < L, `block ${l} does not exist: the model has ${L} blocks (0..${L - 1})`, `choose blocks between 0 and ${L - 1}`);
  }
}

/** keep blocks `layers` (in that order) of a checkpoint: embeddings, final norm and head stay */
export function selectLayers(ck: Checkpoint, layers: number[]): Checkpoint {
  checkBlocks(layers, ck.config.nLayers);
  const config = { ...ck.config, nLayers: layers.length };
  const tensors: Record<string, Float32Array> = {};
  for (const [name, shape, perLayer] of parameterShapes(ck.config)) {
    const src = ck.tensors[name];
    if (!perLayer) { tensors[name] = src; continue; }
    const n = numel(shape);
    const dst = new Float32Array(n * layers.length);
    layers.forEach((l, i) => dst.set(src.subarray(l * n, (l + 1) * n), i * n));
    tensors[name] = dst;
  }
  return { config, tensors };
}
