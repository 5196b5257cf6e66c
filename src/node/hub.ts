// node/hub: download a Hub model (`hf:owner/name[@revision]`) into a local cache, Node only.
// Cache layout: <cacheDir>/<owner>--<name>--<revision>/ (the revision URL-encoded, so refs/pr/1 is
// refs%2Fpr%2F1), holding the repo's files under their own names, plus
//   <file>.part        a transfer in progress; the next run resumes it with `Range: bytes=<size>-`
//                      (appending on 206, starting over on 200)
//   <file>.part.etag   the ETag the part was started under, sent as If-Range so a file that
//                      changed on the server restarts instead of mixing two versions
//   .lock              the pid of the process downloading into the folder
//   .complete          written last: the folder is whole and is used without any request
// cacheDir defaults to $HF_HOME/inheritune-rt/hub, else $XDG_CACHE_HOME/inheritune-rt/hub, else
// ~/.cache/inheritune-rt/hub. HF_ENDPOINT and HF_TOKEN are read from the environment; options win.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  HUB_OPTIONAL_FILES, contentRange, hubEndpoint, hubGet, hubSpecName, hubUrl, parseHubSpec, shardFiles,
  type HubOptions, type HubRepo,
} from '../formats/hub.js';
import { Progress } from '../util/progress.js';
import { fail } from '../util/errors.js';

export interface DownloadOptions extends HubOptions {
  /** cache root; default defaultCacheDir() */
  cacheDir?: string;
  /** progress-bar writer (e.g. a TTY stderr); one bar per file of 1 MiB or more */
  progress?: ((s: string) => void) | null;
  /** resumed attempts per file after a broken transfer that made progress (default 5) */
  retries?: number;
}

const COMPLETE = '.complete';
const INDEX = 'model.safetensors.index.json';
const MiB = 2 ** 20;

/** the cache root: $HF_HOME/inheritune-rt/hub, $XDG_CACHE_HOME/inheritune-rt/hub or ~/.cache/inheritune-rt/hub */
export function defaultCacheDir(e: Record<string, string | undefined> = process.env): string {
  if (e.HF_HOME) return join(e.HF_HOME, 'inheritune-rt', 'hub');
  if (e.XDG_CACHE_HOME) return join(e.XDG_CACHE_HOME, 'inheritune-rt', 'hub');
  return join(homedir(), '.cache', 'inheritune-rt', 'hub');
}

/** endpoint and token: the options, else HF_ENDPOINT / HF_TOKEN, else DEFAULT_HF_ENDPOINT (fails when empty) */
export function nodeHubOptions(o: HubOptions = {}, e: Record<string, string | undefined> = process.env): HubOptions {
  return { endpoint: hubEndpoint(o.endpoint || e.HF_ENDPOINT), token: o.token || e.HF_TOKEN || undefined };
}

/** <owner>--<name>--<revision>: unambiguous, since owner and name never hold '--' or '%' */
export function cacheFolder(r: HubRepo): string {
  return `${r.owner}--${r.name}--${encodeURIComponent(r.revision)}`;
}

const active = new Map<string, Promise<string>>(); // one download per folder in this process

/**
 * Download config.json, the safetensors weights (model.safetensors, or the index and every shard
 * it names) and the tokenizer files the repo has into the cache; returns the local directory, which
 * readModel() reads. A complete folder is returned without any request (works offline).
 */
export async function downloadModel(spec: string, opts: DownloadOptions = {}): Promise<string> {
  const repo = parseHubSpec(spec);
  const dir = join(opts.cacheDir ?? defaultCacheDir(), cacheFolder(repo));
  if (existsSync(join(dir, COMPLETE))) return dir;
  const o = nodeHubOptions(opts);
  let job = active.get(dir);
  if (!job) {
    job = download(repo, dir, { ...opts, ...o }).finally(() => active.delete(dir));
    active.set(dir, job);
  }
  return job;
}

async function download(repo: HubRepo, dir: string, o: DownloadOptions): Promise<string> {
  const name = hubSpecName(repo);
  mkdirSync(dir, { recursive: true });
  const unlock = lock(dir);
  try {
    const files: string[] = [];
    const get = async (f: string, optional: boolean) => {
      const ok = await downloadFile(hubUrl(o.endpoint!, repo, f), join(dir, f), f, o, optional);
      if (ok) files.push(f);
      return ok;
    };
    await get('config.json', false);
    if (await get(INDEX, true)) {
      for (const shard of shardFiles(readFileSync(join(dir, INDEX), 'utf8'), `${name}/${INDEX}`)) await get(shard, false);
    } else if (!(await get('model.safetensors', true))) {
      fail(`${name}: the repo has neither model.safetensors nor ${INDEX} (${hubUrl(o.endpoint!, repo, 'model.safetensors')} answered 404)`,
        'only safetensors weights are read (not pytorch_model.bin pickles); pick a repo or revision that has them');
    }
    for (const f of HUB_OPTIONAL_FILES) await get(f, true);
    writeFileSync(join(dir, COMPLETE), JSON.stringify({ spec: name, files }, null, 2) + '\n');
    return dir;
  } finally {
    unlock();
  }
}

/** take <dir>/.lock, or fail while another live process holds it; a dead holder's lock is taken over */
function lock(dir: string): () => void {
  const path = join(dir, '.lock');
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const pid = Number(readFileSync(path, 'utf8'));
    if (pid !== process.pid && alive(pid)) {
      fail(`${dir} is being downloaded by process ${pid}`, `wait for it to finish, or delete ${path} if that process is not downloading`);
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
 * One file into dest through dest.part. Returns false for an optional file the repo lacks. Steps:
 * 1) resume: a part of N bytes asks for `Range: bytes=N-` (+ If-Range); 206 appends, 200 restarts
 * 2) stream the body into the part; a broken transfer that made progress is resumed (bounded)
 * 3) check the size against Content-Length / the Content-Range total, fsync, rename into place
 */
async function downloadFile(url: string, dest: string, file: string, o: DownloadOptions, optional: boolean): Promise<boolean> {
  if (existsSync(dest)) return true;
  mkdirSync(dirname(dest), { recursive: true });
  const part = dest + '.part', tagFile = part + '.etag';
  const retries = o.retries ?? 5;
  const restart = () => { rmSync(part, { force: true }); rmSync(tagFile, { force: true }); };
  for (let attempt = 0; attempt <= retries; attempt++) {
    // 1) ask for the rest of the file, or all of it
    const have = sizeOf(part);
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' }; // sizes are of the stored bytes
    if (have > 0) {
      headers.Range = `bytes=${have}-`;
      if (existsSync(tagFile)) headers['If-Range'] = readFileSync(tagFile, 'utf8');
    }
    const res = await hubGet(url, o, { headers, optional, pass: [416] });
    if (!res) { restart(); return false; }
    let total: number | null;
    if (res.status === 416) {
      // nothing left to send: the part is whole (a stop before the rename), or it outgrew the file
      await res.body?.cancel().catch(() => {});
      if (have > 0 && contentRange(res)?.total === have) return finish(part, dest, tagFile);
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
      const etag = res.headers.get('etag');
      if (etag && !etag.startsWith('W/')) writeFileSync(tagFile, etag); // If-Range needs a strong validator
      else rmSync(tagFile, { force: true });
    }
    // 2) stream into the part
    const before = append ? have : 0;
    let got: number;
    try {
      got = await save(res, part, append, before, total, file, o.progress ?? null);
    } catch (e) {
      const now = sizeOf(part);
      if (now > before && attempt < retries) continue;
      return fail(`${url}: download interrupted at ${now} of ${total ?? '?'} bytes (${(e as Error).message})`,
        `run the same command again: it resumes from ${part}`);
    }
    // 3) check and move into place
    if (total !== null && got !== total) {
      if (got > total) restart();
      else if (got > before && attempt < retries) continue;
      return fail(`${url}: got ${got} bytes, expected ${total}`, 'the transfer broke or the file changed on the server; run the same command again');
    }
    return finish(part, dest, tagFile);
  }
  return fail(`${url}: no usable answer after ${retries + 1} attempts`, `run the same command again, or delete ${part}`);
}

function finish(part: string, dest: string, tagFile: string): true {
  renameSync(part, dest); // atomic on one filesystem: dest is either absent or whole
  rmSync(tagFile, { force: true });
  return true;
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
