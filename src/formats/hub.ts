// hub: models from the Hugging Face Hub (`hf:owner/name[@revision]`), isomorphic (fetch only, no
// Node built-ins), so a web worker can use it as is. Files are addressed in the Hub's layout,
//   ${endpoint}/${owner}/${name}/resolve/${revision}/${file}
// with `Authorization: Bearer <token>` when a token is given. hubDir() is a ModelDir over HTTP:
// small files (JSON, text) are fetched whole, everything else is read lazily with `Range: bytes=a-b`
// requests, so readHfModel pulls a large checkpoint tensor by tensor. Node reads and fills
// huggingface_hub's own cache (src/node/hub.ts, src/node/hfcache.ts).
import type { ModelDir } from './hf.js';
import type { ByteSource } from './safetensors.js';
import { memorySource } from './safetensors.js';
import { fail } from '../util/errors.js';

/**
 * The Hub used when HF_ENDPOINT is not set. Empty in this build: the integrator fills in the public
 * Hub's base URL here (this is the only place it goes); until then HF_ENDPOINT is required.
 */
export const DEFAULT_HF_ENDPOINT = '';

export interface HubRepo { owner: string; name: string; revision: string }

export interface HubOptions {
  /** base URL of the Hub or a mirror; default DEFAULT_HF_ENDPOINT (Node: HF_ENDPOINT, see src/node/hub.ts) */
  endpoint?: string;
  /** access token for gated/private repos, sent as `Authorization: Bearer <token>` */
  token?: string;
}

/** the files that travel with a model besides its weights; each may be missing from a repo */
export const HUB_OPTIONAL_FILES = ['tokenizer.json', 'tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json',
  'vocab.json', 'merges.txt', 'generation_config.json'];

const SPEC_HINT = 'write it as hf:owner/name or hf:owner/name@revision (a branch, tag or commit), e.g. hf:my-org/my-model@main';
// owner and name: the Hub's repo-id rule (word characters, '-' and '.'; starts and ends with a word
// character; no '--' or '..'; at most 96 characters)
const NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const REVISION = /^[A-Za-z0-9_.\-/]+$/;

export function isHubSpec(s: string): boolean {
  return s.startsWith('hf:');
}

/** `hf:owner/name[@revision]` (the `hf:` prefix is optional here) -> {owner, name, revision ('main')} */
export function parseHubSpec(spec: string): HubRepo {
  const s = isHubSpec(spec) ? spec.slice(3) : spec;
  const at = s.indexOf('@');
  const id = at < 0 ? s : s.slice(0, at);
  const revision = at < 0 ? 'main' : s.slice(at + 1);
  const parts = id.split('/');
  if (parts.length !== 2) {
    fail(`'${spec}' is not a Hub model: expected owner/name, got '${id}'`,
      `${SPEC_HINT}; models listed without an owner now live under an organization (look up its full name)`);
  }
  for (const p of parts) {
    if (!NAME.test(p) || p.includes('--') || p.includes('..') || p.length > 96) {
      fail(`'${spec}': '${p}' is not a valid Hub owner or repo name`,
        `${SPEC_HINT}; names use letters, digits, '_', '-' and '.', start and end with a letter or digit, and have no '--' or '..'`);
    }
  }
  if (!REVISION.test(revision) || revision.length > 255 || revision.split('/').some((x) => x === '' || x === '.' || x === '..')) {
    fail(`'${spec}': '${revision}' is not a valid revision`, SPEC_HINT);
  }
  return { owner: parts[0], name: parts[1], revision };
}

export function hubSpecName(r: HubRepo): string {
  return `hf:${r.owner}/${r.name}@${r.revision}`;
}

/** the endpoint to use: the given one, else DEFAULT_HF_ENDPOINT; no trailing slash */
export function hubEndpoint(endpoint?: string): string {
  const e = (endpoint || DEFAULT_HF_ENDPOINT).replace(/\/+$/, '');
  if (!e) {
    fail('no Hub endpoint: HF_ENDPOINT is not set and this build has no default Hub address',
      'set HF_ENDPOINT to the base URL of the Hub or a mirror (e.g. HF_ENDPOINT=http://127.0.0.1:8080), or pass endpoint');
  }
  if (!/^https?:\/\/[^/]/.test(e)) fail(`Hub endpoint '${e}' is not an http(s) URL`, 'set HF_ENDPOINT to a base URL such as http://127.0.0.1:8080');
  return e;
}

/**
 * A file name inside a repo, as it may arrive from a server (an index's weight_map): relative, '/'
 * separated, no empty/'.'/'..' parts, no backslashes. Guards the local cache against path traversal.
 */
export function checkRepoFile(file: string, where: string): string {
  if (!file || file.length > 1024 || /[\\\0:]/.test(file) || file.split('/').some((x) => x === '' || x === '.' || x === '..')) {
    fail(`${where}: '${file}' is not a safe file name inside a repo`, 'the repo lists a file outside itself; the model cannot be fetched safely');
  }
  return file;
}

export function hubUrl(endpoint: string, r: HubRepo, file: string): string {
  // the revision is one path segment (refs/pr/1 -> refs%2Fpr%2F1), as the Hub's own clients send it
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${hubEndpoint(endpoint)}/${encodeURIComponent(r.owner)}/${encodeURIComponent(r.name)}/resolve/${encodeURIComponent(r.revision)}/${path}`;
}

/** the shard files named by a model.safetensors.index.json, in first-use order */
export function shardFiles(indexText: string, where: string): string[] {
  let index: any;
  try { index = JSON.parse(indexText); } catch (e) { return fail(`${where} is not valid JSON (${(e as Error).message})`, 'the file is damaged: download the model again'); }
  const map = index?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) fail(`${where} has no weight_map object`);
  const files = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const f of files) if (typeof f !== 'string') fail(`${where}: weight_map value ${JSON.stringify(f)} is not a file name`);
  return (files as string[]).map((f) => checkRepoFile(f, where));
}

export interface HubRequest {
  /** extra request headers (Range, If-Range, Accept-Encoding) */
  headers?: Record<string, string>;
  /** a 404 answers null instead of failing */
  optional?: boolean;
  /** statuses handed back to the caller as they are (e.g. 416, or 3xx with redirect 'manual') */
  pass?: number[];
  /** default GET */
  method?: 'GET' | 'HEAD';
  /** default 'follow'; 'manual' (Node) hands a redirect back with its headers (the Hub's X-Linked-Etag) */
  redirect?: 'follow' | 'manual';
}

/**
 * GET url with the token. Fails with a clear error for network errors, 401/403 (naming HF_TOKEN),
 * 404 (unless optional) and any other non-2xx status; the failed response's body is discarded.
 */
export async function hubGet(url: string, o: HubOptions, req: HubRequest = {}): Promise<Response | null> {
  const headers: Record<string, string> = { ...req.headers };
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  let res: Response;
  try {
    res = await fetch(url, { headers, method: req.method ?? 'GET', redirect: req.redirect ?? 'follow' });
  } catch (e) {
    const cause = (e as any)?.cause?.message ?? (e as any)?.cause?.code;
    return fail(`${url}: request failed (${(e as Error).message}${cause ? `: ${cause}` : ''})`, 'check HF_ENDPOINT and the network connection');
  }
  if (res.ok || req.pass?.includes(res.status)) return res;
  await res.body?.cancel().catch(() => {});
  if (res.status === 404 && req.optional) return null;
  const what = `${url}: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`;
  if (res.status === 401 || res.status === 403) {
    fail(what, o.token
      ? 'HF_TOKEN was sent but does not give access to this repo: check the token, accept the model\'s terms on the Hub, and check the repo name (the Hub answers 401 for repos that do not exist)'
      : 'the repo is gated or private (or does not exist): set HF_TOKEN to an access token that can read it');
  }
  if (res.status === 404) fail(what, 'check the owner/name, the revision and the file name, and that HF_ENDPOINT points at the Hub or a mirror');
  return fail(what, res.status >= 500 ? 'the server failed; try again later (downloads resume where they stopped)' : 'check the request URL and HF_ENDPOINT');
}

// `Content-Range: bytes a-b/total` or `bytes */total` -> {start, total}; null when missing or unparsable
export function contentRange(res: Response): { start: number | null; total: number | null } | null {
  const m = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  if (!m) return null;
  return { start: m[1] === undefined ? null : Number(m[1]), total: m[2] === '*' ? null : Number(m[2]) };
}

// files that are fetched whole; anything else (weights, pickles) only through Range reads
const isSmallFile = (f: string) => /\.(json|txt|model)$/.test(f);

/**
 * A ModelDir over the Hub: readHfModel(hubDir('hf:owner/name', {endpoint})) reads a model without
 * downloading it. Weights are read with one Range request per tensor (plus one for the safetensors
 * header); small files once each (cached).
 */
export function hubDir(spec: string | HubRepo, o: HubOptions = {}): ModelDir {
  const repo = typeof spec === 'string' ? parseHubSpec(spec) : spec;
  const endpoint = hubEndpoint(o.endpoint);
  const url = (f: string) => hubUrl(endpoint, repo, checkRepoFile(f, hubSpecName(repo)));
  const small = new Map<string, Promise<Uint8Array | null>>();
  const probes = new Map<string, Promise<ByteSource | null>>();
  const fetchSmall = (f: string) => {
    if (!small.has(f)) small.set(f, hubGet(url(f), o, { optional: true }).then(async (r) => r && new Uint8Array(await r.arrayBuffer())));
    return small.get(f)!;
  };
  const probe = (f: string) => {
    if (!probes.has(f)) probes.set(f, rangeSource(url(f), o));
    return probes.get(f)!;
  };
  const missing = (f: string): never => fail(`${url(f)}: HTTP 404 (no such file in ${hubSpecName(repo)})`,
    'check the owner/name, the revision and that the repo holds this file');
  return {
    name: hubSpecName(repo),
    exists: async (f) => (isSmallFile(f) ? await fetchSmall(f) : await probe(f)) !== null,
    readText: async (f) => {
      const b = await fetchSmall(f);
      return b ? new TextDecoder().decode(b) : missing(f);
    },
    source: async (f) => {
      if (isSmallFile(f)) { const b = await fetchSmall(f); return b ? memorySource(b) : missing(f); }
      return (await probe(f)) ?? missing(f);
    },
  };
}

/** how rangeSource makes a request: null for a 404 when optional; 416 passes through */
export type RangeGet = (headers: Record<string, string>, optional: boolean) => Promise<Response | null>;

const HUB_RANGE_HINTS = {
  size: 'the server (or a CORS policy that does not expose Content-Range) hides the file size; use a Hub endpoint that supports Range requests',
  read: 'the file changed on the server or the transfer broke; try again (pin a revision with @commit to avoid a moving branch)',
};

/**
 * A ByteSource over one URL with Range reads, or null on 404. The first request asks for the first
 * 8 bytes (a safetensors header length) and learns the size from Content-Range; a server that
 * ignores Range answers 200 with the whole file, which is then kept in memory. `get` makes the
 * requests (the Hub's, with the token, by default), `hints` finish its errors.
 */
export async function rangeSource(url: string, o: HubOptions, get?: RangeGet, hints = HUB_RANGE_HINTS): Promise<ByteSource | null> {
  const request: RangeGet = get ?? ((headers, optional) => hubGet(url, o, { headers, optional, pass: [416] }));
  const HEAD = 8;
  const res = await request({ Range: `bytes=0-${HEAD - 1}` }, true);
  if (!res) return null;
  if (res.status === 200) return memorySource(new Uint8Array(await res.arrayBuffer()));
  const body = new Uint8Array(await res.arrayBuffer());
  const head = res.status === 206 ? body : new Uint8Array(0); // a 416 (empty file) has only an error text
  const size = res.status === 416 ? (contentRange(res)?.total ?? 0) : contentRange(res)?.total;
  if (size === null || size === undefined) fail(`${url}: HTTP ${res.status} without a readable Content-Range total`, hints.size);
  return {
    size,
    read: async (offset, length) => {
      if (length === 0) return new Uint8Array(0);
      if (offset + length <= head.length) return head.slice(offset, offset + length);
      const r = (await request({ Range: `bytes=${offset}-${offset + length - 1}` }, false))!;
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status === 200 && body.length === size) return body.slice(offset, offset + length); // Range ignored this time
      if (r.status !== 206 || contentRange(r)?.start !== offset || body.length !== length) {
        fail(`${url}: asked for bytes ${offset}-${offset + length - 1}, got HTTP ${r.status} with ${body.length} bytes (${r.headers.get('content-range') ?? 'no Content-Range'})`, hints.read);
      }
      return body;
    },
  };
}
