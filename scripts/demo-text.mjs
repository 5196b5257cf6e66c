// demo-text: the Brown Corpus text of the demo page's built-in start (demo/builtin.ts), written
// into dist/demo/ after rollup by `npm run build`. The same split as `inheritune-rt demo` (src/node/recipe.ts
// brownData: the corpus's first 90% by characters to train on, the last 10% held out, which the built-in
// reference never saw); the page gets the first 256 KiB of the one (brown-train.txt) and the first 64 KiB of
// the other (brown-val.txt, from its first whole line), each cut at a line end, so the page stays small.
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { brownData } = await import(pathToFileURL(join(root, 'dist/node.mjs')).href);
const { train, val } = brownData(); // byte tokens: the UTF-8 bytes of the text

/** whole lines from the start of a split (the held-out one begins mid-line: that part line is skipped), at most `max` bytes */
function head(bytes, max, skipPartial) {
  const from = skipPartial ? bytes.indexOf(0x0a) + 1 : 0;
  const b = Uint8Array.from(bytes.slice(from, from + max));
  return b.subarray(0, b.lastIndexOf(0x0a) + 1);
}

writeFileSync(join(root, 'dist/demo/brown-train.txt'), head(train, 256 << 10, false));
writeFileSync(join(root, 'dist/demo/brown-val.txt'), head(val, 64 << 10, true));
