// runstate: damaged run state is never used (issue 28 item 2). trainer.json is checked field by field
// (types, ranges, the step within the run's steps, the loader's position inside the data) with errors
// that name the file and the field; --resume on other data or another teacher cache is refused unless
// --allow-data-change; each checkpoint's files are checked against digests.json (a damaged or missing
// file is named, and the run's older kept step is offered: --resume-from continues from it, bit-identical
// to a run that never stopped); a checkpoint from before digests.json still loads.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, readdirSync, rmSync, cpSync, appendFileSync, readlinkSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu } from './helpers.js';

const exec = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const STORIES = resolve(SHARED, 'stories260k/stories260K.bin');
let hasGpu = false;
let work = '', k2 = '', text = '', other = '', val = '', base = '', straight: number[] = [];

const cli = (args: string[]) => exec(process.execPath, [CLI, ...args]).then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));
const trainArgs = (out: string, steps: number, extra: string[] = [], data = text) => ['train', '--model', k2, '--text', data, '--val-text', val, '--steps', String(steps),
  '--batch', '2', '--seq', '32', '--save-every', '1', '--val-windows', '2', '--out', out, '--json', ...extra];
const STEP1 = 'step-00000001', STEP2 = 'step-00000002';
let n = 0;
/** a copy of the 2-step run (steps 1 and 2 kept), to damage */
const copyRun = (): string => { const out = join(work, `copy-${n++}`); cpSync(base, out, { recursive: true, verbatimSymlinks: true }); return out; };
const step = (out: string, s = STEP2) => join(out, 'checkpoints', s);
const editTrainer = (out: string, f: (j: any) => unknown) => {
  const p = join(step(out), 'trainer.json');
  writeFileSync(p, typeof f === 'function' ? JSON.stringify(f(JSON.parse(readFileSync(p, 'utf8')))) : f);
};
const resume = (out: string, extra: string[] = [], data = text) => cli([...trainArgs(out, 3, extra, data), '--resume']);
const older = (out: string) => `---> HINT: resume from the run's older checkpoint with --resume-from ${step(out, STEP1)}, or start over with --force`;

beforeAll(async () => {
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  work = mkdtempSync(join(tmpdir(), 'itrt-runstate-'));
  text = join(work, 'train.txt');
  other = join(work, 'other.txt');
  val = join(work, 'val.txt');
  const stories = readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8');
  writeFileSync(text, stories.slice(0, 20000));
  writeFileSync(other, stories.slice(30000, 40000));
  writeFileSync(val, stories.slice(20000, 24000));
  k2 = join(work, 'k2');
  if (!hasGpu) return;
  await exec(process.execPath, [CLI, 'inherit', '--model', STORIES, '--layers', '2', '--out', k2]);
  base = join(work, 'base');
  // a 3-step run killed in its third save: steps 1 and 2 kept, both saved with --steps 3 (so a resume matches the run below)
  const killed = await exec(process.execPath, [CLI, ...trainArgs(base, 3), '--keep-checkpoints', '2'], { env: { ...process.env, INHERITUNE_CRASH_AT: 'write:3' } }).catch((e) => e);
  expect(killed.signal).toBe('SIGKILL');
  const s = await cli(trainArgs(join(work, 'straight'), 3));   // the same run, never stopped
  straight = JSON.parse(s.stdout).losses;
}, 180_000);

describe('trainer.json is checked field by field before a resume uses it', () => {
  const cases: [string, (j: any) => unknown, (out: string) => string][] = [
    ['a step that is a string', (j) => ({ ...j, state: { ...j.state, step: '3' } }), () => '`state.step` is "3", expected an integer >= 0: the checkpoint is damaged'],
    ['a step past the run\'s steps', (j) => ({ ...j, state: { ...j.state, step: 1e9 } }), () => '`state.step` is 1000000000, expected at most the run\'s `opts.steps` 3: the checkpoint is damaged'],
    ['no state', (j) => ({ opts: j.opts }), () => '`state` is missing, expected an object (the trainer\'s step, tokens and data position): the checkpoint is damaged'],
    ['tokens seen that do not follow from the step', (j) => ({ ...j, state: { ...j.state, tokensSeen: 7 } }), () => '`state.tokensSeen` is 7, expected 128 (step 2 x batch 2 x seq 32 x grad-accum 1): the checkpoint is damaged'],
    ['a loader of other batches', (j) => ({ ...j, state: { ...j.state, loader: { ...j.state.loader, step: 5 } } }), () => '`state.loader.step` is 5, expected 2 (from `state.step` x `opts.gradAccum`): the checkpoint is damaged'],
    ['an option of another type', (j) => ({ ...j, opts: { ...j.opts, batch: '2' } }), () => '`opts.batch` is "2", expected an integer >= 1: the checkpoint is damaged'],
    ['an option out of range', (j) => ({ ...j, opts: { ...j.opts, beta2: 1.5 } }), () => '`opts.beta1`/`opts.beta2` must be < 1 (got 0.9, 1.5): the checkpoint is damaged'],
    ['a loader position past the data', (j) => ({ ...j, state: { ...j.state, loader: { ...j.state.loader, pos: 64_000_000 } } }), () => '`state.loader` is at token 64000000, outside the training data (it holds'],
  ];
  for (const [what, damage, message] of cases) {
    it(what, async (ctx) => {
      if (!hasGpu) return ctx.skip();
      const out = copyRun();
      editTrainer(out, damage);
      const before = readFileSync(join(step(out), 'trainer.json'), 'utf8');
      const r = await resume(out);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${join(step(out), 'trainer.json')}: ${message(out)}`);
      expect(r.stderr).toContain(older(out));
      expect(readFileSync(join(step(out), 'trainer.json'), 'utf8')).toBe(before); // nothing was trained or saved
    });
  }

  it('a truncated trainer.json is named, not a raw SyntaxError', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = copyRun(), f = join(step(out), 'trainer.json');
    writeFileSync(f, readFileSync(f, 'utf8').slice(0, 100));
    const r = await resume(out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON \\(.*\\): the checkpoint is damaged\\n`));
    expect(r.stderr).toContain(older(out));
    expect(r.stderr).not.toMatch(/SyntaxError|TypeError|\n\s+at /);
  });
});

describe('the training data is the run\'s unless --allow-data-change', () => {
  it('another --text is refused; with --allow-data-change the run goes on from its position and records the new data', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = copyRun();
    const r = await resume(out, [], other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`--resume: the run in ${out} was trained on the text ${text} \\(20000 bytes in 1 file, sha256 [0-9a-f]{16}…, as .*trainer\\.json records\\); this run's --text is ${other} \\(10000 bytes in 1 file, sha256 [0-9a-f]{16}…\\)\\n` +
      '---> HINT: resume with the data the run was trained on; or pass --allow-data-change to go on from the same position in the new data \\(allowDataChange in the API\\), or --force to start over'));
    const ok = await resume(out, ['--allow-data-change'], other);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const saved = JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer.json'), 'utf8'));
    expect(saved.state.step).toBe(3);
    expect(saved.data).toMatchObject({ path: other, bytes: 10000, files: 1, digest_of: 'whole files' });
  });

  it('the same --text changed since the run is refused', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = copyRun(), was = readFileSync(text);
    appendFileSync(text, 'x');
    try {
      const r = await resume(out);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`was trained on the text ${text} \\(20000 bytes in 1 file, sha256 [0-9a-f]{16}…, as .*trainer\\.json records\\); it has changed since \\(20001 bytes in 1 file, sha256 [0-9a-f]{16}…\\)\\n---> HINT: .*--allow-data-change`));
    } finally { writeFileSync(text, was); }
  });
});

describe('checkpoint files are checked against their digests', () => {
  it('each step directory lists the sha256 of its files; --keep-checkpoints N keeps N, and a resume keeps the same', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const d = JSON.parse(readFileSync(join(step(base), 'digests.json'), 'utf8')).sha256;
    expect(Object.keys(d).sort()).toEqual(readdirSync(step(base)).filter((f) => f !== 'digests.json').sort());
    const { createHash } = await import('node:crypto');
    for (const [f, sum] of Object.entries(d)) expect(createHash('sha256').update(readFileSync(join(step(base), f))).digest('hex'), f).toBe(sum);
    expect(readdirSync(join(base, 'checkpoints')).sort()).toEqual([STEP1, STEP2, 'step-00000003']); // the kill left step 3 half-written
    const out = copyRun();
    expect((await resume(out)).code).toBe(0);
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual([STEP2, 'step-00000003']);
    expect(JSON.parse(readFileSync(join(out, 'checkpoints.json'), 'utf8'))).toMatchObject({ steps: [STEP2, 'step-00000003'], keep: 2 });
  });

  it('a flipped bit in the weights is named, and --resume-from the older step continues bit-identically', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = copyRun(), f = join(step(out), 'model.safetensors'), b = readFileSync(f);
    b[b.length - 5] ^= 0x10;
    writeFileSync(f, b);
    const r = await resume(out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`--resume: ${f} does not match its digest in digests.json \\(sha256 [0-9a-f]{16}…, recorded [0-9a-f]{16}…\\): the checkpoint is damaged\\n`));
    expect(r.stderr).toContain(older(out));
    const again = await cli([...trainArgs(out, 3), '--resume-from', step(out, STEP1)]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).losses).toEqual(straight);  // steps 1 and 2 trained again, as the run that never stopped did
    expect(readlinkSync(join(out, 'checkpoint'))).toBe(join('checkpoints', 'step-00000003'));
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual([STEP2, 'step-00000003']); // the damaged step 2 was removed, then written again
  });

  it('a missing optimizer.safetensors is named (with digests.json, and in a checkpoint from before it)', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    for (const legacy of [false, true]) {
      const out = copyRun(), f = join(step(out), 'optimizer.safetensors');
      rmSync(f);
      if (legacy) rmSync(join(step(out), 'digests.json'));
      const r = await resume(out);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`--resume: ${f} is missing${legacy ? '' : ' (digests.json lists it)'}: the checkpoint is damaged\n${older(out)}`);
      expect(r.stderr).not.toMatch(/ENOENT/);
    }
  });

  it('a damaged digests.json is named', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = copyRun(), f = join(step(out), 'digests.json');
    writeFileSync(f, readFileSync(f, 'utf8').slice(0, 50));
    const r = await resume(out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--resume: ${f} is damaged: it is not a list of file names and sha256 digests: the checkpoint is damaged\n${older(out)}`);
  });

  it('a checkpoint from before digests.json still resumes, bit-identically', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = copyRun();
    rmSync(join(step(out), 'digests.json'));
    const r = await resume(out);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).losses).toEqual(straight);
  });

  it('with no older step kept, the hint says so', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = copyRun();
    rmSync(step(out, STEP1), { recursive: true });
    editTrainer(out, () => '{"state": {');
    const r = await resume(out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('---> HINT: no older checkpoint of the run is kept (train --keep-checkpoints N keeps the newest N); restore the file, or start over with --force');
  });
});

describe('a teacher cache is the run\'s unless --allow-data-change', () => {
  it('a cache whose manifest changed is refused, its KD settings are checked, and --allow-data-change goes on', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const cache = join(work, 'cache'), out = join(work, 'kd');
    expect((await cli(['distill-cache', '--teacher', STORIES, '--text', text, '--seq', '32', '--topk', '4', '--out', cache, '--json'])).code).toBe(0);
    expect((await cli(trainArgs(out, 1, ['--teacher-cache', cache]))).code).toBe(0);
    const m = join(cache, 'distill_cache.json'), manifest = JSON.parse(readFileSync(m, 'utf8'));
    writeFileSync(m, JSON.stringify({ ...manifest, teacher: { ...manifest.teacher, path: '/elsewhere/teacher' } }));
    const r = await cli([...trainArgs(out, 2, ['--teacher-cache', cache]), '--resume']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--resume: the checkpoint was trained with the teacher cache whose manifest's sha256 is [0-9a-f]{16}…, and this run has the teacher cache whose manifest's sha256 is [0-9a-f]{16}…\n---> HINT: resume with the same teacher cache \(the same distill_cache.json\); or pass --allow-data-change/);
    const f = join(out, 'checkpoints', STEP1, 'trainer.json'), saved = readFileSync(f, 'utf8');
    writeFileSync(f, JSON.stringify({ ...JSON.parse(saved), opts: { ...JSON.parse(saved).opts, distill: { alpha: 'x', temperature: 1, topk: 4 } } }));
    const bad = await cli([...trainArgs(out, 2, ['--teacher-cache', cache, '--allow-data-change']), '--resume']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${f}: \`opts.distill\` is {"alpha":"x","temperature":1,"topk":4}, expected the distillation settings { alpha, temperature, topk }: the checkpoint is damaged`);
    writeFileSync(f, saved);
    const ok = await cli([...trainArgs(out, 2, ['--teacher-cache', cache, '--allow-data-change']), '--resume']);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout).steps_run).toBe(1);
  }, 120_000);
});

describe('--resume-from on a run from an older version', () => {
  it('a plain checkpoint directory (the old layout) is named, with the fix, and left as it was', async () => {
    const { resumeFrom } = await import('../src/node/checkpoint.js');
    const run = mkdtempSync(join(tmpdir(), 'inheritune-oldrun-'));
    mkdirSync(join(run, 'checkpoint'));
    writeFileSync(join(run, 'checkpoint', 'trainer.json'), '{}');
    mkdirSync(join(run, 'checkpoints', 'step-00000001'), { recursive: true });
    writeFileSync(join(run, 'checkpoints', 'step-00000001', 'trainer.json'), '{}');
    expect(() => resumeFrom(run, join(run, 'checkpoints', 'step-00000001')))
      .toThrow(/checkpoint is a directory, not the link to a step this version writes[\s\S]*move .*checkpoint out of the run/);
    expect(readFileSync(join(run, 'checkpoint', 'trainer.json'), 'utf8')).toBe('{}');
    expect(readdirSync(run).sort()).toEqual(['checkpoint', 'checkpoints']);
    rmSync(run, { recursive: true, force: true });
  });
});
