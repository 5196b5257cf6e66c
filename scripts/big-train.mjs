// big-train: issue 12's second must-show. The 13-block model inherited from a random 3.4B-parameter
// OpenLLaMA-3B-shaped bf16 checkpoint (scripts/big-inherit.mjs writes it: run that first with --keep)
// trains 2 steps at B 1, T 64 on this machine's adapter with --recompute --optim adamw8bit
// --optim-in-backward --clip 0, checkpointing after each step, then --resume continues it to step 3;
// an uninterrupted 3-step run gives the reference for the resumed one. Each run is timed under
// /usr/bin/time -v (peak resident memory) and sampled for the memory it holds, lavapipe's memfd included
// (scripts/memheld.mjs: freed "GPU" pages leave RSS but stay in the driver's memfd), and
// `plan` is printed beside it. The token data are TinyStories packed with stories260K's 512-token
// SentencePiece model (ids < 512 are valid ids of the 32000-token vocabulary).
// --grad-dtype-bf16 (issue 29): instead, with clipping on (1.0): --recompute --optim adamw8bit --grad-dtype bf16,
// `train --steps 2` only, its peak memory held against 16 GiB.
// Usage: npm run build && node scripts/big-inherit.mjs /tmp/big --keep && node scripts/big-train.mjs [DIR=/tmp/big] [--grad-dtype-bf16]
import { execFileSync, spawn } from 'node:child_process';
import { watch } from './memheld.mjs';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bf16 = process.argv.includes('--grad-dtype-bf16');
const root = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? '/tmp/big';
const shared = resolve(repo, '../shared/data');
const REF = join(root, 'ref'), M13 = join(root, 'm13'), DATA = join(root, 'data');
if (!existsSync(join(REF, 'config.json'))) throw new Error(`no reference in ${REF}: run node scripts/big-inherit.mjs ${root} --keep first`);
const cli = (args, opts = {}) => execFileSync(process.execPath, [join(repo, 'dist/cli.mjs'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });

/**
 * a CLI command under /usr/bin/time -v: its stdout, peak RSS (GiB), wall time, and the peak memory the
 * process tree held, lavapipe's memfd included (scripts/memheld.mjs: RSS alone misses freed "GPU" pages)
 */
async function timed(args) {
  const t = join(root, 'time.txt');
  const child = spawn('/usr/bin/time', ['-v', '-o', t, process.execPath, join(repo, 'dist/cli.mjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const w = watch(child.pid);
  let stdout = '';
  child.stdout.on('data', (b) => { stdout += b; });
  const code = await new Promise((ok) => child.on('close', ok));
  const held = w.stop();
  if (code !== 0) throw new Error(`${args[0]} exited with ${code}; peak held ${(held.held / 2 ** 30).toFixed(2)} GiB`);
  const time = readFileSync(t, 'utf8');
  return { stdout, peak: Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(time)[1]) / 2 ** 20, wall: /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(time)[1],
    held: held.held / 2 ** 30, memfd: held.memfd / 2 ** 30 };
}

rmSync(M13, { recursive: true, force: true });
cli(['inherit', '--model', REF, '--layers', '13', '--out', M13, '--json']);
if (!existsSync(join(DATA, 'data_pack.json'))) {
  cli(['pack', '--tokenizer', join(shared, 'stories260k/tok512.model'), '--input', join(shared, 'tinystories-sample/tinystories_val.txt'), '--docs', 'blankline', '--out', DATA, '--json']);
}
const MEM = bf16 ? ['--grad-dtype', 'bf16'] : ['--optim-in-backward', '--clip', '0'];
const FLAGS = ['--batch', '1', '--seq', '64', '--recompute', '--optim', 'adamw8bit', ...MEM, '--lr', '1e-4', '--val-windows', '2'];
console.log(cli(['plan', '--model', M13, '--batch', '1', '--seq', '64', '--recompute', '--optim', 'adamw8bit', ...MEM.filter((f) => f !== '--clip' && f !== '0')]));
const params = 1815638400;
const run = async (out, steps, extra = []) => {
  const r = await timed(['train', '--model', M13, '--text', DATA, '--steps', String(steps), ...FLAGS, '--save-every', '1', '--out', out, '--json', ...extra]);
  const j = JSON.parse(r.stdout);
  console.log(`train --steps ${steps} ${extra.join(' ')}: peak held ${r.held.toFixed(2)} GiB (lavapipe's memfd ${r.memfd.toFixed(2)} GiB; ${(r.held * 2 ** 30 / params).toFixed(2)} bytes a parameter), peak RSS ${r.peak.toFixed(2)} GiB, wall ${r.wall}; losses ${j.losses.map((x) => x.toFixed(6)).join(', ')}`);
  return { ...j, peak: r.held };
};
for (const d of ['run', 'run-straight', 'run-bf16']) rmSync(join(root, d), { recursive: true, force: true }); // each run starts fresh
const a = await run(join(root, bf16 ? 'run-bf16' : 'run'), 2);
if (bf16) {
  console.log(`--grad-dtype bf16 with clipping: 2 steps ${a.peak <= 16 ? 'within' : 'OVER'} 16 GiB of peak memory held; gradient norms ${a.grad_norms.join(', ')}`);
  process.exit(a.peak <= 16 ? 0 : 1);
}
const b = await run(join(root, 'run'), 3, ['--resume']);
const c = await run(join(root, 'run-straight'), 3);
// --json gives the whole run's losses, the resumed ones included
const same = JSON.stringify(b.losses) === JSON.stringify(c.losses);
console.log(`2 steps + --resume to 3 vs 3 straight: ${same ? 'bit-identical losses' : 'DIFFERENT'} (${b.losses.at(-1)} vs ${c.losses.at(-1)}); the first two ${JSON.stringify(a.losses) === JSON.stringify(c.losses.slice(0, 2)) ? 'identical' : 'DIFFERENT'}`);
