// ownership: a run owns only what it wrote (issue 28 item 1). A user's files beside and inside a
// training run survive every save, --resume and --force; RUN/checkpoints as a link out of the run is
// refused and what it points at is untouched; a lost checkpoint link is re-pointed, not thrown away;
// inherit, export and pack refuse an --out that is, contains or lies inside their source; pack --force
// removes only the shards an earlier pack listed.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, existsSync, readdirSync, symlinkSync, rmSync, cpSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu } from './helpers.js';
import { recoverCheckpoint } from '../src/node/checkpoint.js';

const exec = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const STORIES = resolve(SHARED, 'stories260k/stories260K.bin');
let hasGpu = false;
let work = '', k2 = '', text = '', val = '';

beforeAll(async () => {
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  work = mkdtempSync(join(tmpdir(), 'itrt-own-'));
  text = join(work, 'train.txt');
  val = join(work, 'val.txt');
  const stories = readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8');
  writeFileSync(text, stories.slice(0, 20000));
  writeFileSync(val, stories.slice(20000, 24000));
  k2 = join(work, 'k2');
  if (hasGpu) await exec(process.execPath, [CLI, 'inherit', '--model', STORIES, '--layers', '2', '--out', k2]);
}, 120_000);

const cli = (args: string[]) => exec(process.execPath, [CLI, ...args]).then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));
const trainArgs = (out: string, steps: number, extra: string[] = []) => ['train', '--model', k2, '--text', text, '--val-text', val, '--steps', String(steps),
  '--batch', '2', '--seq', '32', '--save-every', '1', '--val-windows', '2', '--out', out, '--json', ...extra];

/** a user's files: a note beside the run, a README and a folder of notes inside checkpoints/ */
function plantUserFiles(out: string): string[] {
  mkdirSync(join(out, 'checkpoints', 'my-notes'), { recursive: true });
  const files = [join(out, 'NOTES.md'), join(out, 'checkpoints', 'README'), join(out, 'checkpoints', 'my-notes', 'a.txt')];
  for (const f of files) writeFileSync(f, `kept: ${f}\n`);
  return files;
}
const survive = (files: string[]) => files.forEach((f) => expect(readFileSync(f, 'utf8'), f).toBe(`kept: ${f}\n`));

describe('a training run owns only what it wrote', () => {
  it("a user's files inside and beside the run survive every save, --resume and --force", async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'run-user');
    mkdirSync(out, { recursive: true });
    const mine = plantUserFiles(out);
    const first = await cli([...trainArgs(out, 3), '--force']);       // --out is not empty: --force starts a run in it
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    survive(mine);
    // the manifest lists the one step kept; older steps (written by this run) are gone
    expect(JSON.parse(readFileSync(join(out, 'checkpoints.json'), 'utf8')).steps).toEqual(['step-00000003']);
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual(['README', 'my-notes', 'step-00000003']);
    const resumed = await cli([...trainArgs(out, 5), '--resume']);
    expect(resumed.code).toBe(0);
    survive(mine);
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual(['README', 'my-notes', 'step-00000005']);
    const again = await cli([...trainArgs(out, 2), '--force']);
    expect(again.code).toBe(0);
    survive(mine);
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual(['README', 'my-notes', 'step-00000002']);
  });

  it('RUN/checkpoints as a link to a directory elsewhere is refused, and every file there survives', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'run-link'), elsewhere = join(work, 'elsewhere');
    mkdirSync(join(elsewhere, 'sub'), { recursive: true });
    const theirs = [join(elsewhere, 'precious.bin'), join(elsewhere, 'sub', 'x.txt'), join(elsewhere, 'step-00000001.txt')];
    for (const f of theirs) writeFileSync(f, `kept: ${f}\n`);
    mkdirSync(out, { recursive: true });
    symlinkSync(elsewhere, join(out, 'checkpoints'));
    const r = await cli([...trainArgs(out, 2), '--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checkpoints is a link \(to .*elsewhere\): a run writes and removes checkpoints only inside its own --out\n---> HINT: remove the link/);
    survive(theirs);
    expect(readdirSync(elsewhere).sort()).toEqual(['precious.bin', 'step-00000001.txt', 'sub']);
  });

  it('a step directory the run did not write is never replaced', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'run-foreign-step');
    mkdirSync(join(out, 'checkpoints', 'step-00000001'), { recursive: true });
    writeFileSync(join(out, 'checkpoints', 'step-00000001', 'mine.txt'), 'kept\n');
    const r = await cli([...trainArgs(out, 2), '--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/step-00000001 exists and was not written by this run/);
    expect(readFileSync(join(out, 'checkpoints', 'step-00000001', 'mine.txt'), 'utf8')).toBe('kept\n');
  });

  it('a lost or dangling checkpoint link is re-pointed at the newest complete step, and --resume continues', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'run-lost-link');
    expect((await cli(trainArgs(out, 2))).code).toBe(0);
    for (const damage of ['missing', 'dangling']) {
      rmSync(join(out, 'checkpoint'));
      if (damage === 'dangling') symlinkSync(join('checkpoints', 'step-00000099'), join(out, 'checkpoint'));
      const steps = damage === 'missing' ? 3 : 4;
      const r = await cli([...trainArgs(out, steps), '--resume']);
      expect(r.stderr, damage).toBe('');
      expect(JSON.parse(r.stdout).losses, damage).toHaveLength(steps);
      expect(JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer.json'), 'utf8')).state.step).toBe(steps);
    }
  });

  it('a run from before checkpoints.json: recovery adopts the step its link names and removes nothing else', () => {
    const out = join(work, 'legacy');
    for (const d of ['step-00000004', 'step-00000002', 'keep-me']) mkdirSync(join(out, 'checkpoints', d), { recursive: true });
    for (const d of ['step-00000004', 'step-00000002']) writeFileSync(join(out, 'checkpoints', d, 'trainer.json'), '{}');
    symlinkSync(join('checkpoints', 'step-00000004'), join(out, 'checkpoint'));
    recoverCheckpoint(out);
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual(['keep-me', 'step-00000002', 'step-00000004']);
    expect(JSON.parse(readFileSync(join(out, 'checkpoints.json'), 'utf8')).steps).toEqual(['step-00000004']);
  });
});

describe('outputs that are, contain or lie inside their source are refused', () => {
  it('inherit --model M --out M --force leaves M as it was; so does --out M/child and --out of the parent of M', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const m = join(work, 'src-model');
    cpSync(k2, m, { recursive: true });
    const before = readdirSync(m).sort().map((f) => [f, readFileSync(join(m, f)).length]);
    for (const [out, how] of [[m, 'is'], [join(m, 'child'), 'lies inside'], [work, 'contains']] as const) {
      const r = await cli(['inherit', '--model', m, '--layers', '1', '--out', out, '--force']);
      expect(r.code, out).toBe(1);
      expect(r.stderr).toContain(`--out ${out} ${how} --model ${m}`);
    }
    expect(readdirSync(m).sort().map((f) => [f, readFileSync(join(m, f)).length])).toEqual(before);
  });

  it('export --onnx-dir inside the model, and pack --out holding its input, are refused', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const r = await cli(['export', '--model', k2, '--onnx-dir', join(k2, 'onnx-out'), '--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--onnx-dir .*onnx-out lies inside --model/);
    expect(existsSync(join(k2, 'onnx-out'))).toBe(false);
    const dir = join(work, 'texts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'one two three\n');
    const p = await cli(['pack', '--tokenizer', resolve(SHARED, 'stories260k/tok512.model'), '--input', join(dir, 'a.txt'), '--out', dir, '--force']);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain(`--out ${dir} contains --input ${join(dir, 'a.txt')}`);
    expect(readdirSync(dir)).toEqual(['a.txt']);
  });

  it("pack --force removes the shards an earlier pack listed, and refuses a directory with shards it did not write", async () => {
    const tok = resolve(SHARED, 'stories260k/tok512.model'), input = join(work, 'pack-in.txt'), out = join(work, 'pack-out');
    writeFileSync(input, 'Once upon a time there was a cat.\n\nIt sat.\n\n'.repeat(50));
    const pack = (extra: string[] = []) => cli(['pack', '--tokenizer', tok, '--input', input, '--out', out, '--docs', 'blankline', '--json', ...extra]);
    expect((await pack()).code).toBe(0);
    expect((await pack(['--force'])).code).toBe(0);       // its own earlier pack: replaced
    writeFileSync(join(out, 'data_train_000007.bin'), 'a user shard');
    const r = await pack(['--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds token shards that no earlier pack there wrote \(data_train_000007\.bin\)/);
    expect(readFileSync(join(out, 'data_train_000007.bin'), 'utf8')).toBe('a user shard');
    expect(existsSync(join(out, 'data_pack.json'))).toBe(true);
  });
});
