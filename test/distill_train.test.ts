// distill_train: `train --teacher` end to end against test/ref/distill_ref.py, PyTorch with autograd written
// from the KD formulas: test/train.test.ts's recipe (stories260K's first 3 blocks, 10 steps of 2 x 4 x 64
// tokens, AdamW, cosine, clip 1) with the whole 5-block stories260K as teacher, the whole distribution
// (A 0.5, T 1) and its top 8 (A 0.7, T 2): loss, ce, kd and gradient norm per step, and the plain
// validation loss after, within the trainer's parity tolerance (2e-3). Then the bad inputs.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, cpSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu, writeRefTexts, refTrainArgs } from './helpers.js';

const exec = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const ref = JSON.parse(readFileSync(resolve(REPO, 'test/ref/distill_ref.json'), 'utf8'));
const TEACHER = resolve(SHARED, 'stories260k/stories260K.bin');
let hasGpu = false;
let work = '', k3 = '', trainText = '', valText = '';

beforeAll(async () => {
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  work = mkdtempSync(join(tmpdir(), 'itrt-kd-'));
  ({ train: trainText, val: valText } = writeRefTexts(ref.recipe, work));
  k3 = join(work, 'k3');
  if (hasGpu) await exec(process.execPath, [CLI, 'inherit', '--model', TEACHER, '--layers', '3', '--out', k3]);
}, 120_000);

const r = () => ref.recipe;
const recipe = (out: string, extra: string[] = []) => refTrainArgs(r(), k3, { train: trainText, val: valText }, out, extra);
const cli = (args: string[]) => exec(process.execPath, [CLI, ...args]).then((x) => ({ code: 0, ...x }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));

describe('train --teacher vs PyTorch (test/ref/distill_ref.py)', () => {
  for (const c of ref.cases as { name: string; alpha: number; temperature: number; topk: number; losses: number[]; ce: number[]; kd: number[]; grad_norms: number[]; val_loss: number }[]) {
    it(`${c.name}: A ${c.alpha}, T ${c.temperature}, top-K ${c.topk || 'all'}: loss, ce, kd and gradient norm per step within 2e-3`, async (ctx) => {
      if (!hasGpu) return ctx.skip();
      const out = join(work, `kd-${c.name}`);
      const extra = ['--teacher', TEACHER, '--distill-alpha', String(c.alpha), '--distill-temperature', String(c.temperature), '--distill-topk', String(c.topk)];
      const got = await cli(recipe(out, extra));
      expect(got.stderr).toBe('');
      const j = JSON.parse(got.stdout);
      expect(j.losses).toHaveLength(c.losses.length);
      for (const [key, tol] of [['losses', 2e-3], ['ce', 2e-3], ['kd', 2e-3]] as const) {
        (j[key] as number[]).forEach((v, i) => expect(Math.abs(v - (c as never)[key][i]), `${key} step ${i}`).toBeLessThanOrEqual(tol));
      }
      j.grad_norms.forEach((n: number, i: number) => expect(Math.abs(n - c.grad_norms[i]), `grad norm ${i}`).toBeLessThanOrEqual(2e-3 * c.grad_norms[i]));
      expect(Math.abs(j.val_loss - c.val_loss)).toBeLessThanOrEqual(2e-3);
      // the memory plan counts the teacher (weights, forward activations, KD terms): within 10 % of the measured peak
      expect(Math.abs(j.plan_bytes / j.gpu_peak_bytes - 1)).toBeLessThan(0.1);
      expect(j.plan_bytes).toBeGreaterThanOrEqual(j.gpu_peak_bytes); // a plan that refuses before allocating must not undercount
      const plan = JSON.parse((await cli(['plan', '--model', k3, '--batch', String(r().batch), '--seq', String(r().seq), '--grad-accum', String(r().grad_accum),
        '--teacher', TEACHER, '--distill-topk', String(c.topk), '--json'])).stdout);
      expect(plan.total).toBe(j.plan_bytes);
      expect(plan.parts.map((x: { part: string }) => x.part)).toContain('teacher');
      // metrics.jsonl carries ce and kd beside the total
      const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines[0]).toMatchObject({ step: 0 });
      expect(Math.abs(lines[0].loss - ((1 - c.alpha) * lines[0].ce + c.alpha * c.temperature ** 2 * lines[0].kd))).toBeLessThan(1e-9);
    });
  }
});

describe('train --teacher: bad input', () => {
  it('each gets a clear error that names the problem and the fix', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'bad');
    const cases: [string[], RegExp][] = [
      [['--distill-alpha', '0.3'], /--distill-alpha needs --teacher PATH\n---> HINT: pass the model to distil from with --teacher/],
      [['--teacher', TEACHER, '--distill-alpha', '1.5'], /--distill-alpha 1\.5 must be in \[0, 1\]/],
      [['--teacher', TEACHER, '--distill-temperature', '0'], /--distill-temperature 0 must be a number > 0/],
      [['--teacher', TEACHER, '--distill-topk=-1'], /--distill-topk -1 must be an integer in \[0, 512\)/],
      [['--teacher', TEACHER, '--distill-topk', '512'], /--distill-topk 512 must be an integer in \[0, 512\)/],
      [['--teacher', resolve(REPO, 'test/ref/hf/gpt2-tiny')], /the teacher .*gpt2-tiny has a vocabulary of \d+ ids, the student .*k3 512/],
    ];
    for (const [extra, want] of cases) {
      const got = await cli([...recipe(out, extra), '--force']);
      expect(got.code, extra.join(' ')).toBe(1);
      expect(got.stderr, extra.join(' ')).toMatch(want);
    }
  });

  it("a teacher of the same vocabulary size with another tokenizer is named, with the first id that differs; the same tokenizer in another format passes", async (ctx) => {
    if (!hasGpu) return ctx.skip();
    // the student's own directory with one piece of its tokenizer changed: same size, another tokenizer
    const other = join(work, 'other-tok');
    mkdirSync(other, { recursive: true });
    cpSync(k3, other, { recursive: true });
    for (const f of ['tok512.bin', 'tokenizer.model']) rmSync(join(other, f)); // tokenizer.json alone speaks for it
    const tj = join(other, 'tokenizer.json');
    const t = JSON.parse(readFileSync(tj, 'utf8'));
    const vocab = t.model.vocab as Record<string, number>;
    // ids 300 and 301 swap pieces: every merge still finds its pieces
    const k300 = Object.keys(vocab).find((x) => (vocab as Record<string, number>)[x] === 300)!, k301 = Object.keys(vocab).find((x) => (vocab as Record<string, number>)[x] === 301)!;
    Object.assign(vocab, { [k300]: 301, [k301]: 300 });
    writeFileSync(tj, JSON.stringify(t));
    const shown = (k: string) => JSON.stringify(k.replace(/\u2581/g, ' ')).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const got = await cli([...recipe(join(work, 'bad2'), ['--teacher', other])]);
    expect(got.code).toBe(1);
    expect(got.stderr).toMatch(new RegExp(`the teacher's tokenizer differs from the student's: id 300 is ${shown(k301)} for the teacher .*other-tok and ${shown(k300)} for the student .*k3`));
    // the unchanged tokenizer.json alone (the student reads tok512.bin): accepted, and one step trains
    writeFileSync(tj, readFileSync(join(k3, 'tokenizer.json')));
    const ok = await cli([...recipe(join(work, 'ok-json'), ['--teacher', other]).map((a, i, all) => (all[i - 1] === '--steps' ? '1' : a))]);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout).kd).toHaveLength(1);
  });
});

describe('train --teacher with the other training modes', () => {
  const base = (out: string, extra: string[] = []) => recipe(out, ['--teacher', TEACHER, '--distill-topk', '8', '--distill-temperature', '2', ...extra])
    .map((a, i, all) => (all[i - 1] === '--steps' ? '6' : a));

  it('--recompute gives the same losses bit for bit; a kill -9 mid-save then --resume too', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const whole = JSON.parse((await cli(base(join(work, 'kd-whole')))).stdout);
    expect(whole.kd.every((k: number) => k > 0)).toBe(true);
    const rec = JSON.parse((await cli(base(join(work, 'kd-rec'), ['--recompute']))).stdout);
    expect(rec.losses).toEqual(whole.losses);
    expect(rec.kd).toEqual(whole.kd);
    const out = join(work, 'kd-crash'), extra = ['--save-every', '2'];
    const killed = await exec(process.execPath, [CLI, ...base(out, extra)], { env: { ...process.env, INHERITUNE_CRASH_AT: 'write:2' } }).then(() => null, (e) => e);
    expect(killed?.signal).toBe('SIGKILL');
    const resumed = JSON.parse((await cli([...base(out, extra), '--resume'])).stdout);
    expect(resumed.losses).toEqual(whole.losses);
    expect(resumed.grad_norms).toEqual(whole.grad_norms);
    expect(resumed.val_loss).toBe(whole.val_loss);
    // a resume with other distillation settings is refused
    const other = await cli([...base(out, ['--distill-alpha', '0.9']).map((a, i, all) => (all[i - 1] === '--steps' ? '8' : a)), '--resume']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/the checkpoint was trained with distillation \{"alpha":0\.5,"temperature":2,"topk":8\}, and it is \{"alpha":0\.9/);
  });

  it('--optim adamw8bit, --precision f16 and --optim-in-backward train with the KD loss (finite, close to f32 AdamW)', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const f32 = JSON.parse((await cli(base(join(work, 'kd-f32b')))).stdout);
    for (const extra of [['--optim', 'adamw8bit'], ['--precision', 'f16'], ['--optim-in-backward', '--clip', '0', '--grad-accum', '1']]) {
      const got = await cli(base(join(work, `kd-${extra[0].slice(2)}`), extra));
      expect(got.stderr, extra.join(' ')).toBe('');
      const j = JSON.parse(got.stdout);
      expect(j.losses.every(Number.isFinite), extra.join(' ')).toBe(true);
      expect(j.kd.every((k: number) => k > 0), extra.join(' ')).toBe(true);
      if (extra[0] !== '--optim-in-backward') expect(Math.abs(j.losses[0] - f32.losses[0]), extra.join(' ')).toBeLessThan(0.02); // the same first step, up to f16 / 8-bit rounding
    }
  });
});

describe('run --distill --kd-baseline: the recipe with the reference as teacher, the KD baseline and the token savings', () => {
  it('every round and the KD baseline log ce and kd; report.json has kd_baseline and savings; summary.md says what was saved', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'run-kd');
    const got = await cli(['run', '--model', TEACHER, '--text', trainText, '--val-text', valText, '--layers', '3', '--max-rounds', '1',
      '--steps', '6', '--batch', '2', '--seq', '32', '--lr', '2e-3', '--warmup', '0', '--eval-every', '2', '--val-windows', '4',
      '--sampling', 'random', '--analyze-sequences', '0', '--baseline', '--distill', '--kd-baseline', '--distill-topk', '16', '--out', out, '--json']);
    expect(got.stderr).toBe('');
    const r = JSON.parse(got.stdout);
    expect(r.kd_baseline).toMatchObject({ label: 'kd_baseline', blocks: null, n_layers: 3 });
    for (const label of ['round-0', 'kd_baseline']) {
      const lines = readFileSync(join(out, label, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.every((l) => l.kd > 0 && l.ce > 0), label).toBe(true);
      expect(JSON.parse(readFileSync(join(out, label, 'checkpoint', 'trainer.json'), 'utf8')).opts.distill).toEqual({ alpha: 0.5, temperature: 1, topk: 16 });
    }
    // the plain baseline trains on labels alone
    expect(readFileSync(join(out, 'baseline', 'metrics.jsonl'), 'utf8')).not.toMatch(/"kd"/);
    expect(r.savings.map((s: { label: string }) => s.label)).toEqual(['round-0', 'kd_baseline', 'baseline']);
    const base = r.savings[2];
    expect(base.tokens_to_baseline_final).toBeLessThanOrEqual(base.tokens_trained);
    // the inherited, distilled model starts far below random init: it is at the baseline's final loss before any step
    expect(r.savings[0].tokens_to_baseline_final).toBe(0);
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toMatch(/## Tokens saved/);
    expect(summary).toMatch(/the inherited distilled 3-block model \(round-0\) was below the random-init baseline's final loss/);
    expect(summary).toMatch(/\| kd_baseline \| random init \| 3 \|/);
    expect(readFileSync(join(out, 'val_loss.svg'), 'utf8')).toMatch(/random init \+ KD/);
  });

  it('--distill-* without --distill or --kd-baseline is refused', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const got = await cli(['run', '--model', TEACHER, '--text', trainText, '--layers', '3', '--steps', '2', '--batch', '2', '--seq', '32',
      '--out', join(work, 'run-bad'), '--distill-temperature', '2']);
    expect(got.code).toBe(1);
    expect(got.stderr).toMatch(/--distill-temperature needs --distill or --kd-baseline\n---> HINT: pass --distill/);
  });
});
