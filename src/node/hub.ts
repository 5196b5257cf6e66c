// node/hub: `hf:owner/name[@revision]` in Node, through huggingface_hub's own cache (layout and
// location: src/node/hfcache.ts). A complete snapshot there is used as is, with no endpoint and no
// request (so whatever Python downloaded works offline). Otherwise, unless HF_HUB_OFFLINE is set, the
// missing files are downloaded from HF_ENDPOINT into the same layout, as huggingface_hub would:
//   HEAD resolve/<revision>/config.json (redirects not followed)  X-Repo-Commit: the commit sha,
//   X-Linked-Etag or ETag: the blob name, X-Linked-Size or Content-Length: its size; every later
//   file is asked for at resolve/<sha>/, so a branch that moves meanwhile cannot mix two commits
//   GET into blobs/<etag>.incomplete, resumed with `Range: bytes=<size>-` on the next run (the name
//   pins the content, so no If-Range is needed; Python resumes the same file), fsync, rename
//   snapshots/<sha>/<file> -> ../../blobs/<etag> (a copy where symlinks are refused); a 404 of an
//   optional file leaves .no_exist/<sha>/<file>; refs/<revision> is written last
// HF_ENDPOINT and HF_TOKEN are read from the environment; options win.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import {
  DEFAULT_HF_ENDPOINT, HUB_OPTIONAL_FILES, contentRange, hubEndpoint, hubGet, hubSpecName, hubUrl, parseHubSpec, shardFiles,
  type HubOptions, type HubRepo,
} from '../formats/hub.js';
import {
  INDEX, describe, hubCache, isCommit, isOffline, lookup, missingFiles, noExistPath, snapshotDir, type Env,
} from './hfcache.js';
import { Progress } from '../util/progress.js';
import { fail } from '../util/errors.js';

export interface DownloadOptions extends HubOptions {
  /** the huggingface_hub cache; default defaultCacheDir() */
  cacheDir?: string;
  /** never touch the network; default HF_HUB_OFFLINE (see isOffline) */
  offline?: boolean;
  /** progress-bar writer (e.g. a TTY stderr); one bar per file of 1 MiB or more */
  progress?: ((s: string) => void) | null;
  /** resumed attempts per file after a broken transfer that made progress (default 5) */
  retries?: number;
}

const MiB = 2 ** 20;

/** the huggingface_hub cache: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub, ... (hfcache.ts) */
export function defaultCacheDir(e: Env = process.env): string {
  return hubCache(e).dir;
}

/** endpoint and token: the options, else HF_ENDPOINT / HF_TOKEN, else DEFAULT_HF_ENDPOINT (fails when empty) */
export function nodeHubOptions(o: HubOptions = {}, e: Env = process.env): HubOptions {
  return { endpoint: hubEndpoint(o.endpoint || e.HF_ENDPOINT), token: o.token || e.HF_TOKEN || undefined };
}

const active = new Map<string, Promise<string>>(); // one download per repo and revision in this process

/**
 * The local directory of hf:owner/name[@revision] (a snapshot folder of the huggingface_hub cache),
 * which readModel() reads: config.json, the safetensors weights (model.safetensors, or the index and
 * every shard it names) and the tokenizer files the repo has. A complete snapshot is returned without
 * any request; otherwise the missing files are downloaded (unless offline, which fails clearly).
 */
export async function downloadModel(spec: string, opts: DownloadOptions = {}, env: Env = process.env): Promise<string> {
  const repo = parseHubSpec(spec);
  const cache = opts.cacheDir ? { dir: opts.cacheDir, from: 'the cacheDir option' } : hubCache(env);
  const found = lookup(cache.dir, repo);
  if (found.snapshot && !found.missing.length) return found.snapshot;
  const name = hubSpecName(repo), id = `${repo.owner}/${repo.name}`;
  const get = `download it with huggingface_hub first (\`hf download ${id}${repo.revision === 'main' ? '' : ` --revision ${repo.revision}`}\`)`;
  if (opts.offline ?? isOffline(env)) {
    fail(`${name}: ${describe(found, repo, cache.from)}, and HF_HUB_OFFLINE is set, so it is not downloaded`,
      `${get}, or unset HF_HUB_OFFLINE and set HF_ENDPOINT to a Hub endpoint to let inheritune-rt download it into that cache`);
  }
  if (!(opts.endpoint || env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT)) {
    fail(`${name}: ${describe(found, repo, cache.from)}, and HF_ENDPOINT is not set, so it cannot be downloaded`,
      `set HF_ENDPOINT to the base URL of a Hub endpoint (or a mirror) to download it into that cache, or ${get}`);
  }
  const o: DownloadOptions = { ...opts, ...nodeHubOptions(opts, env) };
  const key = `${found.repoDir}@${repo.revision}`;
  let job = active.get(key);
  if (!job) {
    job = download(repo, cache.dir, found.repoDir, o).finally(() => active.delete(key));
    active.set(key, job);
  }
  return job;
}

/** what a HEAD of a resolve URL says about a file */
interface FileMeta { commit: string | null; etag: string; size: number | null }

async function download(repo: HubRepo, cache: string, repoDir: string, o: DownloadOptions): Promise<string> {
  const name = hubSpecName(repo);
  const unlock = lock(join(cache, '.locks', basename(repoDir)));
  try {
    const first = (await head(hubUrl(o.endpoint!, repo, 'config.json'), o, false))!;
    const commit = first.commit ?? (isCommit(repo.revision) ? repo.revision : null);
    if (!commit || !/^[\w.-]+$/.test(commit)) {
      fail(`${hubUrl(o.endpoint!, repo, 'config.json')}: no usable X-Repo-Commit header (${JSON.stringify(first.commit)})`,
        'HF_ENDPOINT must be a Hub endpoint (or a mirror that forwards X-Repo-Commit); or pin the revision to a commit: hf:owner/name@<40-hex sha>');
    }
    const at: HubRepo = { ...repo, revision: commit };
    const snap = snapshotDir(repoDir, commit);
    mkdirSync(snap, { recursive: true }); // with blobs/, as huggingface_hub makes them before a transfer
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    const get = async (f: string, optional: boolean, meta?: FileMeta): Promise<boolean> => {
      const pointer = join(snap, f);
      if (existsSync(pointer)) return true;
      if (optional && existsSync(noExistPath(repoDir, commit, f))) return false;
      const url = hubUrl(o.endpoint!, at, f);
      const m = meta ?? await head(url, o, optional);
      if (!m) { // the repo has no such file at this commit: remember it, as huggingface_hub does
        mkdirSync(dirname(noExistPath(repoDir, commit, f)), { recursive: true });
        writeFileSync(noExistPath(repoDir, commit, f), '');
        return false;
      }
      const blob = join(repoDir, 'blobs', m.etag);
      const fresh = !existsSync(blob);
      if (fresh) await downloadFile(url, blob, f, m.size, o);
      link(blob, pointer, fresh);
      return true;
    };
    await get('config.json', false, first);
    if (await get(INDEX, true)) {
      for (const shard of shardFiles(readFileSync(join(snap, INDEX), 'utf8'), `${name}/${INDEX}`)) await get(shard, false);
    } else if (!(await get('model.safetensors', true))) {
      fail(`${name}: the repo has neither model.safetensors nor ${INDEX} (${hubUrl(o.endpoint!, at, 'model.safetensors')} answered 404)`,
        'only safetensors weights are read (not pytorch_model.bin pickles); pick a repo or revision that has them');
    }
    for (const f of HUB_OPTIONAL_FILES) await get(f, true);
    const missing = missingFiles(repoDir, commit);
    if (missing.length) fail(`${name}: downloaded ${snap}, but it lacks ${missing.join(', ')}`, 'the repo does not hold a model the package can use');
    if (commit !== repo.revision) { // a branch or tag: point it at the snapshot, now that it is complete
      const ref = join(repoDir, 'refs', repo.revision);
      mkdirSync(dirname(ref), { recursive: true });
      writeFileSync(ref, commit);
    }
    return snap;
  } finally {
    unlock();
  }
}

/**
 * HEAD a resolve URL as huggingface_hub does: relative redirects (a renamed repo) are followed, an
 * absolute one (LFS content on a CDN) is not, since the Hub's own answer carries X-Linked-Etag and
 * X-Linked-Size. Null for an optional file's 404.
 */
async function head(url: string, o: DownloadOptions, optional: boolean): Promise<FileMeta | null> {
  let u = url;
  for (let hop = 0; hop <= 5; hop++) {
    const res = await hubGet(u, o, { method: 'HEAD', redirect: 'manual', optional, pass: [301, 302, 303, 307, 308],
      headers: { 'Accept-Encoding': 'identity' } }); // Content-Length of the stored bytes, not of a compressed body
    if (!res) return null;
    const h = (k: string) => res.headers.get(k);
    const loc = h('location');
    if (res.status >= 300 && loc && !/^([a-z][a-z0-9+.-]*:)?\/\//i.test(loc)) { u = new URL(loc, u).href; continue; }
    const etag = (h('x-linked-etag') ?? h('etag'))?.replace(/^W\//, '').replace(/^"|"$/g, '');
    if (!etag || !/^[\w.-]+$/.test(etag) || etag === '.' || etag === '..') {
      return fail(`${u}: no usable ETag (${JSON.stringify(etag ?? null)}), which names the file in the huggingface_hub cache`,
        'HF_ENDPOINT must be a Hub endpoint or a mirror that sends ETag (or X-Linked-Etag) headers');
    }
    const size = h('x-linked-size') ?? h('content-length');
    return { commit: h('x-repo-commit'), etag, size: size === null ? null : Number(size) };
  }
  return fail(`${url}: more than 5 redirects`, 'check HF_ENDPOINT');
}

/** snapshots/<sha>/<file> -> the blob, by a relative symlink; a move (fresh blob) or copy where symlinks fail */
function link(blob: string, pointer: string, fresh: boolean): void {
  mkdirSync(dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true }); // a dangling link left by a deleted blob
  try {
    symlinkSync(relative(dirname(pointer), blob), pointer);
  } catch {
    if (fresh) renameSync(blob, pointer);
    else { copyFileSync(blob, pointer + '.tmp'); renameSync(pointer + '.tmp', pointer); }
  }
}

/** take the lock file (our pid), or fail while another live process holds it; a dead holder's lock is taken over */
function lock(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'inheritune-rt.lock');
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const pid = Number(readFileSync(path, 'utf8'));
    if (pid !== process.pid && alive(pid)) {
      fail(`the model is being downloaded by process ${pid} (${path})`, `wait for it to finish, or delete ${path} if that process is not downloading`);
    }
    writeFileSync(path, String(process.pid));
  }
  return () => rmSync(path, { force: true });
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

const sizeOf = (p: string) => (existsSync(p) ? statSync(p).size : 0);

/**
 * One file into the blob dest through dest.incomplete (huggingface_hub's name, so either side resumes
 * the other's). `size` is what the HEAD announced. Steps:
 * 1) resume: a part of N bytes asks for `Range: bytes=N-`; 206 appends, 200 restarts
 * 2) stream the body into the part; a broken transfer that made progress is resumed (bounded)
 * 3) check the size against the HEAD, Content-Length / the Content-Range total, fsync, rename into place
 */
async function downloadFile(url: string, dest: string, file: string, size: number | null, o: DownloadOptions): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  const part = dest + '.incomplete';
  const retries = o.retries ?? 5;
  const restart = () => rmSync(part, { force: true });
  for (let attempt = 0; attempt <= retries; attempt++) {
    // 1) ask for the rest of the file, or all of it
    const have = sizeOf(part);
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' }; // sizes are of the stored bytes
    if (have > 0) headers.Range = `bytes=${have}-`;
    const res = (await hubGet(url, o, { headers, pass: [416] }))!;
    let total: number | null;
    if (res.status === 416) {
      // nothing left to send: the part is whole (a stop before the rename), or it outgrew the file
      await res.body?.cancel().catch(() => {});
      if (have > 0 && contentRange(res)?.total === have && (size === null || size === have)) return finish(part, dest);
      restart();
      continue;
    }
    const append = res.status === 206;
    if (append) {
      const cr = contentRange(res);
      if (cr?.start !== have) { await res.body?.cancel().catch(() => {}); restart(); continue; } // an answer for other bytes
      total = cr.total;
    } else {
      const len = res.headers.get('content-length');
      total = len === null ? null : Number(len);
    }
    if (size !== null && total !== null && total !== size) {
      await res.body?.cancel().catch(() => {});
      fail(`${url}: the download is ${total} bytes, but the endpoint announced ${size}`, 'the file changed on the server while downloading; run the same command again');
    }
    total ??= size;
    // 2) stream into the part
    const before = append ? have : 0;
    let got: number;
    try {
      got = await save(res, part, append, before, total, file, o.progress ?? null);
    } catch (e) {
      const now = sizeOf(part);
      if (now > before && attempt < retries) continue;
      fail(`${url}: download interrupted at ${now} of ${total ?? '?'} bytes (${(e as Error).message})`,
        `run the same command again: it resumes from ${part}`);
    }
    // 3) check and move into place
    if (total !== null && got !== total) {
      if (got > total) restart();
      else if (got > before && attempt < retries) continue;
      fail(`${url}: got ${got} bytes, expected ${total}`, 'the transfer broke or the file changed on the server; run the same command again');
    }
    return finish(part, dest);
  }
  fail(`${url}: no usable answer after ${retries + 1} attempts`, `run the same command again, or delete ${part}`);
}

function finish(part: string, dest: string): void {
  renameSync(part, dest); // atomic on one filesystem: dest is either absent or whole
}

/** append (or write) the response body to part; returns the part's size; fsyncs before returning */
async function save(res: Response, part: string, append: boolean, have: number, total: number | null,
                    file: string, write: ((s: string) => void) | null): Promise<number> {
  const fh = await open(part, append ? 'a' : 'w');
  const mib = (n: number) => Math.round(n / MiB * 10) / 10;
  const bar = write && total !== null && total >= MiB ? new Progress(`${file} MiB`, mib(total), write) : null;
  let size = have;
  try {
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let off = 0; off < value.length;) off += (await fh.write(value, off, value.length - off)).bytesWritten;
      size += value.length;
      bar?.update(size === total ? mib(total) : Math.min(mib(size), mib(total!) - 0.1));
    }
    await fh.sync();
  } finally {
    await fh.close();
    if (bar && size !== total) write!('\n'); // a broken transfer leaves the bar's line open
  }
  return size;
}
