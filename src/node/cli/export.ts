// cli/export: `inheritune-rt export`, a model as an ONNX graph with a KV cache (--onnx FILE), or as the
// directory transformers.js loads (--onnx-dir DIR: config, tokenizer files, onnx/model.onnx).
import { existsSync } from 'node:fs';
import { exportOnnxFile, exportOnnxDir } from '../onnx.js';
import { fail } from '../../util/errors.js';
import { int, modelPath, type Flags } from './args.js';
import { checkOut, refuseOverlap } from './outdir.js';

export async function exportCmd(flags: Flags): Promise<void> {
  if ((flags.onnx === undefined) === (flags['onnx-dir'] === undefined)) fail('pass --onnx FILE (the graph alone) or --onnx-dir DIR (config, tokenizer files and onnx/model.onnx, as transformers.js reads a directory)');
  const dir = flags['onnx-dir'] as string | undefined;
  if (dir !== undefined) checkOut(dir, { flag: '--onnx-dir', replaces: true }, false, !!flags.force);
  const path = await modelPath(flags, 'model');
  if (dir !== undefined) refuseOverlap(dir, '--onnx-dir', [['--model', path]]);
  const opset = int(flags, 'opset');
  if (typeof flags.onnx === 'string') {
    // like every other output, an existing file is not silently replaced
    if (existsSync(flags.onnx) && !flags.force) fail(`--onnx ${flags.onnx} already exists`, 'pass --force to replace it, or another --onnx FILE');
    const bytes = await exportOnnxFile(path, flags.onnx, { opset });
    if (flags.json) console.log(JSON.stringify({ onnx: flags.onnx, bytes }));
    else console.log(`wrote ${flags.onnx} (${bytes} bytes): input_ids, attention_mask, position_ids, past_key_values.* -> logits, present.*`);
  } else {
    const files = await exportOnnxDir(path, dir!, { opset });
    if (flags.json) console.log(JSON.stringify({ dir, files }));
    else console.log(`wrote ${dir}: ${files.join(', ')}`);
  }
}
