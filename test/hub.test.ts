// hub: models from the Hub (src/formats/hub.ts, src/node/hub.ts) against a local server on 127.0.0.1 that
// serves the Hub's URL layout (/<owner>/<name>/resolve/<revision>/<file>) from test/ref/hf, with
// Range support (206 + Content-Range, If-Range, 416), a token-protected repo (401 without
// `Authorization: Bearer secret`) and a fault mode that cuts a response after N bytes. Checks:
// download -> readModel equals the source directory, resume after a cut with `Range: bytes=N-`,
// clear errors (HF_TOKEN, 404 with the URL, bad specs, no HF_ENDPOINT), lazy Range reads.
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { hubDir, hubUrl, parseHubSpec, isHubSpec } from '../src/formats/hub.js';
import { downloadModel, defaultCacheDir, nodeHubOptions, cacheFolder } from '../src/node/hub.js';
import { readHfModel } from '../src/formats/hf.js';
import { readModel } from '../src/node/files.js';
import { SafetensorsFile } from '../src/formats/safetensors.js';
import { InherituneError } from '../src/util/errors.js';
import type { Checkpoint } from '../src/model/config.js';
import { REPO } from './helpers.js';

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
const REVISIONS = new Set(['main', 'refs/pr/1']);

interface Hit { url: string; file: string; range?: string; ifRange?: string; auth?: string; status: number; bytes: number }
let log: Hit[] = [];
const cuts = new Map<string, number>();          // file path -> cut the next response after N body bytes (one shot)
const changed = new Map<string, Uint8Array>();   // file path -> new content (the file changed on the server)

function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const segs = new URL(url, 'http://127.0.0.1').pathname.split('/').slice(1).map(decodeURIComponent);
  const hit: Hit = { url, file: segs.slice(4).join('/'), range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined,
    auth: req.headers.authorization, status: 0, bytes: 0 };
  log.push(hit);
  const send = (status: number, body: Uint8Array, headers: Record<string, string | number> = {}) => {
    hit.status = status;
    res.writeHead(status, { 'Content-Length': body.length, ...headers });
    const cut = cuts.get(hit.file);
    if (cut !== undefined && status < 300) {
      cuts.delete(hit.file);
      hit.bytes = cut;
      // announce all, send N, hang up a little later (a fetch body that errors drops the chunks it
      // has queued but not handed out, so the client gets time to take them, as on a real network)
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 200));
      return;
    }
    hit.bytes = body.length;
    res.end(body);
  };
  const repo = REPOS[`${segs[0]}/${segs[1]}`];
  if (segs.length < 5 || segs[2] !== 'resolve' || !repo || segs.some((s) => s === '..')) return send(404, enc('Repository Not Found'));
  if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) return send(401, enc('Invalid credentials'));
  if (!REVISIONS.has(segs[3])) return send(404, enc('Revision Not Found'));
  const path = join(repo.dir, hit.file);
  const data = changed.get(hit.file) ?? repo.extra?.[hit.file] ??
    (existsSync(path) && statSync(path).isFile() ? new Uint8Array(readFileSync(path)) : null);
  if (!data) return send(404, enc('Entry not found'));
  const etag = `"${createHash('sha256').update(data).digest('hex').slice(0, 16)}"`;
  const headers = { ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (!m || (hit.ifRange && hit.ifRange !== etag)) return send(200, data, headers); // no Range, or If-Range says it changed
  const start = Number(m[1]), end = m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
  if (start >= data.length) return send(416, new Uint8Array(0), { 'Content-Range': `bytes */${data.length}` });
  send(206, data.subarray(start, end + 1), { ...headers, 'Content-Range': `bytes ${start}-${end}/${data.length}` });
}

let server: Server;
let endpoint = '';
let cache = '';
const temps: string[] = [];
beforeAll(async () => {
  server = createServer(serve);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});
beforeEach(() => {
  log = []; cuts.clear(); changed.clear();
  cache = mkdtempSync(join(tmpdir(), 'itrt-hub-'));
  temps.push(cache);
});

const expectSame = (got: Checkpoint, want: Checkpoint) => {
  expect(got.config).toEqual(want.config);
  expect(Object.keys(got.tensors).sort()).toEqual(Object.keys(want.tensors).sort());
  for (const k of Object.keys(want.tensors)) expect(got.tensors[k], k).toEqual(want.tensors[k]);
};
const fails = async (p: Promise<unknown>, re: RegExp) => {
  const e = await p.then(() => null, (e) => e);
  expect(e).toBeInstanceOf(InherituneError);
  expect(e.message).toMatch(re);
  return e as InherituneError;
};

describe('hub specs and endpoint', () => {
  it('parses hf:owner/name[@revision] and builds resolve URLs', () => {
    expect(isHubSpec('hf:a/b')).toBe(true);
    expect(isHubSpec('./models/a')).toBe(false);
    expect(parseHubSpec('hf:my-org/My_model.v2')).toEqual({ owner: 'my-org', name: 'My_model.v2', revision: 'main' });
    const r = parseHubSpec('hf:o/n@refs/pr/1');
    expect(r.revision).toBe('refs/pr/1');
    expect(hubUrl('http://h/base/', r, 'sub dir/f.json')).toBe('http://h/base/o/n/resolve/refs%2Fpr%2F1/sub%20dir/f.json');
    expect(cacheFolder(r)).toBe('o--n--refs%2Fpr%2F1');
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

  it('puts the cache under HF_HOME, XDG_CACHE_HOME or ~/.cache', () => {
    expect(defaultCacheDir({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' })).toBe(join('/h', 'inheritune-rt', 'hub'));
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'inheritune-rt', 'hub'));
    expect(defaultCacheDir({})).toMatch(/\.cache[\\/]inheritune-rt[\\/]hub$/);
  });
});

describe('downloadModel', { timeout: 30_000 }, () => {
  it('downloads a sharded Llama: the cached folder reads as the source, byte for byte; a second call sends nothing', async () => {
    const dir = await downloadModel('hf:test/llama-tiny', { cacheDir: cache, endpoint });
    expect(dir).toBe(join(cache, 'test--llama-tiny--main'));
    expectSame(await readModel(dir), await readModel(dirOf('llama-tiny')));
    for (const f of readdirSync(dirOf('llama-tiny'))) expect(readFileSync(join(dir, f)).equals(readFileSync(join(dirOf('llama-tiny'), f))), f).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.part') || f === '.lock')).toEqual([]);
    expect(log.filter((h) => h.status === 200).map((h) => h.file).sort()).toEqual(readdirSync(dirOf('llama-tiny')).sort());
    expect(log.filter((h) => h.status === 404).map((h) => h.file)).toContain('tokenizer.json'); // optional: fine
    log = [];
    expect(await downloadModel('hf:test/llama-tiny', { cacheDir: cache })).toBe(dir); // no endpoint needed: works offline
    expect(log).toEqual([]);
  });

  it('downloads a single-file GPT-2 with its tokenizer files, HF_ENDPOINT from the environment, a slashed revision', async () => {
    const old = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = endpoint;
    try {
      const bars: string[] = [];
      const dir = await downloadModel('hf:test/gpt2-tiny@refs/pr/1', { cacheDir: cache, progress: (s) => bars.push(s) });
      expect(bars.join('')).toMatch(/tokenizer\.json MiB \[#+\] 1\.1\/1\.1 .*\n$/); // one bar: the only file over 1 MiB
      expect(dir).toBe(join(cache, 'test--gpt2-tiny--refs%2Fpr%2F1'));
      expectSame(await readModel(dir), await readModel(dirOf('gpt2-tiny')));
      expect(readFileSync(join(dir, 'merges.txt'), 'utf8')).toBe('#version: 0.2\n');
      expect(existsSync(join(dir, 'tokenizer.json'))).toBe(true);
      expect(log[0].url).toContain('/test/gpt2-tiny/resolve/refs%2Fpr%2F1/config.json');
    } finally {
      if (old === undefined) delete process.env.HF_ENDPOINT; else process.env.HF_ENDPOINT = old;
    }
  });

  it('an interrupted download resumes with Range: bytes=N- on the next run and ends byte-identical', async () => {
    const CUT = 50_000;
    cuts.set('model.safetensors', CUT);
    const e = await fails(downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint, retries: 0 }), /interrupted at \d+ of 129056 bytes/);
    expect(e.hint).toMatch(/resumes from .*model\.safetensors\.part/);
    const part = join(cache, 'test--gpt2-tiny--main', 'model.safetensors.part');
    const N = statSync(part).size;
    expect(N).toBeGreaterThan(0);
    expect(N).toBeLessThanOrEqual(CUT); // CUT on an idle machine; what the client took before the hang-up
    expect(existsSync(join(cache, 'test--gpt2-tiny--main', '.complete'))).toBe(false);
    log = [];
    const dir = await downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint });
    const resumed = log.filter((h) => h.file === 'model.safetensors');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ range: `bytes=${N}-`, status: 206, bytes: 129056 - N });
    expect(resumed[0].ifRange).toMatch(/^"[0-9a-f]{16}"$/);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(dirOf('gpt2-tiny'), 'model.safetensors')))).toBe(true);
    expect(existsSync(part)).toBe(false);
    expect(log.some((h) => h.file === 'config.json')).toBe(false); // already complete: skipped
  });

  it('a broken transfer resumes within the same call (bounded retries)', async () => {
    cuts.set('model-00002-of-00002.safetensors', 1000);
    const dir = await downloadModel('hf:test/llama-tiny', { cacheDir: cache, endpoint });
    const hits = log.filter((h) => h.file === 'model-00002-of-00002.safetensors');
    expect(hits.map((h) => h.range)).toEqual([undefined, expect.stringMatching(/^bytes=[1-9]\d*-$/)]);
    expect(hits[1].status).toBe(206);
    expectSame(await readModel(dir), await readModel(dirOf('llama-tiny')));
  });

  it('a file that changed on the server since the part was started restarts from 0 (If-Range)', async () => {
    cuts.set('model.safetensors', 20_000);
    await fails(downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint, retries: 0 }), /interrupted/);
    const fresh = new Uint8Array(readFileSync(join(dirOf('gpt2-tiny'), 'model.safetensors')));
    fresh[fresh.length - 1] ^= 1; // same size, other bytes
    changed.set('model.safetensors', fresh);
    log = [];
    const dir = await downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint });
    expect(log.find((h) => h.file === 'model.safetensors')).toMatchObject({ range: expect.stringMatching(/^bytes=[1-9]\d*-$/), ifRange: expect.any(String), status: 200 });
    expect(readFileSync(join(dir, 'model.safetensors')).equals(fresh)).toBe(true);
  });

  it('a part that is already whole (stopped before the rename) is finished after a 416', async () => {
    const dir = join(cache, 'test--gpt2-tiny--main');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json.part'), readFileSync(join(dirOf('gpt2-tiny'), 'config.json')));
    await downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint });
    expect(log.find((h) => h.file === 'config.json')).toMatchObject({ status: 416 });
    expect(readFileSync(join(dir, 'config.json')).equals(readFileSync(join(dirOf('gpt2-tiny'), 'config.json')))).toBe(true);
  });

  it('a gated repo: 401 without a token names HF_TOKEN; the token (option or HF_TOKEN) is sent as a Bearer', async () => {
    const e = await fails(downloadModel('hf:private/llama-tiny', { cacheDir: cache, endpoint }), /HTTP 401/);
    expect(e.hint).toMatch(/set HF_TOKEN/);
    await fails(downloadModel('hf:private/llama-tiny', { cacheDir: cache, endpoint, token: 'wrong' }), /HF_TOKEN was sent/);
    const old = process.env.HF_TOKEN;
    process.env.HF_TOKEN = 'secret';
    try {
      const dir = await downloadModel('hf:private/llama-tiny', { cacheDir: cache, endpoint });
      expectSame(await readModel(dir), await readModel(dirOf('llama-tiny')));
    } finally {
      if (old === undefined) delete process.env.HF_TOKEN; else process.env.HF_TOKEN = old;
    }
    expect(log.filter((h) => h.status !== 401).every((h) => h.auth === 'Bearer secret')).toBe(true);
  });

  it('clear errors: 404 for a required file names its URL; no weights; a bad spec; no server', async () => {
    await fails(downloadModel('hf:test/no-config', { cacheDir: cache, endpoint }),
      new RegExp(`${endpoint}/test/no-config/resolve/main/config\\.json: HTTP 404`));
    await fails(downloadModel('hf:test/llama-tiny@v9', { cacheDir: cache, endpoint }), /resolve\/v9\/config\.json: HTTP 404/);
    await fails(downloadModel('hf:test/no-weights', { cacheDir: cache, endpoint }), /neither model\.safetensors nor model\.safetensors\.index\.json.*resolve\/main\/model\.safetensors/);
    await fails(downloadModel('hf:test/evil-index', { cacheDir: cache, endpoint }), /'\.\.\/\.\.\/evil\.safetensors' is not a safe file name/);
    await fails(downloadModel('hf:nope', { cacheDir: cache, endpoint }), /'hf:nope' is not a Hub model: expected owner\/name/);
    await fails(downloadModel('hf:a/b', { cacheDir: cache, endpoint: 'http://127.0.0.1:1' }), /127\.0\.0\.1:1\/a\/b\/resolve\/main\/config\.json: request failed/);
  });

  it('a folder locked by another live process is refused; a dead holder\'s lock is taken over', async () => {
    const dir = join(cache, 'test--gpt2-tiny--main');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.lock'), String(process.ppid));
    await fails(downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint }), /is being downloaded by process/);
    writeFileSync(join(dir, '.lock'), '2147483646');
    await downloadModel('hf:test/gpt2-tiny', { cacheDir: cache, endpoint });
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });
});

describe('hubDir: lazy reads over HTTP Range', { timeout: 30_000 }, () => {
  it('readHfModel over hubDir equals the source directory; weights only through Range requests', async () => {
    const ck = await readHfModel(hubDir('hf:test/llama-tiny', { endpoint }));
    expectSame(ck, await readModel(dirOf('llama-tiny')));
    const weights = log.filter((h) => h.file.endsWith('.safetensors'));
    expect(weights.length).toBeGreaterThan(4);
    expect(weights.every((h) => h.range && h.status === 206)).toBe(true);
    for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      const served = log.filter((h) => h.file === f).reduce((a, h) => a + h.bytes, 0);
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
    const first = log.slice(0, 3);
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
