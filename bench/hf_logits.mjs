// hf_logits: our side of bench/device.sh's transformers check. Loads an HF directory this package wrote
// (inheritune-rt inherit ... --out DIR) on the WebGPU adapter, runs one sequence of T fixed ids and writes
// PREFIX.json (ids, T, V, the adapter) and PREFIX.f32 (the T x V logits, little-endian f32) for
// bench/hf_logits.py, which loads DIR with transformers and compares. Uses dist/.
//   node bench/hf_logits.mjs DIR PREFIX [T]
import { writeFileSync } from 'node:fs';
import { createGpu, loadModel } from '../dist/node.mjs';

const [dir, prefix, t = '64'] = process.argv.slice(2);
if (!dir || !prefix) { console.error('usage: node bench/hf_logits.mjs DIR PREFIX [T]'); process.exit(2); }
const g = await createGpu();
const m = await loadModel(g, dir, { progress: null });
const V = m.config.vocabSize, T = Math.min(Number(t), m.config.maxSeqLen);
const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % V);
const t0 = performance.now();
const logits = await m.logits(ids);
writeFileSync(`${prefix}.f32`, Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
writeFileSync(`${prefix}.json`, JSON.stringify({ dir, ids, T, V, adapter: Object.values(g.adapterInfo).join(' / '), forward_ms: performance.now() - t0 }) + '\n');
console.log(`hf_logits: ${T} x ${V} logits of ${dir} -> ${prefix}.f32`);
m.destroy(); g.destroy();
process.exit(0);
