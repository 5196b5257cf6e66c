// hub: models from the Hub (src/formats/hub.ts, src/node/hub.ts) against a local server on 127.0.0.1 that
// answers as the Hub does: /<owner>/<name>/resolve/<revision or commit>/<file> with X-Repo-Commit; small
// files served directly with their git blob sha1 as ETag; *.safetensors (LFS) answered with a 302 to
// /cdn/<sha256>/<file> carrying X-Linked-Etag (the sha256) and X-Linked-Size, the CDN serving the bytes
// with an ETag of its own; Range support (206 + Content-Range, 416), a token-protected repo (401 without
// `Authorization: Bearer secret`) and a fault mode that cuts a GET's body after N bytes. Checks: a download
// lands in huggingface_hub's layout (blob names computed here from the bytes), reads as the source directory
// and is then used offline; resume of blobs/<etag>.incomplete with `Range: bytes=N-`; an incomplete snapshot
// is filled; clear errors (HF_TOKEN, 404 with the URL, bad specs, no HF_ENDPOINT); lazy Range reads.
// Reading the cache without a server: hfcache.test.ts.
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { hubDir, hubUrl, parseHubSpec, isHubSpec } from '../src/formats/hub.js';
import { downloadModel, nodeHubOptions } from '../src/node/hub.js';
import { readHfModel } from '../src/formats/hf.js';
import { readModel } from '../src/node/models.js';
import { SafetensorsFile } from '../src/formats/safetensors.js';
import { InherituneError } from '../src/util/errors.js';
import { REPO } from './helpers.js';
import { TOKENIZER, commitOf, filesOf, gitSha1, sha256, writeSnapshot , expectSame, fails } from './hflayout.js';

const dirOf = (name: string) => resolve(REPO, 'test/ref/hf', name);
const enc = (s: string) => new TextEncoder().encode(s);

// ---- the server ----
interface Repo { dir: string; token?: string; extra?: Record<string, Uint8Array> }
const REPOS: Record<string, Repo> = {
  'test/llama-tiny': { dir: dirOf('llama-tiny') },
  // a tokenizer.json over 1 MiB, so that the download draws a progress bar
  'test/gpt2-tiny': { dir: dirOf('gpt2-tiny'), extra: { 'tokenizer.json': enc(`{"model":{"type":"BPE"},"pad":"${'x'.repeat(1_200_000)}"}\n`), 'merges.txt': enc('#version: 0.2\n') } },
  'private/llama-tiny': { dir: dirOf('llama-tiny'), token: 'secret' },
  'test/no-config': { dir: dirOf('.') },                                         // no config.json at its root
  'test/no-weights': { dir: dirOf('.'), extra: { 'config.json': readFileSync(join(dirOf('gpt2-tiny'), 'config.json')) } },
  'test/evil-index': { dir: dirOf('llama-tiny'), extra: { 'model.safetensors.index.json': enc('{"weight_map":{"a":"../../evil.safetensors"}}') } },
};
// revision -> commit; every file is the same at each (the server has one version of each repo)
const COMMITS: Record<string, string> = { main: commitOf('main'), 'refs/pr/1': commitOf('refs/pr/1') };
const MAIN = COMMITS.main;

interface Hit { method: string; url: string; file: string; cdn: boolean; range?: string; auth?: string; status: number; bytes: number }
let log: Hit[] = [];
const cuts = new Map<string, number>();          // file path -> cut the next GET's body after N bytes (one shot)
let origin = '';

function fileData(repo: Repo, file: string): Uint8Array | null {
  const path = join(repo.dir, file);
  return repo.extra?.[file] ?? (existsSync(path) && statSync(path).isFile() ? new Uint8Array(readFileSync(path)) : null);
}
const blobsById = new Map<string, Uint8Array>(); // sha256 -> bytes, for the CDN

function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const segs = new URL(url, 'http://127.0.0.1').pathname.split('/').slice(1).map(decodeURIComponent);
  const cdn = segs[0] === 'cdn';
  const hit: Hit = { method: req.method ?? 'GET', url, file: (cdn ? segs.slice(2) : segs.slice(4)).join('/'), cdn,
    range: req.headers.range, auth: req.headers.authorization, status: 0, bytes: 0 };
  log.push(hit);
  const send = (status: number, body: Uint8Array, headers: Record<string, string | number> = {}) => {
    hit.status = status;
    res.writeHead(status, { 'Content-Length': body.length, ...headers });
    const cut = cuts.get(hit.file);
    if (cut !== undefined && status < 300 && hit.method === 'GET') {
      cuts.delete(hit.file);
      hit.bytes = cut;
      // announce all, send N, hang up a little later (a fetch body that errors drops the chunks it
      // has queued but not handed out, so the client gets time to take them, as on a real network)
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 200));
      return;
    }
    hit.bytes = hit.method === 'HEAD' ? 0 : body.length;
    res.end(body);
  };
  const ranged = (data: Uint8Array, headers: Record<string, string>) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) return send(200, data, headers);
    const start = Number(m[1]), end = m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
    if (start >= data.length) return send(416, new Uint8Array(0), { 'Content-Range': `bytes */${data.length}` });
    send(206, data.subarray(start, end + 1), { ...headers, 'Content-Range': `bytes ${start}-${end}/${data.length}` });
  };
  if (cdn) {
    const data = blobsById.get(segs[1]);
    if (!data) return send(404, enc('NoSuchKey'));
    return ranged(data, { ETag: `"cdn-${segs[1].slice(0, 8)}"`, 'Accept-Ranges': 'bytes' }); // a CDN's own ETag
  }
  if (segs[0] === 'renamed') { // a renamed repo: the Hub answers with a relative redirect to the new name
    return send(307, new Uint8Array(0), { Location: `/test/${url.split('/').slice(2).join('/')}` });
  }
  const repo = REPOS[`${segs[0]}/${segs[1]}`];
  if (segs.length < 5 || segs[2] !== 'resolve' || !repo || segs.some((s) => s === '..')) return send(404, enc('Repository Not Found'));
  if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) return send(401, enc('Invalid credentials'));
  const commit = COMMITS[segs[3]] ?? (Object.values(COMMITS).includes(segs[3]) ? segs[3] : null);
  if (!commit) return send(404, enc('Revision Not Found'));
  const data = fileData(repo, hit.file);
  if (!data) return send(404, enc('Entry not found'), { 'X-Repo-Commit': commit, 'X-Error-Code': 'EntryNotFound' });
  if (hit.file.endsWith('.safetensors')) { // LFS: the Hub answers with a redirect to the content
    const id = sha256(data);
    blobsById.set(id, data);
    return send(302, new Uint8Array(0), { Location: `${origin}/cdn/${id}/${hit.file}`, 'X-Repo-Commit': commit,
      'X-Linked-Etag': `"${id}"`, 'X-Linked-Size': data.length, ETag: `"${gitSha1(enc(`pointer ${id}`))}"` });
  }
  ranged(data, { ETag: `"${gitSha1(data)}"`, 'X-Repo-Commit': commit, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' });
}

let server: Server;
let endpoint = '';
let cache = '';
const temps: string[] = [];
beforeAll(async () => {
  server = createServer(serve);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  endpoint = origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});
beforeEach(() => {
  log = []; cuts.clear();
  cache = mkdtempSync(join(tmpdir(), 'itrt-hub-'));
  temps.push(cache);
});

/** the GETs that carried content (the CDN's, and the Hub's own for non-LFS files) */
const gets = () => log.filter((h) => h.method === 'GET' && h.status < 300);
const snapOf = (id: string, sha = MAIN) => join(cache, `models--${id.replace('/', '--')}`, 'snapshots', sha);
const NOENV = {}; // no HF_ENDPOINT, HF_TOKEN or HF_HUB_OFFLINE from the machine running the tests

describe('hub specs and endpoint', () => {
  it('parses hf:owner/name[@revision] and builds resolve URLs', () => {
    expect(isHubSpec('hf:a/b')).toBe(true);
    expect(isHubSpec('./models/a')).toBe(false);
    expect(parseHubSpec('hf:my-org/My_model.v2')).toEqual({ owner: 'my-org', name: 'My_model.v2', revision: 'main' });
    const r = parseHubSpec('hf:o/n@refs/pr/1');
    expect(r.revision).toBe('refs/pr/1');
    expect(hubUrl('http://h/base/', r, 'sub dir/f.json')).toBe('http://h/base/o/n/resolve/refs%2Fpr%2F1/sub%20dir/f.json');
    for (const bad of ['hf:nope', 'hf:a/b/c', 'hf:a--b/c', 'hf:-a/b', 'hf:a/b.', 'hf:a/b@', 'hf:a/b@x/../y', 'hf:a/b c', 'hf:/b']) {
      expect(() => parseHubSpec(bad), bad).toThrow(InherituneError);
    }
    expect(() => parseHubSpec('hf:nope')).toThrow(/hf:owner\/name/);
  });

  it('reads HF_ENDPOINT / HF_TOKEN (options win) and fails clearly when no endpoint is set', () => {
    expect(nodeHubOptions({}, { HF_ENDPOINT: 'http://127.0.0.1:9/', HF_TOKEN: 't' })).toEqual({ endpoint: 'http://127.0.0.1:9', token: 't' });
    expect(nodeHubOptions({ endpoint: 'http://a', token: 'u' }, { HF_ENDPOINT: 'http://b', HF_TOKEN: 't' })).toEqual({ endpoint: 'http://a', token: 'u' });
    expect(() => nodeHubOptions({}, {})).toThrow(/set HF_ENDPOINT/);
    expect(() => nodeHubOptions({}, { HF_ENDPOINT: 'ftp://x' })).toThrow(/not an http\(s\) URL/);
    expect(() => hubDir('hf:a/b')).toThrow(/HF_ENDPOINT/);
  });
});

describe('downloadModel into the huggingface_hub layout', { timeout: 30_000 }, () => {
  it('a sharded Llama lands as huggingface_hub lays it out, reads as the source, and is then used offline with no endpoint', async () => {
    const dir = await downloadModel('hf:test/llama-tiny', { cacheDir: cache, endpoint }, NOENV);
    const repo = join(cache, 'models--test--llama-tiny');
    expect(dir).toBe(snapOf('test/llama-tiny'));
    expect(readFileSync(join(repo, 'refs', 'main'), 'utf8')).toBe(MAIN);
    const src = dirOf('llama-tiny');
    for (const f of readdirSync(src)) {
      const bytes = new Uint8Array(readFileSync(join(src, f)));
      // LFS files under their sha256 (X-Linked-Etag), others under their git blob sha1 (ETag)
      const blob = f.endsWith('.safetensors') ? sha256(bytes) : gitSha1(bytes);
      expect(lstatSync(join(dir, f)).isSymbolicLink(), f).toBe(true);
      expect(readlinkSync(join(dir, f)), f).toBe(join('..', '..', 'blobs', blob));
      expect(readFileSync(join(repo, 'blobs', blob)).equals(bytes), f).toBe(true);
    }
    expect(readdirSync(join(repo, 'blobs')).filter((f) => f.endsWith('.incomplete'))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(readdirSync(src).sort());
    // the repo has no tokenizer: recorded as huggingface_hub does, so the snapshot counts as complete
    expect(readdirSync(join(repo, '.no_exist', MAIN)).sort()).toEqual(['generation_config.json', 'merges.txt', 'special_tokens_map.json',
      'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json', 'vocab.json']);
    expect(existsSync(join(cache, '.locks', 'models--test--llama-tiny', 'inheritune-rt.lock'))).toBe(false);
    expectSame(await readModel(dir), await readModel(src));
    // the content came once each, the weights from the CDN; files after config.json were asked for at the commit
    expect(gets().map((h) => h.file).sort()).toEqual(readdirSync(src).sort());
    expect(gets().filter((h) => h.file.endsWith('.safetensors')).every((h) => h.cdn)).toBe(true);
    expect(log.filter((h) => !h.cdn && h.file !== 'config.json').every((h) => h.url.includes(`/resolve/${MAIN}/`))).toBe(true);
    log = [];
    expect(await downloadModel('hf:test/llama-tiny', {}, { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' })).toBe(dir);
    expect(log).toEqual([]);
  });

  it('a single-file GPT-2 with its tokenizer files; HF_ENDPOINT from the environment; a slashed revision gets a nested ref', async () => {
    const bars: string[] = [];
    const dir = await downloadModel('hf:test/gpt2-tiny@refs/pr/1', { progress: (s) => bars.push(s) }, { HF_HUB_CACHE: cache, HF_ENDPOINT: endpoint });
    expect(bars.join('')).toMatch(/tokenizer\.json MiB \[#+\] 1\.1\/1\.1 .*\n$/); // one bar: the only file over 1 MiB
    expect(dir).toBe(snapOf('test/gpt2-tiny', COMMITS['refs/pr/1']));
    expect(readFileSync(join(cache, 'models--test--gpt2-tiny', 'refs', 'refs', 'pr', '1'), 'utf8')).toBe(COMMITS['refs/pr/1']);
    expectSame(await readModel(dir), await readModel(dirOf('gpt2-tiny')));
    expect(readFileSync(join(dir, 'merges.txt'), 'utf8')).toBe('#version: 0.2\n');
    expect(existsSync(join(dir, 'tokenizer.json'))).toBe(true);
    expect(log[0]).toMatchObject({ method: 'HEAD', url: expect.stringContaining('/test/gpt2-tiny/resolve/refs%2Fpr%2F1/config.json') });
  });

  it('@<commit sha> downloads that snapshot and writes no ref', async () => {
    const dir = await downloadModel(`hf:test/gpt2-tiny@${MAIN}`, { cacheDir: cache, endpoint }, NOENV);
    expect(dir).toBe(snapOf('test/gpt2-tiny'));
    expect(existsSync(join(cache, 'models--test--gpt2-tiny', 'refs'))).toBe(false);
    expectSame(await readModel(dir), await readModel(dirOf('gpt2-tiny')));
  });

  it('a renamed repo: relative redirects are followed (the blobs still named by X-Linked-Etag), absolute ones are not', async () => {
    const dir = await downloadModel('hf:renamed/gpt2-tiny', { cacheDir: cache, endpoint }, NOENV);
    expect(dir).toBe(snapOf('renamed/gpt2-tiny'));
    const bytes = new Uint8Array(readFileSync(join(dirOf('gpt2-tiny'), 'model.safetensors')));
    expect(readlinkSync(join(dir, 'model.safetensors'))).toBe(join('..', '..', 'blobs', sha256(bytes)));
    expectSame(await readModel(dir), await readModel(dirOf('gpt2-tiny')));
  });

  it('an incomplete snapshot (Python stopped, or a shard deleted) is filled: only what is missing is fetched', async () => {
    const files = filesOf(dirOf('llama-tiny'), TOKENIZER);
    delete files['model-00002-of-00002.safetensors'];
    const snap = writeSnapshot(cache, 'test/llama-tiny', MAIN, files);
    expect(await downloadModel('hf:test/llama-tiny', { cacheDir: cache, endpoint }, NOENV)).toBe(snap);
    expect(gets().map((h) => h.file)).toEqual(['model-00002-of-00002.safetensors']);
    expectSame(await readModel(snap), await readModel(dirOf('llama-tiny')));
  });

  it('an interrupted download resumes blobs/<etag>.incomplete with Range: bytes=N- on the next run and ends byte-identical', async () => {
    const CUT = 50_000;
    cuts.set('model.safetensors', CUT);
    const e = await fails(downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint, retries: 0 }, NOENV), /interrupted at \d+ of 129056 bytes/);
    const want = new Uint8Array(readFileSync(join(dirOf('gpt2-tiny'), 'model.safetensors')));
    const part = join(cache, 'models--test--gpt2-tiny', 'blobs', `${sha256(want)}.incomplete`);
    expect(e.hint).toContain(`resumes from ${part}`);
    const N = statSync(part).size;
    expect(N).toBeGreaterThan(0);
    expect(N).toBeLessThanOrEqual(CUT); // CUT on an idle machine; what the client took before the hang-up
    expect(existsSync(join(cache, 'models--test--gpt2-tiny', 'refs'))).toBe(false); // written only once complete
    await fails(downloadModel('hf:test/gpt2-tiny', { cacheDir: cache }, { HF_HUB_OFFLINE: '1' }), /has no refs\/main pointing at a snapshot/);
    log = [];
    const dir = await downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint }, NOENV);
    const resumed = gets().filter((h) => h.file === 'model.safetensors');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ range: `bytes=${N}-`, status: 206, bytes: 129056 - N, cdn: true });
    expect(readFileSync(join(dir, 'model.safetensors')).equals(want)).toBe(true);
    expect(existsSync(part)).toBe(false);
    expect(log.some((h) => h.file === 'config.json' && h.method === 'GET')).toBe(false); // already there: not fetched again
  });

  it('a broken transfer resumes within the same call (bounded retries)', async () => {
    cuts.set('model-00002-of-00002.safetensors', 1000);
    const dir = await downloadModel('hf:test/llama-tiny', { cacheDir: cache, endpoint }, NOENV);
    const hits = gets().filter((h) => h.file === 'model-00002-of-00002.safetensors');
    expect(hits.map((h) => h.range)).toEqual([undefined, expect.stringMatching(/^bytes=[1-9]\d*-$/)]);
    expect(hits[1].status).toBe(206);
    expectSame(await readModel(dir), await readModel(dirOf('llama-tiny')));
  });

  it('a part that is already whole (stopped before the rename) is finished after a 416', async () => {
    const config = new Uint8Array(readFileSync(join(dirOf('gpt2-tiny'), 'config.json')));
    const blobs = join(cache, 'models--test--gpt2-tiny', 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${gitSha1(config)}.incomplete`), config);
    const dir = await downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint }, NOENV);
    expect(log.find((h) => h.file === 'config.json' && h.method === 'GET')).toMatchObject({ status: 416 });
    expect(readFileSync(join(dir, 'config.json')).equals(config)).toBe(true);
  });

  it('a gated repo: 401 without a token names HF_TOKEN; the token (option or HF_TOKEN) is sent as a Bearer', async () => {
    const e = await fails(downloadModel('hf:private/llama-tiny', { cacheDir: cache, endpoint }, NOENV), /HTTP 401/);
    expect(e.hint).toMatch(/set HF_TOKEN/);
    await fails(downloadModel('hf:private/llama-tiny', { cacheDir: cache, endpoint, token: 'wrong' }, NOENV), /HF_TOKEN was sent/);
    const dir = await downloadModel('hf:private/llama-tiny', { cacheDir: cache, endpoint }, { HF_TOKEN: 'secret' });
    expectSame(await readModel(dir), await readModel(dirOf('llama-tiny')));
    expect(log.filter((h) => h.status !== 401 && !h.cdn).every((h) => h.auth === 'Bearer secret')).toBe(true);
  });

  it('clear errors: 404 for a required file names its URL; no weights; a bad spec; no server', async () => {
    const dl = (spec: string, o = {}) => downloadModel(spec, { cacheDir: cache, endpoint, ...o }, NOENV);
    await fails(dl('hf:test/no-config'), new RegExp(`${endpoint}/test/no-config/resolve/main/config\\.json: HTTP 404`));
    await fails(dl('hf:test/llama-tiny@v9'), /resolve\/v9\/config\.json: HTTP 404/);
    await fails(dl('hf:test/no-weights'), /neither model\.safetensors nor model\.safetensors\.index\.json.*resolve\/[0-9a-f]{40}\/model\.safetensors/);
    await fails(dl('hf:test/evil-index'), /'\.\.\/\.\.\/evil\.safetensors' is not a safe file name/);
    await fails(dl('hf:nope'), /'hf:nope' is not a Hub model: expected owner\/name/);
    await fails(dl('hf:a/b', { endpoint: 'http://127.0.0.1:1' }), /127\.0\.0\.1:1\/a\/b\/resolve\/main\/config\.json: request failed/);
  });

  it('HF_HUB_OFFLINE sends nothing even with HF_ENDPOINT set', async () => {
    await fails(downloadModel('hf:test/gpt2-tiny', { cacheDir: cache }, { HF_ENDPOINT: endpoint, HF_HUB_OFFLINE: 'on' }), /HF_HUB_OFFLINE is set/);
    expect(log).toEqual([]);
  });

  it('a repo locked by another live process is refused; a dead holder\'s lock is taken over', async () => {
    const locks = join(cache, '.locks', 'models--test--gpt2-tiny');
    mkdirSync(locks, { recursive: true });
    writeFileSync(join(locks, 'inheritune-rt.lock'), String(process.ppid));
    await fails(downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint }, NOENV), /is being downloaded by process/);
    writeFileSync(join(locks, 'inheritune-rt.lock'), '2147483646');
    await downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint }, NOENV);
    expect(existsSync(join(locks, 'inheritune-rt.lock'))).toBe(false);
  });
});

describe('hubDir: lazy reads over HTTP Range', { timeout: 30_000 }, () => {
  it('readHfModel over hubDir equals the source directory; weights only through Range requests', async () => {
    const ck = await readHfModel(hubDir('hf:test/llama-tiny', { endpoint }));
    expectSame(ck, await readModel(dirOf('llama-tiny')));
    const weights = log.filter((h) => h.file.endsWith('.safetensors') && h.cdn); // after the Hub's redirects
    expect(weights.length).toBeGreaterThan(4);
    expect(weights.every((h) => h.range && h.status === 206)).toBe(true);
    for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      const served = log.filter((h) => h.file === f && h.cdn).reduce((a, h) => a + h.bytes, 0);
      expect(served).toBeLessThanOrEqual(statSync(join(dirOf('llama-tiny'), f)).size);
    }
  });

  it('one tensor of a safetensors file costs three small requests, not the file', async () => {
    const dir = hubDir(parseHubSpec('hf:test/gpt2-tiny'), { endpoint });
    const src = await dir.source('model.safetensors');
    expect(src.size).toBe(129056);
    const f = await SafetensorsFile.open(src, 'model.safetensors');
    const got = await f.read('ln_f.weight');
    const want = await (await SafetensorsFile.open(await dir.source('model.safetensors'))).read('ln_f.weight');
    expect(got).toEqual(want);
    const first = log.filter((h) => h.cdn).slice(0, 3);
    expect(first.map((h) => h.range)).toEqual(['bytes=0-7', 'bytes=8-2583', expect.stringMatching(/^bytes=\d+-\d+$/)]);
    expect(first.reduce((a, h) => a + h.bytes, 0)).toBe(8 + 2576 + 32 * 4);
  });

  it('a missing file: exists() is false, readText() fails with the URL; 401 names HF_TOKEN', async () => {
    const dir = hubDir('hf:test/gpt2-tiny', { endpoint });
    expect(await dir.exists('model.safetensors.index.json')).toBe(false);
    expect(await dir.exists('pytorch_model.bin')).toBe(false);
    await fails(dir.readText('nothing.json'), new RegExp(`${endpoint}/test/gpt2-tiny/resolve/main/nothing\\.json: HTTP 404`));
    await fails(readHfModel(hubDir('hf:private/llama-tiny', { endpoint })), /HF_TOKEN/);
    expect((await readHfModel(hubDir('hf:private/llama-tiny', { endpoint, token: 'secret' }))).config.family).toBe('llama');
  });
});

afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });
