// train: the trainer through the CLI. (1) An inherited 3-block stories260K follows the PyTorch run of
// the same recipe (test/ref/train_ref.py) within 2e-3 per step. (2) kill -9 while a checkpoint is
// being written, then --resume: the losses are bit-identical to an uninterrupted run. (3) A NaN
// stops the run with a clear message and leaves the last good checkpoint loadable.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdtempSync, existsSync, readdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const ref = JSON.parse(readFileSync(resolve(REPO, 'test/ref/train_ref.json'), 'utf8'));
let hasGpu = false;
let work = '', k3 = '', trainText = '', valText = '';

beforeAll(async () => {
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  work = mkdtempSync(join(tmpdir(), 'itrt-train-'));
  const cps = (f: string, s: number, n: number) => {
    const text = Array.from(readFileSync(resolve(SHARED, f), 'utf8')).slice(s, s + n).join('');
    return text;
  };
  trainText = join(work, 'train.txt');
  valText = join(work, 'val.txt');
  writeFileSync(trainText, cps(...(ref.recipe.train_text as [string, number, number])));
  writeFileSync(valText, cps(...(ref.recipe.val_text as [string, number, number])));
  k3 = join(work, 'k3');
  if (hasGpu) await run(process.execPath, [CLI, 'inherit', '--from', resolve(SHARED, 'stories260k/stories260K.bin'), '--layers', '3', '--out', k3]);
});

const recipe = (out: string, extra: string[] = []) => ['train', '--model', k3, '--text', trainText, '--val-text', valText,
  '--steps', '10', '--batch', '4', '--seq', '64', '--grad-accum', '2', '--lr', '1e-3', '--min-lr', '1e-4', '--warmup', '3',
  '--schedule', 'cosine', '--beta1', '0.9', '--beta2', '0.95', '--eps', '1e-8', '--wd', '0.1', '--clip', '1.0',
  '--sampling', 'sequential', '--val-windows', '8', '--out', out, '--json', ...extra];

async function train(args: string[], env: Record<string, string> = {}) {
  const { stdout } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
  return JSON.parse(stdout);
}

describe('trainer vs PyTorch', () => {
  it('inherited 3-block stories260K follows the PyTorch recipe within 2e-3 per step', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const r = await train(recipe(join(work, 'run')));
    expect(r.losses.length).toBe(10);
    r.losses.forEach((l: number, i: number) => expect(Math.abs(l - ref.losses[i]), `step ${i}`).toBeLessThanOrEqual(2e-3));
    r.grad_norms.forEach((n: number, i: number) => expect(Math.abs(n - ref.grad_norms[i]), `grad norm ${i}`).toBeLessThanOrEqual(2e-3 * ref.grad_norms[i]));
    expect(Math.abs(r.val_loss - ref.val_loss)).toBeLessThanOrEqual(2e-3);
    // the run's artifacts
    const lines = readFileSync(join(work, 'run/metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([...Array(10).keys()]);
    expect(lines[9]).toHaveProperty('val_loss');
    expect(readFileSync(join(work, 'run/loss.svg'), 'utf8')).toMatch(/^<svg/);
    for (const f of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer.json', 'tok512.bin']) {
      expect(existsSync(join(work, 'run/checkpoint', f)), f).toBe(true);
    }
  });
});

describe('checkpoints resume exactly', () => {
  for (const [sampling, crash] of [['sequential', 'write:3'], ['random', 'swap:2']] as const) {
    it(`kill -9 during checkpoint writing (${crash}, ${sampling} sampling), then --resume: bit-identical losses`, async (ctx) => {
      if (!hasGpu) return ctx.skip();
      const extra = ['--sampling', sampling, '--seed', '7', '--save-every', '2'];
      const whole = await train([...recipe(join(work, `whole-${sampling}`)), ...extra]);
      const out = join(work, `crash-${sampling}`);
      const killed = spawnSync(process.execPath, [CLI, ...recipe(out), ...extra], { env: { ...process.env, INHERITUNE_CRASH_AT: crash } });
      expect(killed.signal).toBe('SIGKILL');
      // the crash left a half-written step directory (write) or a stray link (swap) behind, while
      // checkpoint/ still names a complete checkpoint: there is no moment without one
      const leftovers = () => [...readdirSync(out).filter((f) => f.startsWith('.checkpoint.')),
        ...readdirSync(join(out, 'checkpoints')).filter((d) => !existsSync(join(out, 'checkpoints', d, 'trainer.json')))];
      expect(leftovers().length).toBeGreaterThan(0);
      expect(existsSync(join(out, 'checkpoint', 'trainer.json'))).toBe(true);
      const resumed = await train([...recipe(out), ...extra, '--resume']);
      expect(resumed.losses).toEqual(whole.losses);           // bit-identical, all 10 steps
      expect(resumed.grad_norms).toEqual(whole.grad_norms);
      expect(resumed.val_loss).toBe(whole.val_loss);
      expect(leftovers()).toEqual([]);
      expect(readdirSync(join(out, 'checkpoints'))).toHaveLength(1);
    });
  }
});

describe('kill -9 at random moments of a run started from stories260K.bin', () => {
  it('at least 10 kills (some inside checkpoint writes), each followed by --resume: the final losses equal an uninterrupted run', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    // from the llama2.c file itself: training computes in the layout its checkpoints hold from step 0
    const base = (out: string) => recipe(out).map((a) => (a === k3 ? resolve(SHARED, 'stories260k/stories260K.bin') : a))
      .map((a, i, all) => (all[i - 1] === '--steps' ? '64' : a)).concat(['--save-every', '1', '--sampling', 'random', '--seed', '3']);
    const whole = await train(base(join(work, 'kill-whole')));
    const out = join(work, 'kill-run');
    let rng = 12345;
    const next = () => (rng = (rng * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const crashes = ['write:2', 'swap:3', 'write:1', 'swap:1'];   // kills inside checkpoint writes
    let kills = 0, started = false, last: { losses: number[]; grad_norms: number[]; val_loss: number } | null = null;
    for (let attempt = 0; attempt < 40 && !last; attempt++) {
      // before the first checkpoint there is nothing to resume: --force starts over in what a kill left
      const args = [CLI, ...base(out), ...(started ? ['--resume'] : ['--force'])];
      const env = { ...process.env, ...(kills < crashes.length && kills % 3 === 0 ? { INHERITUNE_CRASH_AT: crashes[kills / 3] } : {}) };
      const child = await new Promise<{ code: number | null; signal: string | null; stdout: string }>((done) => {
        const c = spawn(process.execPath, args, { env });
        let stdout = '';
        c.stdout.on('data', (d) => { stdout += d; });
        // a timed kill after 0.7..2.2 s (a start takes ~0.6 s): anywhere in a step, an evaluation or a save
        const timer = kills >= 10 ? null : setTimeout(() => c.kill('SIGKILL'), 700 + next() * 1500);
        c.on('exit', (code, signal) => { if (timer) clearTimeout(timer); done({ code, signal, stdout }); });
      });
      if (child.signal === 'SIGKILL') { kills++; started ||= existsSync(join(out, 'checkpoint', 'trainer.json')); continue; }
      expect(child.code).toBe(0);
      last = JSON.parse(child.stdout);
    }
    expect(kills).toBeGreaterThanOrEqual(10);
    expect(last!.losses).toEqual(whole.losses);          // bit for bit, every step
    expect(last!.grad_norms).toEqual(whole.grad_norms);
    expect(last!.val_loss).toBe(whole.val_loss);
  });
});

describe('training errors', () => {
  it('a NaN loss stops the run with a clear message and keeps the last checkpoint', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'nan');
    const args = recipe(out).filter((a) => a !== '--json');
    const i = args.indexOf('--lr');
    args[i + 1] = '1e9';
    args[args.indexOf('--clip') + 1] = '0';
    const err = await run(process.execPath, [CLI, ...args, '--save-every', '1']).then(() => null, (e) => e);
    expect(err?.code).toBe(1);
    expect(err.stderr).toMatch(/step \d+: the loss is \S+ and the gradient norm \S+; stopped before the update\n---> HINT: lower --lr/);
    const saved = JSON.parse(readFileSync(join(out, 'checkpoint/trainer.json'), 'utf8'));
    expect(saved.state.step).toBeGreaterThanOrEqual(1);
    const { stdout } = await run(process.execPath, [CLI, 'logits', '--model', join(out, 'checkpoint'), '--ids', '1,2,3', '--json']);
    expect(JSON.parse(stdout).logits.length).toBe(3);
  });

  it('bad options and too little data are clear errors', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const bad = async (args: string[]) => (await run(process.execPath, [CLI, ...args]).then(() => null, (e) => e)).stderr as string;
    const base = recipe(join(work, 'bad')).filter((a) => a !== '--json');
    const set = (k: string, v: string) => { const a = base.slice(); a[a.indexOf(k) + 1] = v; return a; };
    expect(await bad(set('--steps', '100000'))).toMatch(/sequential sampling needs 800000 windows.*HINT: use --sampling random/s);
    expect(await bad(set('--schedule', 'linear'))).toMatch(/--schedule linear: expected cosine or constant/);
    expect(await bad(set('--beta2', '1.5'))).toMatch(/--beta1\/--beta2 must be < 1/);
    expect(await bad([...base, '--resume'].map((a) => (a === join(work, 'bad') ? join(work, 'nothing-here') : a)))).toMatch(/--resume: no checkpoint/);
  });
});
