// node/filesource: random access to a regular file's bytes (src/node/bytes.ts checks what it is first), so a
// large safetensors file is never read whole. Its own file because the Node API exports it: its declared
// types name no Node module (the package's types compile without @types/node).
import type { ByteSource } from '../formats/safetensors.js';
import { fail } from '../util/errors.js';
import { openRegularHandle } from './bytes.js';

/** random-access reads from a regular file, so a large safetensors file is never read whole */
export async function fileSource(path: string, what = 'file'): Promise<ByteSource> {
  const { fh, size } = await openRegularHandle(path, what);
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
