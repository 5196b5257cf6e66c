// cli/inherit: `inheritune-rt inherit`, the package's namesake: the k-block model (the first K blocks, a
// --select list, or a rule's pick on --text) written as a Hugging Face directory, copied tensor by tensor
// from a Hugging Face reference (src/method/inherit_stream.ts) or from a llama2.c .bin read whole.
import { existsSync, statSync } from 'node:fs';
import type { Gpu } from '../../gpu/gpu.js';
import { Model } from '../../model/model.js';
import { readModel, nodeDir, loadModel } from '../models.js';
import { readTokenizer, tokenizerFiles } from '../tokfiles.js';
import { readTokens } from '../textdata.js';
import { writeModelDirAtomic } from '../atomic.js';
import { inherit, inheritPlan, type InheritOptions, type InheritRecord } from '../../method/inherit.js';
import { inheritWrites } from '../../method/inherit_stream.js';
import { resolveSelect } from '../../method/select.js';
import { parseDtype } from '../../formats/dtype.js';
import { parseSize, DEFAULT_SHARD_SIZE, type TensorWrite } from '../../formats/stwrite.js';
import { hfConfigFiles, hfWrites, openHfModel } from '../../formats/hf.js';
import { countParameters, type Checkpoint, type ModelConfig } from '../../model/config.js';
import { int, str, stderrBar, modelPath, selectFlag, type Flags } from './args.js';
import { checkOut, refuseOverlap } from './outdir.js';

export async function inheritCmd(flags: Flags, gpu: Gpu | null): Promise<void> {
  const out = str(flags, 'out');
  checkOut(out, { flag: '--out', replaces: true }, false, !!flags.force);
  const from = await modelPath(flags, 'model');
  refuseOverlap(out, '--out', [['--model', from]]);
  const dtype = flags.dtype !== undefined ? parseDtype(str(flags, 'dtype')) : undefined;
  const maxShardSize = parseSize(flags['max-shard-size'] !== undefined ? str(flags, 'max-shard-size') : DEFAULT_SHARD_SIZE);
  // a Hugging Face directory is copied tensor by tensor (src/method/inherit_stream.ts); a llama2.c .bin is read whole
  const hf = existsSync(from) && statSync(from).isDirectory() ? await openHfModel(nodeDir(from)) : null;
  try {
    let ref: Checkpoint | null = hf ? null : await readModel(from);
    const refConfig = hf?.config ?? ref!.config;
    // a rule's blocks are picked on --text (src/method/select.ts)
    const { blocks: select, why } = await resolveSelect(selectFlag(flags), int(flags, 'layers'), async () => ({
      tokens: await readTokens(str(flags, 'text'), () => readTokenizer(flags.tokenizer as string | undefined, from, refConfig.vocabSize), 'val'),
      model: ref ? Model.create(gpu!, ref) : await loadModel(gpu!, from),
    }));
    if (why !== undefined) {
      delete flags.layers;
      if (!flags.json) console.log(`${flags.select}: ${why} -> blocks [${select}]`);
    }
    const opts: InheritOptions = {
      layers: int(flags, 'layers'), select, preset: flags.preset as 'paper' | 'official' | undefined,
      embeddings: flags['no-embeddings'] ? false : undefined, finalNorm: flags['no-final-norm'] ? false : undefined,
      head: flags['no-head'] ? false : undefined, positions: flags['no-positions'] ? false : undefined,
      seed: int(flags, 'seed', { min: 0 }),
    };
    let config: ModelConfig, record: InheritRecord, writes: TensorWrite[];
    if (hf) {
      const plan = inheritPlan(hf.config, opts, from);
      ({ config, record } = plan);
      writes = inheritWrites(plan, hf.weights, dtype);
    } else {
      const r = inherit(ref!, opts, from);
      ref = null;
      ({ record } = r);
      config = r.checkpoint.config;
      writes = hfWrites(r.checkpoint, dtype);
    }
    const tok = tokenizerFiles(from);
    const weightFiles = await writeModelDirAtomic(out, { ...hfConfigFiles(config), ...tok,
      'inheritune.json': [new TextEncoder().encode(JSON.stringify({ ...record, tokenizer_files: Object.keys(tok) }, null, 2) + '\n')] }, writes, maxShardSize,
      flags.json ? null : stderrBar());
    const summary = { out, family: config.family, blocks: record.blocks, n_layers: config.nLayers,
      parameters: countParameters(config), reference_parameters: countParameters(refConfig), preset: record.preset,
      dtype: [...new Set(writes.map((w) => w.dtype))].join(','), weight_files: weightFiles, tokenizer_files: Object.keys(tok), notes: record.notes };
    if (flags.json) { console.log(JSON.stringify(summary)); return; }
    console.log(`wrote ${out}: ${summary.family}, blocks [${summary.blocks}] of ${refConfig.nLayers}, ` +
      `${summary.parameters} of ${summary.reference_parameters} parameters, preset ${summary.preset}, ${summary.dtype} in ${weightFiles.length} file(s)`);
    for (const n of record.notes) console.log(`note: ${n}`);
  } finally {
    await hf?.weights.close();
  }
}
