// node/onnx: the Node file side of the ONNX export (src/formats/onnx.ts builds the bytes): the single file of
// `export --onnx FILE`, and the directory transformers.js loads from a path: config.json and the
// tokenizer files beside onnx/model.onnx. Both are written atomically (temporary name, then rename).
import { existsSync, statSync, readFileSync, mkdirSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import { readModel } from './models.js';
import { tokenizerFiles } from './tokfiles.js';
import { configToHf } from '../formats/hf.js';
import { exportOnnx, type OnnxOptions } from '../formats/onnx.js';

/** export the model at modelPath (HF directory or llama2.c .bin) to one .onnx file; returns its size in bytes */
export async function exportOnnxFile(modelPath: string, file: string, opts: OnnxOptions = {}): Promise<number> {
  const bytes = exportOnnx(await readModel(modelPath), opts);
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
  return bytes.length;
}

/**
 * Write outDir as transformers.js expects a local model: config.json (the model's own, or written from
 * the llama2.c header), its tokenizer files, and onnx/model.onnx. Returns the files written.
 */
export async function exportOnnxDir(modelPath: string, outDir: string, opts: OnnxOptions = {}): Promise<string[]> {
  const ck = await readModel(modelPath);
  const ownConfig = statSync(modelPath).isDirectory() ? join(modelPath, 'config.json') : '';
  const config = ownConfig && existsSync(ownConfig)
    ? readFileSync(ownConfig)
    : new TextEncoder().encode(JSON.stringify(configToHf(ck.config), null, 2) + '\n');
  const files: Record<string, Uint8Array> = { 'config.json': config };
  for (const [name, parts] of Object.entries(tokenizerFiles(modelPath))) files[name] = parts[0];
  files['onnx/model.onnx'] = exportOnnx(ck, opts);
  // everything into a temporary sibling, which then replaces outDir (as writeDirAtomic in atomic.ts)
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}`);
  const old = join(dirname(outDir), `.${basename(outDir)}.old-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(tmp, name)), { recursive: true });
    writeFileSync(join(tmp, name), bytes);
  }
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(tmp, outDir);
  rmSync(old, { recursive: true, force: true });
  return Object.keys(files);
}
