// distill_cache: offline knowledge distillation end to end. `distill-cache` writes the teacher's top-K logits
// of the windows sequential sampling reads; the cache is checked against the teacher's logits from
// `inheritune-rt logits` sorted here; `train --teacher-cache` with distill_ref.json's 'topk' recipe matches
// the PyTorch trajectory (test/ref/distill_ref.py) as the online `--teacher` run does; a kill -9 mid-cache
// and a re-run give the same files as one run; random sampling over the cached windows resumes bit for bit;
// and the bad inputs.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdtempSync, readdirSync, cpSync, rmSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu, writeRefTexts, refTrainArgs } from './helpers.js';
import { ShardLoader, memoryShards } from '../src/data/loader.js';

const exec = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const ref = JSON.parse(readFileSync(resolve(REPO, 'test/ref/distill_ref.json'), 'utf8'));
const TEACHER = resolve(SHARED, 'stories260k/stories260K.bin');
const TOPK = ref.cases.find((c: { name: string }) => c.name === 'topk');
const K = TOPK.topk as number, T = ref.recipe.seq as number, SW = 16; // windows per shard: several shards
let hasGpu = false;
let work = '', k3 = '', trainText = '', valText = '', cache = '';

const cli = (args: string[], env: Record<string, string> = {}) => exec(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, maxBuffer: 1 << 28 })
  .then((x) => ({ code: 0, signal: null as string | null, ...x }), (e) => ({ code: e.code as number, signal: e.signal as string | null, stdout: e.stdout as string, stderr: e.stderr as string }));
const makeCache = (out: string, extra: string[] = [], env: Record<string, string> = {}) =>
  cli(['distill-cache', '--teacher', TEACHER, '--text', trainText, '--seq', String(T), '--topk', String(K), '--shard-windows', String(SW), '--out', out, '--json', ...extra], env);

beforeAll(async () => {
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  work = mkdtempSync(join(tmpdir(), 'itrt-kdc-'));
  ({ train: trainText, val: valText } = writeRefTexts(ref.recipe, work));
  if (!hasGpu) return;
  k3 = join(work, 'k3');
  await exec(process.execPath, [CLI, 'inherit', '--model', TEACHER, '--layers', '3', '--out', k3]);
  cache = join(work, 'cache');
  const got = await makeCache(cache);
  expect(got.stderr).toBe('');
}, 300_000);

const r = () => ref.recipe;
const recipe = (out: string, extra: string[] = []) => refTrainArgs(r(), k3, { train: trainText, val: valText }, out, extra);
const kd = (dir: string) => ['--teacher-cache', dir, '--distill-alpha', String(TOPK.alpha), '--distill-temperature', String(TOPK.temperature)];

/** window w of a cache read here from the format (32-byte header, then per window T*K f32 values and T*K u32 ids) */
function cachedWindow(dir: string, w: number): { values: Float32Array; ids: Uint32Array } {
  const b = readFileSync(join(dir, `topk_${String(Math.floor(w / SW)).padStart(6, '0')}.bin`));
  const h = new Uint32Array(b.buffer, b.byteOffset, 8);
  expect([h[0], h[1], h[2], h[3], h[5]]).toEqual([0x4b544449, 1, K, T, Math.floor(w / SW) * SW]);
  const at = b.byteOffset + 32 + (w % SW) * T * K * 8, copy = b.buffer.slice(at, at + T * K * 8);
  return { values: new Float32Array(copy, 0, T * K), ids: new Uint32Array(copy, T * K * 4, T * K) };
}

const files = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));

describe('ShardLoader: the window index of each row; random over aligned windows', () => {
  // three shards of 50, 7 and 41 tokens with T 8: 6, 0 and 5 aligned windows (window i = tokens [i*8, i*8+8])
  const shards = [50, 7, 41].map((n, s) => Uint32Array.from({ length: n }, (_, i) => s * 1000 + i));
  const src = memoryShards(shards), T = 8, at = (w: number) => (w < 6 ? [0, w] : [2, w - 6]);
  it('sequential batches carry their windows: global indices over the shards in order', async () => {
    const l = new ShardLoader(src, { B: 2, T, mode: 'sequential' });
    const got: number[][] = [];
    for (let i = 0; i < 5; i++) got.push((await l.next())!.windows!);
    expect(got).toEqual([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]); // shard 1 holds none; shard 2's last one is left (a batch takes two)
  });
  it('aligned random rows are whole windows, uniform over the indices, and resume exactly; plain random is unchanged', async () => {
    const l = new ShardLoader(src, { B: 3, T, mode: 'random', seed: 5, aligned: true }), seen = new Array(11).fill(0);
    for (let i = 0; i < 400; i++) {
      const b = (await l.next())!;
      b.windows!.forEach((w, r) => {
        seen[w]++;
        const [s, j] = at(w);
        expect(Array.from(b.x.subarray(r * T, r * T + T))).toEqual(Array.from(shards[s].subarray(j * T, j * T + T)));
        expect(b.y[r * T + T - 1]).toBe(shards[s][j * T + T]);
      });
    }
    seen.forEach((n) => expect(n).toBeGreaterThan(1200 / 11 * 0.6)); // every index drawn, none starved
    const st = l.state(), a = new ShardLoader(src, { B: 3, T, mode: 'random', seed: 5, aligned: true }, st);
    expect(st.aligned).toBe(true);
    expect((await a.next())!.windows).toEqual((await l.next())!.windows);
    expect(() => new ShardLoader(src, { B: 3, T, mode: 'random', seed: 5 }, st)).toThrow(/saved state \(random aligned, .*\) is for another loader \(random, /);
    const plain = new ShardLoader(src, { B: 3, T, mode: 'random', seed: 5 });
    expect(plain.state()).not.toHaveProperty('aligned');
    expect((await plain.next())!.windows).toBeUndefined();
  });
});

describe('distill-cache', () => {
  it("holds, for every position of the windows, the teacher's K largest logits and their ids (its logits sorted here)", async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const m = JSON.parse(readFileSync(join(cache, 'distill_cache.json'), 'utf8'));
    // the text as train --text reads it: the BOS, then the whole file
    const ids = [1, ...JSON.parse((await cli(['tokenize', '--tokenizer', resolve(SHARED, 'stories260k/tok512.model'), '--file', trainText, '--json'])).stdout).ids as number[]];
    const W = Math.floor((ids.length - 1) / T);
    expect(m).toMatchObject({ T, K, windows: W, shard_windows: SW, text: { tokens: ids.length }, tokenizer: { vocab_size: 512 } });
    expect(m.shards).toHaveLength(Math.ceil(W / SW));
    for (const w of [0, 1, SW + 3, W - 1]) {
      const rows = JSON.parse((await cli(['logits', '--model', TEACHER, '--ids', ids.slice(w * T, w * T + T).join(','), '--json'])).stdout).logits as number[][];
      const got = cachedWindow(cache, w);
      rows.forEach((row, t) => {
        const top = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, K);
        expect(Array.from(got.ids.subarray(t * K, t * K + K)), `window ${w} position ${t}`).toEqual(top.map((x) => x[1]));
        top.forEach(([v], k) => expect(Math.abs(got.values[t * K + k] - v), `window ${w} position ${t} rank ${k}`).toBeLessThanOrEqual(1e-5));
      });
    }
  }, 120_000);

  it('a kill -9 mid-cache, then the same command again: the same files as one uninterrupted run', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const out = join(work, 'cache-crash');
    const killed = await makeCache(out, [], { INHERITUNE_CRASH_AT: 'cache:3' });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(out, 'distill_cache.json'))).toBe(false);
    expect(readdirSync(out).filter((f) => /^topk_\d+\.bin$/.test(f))).toEqual(['topk_000000.bin', 'topk_000001.bin']);
    const again = await makeCache(out);
    expect(again.stderr).toBe('');
    const j = JSON.parse(again.stdout);
    expect(j.shards_written).toBe(j.shards - 2);
    expect(files(out)).toEqual(files(cache));
    // a finished cache run again: nothing to write
    expect(JSON.parse((await makeCache(out)).stdout).shards_written).toBe(0);
  }, 300_000);
});

describe('train --teacher-cache', () => {
  it(`the 'topk' recipe (A ${TOPK.alpha}, T ${TOPK.temperature}, top ${TOPK.topk}) vs PyTorch: loss, ce, kd, gradient norm and val loss within 2e-3`, async (ctx) => {
    if (!hasGpu) return ctx.skip();
    // kernel tuning first (a run of the same shapes): on a cold tuning cache its timing buffers are live
    // during step 0 and are not in the plan, so the peak compared below would depend on the host's cache
    expect((await cli(recipe(join(work, 'kdc-topk-warm'), [...kd(cache), '--steps', '1']))).stderr).toBe('');
    const got = await cli(recipe(join(work, 'kdc-topk'), kd(cache)));
    expect(got.stderr).toBe('');
    const j = JSON.parse(got.stdout);
    expect(j.losses).toHaveLength(TOPK.losses.length);
    for (const key of ['losses', 'ce', 'kd'] as const) (j[key] as number[]).forEach((v, i) => expect(Math.abs(v - TOPK[key][i]), `${key} step ${i}`).toBeLessThanOrEqual(2e-3));
    j.grad_norms.forEach((n: number, i: number) => expect(Math.abs(n - TOPK.grad_norms[i]), `grad norm ${i}`).toBeLessThanOrEqual(2e-3 * TOPK.grad_norms[i]));
    expect(Math.abs(j.val_loss - TOPK.val_loss)).toBeLessThanOrEqual(2e-3);
    // the memory plan counts the cached top-K buffers (no teacher model): within 10 % of the measured peak
    expect(Math.abs(j.plan_bytes / j.gpu_peak_bytes - 1)).toBeLessThan(0.1);
    expect(j.plan_bytes).toBeGreaterThanOrEqual(j.gpu_peak_bytes); // a plan that refuses before allocating must not undercount
  }, 300_000);

  it('--sampling random draws whole cached windows, and a kill -9 mid-save then --resume gives the same run bit for bit', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const base = (out: string) => [...recipe(out, [...kd(cache), '--save-every', '2']).map((a, i, all) => (all[i - 1] === '--steps' ? '6' : all[i - 1] === '--sampling' ? 'random' : a))];
    const whole = JSON.parse((await cli(base(join(work, 'kdc-rand')))).stdout);
    expect(whole.kd.every((x: number) => x > 0)).toBe(true);
    const out = join(work, 'kdc-rand-crash');
    const killed = await cli(base(out), { INHERITUNE_CRASH_AT: 'write:2' });
    expect(killed.signal).toBe('SIGKILL');
    const resumed = JSON.parse((await cli([...base(out), '--resume'])).stdout);
    expect(resumed.losses).toEqual(whole.losses);
    expect(resumed.grad_norms).toEqual(whole.grad_norms);
    expect(resumed.val_loss).toBe(whole.val_loss);
    const saved = JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer.json'), 'utf8'));
    expect(saved.state.loader).toMatchObject({ mode: 'random', aligned: true });
    expect(saved.teacher_cache).toMatch(/^[0-9a-f]{64}$/);
    // the same cache with its manifest written again (another digest) is another cache: the resume is refused
    const other = join(work, 'cache-other');
    cpSync(cache, other, { recursive: true });
    writeFileSync(join(other, 'distill_cache.json'), JSON.stringify(JSON.parse(readFileSync(join(cache, 'distill_cache.json'), 'utf8'))));
    const bad = await cli([...base(out).map((a, i, all) => (all[i - 1] === '--teacher-cache' ? other : all[i - 1] === '--steps' ? '8' : a)), '--resume']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/the checkpoint was trained with the teacher cache whose manifest's sha256 is [0-9a-f]{16}…, and this run has the teacher cache whose manifest's sha256 is/);
  }, 300_000);

  it('bad inputs each get a clear error naming what differs', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const seq32 = join(work, 'cache-seq32'), val = join(work, 'cache-val'), tiny = join(work, 'cache-tiny'), shard = join(work, 'toks.bin');
    expect(await cli(['distill-cache', '--teacher', TEACHER, '--text', trainText, '--seq', '32', '--topk', String(K), '--out', seq32, '--json'])).toMatchObject({ code: 0 });
    expect(await cli(['distill-cache', '--teacher', TEACHER, '--text', valText, '--seq', String(T), '--topk', String(K), '--out', val, '--json'])).toMatchObject({ code: 0 });
    // a teacher of another vocabulary (gpt2-tiny: 96 ids, 32 positions) over an llm.c shard of ids below 96
    const toks = Uint16Array.from({ length: 4000 }, (_, i) => (i * 7) % 96), head = new Int32Array(256);
    head.set([20240520, 1, toks.length]);
    writeFileSync(shard, Buffer.concat([Buffer.from(head.buffer), Buffer.from(toks.buffer)]));
    expect(await cli(['distill-cache', '--teacher', resolve(REPO, 'test/ref/hf/gpt2-tiny'), '--text', shard, '--seq', '32', '--topk', String(K), '--out', tiny, '--json'])).toMatchObject({ code: 0 });
    const damaged = join(work, 'cache-damaged'), missing = join(work, 'cache-missing');
    cpSync(cache, damaged, { recursive: true });
    writeFileSync(join(damaged, 'distill_cache.json'), readFileSync(join(cache, 'distill_cache.json'), 'utf8').slice(0, 100));
    cpSync(cache, missing, { recursive: true });
    rmSync(join(missing, 'topk_000001.bin'));
    const cases: [string[], RegExp][] = [
      [kd(seq32), /--teacher-cache .*cache-seq32 was made with --seq 32, and this run has --seq 64\n---> HINT: make a cache for this run: inheritune-rt distill-cache/],
      [kd(val), /--teacher-cache .*cache-val was made for other text \(its distill_cache.json names .*val\.txt \(\d+ tokens, digest [0-9a-f]{16}…\), and this run's --text .*train\.txt is \d+ tokens/],
      [kd(tiny), /--teacher-cache .*cache-tiny was made with a tokenizer of 96 ids, and the model trained has 512/],
      [[...kd(cache), '--teacher', TEACHER], /pass either --teacher PATH .* or --teacher-cache DIR .*, not both/],
      [[...kd(cache), '--distill-topk', '4'], /--teacher-cache .*cache holds the teacher's top 8 logits, and --distill-topk is 4\n---> HINT: pass --distill-topk 8/],
      [kd(damaged), /cache-damaged\/distill_cache\.json is damaged/],
      [kd(missing), /--teacher-cache .*cache-missing is missing the shard topk_000001\.bin its manifest lists/],
      [kd(join(work, 'nowhere')), /--teacher-cache .*nowhere has no distill_cache\.json/],
    ];
    for (const [extra, want] of cases) {
      const got = await cli([...recipe(join(work, 'kdc-bad'), extra), '--force']);
      expect(got.code, extra.join(' ')).toBe(1);
      expect(got.stderr, extra.join(' ')).toMatch(want);
    }
    // distill-cache: an --out of another cache's inputs is refused (the field named), --force starts over
    const again = await cli(['distill-cache', '--teacher', TEACHER, '--text', trainText, '--seq', '16', '--topk', String(K), '--out', seq32, '--json']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/--out .*cache-seq32 holds a finished cache of other inputs: T is 32 there and 16 now/);
  }, 600_000);
});
