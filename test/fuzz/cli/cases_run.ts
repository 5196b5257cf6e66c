// fuzz/cli/cases_run: cases of the data path and the run state: --text files, llm.c token shards and their
// data_pack.json, a run's state on --resume (trainer.json, checkpoints.json, the checkpoint link, the checkpoint's
// files), a distill-cache, paths that are not regular files, and kill -9 during train, pack and distill-cache.
// A resumed run must end bit-identical to the uninterrupted one (its losses and validation loss exactly), else the
// damaged state was used silently.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { mutateBytes, mutateJson, toTree } from '../mutate.js';
import { distillArgs, evalArgs, packedTrainArgs, trainArgs, type TrainOut } from './fixtures.js';
import { cli, copy, evalCase, ok, sameLoss, silent, type Maker } from './cases.js';
import { judgeExit, jsonOut, type Kind, type Res, type Verdict } from './proc.js';

const SHARD_MAGIC = 20240520;
const STEP = 'step-00000003';

/** exit 0 of a train run: its losses and validation loss must be `want`'s (the tail it ran), else silent; `done`: a
 *  run that had already ended (killed after its last save) may train nothing (its weights are checked instead) */
function sameRun(r: Res, want: TrainOut, what: string, done = false): Verdict {
  const got = jsonOut(r) as TrainOut | null;
  if (!got || !Array.isArray(got.losses)) return silent(`${what}: exit 0 without its --json result`);
  const tail = want.losses.slice(want.losses.length - got.losses.length);
  if (got.losses.length === 0 && want.losses.length) {
    return done && got.step === want.step ? ok() : silent(`${what}: exit 0 having trained nothing (step ${got.step})`);
  }
  if (JSON.stringify(got.losses) !== JSON.stringify(tail) || got.val_loss !== want.val_loss) {
    return silent(`${what}: losses ${JSON.stringify(got.losses.map((x) => +x.toFixed(6)))} val ${got.val_loss}, the unmutated run: ${JSON.stringify(tail.map((x) => +x.toFixed(6)))} val ${want.val_loss}`);
  }
  return ok();
}
/** the run's final weights must be the uninterrupted run's, bit for bit */
function sameWeights(run: string, ref: string): Verdict {
  const w = (d: string) => { try { return readFileSync(join(d, 'checkpoint', 'model.safetensors')); } catch { return null; } };
  const a = w(run), b = w(ref);
  return a && b && a.equals(b) ? ok() : silent(`the final checkpoint's model.safetensors ${a ? 'differs from' : 'is missing, unlike'} the uninterrupted run's`);
}
const RANK: Kind[] = ['ok', 'clear', 'unclear', 'silent', 'crash', 'hang'];
const worst = (...vs: Verdict[]) => vs.reduce((a, b) => (RANK.indexOf(b.kind) > RANK.indexOf(a.kind) ? b : a));

// ---- --text ------------------------------------------------------------------------------------------------------

const text: Maker = (r, f, dir) => {
  const file = join(dir, 'text.txt'), b = new Uint8Array(readFileSync(f.val));
  let out: Uint8Array, mutation: string, mustFail = false;
  const k = r.int(8);
  if (k < 3) { const mb = mutateBytes(r, b); out = mb.bytes; mutation = mb.what; }
  else if (k === 3) { out = new Uint8Array(r.pick([0, 1, 3])); out.fill(0x61); mutation = `${out.length} bytes`; mustFail = out.length === 0; }
  else if (k === 4) { // looks like a token shard (its magic), but is not a whole one
    out = b.slice(); const dv = new DataView(out.buffer);
    dv.setInt32(0, SHARD_MAGIC, true); dv.setInt32(4, r.pick([0, 3, 7, 1, 2]), true);
    mutation = `shard magic at the start, version ${dv.getInt32(4, true)}`; mustFail = true;
  } else if (k === 5) { out = new Uint8Array([0xef, 0xbb, 0xbf, ...b]); mutation = 'UTF-8 BOM'; }
  else if (k === 6) { out = b.map((x, i) => (i % r.pick([2, 7, 50]) === 0 ? r.pick([0, 0xff, 0xc3, 0x80]) : x)); mutation = 'NUL / invalid UTF-8 bytes throughout'; }
  else { out = new TextEncoder().encode(new TextDecoder().decode(b).replace(/\n/g, '\r\n')); mutation = 'CRLF'; }
  writeFileSync(file, out);
  return { format: '--text file', mutation,
    run: () => evalCase(f, evalArgs(f.k2, file), ['text.txt', ...(mustFail ? [] : ['the text gives'])], () => (mustFail ? `exit 0 on a --text that is ${mutation}` : null)) };
};

// ---- token shards + data_pack.json -------------------------------------------------------------------------------

const shards: Maker = (r, f, dir) => {
  const d = copy(f.packed, join(dir, 'packed'));
  const files = readdirSync(d).filter((n) => n.endsWith('.bin')).sort();
  const pickShard = () => r.chance(0.5) ? r.pick(files.filter((n) => n.includes('_val_'))) : r.pick(files);
  let mutation: string, name: string, free = false;
  const k = r.int(10);
  if (k < 3) { name = pickShard(); const p = join(d, name), b = new Uint8Array(readFileSync(p)); const dv = new DataView(b.buffer);
    const at = r.pick([0, 4, 8]), v = r.pick([0, 1, 2, 3, 7, -1, SHARD_MAGIC, 20240801, 20240521, 100, 3999, 4001, 2 ** 31 - 1, 1e6]);
    dv.setInt32(at, v, true); writeFileSync(p, b); mutation = `${name}: header int ${at / 4} = ${v}`; }
  else if (k < 5) { name = pickShard(); const p = join(d, name), b = new Uint8Array(readFileSync(p));
    const mb = mutateBytes(r, b, r.chance(0.7) ? 1024 : 0); writeFileSync(p, mb.bytes); mutation = `${name}: ${mb.what}`;
    // other tokens, all in the vocabulary, in a shard of the same size and header: other data, any loss is right
    const o = mb.bytes, toks = new Uint16Array(o.buffer.slice(o.byteOffset + 1024, o.byteOffset + o.length - (o.length % 2)));
    free = o.length === b.length && o.subarray(0, 1024).every((x, i) => x === b[i]) && toks.every((t) => t < 512); }
  else if (k < 7) { name = 'data_pack.json'; const j = mutateJson(r, toTree(JSON.parse(readFileSync(join(d, name), 'utf8'))));
    writeFileSync(join(d, name), j.text); mutation = `data_pack.json: ${j.what}`; }
  else if (k === 7) { name = pickShard(); rmSync(join(d, name)); mutation = `${name} deleted`; }
  else if (k === 8) { name = 'data_pack.json'; rmSync(join(d, name)); mutation = 'data_pack.json deleted (an llm.c shard directory)'; free = true; }
  else { name = r.pick(['data_val_000099.bin', 'data_train_000099.bin', 'data_val_000000.bin.tmp', 'notes.bin']);
    writeFileSync(join(d, name), readFileSync(join(d, pickShard()))); mutation = `an extra file ${name}`; }
  if (r.chance(0.5)) return { format: 'token shards', mutation, run: () => evalCase(f, evalArgs(f.k2, d), [name], free ? () => null : sameLoss(f.base.evalPacked)) };
  return { format: 'token shards', mutation: `${mutation} (train)`,
    async run() {
      const res = await cli(f, packedTrainArgs(f, d, join(dir, 'run')));
      const v = judgeExit(res, [name]) ?? sameRun(res, f.base.trainPacked, 'train on the shards');
      return v.kind === 'silent' && free ? ok() : v;
    } };
};

// ---- run state on --resume ---------------------------------------------------------------------------------------

const runState: Maker = (r, f, dir) => {
  const run = copy(f.run3, join(dir, 'run')), ck = join(run, 'checkpoints', STEP);
  let mutation: string, name: string, textArg = f.train, free = false;
  const k = r.int(12);
  if (k < 4) {
    name = 'trainer.json'; const p = join(ck, name), seed = JSON.parse(readFileSync(p, 'utf8'));
    if (r.chance(0.5)) {
      const j = mutateJson(r, toTree(seed)); writeFileSync(p, j.text); mutation = `trainer.json: ${j.what}`;
      try { const s = JSON.parse(j.text); free = s?.state?.kernels !== undefined && JSON.stringify({ ...s, state: { ...s.state, kernels: null } }) === JSON.stringify({ ...seed, state: { ...seed.state, kernels: null } }); } catch { /* broken */ }
    } else {
      const edits: [string, (j: any) => void][] = [['step "3"', (j) => { j.state.step = '3'; }], ['step 1e9', (j) => { j.state.step = 1e9; }],
        ['step 2', (j) => { j.state.step = 2; }], ['step -1', (j) => { j.state.step = -1; }], ['loader.pos 1e9', (j) => { j.state.loader.pos = 1e9; }],
        ['loader.pos 9000', (j) => { j.state.loader.pos = 9000; }], ['loader.shard 5', (j) => { j.state.loader.shard = 5; }], ['no state', (j) => { delete j.state; }],
        ['loader.B 4', (j) => { j.state.loader.B = 4; }], ['opts.seq 16', (j) => { j.opts.seq = 16; }], ['tokensSeen -5', (j) => { j.state.tokensSeen = -5; }],
        ['loader.mode random', (j) => { j.state.loader.mode = 'random'; }], ['loader.rng []', (j) => { j.state.loader.rng = []; }]];
      const [what, edit] = r.pick(edits); edit(seed); writeFileSync(p, JSON.stringify(seed)); mutation = `trainer.json: ${what}`;
    }
    if (r.chance(0.1)) { const b = readFileSync(p); writeFileSync(p, b.subarray(0, r.int(b.length))); mutation += ', truncated'; }
  } else if (k === 4) {
    name = 'checkpoints.json'; const p = join(run, name);
    if (r.chance(0.3)) { rmSync(p); mutation = 'checkpoints.json deleted'; }
    else { const j = mutateJson(r, toTree(JSON.parse(readFileSync(p, 'utf8')))); writeFileSync(p, j.text); mutation = `checkpoints.json: ${j.what}`; }
  } else if (k === 5) {
    name = 'checkpoint'; const p = join(run, name); rmSync(p);
    const how = r.int(5);
    if (how === 1) symlinkSync('checkpoints/step-00000009', p); else if (how === 2) symlinkSync('checkpoints.json', p);
    else if (how === 3) mkdirSync(p); else if (how === 4) symlinkSync('checkpoints/step-00000002', p);
    mutation = `checkpoint link ${['deleted', 'dangling', 'to a file', 'an empty directory', 'to a step that is gone'][how]}`;
  } else if (k < 9) {
    name = r.pick(['model.safetensors', 'optimizer.safetensors', 'optimizer.safetensors', 'config.json', 'tokenizer.json']);
    const p = join(ck, name), b = new Uint8Array(readFileSync(p));
    const how = r.int(4);
    if (how === 0) { rmSync(p); mutation = `${name} deleted`; }
    else if (how === 1) { writeFileSync(p, b.subarray(0, r.int(b.length))); mutation = `${name} truncated`; }
    else if (name.endsWith('.safetensors') && how === 2) { // a flipped bit among the values: no parser can see it, a digest can
      const o = readSTStart(b) + r.int(b.length - readSTStart(b)); b[o] ^= 1 << r.int(8); writeFileSync(p, b); mutation = `${name}: a bit flipped in the data`;
    } else if (name.endsWith('.json')) { const j = mutateJson(r, toTree(JSON.parse(new TextDecoder().decode(b)))); writeFileSync(p, j.text); mutation = `${name}: ${j.what}`; }
    else { const mb = mutateBytes(r, b); writeFileSync(p, mb.bytes); mutation = `${name}: ${mb.what}`; }
  } else if (k === 9) {
    name = 'metrics.jsonl'; const p = join(run, name);
    writeFileSync(p, r.chance(0.5) ? '{"step":' : readFileSync(p, 'utf8') + '\u0000garbage\n'); mutation = 'metrics.jsonl damaged';
  } else if (k === 10) { name = '--text'; textArg = f.val; mutation = '--resume with another --text'; }
  else { name = STEP; rmSync(ck, { recursive: true }); mutation = `the step directory ${STEP} deleted`; }
  return { format: 'run state (--resume)', mutation,
    async run() {
      const res = await cli(f, trainArgs({ ...f, train: textArg }, run, 5, ['--resume']));
      const v = judgeExit(res, [name, name === '--text' ? 'text' : name]);
      if (v) return v;
      const same = sameRun(res, f.base.resume5, 'resume');
      return same.kind === 'silent' && free ? ok('only trainer.json\'s kernel choices changed') : same;
    } };
};
function readSTStart(b: Uint8Array): number { return 8 + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true)); }

// ---- distill-cache -----------------------------------------------------------------------------------------------

const distillCache: Maker = (r, f, dir) => {
  const c = copy(f.cache, join(dir, 'cache'));
  const shardsIn = readdirSync(c).filter((n) => n.endsWith('.bin')).sort();
  let mutation: string, name: string;
  const k = r.int(6);
  if (k < 2) { name = 'distill_cache.json'; const j = mutateJson(r, toTree(JSON.parse(readFileSync(join(c, name), 'utf8')))); writeFileSync(join(c, name), j.text); mutation = j.what; }
  else if (k < 4) { name = r.pick(shardsIn); const p = join(c, name), b = new Uint8Array(readFileSync(p));
    const mb = r.chance(0.5) ? mutateBytes(r, b, 0, 32) : mutateBytes(r, b); writeFileSync(p, mb.bytes); mutation = `${name}: ${mb.what}`; }
  else if (k === 4) { name = r.pick(shardsIn); rmSync(join(c, name)); mutation = `${name} deleted`; }
  else { name = 'distill_cache.json'; rmSync(join(c, name)); mutation = 'distill_cache.json deleted'; }
  return { format: 'distill-cache', mutation,
    async run() {
      const res = await cli(f, distillArgs(f, c, join(dir, 'runD')));
      return judgeExit(res, [name]) ?? sameRun(res, f.base.distill3, 'train --teacher-cache');
    } };
};

// ---- paths that are not regular files ----------------------------------------------------------------------------

const PATH_TIMEOUT_MS = 10_000;
const paths: Maker = (r, f, dir) => {
  const kinds = ['a FIFO', 'a link to /dev/zero', 'a link to /dev/null', 'a directory', 'a dangling link', 'a link to itself', 'an empty file'];
  const how = r.int(kinds.length);
  const target = r.pick(['model.safetensors', 'config.json', 'tokenizer.json', '--text', 'shard', 'trainer.json', 'optimizer.safetensors', '--model .bin']);
  let p: string, args: string[], check: (res: Res) => Verdict;
  const evalThen = (base: number) => (res: Res) => { const l = jsonOut(res)?.loss; return l === base ? ok() : silent(`exit 0 with loss ${l}, the regular file gives ${base}`); };
  if (['model.safetensors', 'config.json', 'tokenizer.json'].includes(target)) {
    const m = copy(f.k2, join(dir, 'k2')); p = join(m, target); args = evalArgs(m, f.val); check = evalThen(f.base.evalK2);
  } else if (target === '--text') { p = join(dir, 'text.txt'); args = evalArgs(f.k2, p); check = evalThen(f.base.evalK2); }
  else if (target === 'shard') { const d = copy(f.packed, join(dir, 'packed')); p = join(d, 'data_val_000000.bin'); args = evalArgs(f.k2, d); check = evalThen(f.base.evalPacked); }
  else if (target === '--model .bin') { p = join(dir, 'model.bin'); args = evalArgs(p, f.val, ['--tokenizer', f.tokBin]); check = evalThen(f.base.evalLlama2c); }
  else { const run = copy(f.run3, join(dir, 'run')); p = join(run, 'checkpoints', STEP, target); args = trainArgs(f, run, 5, ['--resume']); check = (res) => sameRun(res, f.base.resume5, 'resume'); }
  rmSync(p, { force: true, recursive: true });
  if (how === 0) execFileSync('mkfifo', [p]);
  else if (how === 1) symlinkSync('/dev/zero', p);
  else if (how === 2) symlinkSync('/dev/null', p);
  else if (how === 3) mkdirSync(p);
  else if (how === 4) symlinkSync(join(dir, 'nothing-here'), p);
  else if (how === 5) symlinkSync(p, p);
  else writeFileSync(p, '');
  const name = basename(p);
  return { format: 'paths', mutation: `${target} is ${kinds[how]}`,
    async run() {
      const res = await cli(f, args, PATH_TIMEOUT_MS);
      return judgeExit(res, [name]) ?? check(res);
    } };
};

// ---- kill -9 -----------------------------------------------------------------------------------------------------

const kill: Maker = (r, f, dir) => {
  const what = r.pick(['train', 'train', 'pack', 'distill-cache']);
  if (what === 'train') {
    // at a random moment, or (the package's test hook) inside the N-th save: after its first file, or just before the link swap
    const out = join(dir, 'run'), hook = r.chance(0.5) ? `${r.pick(['write', 'swap'])}:${1 + r.int(5)}` : null;
    const at = hook ? undefined : 150 + r.int(Math.round(f.base.trainMs * 1.6));
    return { format: 'kill -9', mutation: hook ? `train killed in a save (INHERITUNE_CRASH_AT=${hook})` : `train killed at ${at} ms`,
      async run() {
        const first = await cli(f, trainArgs(f, out, 5), 60_000, at, hook ? { INHERITUNE_CRASH_AT: hook } : undefined);
        if (!first.killed && !hook) return judgeExit(first, []) ?? sameRun(first, f.base.full5, 'train (finished before the kill)');
        const res = await cli(f, trainArgs(f, out, 5, ['--resume']));
        const v = judgeExit(res, ['checkpoint', basename(out)]);
        if (!v) return worst(sameRun(res, f.base.full5, '--resume after kill -9', true), sameWeights(out, f.run5));
        if (v.kind !== 'clear') return v;
        const again = await cli(f, trainArgs(f, out, 5, ['--force'])); // what the error offers: a fresh run
        return worst(v, judgeExit(again, []) ?? worst(sameRun(again, f.base.full5, '--force after kill -9'), sameWeights(out, f.run5)));
      } };
  }
  if (what === 'pack') {
    const out = join(dir, 'packed'), at = 100 + r.int(Math.round(f.base.packMs * 1.3));
    const pack = (extra: string[] = []) => cli(f, ['pack', '--tokenizer', f.k2, '--input', f.big, '--out', out, '--shard-tokens', '4000', '--val-fraction', '0.1', ...extra]);
    return { format: 'kill -9', mutation: `pack killed at ${at} ms`,
      async run() {
        const first = await cli(f, ['pack', '--tokenizer', f.k2, '--input', f.big, '--out', out, '--shard-tokens', '4000', '--val-fraction', '0.1'], 60_000, at);
        const finished = !first.killed && first.code === 0;
        if (!first.killed) { const v = judgeExit(first, []); if (v) return v; }
        const steps: Verdict[] = [];
        if (existsSync(out)) { // reuse: what the killed pack left is a clear error or the whole data
          const e = await cli(f, evalArgs(f.k2, out));
          const l = jsonOut(e)?.loss;
          steps.push(judgeExit(e, ['data_pack.json', basename(out)]) ?? (l === f.base.evalPacked ? ok() : silent(`eval of what ${finished ? 'the finished' : 'a killed'} pack left: exit 0 with loss ${l}, the whole pack gives ${f.base.evalPacked}`)));
        }
        let re = await pack(); // packing again: done, or a clear error whose fix (--force) works
        const rv = judgeExit(re, [basename(out)]);
        if (rv?.kind === 'clear') re = await pack(['--force']);
        steps.push(rv && rv.kind !== 'clear' ? rv : judgeExit(re, []) ?? ok());
        if (re.code === 0) { const e = await cli(f, evalArgs(f.k2, out)); steps.push(judgeExit(e, []) ?? (jsonOut(e)?.loss === f.base.evalPacked ? ok() : silent(`re-packed: loss ${jsonOut(e)?.loss}`))); }
        return worst(...steps);
      } };
  }
  const c = join(dir, 'cache'), at = 150 + r.int(2000);
  const args = ['distill-cache', '--teacher', f.k2, '--text', f.train, '--seq', '32', '--topk', '8', '--shard-windows', '100', '--out', c];
  return { format: 'kill -9', mutation: `distill-cache killed at ${at} ms`,
    async run() {
      await cli(f, args, 60_000, at);
      const again = await cli(f, args); // a re-run continues after the last whole shard
      const v = judgeExit(again, ['distill_cache', basename(c)]);
      if (v && v.kind !== 'clear') return v;
      if (v) { const forced = await cli(f, [...args, '--force']); const fv = judgeExit(forced, []); if (fv) return fv; }
      const t = await cli(f, distillArgs(f, c, join(dir, 'runD')));
      return worst(v ?? ok(), judgeExit(t, []) ?? sameRun(t, f.base.distill3, 'train on the re-run cache'));
    } };
};

export const RUN_MAKERS: Record<string, [Maker, number]> = {
  text: [text, 8], shards: [shards, 12], runState: [runState, 14], distillCache: [distillCache, 6], paths: [paths, 8], kill: [kill, 6],
};

