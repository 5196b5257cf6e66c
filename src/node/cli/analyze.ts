// cli/analyze: `inheritune-rt analyze`, the lazy-layer analysis: attention rank per head and MaxRank per
// block (src/method/analyze.ts), with block influence and angular distances (src/method/select.ts).
import type { Gpu } from '../../gpu/gpu.js';
import { loadModel, readModelConfig } from '../models.js';
import { readTokenizer } from '../tokfiles.js';
import { readTokens } from '../textdata.js';
import { analyzeAttention } from '../../method/analyze.js';
import { blockSimilarity } from '../../method/select.js';
import { Progress } from '../../util/progress.js';
import { int, str, num, stderrBar, modelPath, type Flags } from './args.js';

export async function analyzeCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const tokens = await readTokens(str(flags, 'text'), async () => readTokenizer(flags.tokenizer as string | undefined, path, (await readModelConfig(path)).vocabSize), 'val');
  const m = await loadModel(gpu, path, { layers: int(flags, 'layers') });
  const bar = new Progress('analyze', 1, flags.json ? null : stderrBar());
  const a = await analyzeAttention(m, tokens, { sequences: int(flags, 'sequences'), seq: int(flags, 'seq'), tau: flags.tau !== undefined ? num(flags, 'tau', 0.9) : undefined,
    onProgress: (d, t) => { bar.total = t; bar.update(d); } });
  // the residual stream's block influence and angular distances over the same windows (src/method/select.ts)
  const sim = await blockSimilarity(m, tokens, { sequences: a.sequences, seq: a.seq });
  m.destroy();
  if (flags.json) { console.log(JSON.stringify({ ...a, block_influence: sim.block_influence, angular: sim.angular })); return; }
  console.log(`attention rank (tau ${a.tau}, ${a.sequences} sequences of ${a.seq} tokens); lazy = MaxRank rounds to 1`);
  for (const b of a.blocks) {
    console.log(`block ${String(b.block).padStart(2)}  MaxRank ${b.max_rank.toFixed(2).padStart(7)}  ${b.lazy ? 'LAZY' : '    '}  ` +
      `block influence ${sim.block_influence[b.block].toFixed(4)}  angular to the next ${sim.angular[b.block][0].toFixed(4)}  rank per head [${b.rank.map((r) => r.toFixed(1)).join(', ')}]`);
  }
}
