// cli/logits: `inheritune-rt logits`, the logits of every position of a sequence of ids (the first K
// blocks only with --layers): what the PyTorch goldens are compared against.
import type { Gpu } from '../../gpu/gpu.js';
import { loadModel } from '../models.js';
import { fail } from '../../util/errors.js';
import { int, str, modelPath, type Flags } from './args.js';

export async function logits(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const ids = str(flags, 'ids').split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) fail(`--ids: '${s}' is not a token id`, 'pass comma-separated integers, e.g. --ids 1,403,407');
    return n;
  });
  const model = await loadModel(gpu, path, { layers: int(flags, 'layers') });
  const out = await model.logits(ids);
  model.destroy();
  const V = model.config.vocabSize;
  const rows = ids.map((_, t) => Array.from(out.subarray(t * V, (t + 1) * V)));
  if (flags.json) { console.log(JSON.stringify({ ids, logits: rows })); return; }
  rows.forEach((row, t) => {
    const top = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
    console.log(`position ${t} (id ${ids[t]}): top-5 ${top.map(([v, i]) => `${i}:${v.toFixed(3)}`).join('  ')}`);
  });
}
