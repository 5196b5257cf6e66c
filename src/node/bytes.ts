// node/bytes: reading files the way every format reader here does: random access to a file's bytes (a
// large safetensors file is never read whole), and the one rule for a file a directory names itself.
import { existsSync, realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, dirname, basename, sep } from 'node:path';
import type { ByteSource } from '../formats/safetensors.js';
import { fail } from '../util/errors.js';

/** random-access reads from a file, so a large safetensors file is never read whole */
export async function fileSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  return {
    size,
    read: async (offset, length) => {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) fail(`${path}: unexpected end of file at byte ${offset + got}`, 'the file was truncated while reading');
        got += bytesRead;
      }
      return buf;
    },
    close: () => fh.close(),
  };
}

/**
 * dir/f, for a file the directory names itself (index shards, tokenizer files): f must be a plain name,
 * and a link may not lead out of the directory (but for a huggingface_hub snapshot's links into its blobs/)
 */
export function inside(dir: string, f: string): string {
  if (!/^[^/\\]+$/.test(f) || f === '.' || f === '..') {
    fail(`${dir}: '${f}' is not a file name inside the model directory`, 'model directories name their files by plain names (no paths)');
  }
  const p = join(dir, f);
  if (existsSync(p)) {
    const real = realpathSync(p), root = realpathSync(dir);
    // a huggingface_hub cache snapshot (<repo>/snapshots/<sha>/) links its files into <repo>/blobs/
    const blobs = basename(dirname(root)) === 'snapshots' ? join(dirname(dirname(root)), 'blobs') + sep : null;
    if (!real.startsWith(root + sep) && !(blobs && real.startsWith(blobs))) fail(`${p} is a link that leaves ${dir} (it points at ${real})`, 'copy the file into the model directory instead of linking outside it');
  }
  return p;
}
