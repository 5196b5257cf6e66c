// grad-dtype: issue 29's "bf16 gradients within 2 % of f32 AdamW's final loss on stories260K over 200
// steps". The pretrained stories260K continues on the TinyStories sample for 200 steps of B 8, T 64 with
// AdamW (clipping at 1.0, the defaults otherwise), once with f32 gradients and once with
// --grad-dtype bf16 (and, with --accum, once more at --grad-accum 2, B 4); prints each run's final
// validation loss, the mean of its last 20 training losses, the relative differences and the plan's and
// the measured GPU bytes. Too slow for the test suite on lavapipe (about 90 s a run on 2 shared cores):
// test/grads16.test.ts runs a shorter comparison. Usage: npm run build && node scripts/grad-dtype.mjs [--accum]
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const data = resolve(repo, '../shared/data');
const work = mkdtempSync(join(tmpdir(), 'grad-dtype-'));
const base = ['train', '--model', join(data, 'stories260k/stories260K.bin'), '--tokenizer', join(data, 'stories260k/tok512.bin'),
  '--text', join(data, 'tinystories-sample/tinystories_val.txt'), '--steps', '200', '--val-windows', '8', '--json'];
const runs = [['f32', ['--batch', '8', '--seq', '64']], ['bf16', ['--batch', '8', '--seq', '64', '--grad-dtype', 'bf16']]];
if (process.argv.includes('--accum')) runs.push(['bf16, grad-accum 2', ['--batch', '4', '--seq', '64', '--grad-accum', '2', '--grad-dtype', 'bf16']]);
const out = {};
for (const [name, flags] of runs) {
  const t0 = Date.now();
  const j = JSON.parse(execFileSync(process.execPath, [join(repo, 'dist/cli.mjs'), ...base, ...flags, '--out', join(work, name.replace(/\W+/g, '_'))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const tail = j.losses.slice(-20).reduce((a, b) => a + b, 0) / 20;
  out[name] = { val: j.val_loss, tail };
  console.log(`${name.padEnd(18)} val ${j.val_loss.toFixed(6)}  last-20 train ${tail.toFixed(6)}  first ${j.losses[0].toFixed(5)}  plan ${(j.plan_bytes / 2 ** 20).toFixed(2)} MiB, measured ${(j.gpu_peak_bytes / 2 ** 20).toFixed(2)} MiB  ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
for (const name of Object.keys(out).slice(1)) {
  const d = (k) => ((out[name][k] / out.f32[k] - 1) * 100).toFixed(4);
  console.log(`${name} vs f32: val ${d('val')} %, last-20 train ${d('tail')} %`);
}
