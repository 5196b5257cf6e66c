// hfcache: hf:owner/name[@rev] read from huggingface_hub's own cache with no endpoint and no network
// (src/node/hfcache.ts, src/node/hub.ts). Models are laid out by test/hflayout.ts (written from
// huggingface_hub's layout, not from the code under test) in temp folders; the environment is passed as a
// parameter, so process.env is never changed. The network tests (downloads into the layout) are in hub.test.ts.
import { describe, it, expect, beforeEach, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { downloadModel, defaultCacheDir } from '../src/node/hub.js';
import { isOffline, missingFiles } from '../src/node/hfcache.js';
import { readModel } from '../src/node/models.js';
import { REPO } from './helpers.js';
import { TOKENIZER, commitOf, filesOf, writeSnapshot , expectSame, fails } from './hflayout.js';

const dirOf = (name: string) => resolve(REPO, 'test/ref/hf', name);
const OFF = { HF_HUB_OFFLINE: '1' };
const temps: string[] = [];
let cache = '';
beforeEach(() => { cache = mkdtempSync(join(tmpdir(), 'itrt-hfcache-')); temps.push(cache); });
afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const llama = () => filesOf(dirOf('llama-tiny'), TOKENIZER);
const gpt2 = () => filesOf(dirOf('gpt2-tiny'), TOKENIZER);

describe('where the cache is, offline', () => {
  it("takes huggingface_hub's order: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub", () => {
    const all = { HF_HUB_CACHE: '/c', HUGGINGFACE_HUB_CACHE: '/l', HF_HOME: '/h', XDG_CACHE_HOME: '/x', HOME: '/u' };
    expect(defaultCacheDir(all)).toBe('/c');
    expect(defaultCacheDir({ ...all, HF_HUB_CACHE: undefined })).toBe('/l');
    expect(defaultCacheDir({ ...all, HF_HUB_CACHE: '', HUGGINGFACE_HUB_CACHE: undefined })).toBe(join('/h', 'hub'));
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/u' })).toBe(join('/x', 'huggingface', 'hub'));
    expect(defaultCacheDir({ HOME: '/u' })).toBe(join('/u', '.cache', 'huggingface', 'hub'));
    expect(defaultCacheDir({ HF_HOME: '~/hf', HOME: '/u' })).toBe(join('/u', 'hf', 'hub')); // expanduser, as Python
  });

  it('HF_HUB_OFFLINE (else TRANSFORMERS_OFFLINE) is true for 1, ON, YES, TRUE in any case', () => {
    for (const v of ['1', 'ON', 'on', 'Yes', 'true', 'TRUE']) expect(isOffline({ HF_HUB_OFFLINE: v }), v).toBe(true);
    for (const v of ['0', 'off', 'no', 'false', '', '2', ' 1']) expect(isOffline({ HF_HUB_OFFLINE: v }), v).toBe(false);
    expect(isOffline({})).toBe(false);
    expect(isOffline({ TRANSFORMERS_OFFLINE: '1' })).toBe(true);
    expect(isOffline({ HF_HUB_OFFLINE: '', TRANSFORMERS_OFFLINE: 'yes' })).toBe(true);
    expect(isOffline({ HF_HUB_OFFLINE: '0', TRANSFORMERS_OFFLINE: '1' })).toBe(false); // set wins, as Python's `or`
  });

  it('loads from the cache the variables choose, and only from there', async () => {
    const home = join(cache, 'home'), hfHome = join(cache, 'hf-home'), hubCache = join(cache, 'hub-cache');
    const sha = commitOf('main');
    writeSnapshot(join(home, '.cache', 'huggingface', 'hub'), 'o/m', sha, gpt2());
    writeSnapshot(join(hfHome, 'hub'), 'o/m', sha, llama());
    const want = join(hubCache, 'models--o--m', 'snapshots', sha);
    writeSnapshot(hubCache, 'o/m', sha, filesOf(dirOf('fam-qwen3-f32'), TOKENIZER));
    expect(await downloadModel('hf:o/m', {}, { ...OFF, HOME: home, HF_HOME: hfHome, HF_HUB_CACHE: hubCache })).toBe(want);
    expectSame(await readModel(want), await readModel(dirOf('fam-qwen3-f32')));
    expect(await downloadModel('hf:o/m', {}, { ...OFF, HOME: home, HF_HOME: hfHome })).toBe(join(hfHome, 'hub', 'models--o--m', 'snapshots', sha));
    const viaHome = await downloadModel('hf:o/m', {}, { ...OFF, HOME: home });
    expect(viaHome).toBe(join(home, '.cache', 'huggingface', 'hub', 'models--o--m', 'snapshots', sha));
    expectSame(await readModel(viaHome), await readModel(dirOf('gpt2-tiny')));
  });
});

describe('snapshots of the huggingface_hub layout', () => {
  it('a sharded model (refs/main -> snapshots/<sha>/ linked into blobs/) loads offline with no endpoint, equal to its source directory', async () => {
    const sha = commitOf('main');
    const snap = writeSnapshot(cache, 'test/llama-tiny', sha, llama());
    const dir = await downloadModel('hf:test/llama-tiny', { cacheDir: cache }, OFF);
    expect(dir).toBe(snap);
    expectSame(await readModel(dir), await readModel(dirOf('llama-tiny')));
    // no HF_HUB_OFFLINE and no HF_ENDPOINT either: a complete snapshot needs neither
    expect(await downloadModel('hf:test/llama-tiny', {}, { HF_HUB_CACHE: cache })).toBe(snap);
  });

  it('@rev: a branch or tag through refs/ (nested ones too), a commit sha through snapshots/ directly', async () => {
    const a = commitOf('a'), b = commitOf('b'), c = commitOf('c');
    writeSnapshot(cache, 'o/m', a, llama(), { refs: ['main'] });
    writeSnapshot(cache, 'o/m', b, gpt2(), { refs: ['v1', 'refs/pr/1'] });
    writeSnapshot(cache, 'o/m', c, filesOf(dirOf('fam-neox-f32'), TOKENIZER), { refs: [] });
    const env = { ...OFF, HF_HUB_CACHE: cache };
    const snap = (sha: string) => join(cache, 'models--o--m', 'snapshots', sha);
    expect(await downloadModel('hf:o/m', {}, env)).toBe(snap(a));
    expect(await downloadModel('hf:o/m@main', {}, env)).toBe(snap(a));
    expect(await downloadModel('hf:o/m@v1', {}, env)).toBe(snap(b));
    expect(await downloadModel('hf:o/m@refs/pr/1', {}, env)).toBe(snap(b));
    expect(await downloadModel(`hf:o/m@${c}`, {}, env)).toBe(snap(c));
    expectSame(await readModel(snap(b)), await readModel(dirOf('gpt2-tiny')));
    expectSame(await readModel(snap(c)), await readModel(dirOf('fam-neox-f32')));
    await fails(downloadModel('hf:o/m@v2', {}, env), /has no refs\/v2 pointing at a snapshot/);
    await fails(downloadModel(`hf:o/m@${commitOf('d')}`, {}, env), new RegExp(`has no snapshot of ${commitOf('d')}`));
  });

  it('plain files instead of symlinks (systems without them) load the same', async () => {
    const snap = writeSnapshot(cache, 'o/m', commitOf('main'), llama(), { symlinks: false });
    expect(await downloadModel('hf:o/m', { cacheDir: cache }, OFF)).toBe(snap);
    expectSame(await readModel(snap), await readModel(dirOf('llama-tiny')));
  });

  it('links into blobs/ are allowed; a link elsewhere out of the snapshot is still refused', async () => {
    const snap = writeSnapshot(cache, 'o/m', commitOf('main'), gpt2());
    const outside = join(cache, 'elsewhere.safetensors');
    writeFileSync(outside, new Uint8Array(16));
    rmSync(join(snap, 'model.safetensors'));
    symlinkSync(outside, join(snap, 'model.safetensors'));
    await fails(readModel(snap), /is a link that leaves/);
  });

  it('offline and not cached: a clear error naming the cache looked at and the fix', async () => {
    const e = await fails(downloadModel('hf:o/m@v1', {}, { HF_HUB_OFFLINE: 'true', HF_HOME: cache }),
      new RegExp(`${esc(join(cache, 'hub', 'models--o--m'))} \\(the huggingface_hub cache, from \\$HF_HOME/hub\\) has no snapshot of v1, and HF_HUB_OFFLINE is set`));
    expect(e.hint).toMatch(/`hf download o\/m --revision v1`.*unset HF_HUB_OFFLINE and set HF_ENDPOINT/);
    // nor online without an endpoint
    const e2 = await fails(downloadModel('hf:o/m', {}, { HF_HUB_CACHE: cache }), /from \$HF_HUB_CACHE\) has no snapshot of main, and HF_ENDPOINT is not set/);
    expect(e2.hint).toMatch(/set HF_ENDPOINT to the base URL of a Hub endpoint.*`hf download o\/m`/);
  });

  it('an incomplete snapshot (a shard missing) is not used: offline, an error naming what is missing', async () => {
    const files = llama();
    delete files['model-00002-of-00002.safetensors'];
    const snap = writeSnapshot(cache, 'o/m', commitOf('main'), files);
    await fails(downloadModel('hf:o/m', { cacheDir: cache }, OFF),
      new RegExp(`the snapshot ${esc(snap)} is incomplete \\(missing model-00002-of-00002\\.safetensors\\), and HF_HUB_OFFLINE is set`));
  });

  it('complete means config.json, all the weights and a tokenizer (or .no_exist records that the repo has none)', () => {
    const sha = commitOf('main'), repo = join(cache, 'models--o--m');
    const check = (files: Record<string, Uint8Array>) => {
      rmSync(repo, { recursive: true, force: true });
      writeSnapshot(cache, 'o/m', sha, files);
      return missingFiles(repo, sha);
    };
    const full = llama();
    expect(check(full)).toEqual([]);
    const { 'config.json': _c, ...noConfig } = full;
    expect(check(noConfig)).toEqual(['config.json']);
    const { 'model.safetensors.index.json': _i, 'model-00001-of-00002.safetensors': _s1, 'model-00002-of-00002.safetensors': _s2, ...noWeights } = full;
    expect(check(noWeights)).toEqual(['model.safetensors (or model.safetensors.index.json and its shards)']);
    const { 'model-00001-of-00002.safetensors': _s, ...noShard1 } = full;
    expect(check(noShard1)).toEqual(['model-00001-of-00002.safetensors']);
    expect(check(gpt2())).toEqual([]);
    const { 'tokenizer.json': _t, ...noTok } = gpt2();
    expect(check(noTok)).toEqual(['a tokenizer (tokenizer.json, tokenizer.model or vocab.json + merges.txt)']);
    expect(check({ ...noTok, 'vocab.json': new Uint8Array(2) })).toHaveLength(1); // half a GPT-2 pair is no tokenizer
    expect(check({ ...noTok, 'vocab.json': new Uint8Array(2), 'merges.txt': new Uint8Array(1) })).toEqual([]);
    expect(check({ ...noTok, 'tokenizer.model': new Uint8Array(1) })).toEqual([]);
    check(noTok);
    for (const f of ['tokenizer.json', 'tokenizer.model', 'vocab.json']) {
      expect(missingFiles(repo, sha)).toHaveLength(1);
      mkdirSync(join(repo, '.no_exist', sha), { recursive: true });
      writeFileSync(join(repo, '.no_exist', sha, f), '');
    }
    expect(missingFiles(repo, sha)).toEqual([]); // the repo has no tokenizer: nothing more to fetch
    // a link whose blob was deleted is a missing file
    rmSync(join(repo, 'blobs'), { recursive: true });
    expect(missingFiles(repo, sha)).toEqual(['config.json', 'model.safetensors (or model.safetensors.index.json and its shards)']);
  });
});
