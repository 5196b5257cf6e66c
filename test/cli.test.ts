// cli: the conventions of the `inheritune-rt` command (dist/cli.mjs). --version; `CMD --help` lists
// every flag with its meaning and default, says which take a path, and every flag it lists parses;
// Dawn's two limit warnings never reach stderr (the filter byte by byte; the CLI on this adapter, also
// on a terminal), exit codes, stdout and the order of the two streams are kept, a kill of the CLI
// reaches its worker; an --out that exists is refused unless it is the same command's run (--resume)
// or --force; --model with --from as its alias; hints name flags that the command has; pack warns
// about an empty split.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { DawnWarningFilter } from '../src/node/cli/stderr.js';
import { flagsInMessage } from '../src/node/cli/flags.js';
import { SPEC } from '../src/node/cli/specs.js';
import { outKind, checkOut } from '../src/node/cli/outdir.js';
import { REPO, SHARED, testGpu } from './helpers.js';

const CLI = resolve(REPO, 'dist/cli.mjs');
const MODEL = resolve(SHARED, 'stories260k/stories260K.bin');
const TOK = resolve(SHARED, 'stories260k/tok512.bin');
const COMMANDS = ['demo', 'pretrain', 'run', 'inherit', 'train', 'eval', 'analyze', 'logits', 'generate', 'export', 'tokenize', 'pack', 'info'];
const W1 = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
const W2 = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
let work = '', text = '', hasGpu = false;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'itrt-cli-'));
  text = join(work, 'text.txt');
  writeFileSync(text, Array.from(readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8')).slice(0, 20000).join(''));
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
});

/** the rows of `CMD --help`: flag, placeholder, meaning (continuation lines joined) */
function helpRows(help: string): { flag: string; meta: string; meaning: string }[] {
  const rows: { flag: string; meta: string; meaning: string }[] = [];
  for (const line of help.slice(help.indexOf('\nFlags:\n') + 8).split('\n')) {
    const m = /^ {2}(--[a-z0-9-]+)(?: ([A-Z]+))?(?: {2,}(.*))?$/.exec(line);
    if (m) rows.push({ flag: m[1], meta: m[2] ?? '', meaning: m[3] ?? '' });
    else if (/^ {28}\S/.test(line) && rows.length) rows[rows.length - 1].meaning += ` ${line.trim()}`;
    else if (!line.trim()) break;
  }
  return rows;
}
const help = (cmd: string) => cli(cmd, '--help').stdout;
const row = (cmd: string, flag: string) => helpRows(help(cmd)).find((r) => r.flag === flag);

describe('--version and --help', () => {
  it('--version prints the package version', () => {
    const r = cli('--version');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version}\n`);
  });

  it('--help lists every command', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    for (const c of COMMANDS) expect(r.stdout, c).toMatch(new RegExp(`^ {2}${c} +\\S`, 'm'));
    expect(r.stdout).toMatch(/--version/);
    expect(r.stdout).toMatch(/COMMAND --help/);
  });

  it('CMD --help: a usage line, and every flag it lists with a meaning parses', () => {
    for (const c of COMMANDS) {
      const r = cli(c, '--help');
      expect(r.status, c).toBe(0);
      expect(r.stdout.split('\n')[0], c).toMatch(new RegExp(`^Usage: inheritune-rt ${c}\\b`));
      const rows = helpRows(r.stdout);
      expect(rows.length, c).toBeGreaterThan(0);
      for (const { flag, meaning } of rows) expect(meaning.length, `${c} ${flag}`).toBeGreaterThan(8);
      // every listed flag at once, then --help: the parser accepts them all (an unknown one would be an error)
      const all = rows.flatMap(({ flag, meta }) => (meta ? [flag, '1'] : [flag]));
      const again = cli(c, ...all, '--help');
      expect(again.stderr, c).toBe('');
      expect(again.stdout, c).toBe(r.stdout);
    }
    expect(cli('help', 'train').stdout).toBe(help('train'));
  });

  it('meanings and defaults (train, demo, run, pack, eval, inherit)', () => {
    const has = (cmd: string, flag: string, ...parts: string[]) => {
      const r = row(cmd, flag);
      expect(r, `${cmd} ${flag}`).toBeDefined();
      for (const p of parts) expect(r!.meaning, `${cmd} ${flag}`).toContain(p);
    };
    has('train', '--grad-accum', 'micro-batches per step', 'default: 1');
    has('train', '--lr', 'learning rate', 'default: 0.001');
    has('train', '--min-lr', 'default: 0.0001');
    has('train', '--val-windows', 'default: 16');
    has('train', '--save-every', 'default: 0');
    has('train', '--steps', 'required');
    has('train', '--sampling', 'sequential', 'random', 'default: sequential');
    has('demo', '--steps', 'default: 500');
    has('demo', '--max-rounds', 'default: 1)');
    has('demo', '--out', 'default: inheritune-demo');
    has('demo', '--pretrain-steps', 'default: the shipped reference');
    has('pretrain', '--steps', 'default: 1500');
    has('pretrain', '--out', 'default: inheritune-reference');
    has('demo', '--save-every', 'default: 50');
    has('run', '--max-rounds', 'default: 3 with --model, 1 without');
    has('run', '--grow', 'default: 2');
    has('run', '--task-limit', 'default: all');
    has('pack', '--seed', 'default: 1337');
    has('pack', '--val-fraction', 'default: 0.005');
    has('pack', '--input', 'repeatable');
    has('eval', '--task-data', 'also --data');
    has('eval', '--task-limit', 'also --limit');
    has('inherit', '--model', 'the reference', 'also --from');
    has('export', '--opset', 'default: 17');
  });

  it('says which flags take a path (FILE, DIR, PATH)', () => {
    const paths = (cmd: string) => helpRows(help(cmd)).filter((r) => ['FILE', 'DIR', 'PATH'].includes(r.meta)).map((r) => r.flag).sort();
    expect(paths('train')).toEqual(['--metrics', '--model', '--out', '--resume-from', '--teacher', '--teacher-cache', '--text', '--tokenizer', '--val-text']);
    expect(paths('pack')).toEqual(['--input', '--out', '--tokenizer']);
    expect(paths('tokenize')).toEqual(['--file', '--tokenizer']);     // --text S is the text itself
    expect(paths('export')).toEqual(['--model', '--onnx', '--onnx-dir']);
    expect(paths('eval')).toEqual(['--model', '--task-data', '--text', '--tokenizer']);
    expect(help('train')).toMatch(/FILE, DIR and PATH \(a file or a directory\) are paths on disk/);
  });

  it('a misspelt flag is an error that names the nearest flag, whose hint points at the command\'s --help', () => {
    const r = cli('train', '--grad-acum', '2');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^inheritune-rt: unknown flag --grad-acum for `inheritune-rt train`; did you mean --grad-accum\?\n---> HINT: `inheritune-rt train --help` lists its flags\n$/);
  });
});

describe("Dawn's limit warnings", () => {
  const feed = (chunks: (string | Uint8Array)[]) => {
    let out = '';
    const f = new DawnWarningFilter((b) => { out += b.toString('latin1'); });
    for (const c of chunks) f.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
    f.end();
    return out;
  };
  const input = W1 + W2 + 'hello\n\rtrain [###.] 1/2\rtrain [####] 2/2\nWarning: something else\nx ' + W1 + W1.replace('\n', '\r\n') + 'Warning: maxDynamic';
  const want = 'hello\n\rtrain [###.] 1/2\rtrain [####] 2/2\nWarning: something else\nx ' + W1 + 'Warning: maxDynamic';

  it('the filter drops exactly those two whole lines, however the bytes arrive', () => {
    expect(feed([input])).toBe(want);
    expect(feed([...input])).toBe(want);                       // one byte at a time
    for (let i = 0; i <= input.length; i++) expect(feed([input.slice(0, i), input.slice(i)]), `split at ${i}`).toBe(want);
    // a line that only starts like one, and the same text not at the start of a line, pass
    const near = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit. (and more)\n';
    expect(feed([near])).toBe(near);
    expect(feed(['\u00e9 ', Buffer.from([0xff, 0xfe, 0x0a])])).toBe('\u00e9 \xff\xfe\n'); // bytes pass as they are
  });

  it('the filter writes what cannot become a warning at once (a progress bar is not held back)', () => {
    const got: string[] = [];
    const f = new DawnWarningFilter((b) => got.push(b.toString()));
    f.push(Buffer.from('\rtrain [##......] 2/8'));
    expect(got).toEqual(['\rtrain [##......] 2/8']);
    f.push(Buffer.from(' eta 1s\n'));
    expect(got.at(-1)).toBe(' eta 1s\n');
    f.push(Buffer.from('Warn'));
    expect(got).toHaveLength(2);                                // could still become one
    f.push(Buffer.from('ing: low memory'));
    expect(got.at(-1)).toBe('Warning: low memory');             // no longer can
  });

  it('the CLI on this adapter: stderr empty, stdout as before, exit codes kept', (ctx) => {
    if (!hasGpu) return ctx.skip();
    // the control: without the CLI's filter, this adapter does print them (where it does not, the CLI checks still hold)
    const raw = spawnSync(process.execPath, ['--input-type=module', '-e', "import { create } from 'webgpu'; await create([]).requestAdapter();"], { cwd: REPO, encoding: 'utf8' });
    console.log(`webgpu alone prints the limit warnings here: ${/artificially reduced/.test(raw.stderr)}`);
    const info = cli('info', '--json');
    expect(info.status).toBe(0);
    expect(info.stderr).toBe('');
    expect(JSON.parse(info.stdout).limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const text = cli('info');
    expect(text.stderr).toBe('');
    expect(text.stdout).toMatch(/^runtime {3}node \(WebGPU\)\nadapter /);
    const bad = cli('logits', '--model', join(work, 'nope.bin'), '--ids', '1');
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^inheritune-rt: model '.*nope\.bin' does not exist\n---> HINT: [^\n]+\n$/);
  });

  it('on a terminal: the progress bar shows, no warning, the result after the bar', (ctx) => {
    if (!hasGpu) return ctx.skip();
    if (spawnSync('script', ['--version']).status !== 0) return ctx.skip('no `script` (util-linux) for a pseudo-terminal');
    const cmd = [process.execPath, CLI, 'eval', '--model', MODEL, '--text', text, '--seq', '32', '--windows', '8', '--batch', '1'].map((a) => `'${a}'`).join(' ');
    for (let i = 0; i < 3; i++) {
      const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).not.toMatch(/artificially reduced/);
      expect(r.stdout).toMatch(/\reval \[#+\] 8\/8 [^\n]*\r?\nloss \d+\.\d+ nats\/token/);
    }
  });

  it('a kill of the CLI reaches its worker: SIGKILL leaves none behind, SIGTERM ends both', async (ctx) => {
    if (!hasGpu || process.platform !== 'linux') return ctx.skip();
    const marker = join(work, 'long.txt');
    writeFileSync(marker, readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8').slice(0, 400_000));
    const workers = (parent: number) => readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== parent).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker); } catch { return false; }
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
      const c = spawn(process.execPath, [CLI, 'eval', '--model', MODEL, '--text', marker, '--seq', '256', '--windows', '300', '--batch', '1'], { stdio: 'ignore' });
      const exited = new Promise<string | null>((ok) => c.on('exit', (_code, s) => ok(s)));
      for (let i = 0; i < 100 && !workers(c.pid!).length; i++) await sleep(50);
      expect(workers(c.pid!).length, 'the worker started').toBe(1);
      await sleep(500);
      c.kill(sig);
      expect(await exited).toBe(sig);
      for (let i = 0; i < 40 && workers(c.pid!).length; i++) await sleep(50);
      expect(workers(c.pid!), `a worker outlived ${sig} of the CLI`).toEqual([]);
    }
  });
});

describe('--out: an existing directory is refused unless it is the same command\'s run or --force', () => {
  const dir = (name: string, files: Record<string, string> = {}) => {
    const d = join(work, 'kinds', name);
    mkdirSync(d, { recursive: true });
    for (const [f, t] of Object.entries(files)) { mkdirSync(join(d, f, '..'), { recursive: true }); writeFileSync(join(d, f), t); }
    return d;
  };
  const refused = (fn: () => unknown) => { try { fn(); return ''; } catch (e) { return (e as Error).message; } };

  it('what a directory holds, and the rule per command', () => {
    const train = dir('train', { 'checkpoint/trainer.json': '{}', 'metrics.jsonl': '' });
    const unsaved = dir('unsaved', { 'metrics.jsonl': '' });
    const run = dir('run', { 'run.json': '{}' });
    const round = dir('round', { 'round-0/init/config.json': '{}' });
    const demo = dir('demo', { 'reference/init/config.json': '{}' });
    const model = dir('model', { 'config.json': '{}' });
    const empty = dir('empty');
    expect([train, unsaved, run, round, demo, model, empty, join(work, 'kinds/none'), text].map(outKind))
      .toEqual(['train', 'train-unsaved', 'run', 'run', 'demo', 'other', 'empty', 'missing', 'file']);
    const T = { flag: '--out', own: 'train' as const };
    expect(checkOut(join(work, 'kinds/none'), T)).toBe(false);
    expect(checkOut(empty, T)).toBe(false);
    expect(refused(() => checkOut(join(work, 'kinds/none'), T, true))).toMatch(/^--resume: no checkpoint to continue in --out .*none \(it does not exist\)/);
    expect(refused(() => checkOut(train, T))).toMatch(/holds a training run of `inheritune-rt train`\n---> HINT: pass --resume to continue it, --force to start over in it/);
    expect(checkOut(train, T, true)).toBe(true);
    expect(checkOut(train, T, false, true)).toBe(false);
    expect(refused(() => checkOut(model, T))).toMatch(/--out .*model already exists and is not empty\n---> HINT: choose another --out, or pass --force to start a new run in it/);
    expect(checkOut(model, T, false, true)).toBe(false);
    expect(refused(() => checkOut(model, T, true))).toMatch(/^--resume: --out .*model already exists/);
    expect(refused(() => checkOut(unsaved, T, true))).toMatch(/stopped before its first checkpoint: nothing to resume\n---> HINT: pass --force instead of --resume/);
    expect(refused(() => checkOut(unsaved, T))).toMatch(/stopped before its first checkpoint\n---> HINT: choose another --out, or pass --force/);
    expect(refused(() => checkOut(demo, T))).toMatch(/holds a run of the built-in job/);
    expect(refused(() => checkOut(text, T, false, true))).toMatch(/is a file, not a directory/);
    // run: its own runs, with or without a finished round
    const R = { flag: '--out', own: 'run' as const };
    expect(checkOut(run, R, true)).toBe(true);
    expect(checkOut(round, R, true)).toBe(true);
    expect(refused(() => checkOut(round, R))).toMatch(/holds a recipe run of `inheritune-rt run`\n---> HINT: pass --resume to continue it/);
    expect(refused(() => checkOut(train, R, true))).toMatch(/^--resume: --out .* holds a training run of `inheritune-rt train`/);
    // demo continues its own run by default
    const D = { flag: '--out', own: 'demo' as const, resumeByDefault: true };
    expect(checkOut(demo, D)).toBe(true);
    expect(checkOut(join(work, 'kinds/none'), D)).toBe(false);
    expect(refused(() => checkOut(run, D))).toMatch(/holds a recipe run of `inheritune-rt run`\n---> HINT: choose another --out, or pass --force/);
    // inherit / export replace the directory
    expect(refused(() => checkOut(model, { flag: '--onnx-dir', replaces: true }))).toMatch(/--onnx-dir .* already exists.*\n---> HINT: choose another --onnx-dir, or pass --force to replace it \(its contents are removed\)/);
  });

  it('inherit, pack and export --onnx-dir through the CLI (and --from, the old name of --model)', () => {
    const out = join(work, 'k1');
    mkdirSync(out);                                              // an empty directory is fine
    expect(cli('inherit', '--from', MODEL, '--layers', '1', '--out', out, '--json').status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).num_hidden_layers).toBe(1);
    const keep = join(work, 'keep');
    mkdirSync(keep);
    writeFileSync(join(keep, 'notes.txt'), 'mine');
    const r = cli('inherit', '--model', MODEL, '--layers', '1', '--out', keep);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--out .*keep already exists and is not empty\n---> HINT: choose another --out, or pass --force to replace it/);
    expect(readFileSync(join(keep, 'notes.txt'), 'utf8')).toBe('mine');
    expect(cli('inherit', '--model', MODEL, '--layers', '1', '--out', keep, '--force').status).toBe(0);
    expect(existsSync(join(keep, 'notes.txt'))).toBe(false);
    expect(cli('inherit', '--model', MODEL, '--from', MODEL, '--layers', '1', '--out', join(work, 'k1b')).stderr)
      .toMatch(/--from and --model name the same thing\n---> HINT: pass one of them \(--model; --from is its older name\)/);
    // pack: refused, then --force drops the earlier pack's shards
    const shards = join(work, 'shards');
    expect(cli('pack', '--tokenizer', TOK, '--input', text, '--out', shards, '--docs', 'blankline', '--shard-tokens', '1000', '--json').status).toBe(0);
    expect(readdirSync(shards).filter((f) => f.startsWith('data_train_')).length).toBeGreaterThan(2);
    const again = cli('pack', '--tokenizer', TOK, '--input', text, '--out', shards, '--docs', 'blankline');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/--out .*shards already exists and is not empty\n---> HINT: choose another --out, or pass --force to write into it/);
    expect(cli('pack', '--tokenizer', TOK, '--input', text, '--out', shards, '--docs', 'blankline', '--force', '--json').status).toBe(0);
    expect(readdirSync(shards).filter((f) => f.startsWith('data_train_'))).toEqual(['data_train_000000.bin']);
    // export --onnx-dir
    const ex = cli('export', '--model', out, '--onnx-dir', keep);
    expect(ex.status).toBe(1);
    expect(ex.stderr).toMatch(/--onnx-dir .*keep already exists and is not empty\n---> HINT: choose another --onnx-dir, or pass --force to replace it/);
    // export --onnx FILE: an existing file is kept unless --force
    const notes = join(keep, 'notes.txt');
    writeFileSync(notes, 'mine');
    const ef = cli('export', '--model', out, '--onnx', notes);
    expect(ef.status).toBe(1);
    expect(ef.stderr).toMatch(/--onnx .*notes.txt already exists\n---> HINT: pass --force to replace it, or another --onnx FILE/);
    expect(readFileSync(notes, 'utf8')).toBe('mine');
  });

  it('train and run/demo: --resume continues, a re-run without it is refused, --force starts over', (ctx) => {
    if (!hasGpu) return ctx.skip();
    const k1 = join(work, 'k1');
    if (!existsSync(join(k1, 'config.json'))) expect(cli('inherit', '--model', MODEL, '--layers', '1', '--out', k1).status).toBe(0);
    const out = join(work, 'tr');
    const args = (...extra: string[]) => ['train', '--model', k1, '--text', text, '--steps', '2', '--batch', '1', '--seq', '32', '--val-windows', '1',
      '--out', out, '--json', ...extra];
    const first = cli(...args());
    expect(first.status, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).losses).toHaveLength(2);
    const again = cli(...args());
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/^inheritune-rt: --out .*tr holds a training run of `inheritune-rt train`\n---> HINT: pass --resume to continue it, --force to start over in it, or another --out\n$/);
    const more = cli(...args('--resume').map((a, i, all) => (all[i - 1] === '--steps' ? '3' : a)));
    expect(more.status, more.stderr).toBe(0);
    expect(JSON.parse(more.stdout).losses).toHaveLength(3);
    // a library message (`gradAccum`) names the flag of this command
    const changed = cli(...args('--resume', '--grad-accum', '2'));
    expect(changed.status).toBe(1);
    expect(changed.stderr).toMatch(/--resume: --grad-accum was 1 in the checkpoint, 2 now\n---> HINT: resume with the same --grad-accum/);
    expect(changed.stderr).not.toMatch(/gradAccum/);
    // another command's directory
    const onModel = cli(...args().map((a) => (a === out ? k1 : a)));
    expect(onModel.stderr).toMatch(/--out .*k1 already exists and is not empty\n---> HINT: choose another --out, or pass --force to start a new run in it/);
    const demo = cli('demo', '--out', out, '--json');
    expect(demo.status).toBe(1);
    expect(demo.stderr).toMatch(/--out .*tr holds a training run of `inheritune-rt train`\n---> HINT: choose another --out, or pass --force/);
    const run = cli('run', '--model', k1, '--text', text, '--steps', '1', '--batch', '1', '--seq', '32', '--out', out, '--resume');
    expect(run.stderr).toMatch(/--resume: --out .*tr holds a training run of `inheritune-rt train`/);
    const forced = cli(...args('--force'));
    expect(forced.status, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout).losses).toHaveLength(2);    // a new run over the old one
  });
});

describe('hints name flags the command has', () => {
  it('library option names become the running command\'s flags', () => {
    const msg = '`gradAccum` 0 must be a positive integer; use `windows` 3 or less; `limit` 0; `maxRounds`; `mass` 2';
    expect(flagsInMessage(msg, [SPEC.train])).toBe('--grad-accum 0 must be a positive integer; use --val-windows 3 or less; `limit` 0; `maxRounds`; `mass` 2');
    expect(flagsInMessage(msg, [SPEC.eval])).toBe('`gradAccum` 0 must be a positive integer; use --windows 3 or less; --task-limit 0; `maxRounds`; `mass` 2');
    expect(flagsInMessage(msg, [SPEC.run])).toBe('--grad-accum 0 must be a positive integer; use --val-windows 3 or less; --task-limit 0; --max-rounds; `mass` 2');
  });

  it('every flag an error names is one its command lists', () => {
    const cases: string[][] = [
      ['inherit', '--model', MODEL, '--layers', '1'],
      ['inherit', '--model', MODEL, '--layers', '1', '--select', '0', '--out', join(work, 'x1')],
      ['inherit', '--model', MODEL, '--preset', 'best', '--out', join(work, 'x2')],
      ['pack', '--tokenizer', TOK, '--out', join(work, 'x3')],
      ['pack', '--tokenizer', TOK, '--input', text, '--out', join(work, 'x4'), '--subset', '1%', '--tokens', '5'],
      ['pack', '--tokenizer', TOK, '--input', text, '--out', join(work, 'x6'), '--val-fraction', 'lots'],
      ['tokenize', '--tokenizer', TOK],
      ['export', '--model', MODEL],
      ['eval', '--modle', MODEL],
    ];
    if (hasGpu) cases.push(['train', '--steps', 'x'], ['eval', '--model', MODEL, '--text', text, '--seq', '256', '--windows', '500'], ['logits', '--model', MODEL, '--ids', '1', '--layers', '9'],
      ['eval', '--model', MODEL, '--task', 'piqa'], ['eval', '--model', MODEL, '--task', 'piqa', '--task-data', join(work, 'nope')], ['run', '--model', MODEL, '--text', text, '--batch', '1', '--seq', '32', '--out', join(work, 'x5')]);
    for (const args of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(1);
      const listed = new Set([...helpRows(help(args[0])).map((x) => x.flag), '--help']);
      const named = [...r.stderr.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]).filter((f) => f !== '--modle');
      expect(named.length, `${args.join(' ')}: ${r.stderr}`).toBeGreaterThan(0);
      for (const f of named) expect(listed.has(f), `${args.join(' ')} names ${f}: ${r.stderr}`).toBe(true);
      expect(r.stderr, args.join(' ')).not.toMatch(/`[a-z]+[A-Z][A-Za-z]*`/);   // no API spelling left
    }
  });
});

describe('pack: an empty split is a warning', () => {
  it('documents: the validation split comes out empty (unless asked for), or the training split; one text file holds out its end', () => {
    const one = join(work, 'one.txt'), two = join(work, 'two.txt');
    writeFileSync(one, readFileSync(text, 'utf8').slice(0, 3000));
    writeFileSync(two, readFileSync(text, 'utf8').slice(3000, 6000));
    // two files, one document each: 0.5% of two documents is none of them
    const p = (out: string, ...extra: string[]) => cli('pack', '--tokenizer', TOK, '--input', one, '--input', two, '--out', join(work, out), '--json', ...extra);
    const a = p('one-a');
    expect(a.status).toBe(0);
    expect(JSON.parse(a.stdout).val.tokens).toBe(0);
    expect(a.stderr).toMatch(/^inheritune-rt: warning: the validation split is empty: none of the 2 kept document\(s\) went to it\n---> HINT: raise --val-fraction/);
    const b = p('one-b', '--val-fraction', '0');
    expect(b.status).toBe(0);
    expect(b.stderr).toBe('');
    const c = p('one-c', '--val-fraction', '1');
    expect(c.status).toBe(0);
    expect(JSON.parse(c.stdout).train.tokens).toBe(0);
    expect(c.stderr).toMatch(/warning: the training split is empty: all 2 kept document\(s\) went to validation\n---> HINT: lower --val-fraction/);
    // one text file: its last 10% is the validation split, no warning (test/frictions.test.ts checks the split)
    const single = cli('pack', '--tokenizer', TOK, '--input', one, '--out', join(work, 'one-single'), '--json');
    expect(single.stderr).toBe('');
    expect(JSON.parse(single.stdout)).toMatchObject({ valSplit: 'tail', val: { docs: 1 } });
    const d = cli('pack', '--tokenizer', TOK, '--input', text, '--out', join(work, 'many'), '--docs', 'blankline', '--val-fraction', '0.2', '--json');
    expect(d.status).toBe(0);
    expect(d.stderr).toBe('');
  });
});
