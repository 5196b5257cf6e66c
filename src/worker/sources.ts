// worker/sources: where a worker's model and text bytes come from: Blobs/Files, a URL read with HTTP
// Range requests (safetensors tensor by tensor), the Hub (src/formats/hub.ts), or the origin-private file
// system (OPFS), each as a ModelDir for readHfModel. Browser APIs only; no Node built-ins.
import type { ModelDir } from '../formats/hf.js';
import { hubDir, hubGet, hubUrl, hubEndpoint, parseHubSpec, contentRange, checkRepoFile, rangeSource, type HubOptions, type HubRepo } from '../formats/hub.js';
import { blobSource, type ByteSource } from '../formats/safetensors.js';
import { fail } from '../util/errors.js';
import type { LoadRequest, TextSource } from './protocol.js';
import { isTokenizerBin, isTokenizerFile } from '../tokenizers/load.js';

export const OPFS_DIR = 'inheritune';
export const CORS_HINT = 'check the URL; a server on another origin must send Access-Control-Allow-Origin, and answer Range requests (206) for safetensors';



export type OnRead = (file: string) => (n: number, total: number, done: number) => void;

/**
 * The directory a load request points at, the llama2.c checkpoint's bytes when it is one, and the
 * tokenizer files to read (null: probe the usual names in the directory).
 */
export async function openSource(req: LoadRequest, onRead: OnRead): Promise<{ dir: ModelDir; llama2c: { name: string; bytes: Uint8Array } | null; names: string[] | null }> {
  if (req.source === 'files') {
    const files: Record<string, Blob> = {};
    for (const [k, v] of Object.entries(req.files ?? {})) files[k.slice(k.lastIndexOf('/') + 1)] = v;
    const all = Object.keys(files);
    const dir = blobDir('selected files', files, onRead);
    const names = all.filter(isTokenizerFile);
    if (files['config.json']) return { dir, llama2c: null, names };
    const bins = all.filter((f) => f.endsWith('.bin') && !isTokenizerBin(f));
    if (bins.length !== 1) {
      fail(bins.length ? `several model .bin files (${bins.join(', ')}); which one is the model?` : `no model among the files (${all.join(', ') || 'none'})`,
        'pick an HF directory\'s files (config.json, *.safetensors, tokenizer files) or one llama2.c model .bin with its tokenizer .bin');
    }
    return { dir, llama2c: { name: bins[0], bytes: await readAll(await dir.source(bins[0])) }, names };
  }
  if (req.source === 'url') {
    let url: URL;
    try { url = new URL(req.url, (globalThis as { location?: { href: string } }).location?.href); } catch {
      return fail(`'${req.url}' is not a URL`, 'give the URL of a model directory (http://host/path/) or of a llama2.c .bin');
    }
    const names = req.tokenizer === undefined ? null : Array.isArray(req.tokenizer) ? req.tokenizer : [req.tokenizer];
    if (url.pathname.endsWith('.bin')) {
      const name = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
      const dir = urlDir(new URL('.', url), onRead);
      return { dir, llama2c: { name, bytes: await readAll(await dir.source(name)) }, names };
    }
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return { dir: urlDir(url, onRead), llama2c: null, names };
  }
  if (req.source === 'hub' && req.cache) return { dir: await cachedHubDir(req.spec, { endpoint: req.endpoint, token: req.token }, onRead), llama2c: null, names: null };
  if (req.source === 'hub') {
    const hub = hubDir(req.spec, { endpoint: req.endpoint, token: req.token });
    return { dir: { ...hub, source: async (f) => counted(await hub.source(f), onRead(f)) }, llama2c: null, names: null };
  }
  if (req.source === 'opfs') return { dir: await opfsDir(req.name, onRead), llama2c: null, names: null };
  return fail(`load: unknown source ${JSON.stringify((req as { source: unknown }).source)}`, "use source 'files', 'url', 'hub' or 'opfs'");
}

/** a ByteSource that reports every read */
export function counted(src: ByteSource, report: (n: number, total: number, done: number) => void): ByteSource {
  let done = 0;
  return { size: src.size, read: async (o, n) => { const b = await src.read(o, n); done += b.byteLength; report(b.byteLength, src.size, done); return b; } };
}

export async function readAll(src: ByteSource): Promise<Uint8Array> {
  return src.read(0, src.size);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.byteLength; }
  return out;
}

export async function textOf(t: TextSource): Promise<string> {
  if (typeof t === 'string') return t;
  if (t && typeof (t as Blob).text === 'function') return (t as Blob).text();
  return fail('a text must be a string, a File or a Blob', 'pass the text itself or the File from an <input type=file>');
}

export function blobDir(name: string, files: Record<string, Blob>, onRead: OnRead): ModelDir {
  const get = (f: string) => files[f] ?? fail(`${name}: no file '${f}' among those given (${Object.keys(files).join(', ')})`, 'pick all files of the model directory');
  return {
    name,
    exists: async (f) => f in files,
    readText: async (f) => get(f).text(),
    source: async (f) => counted(blobSource(get(f)), onRead(f)),
  };
}

/** fetch that fails with a clear error unless the answer is 2xx or one of `pass` */
export async function fetchOk(url: string, init?: RequestInit, pass: number[] = []): Promise<Response> {
  let r: Response;
  try { r = await fetch(url, init); } catch (e) {
    return fail(`could not fetch ${url} (${(e as Error).message})`, CORS_HINT);
  }
  if (!r.ok && !pass.includes(r.status)) fail(`${init?.method ?? 'GET'} ${url}: HTTP ${r.status}`, 'check that the file exists on the server');
  return r;
}

/** a plain URL read with HTTP Range requests (src/formats/hub.ts rangeSource, with fetch and CORS hints) */
async function urlSource(url: string): Promise<ByteSource> {
  const src = await rangeSource(url, {}, (headers) => fetchOk(url, { headers }, [416]), { size: CORS_HINT, read: CORS_HINT });
  return src!; // fetchOk fails on a 404, so there is always a source
}

export function urlDir(base: URL, onRead: OnRead): ModelDir {
  const at = (f: string) => new URL(f, base).href;
  return {
    name: base.href,
    exists: async (f) => { try { return (await fetch(at(f), { method: 'HEAD' })).ok; } catch { return false; } },
    readText: async (f) => (await fetchOk(at(f))).text(),
    source: async (f) => counted(await urlSource(at(f)), onRead(f)),
  };
}

export async function opfsRoot(): Promise<FileSystemDirectoryHandle> {
  const storage = (globalThis as { navigator?: Navigator }).navigator?.storage;
  if (!storage?.getDirectory) fail('this runtime has no origin private file system (navigator.storage.getDirectory)', 'save with to: \'bytes\' instead, or use a browser');
  return storage.getDirectory();
}

export async function opfsDir(name: string, onRead: OnRead): Promise<ModelDir> {
  let d: FileSystemDirectoryHandle;
  try { d = await (await (await opfsRoot()).getDirectoryHandle(OPFS_DIR)).getDirectoryHandle(name); } catch {
    return fail(`no saved model '${name}' in this browser's storage (OPFS ${OPFS_DIR}/${name})`, 'save one first (save with to: \'opfs\')');
  }
  const file = async (f: string) => (await d.getFileHandle(f)).getFile();
  return {
    name: `opfs:${OPFS_DIR}/${name}`,
    exists: async (f) => { try { await d.getFileHandle(f); return true; } catch { return false; } },
    readText: async (f) => (await file(f)).text(),
    source: async (f) => counted(blobSource(await file(f)), onRead(f)),
  };
}

export async function writeOpfsFile(h: FileSystemFileHandle, bytes: Uint8Array): Promise<void> {
  if (typeof h.createWritable === 'function') {
    const w = await h.createWritable();
    await w.write(bytes as Uint8Array<ArrayBuffer>);
    await w.close();
    return;
  }
  // Safari before 26 has no createWritable; a dedicated worker has sync access handles
  const s = await (h as unknown as { createSyncAccessHandle(): Promise<{ truncate(n: number): void; write(b: Uint8Array, o: { at: number }): number; flush(): void; close(): void }> }).createSyncAccessHandle();
  try { s.truncate(0); s.write(bytes, { at: 0 }); s.flush(); } finally { s.close(); }
}

/**
 * The Hub with a browser cache: each file the model needs is downloaded once into OPFS
 * (inheritune/hub/<owner>--<name>--<revision>/), resuming a partial file with a Range request, and
 * read from there (weights tensor by tensor, from the OPFS file). A file is complete once its
 * `.<file>.done` marker exists; a 404 for an optional file is remembered with `.<file>.absent`.
 */
export async function cachedHubDir(spec: string, o: HubOptions, onRead: OnRead): Promise<ModelDir> {
  const repo: HubRepo = parseHubSpec(spec);
  const endpoint = hubEndpoint(o.endpoint);
  const root = await (await opfsRoot()).getDirectoryHandle(OPFS_DIR, { create: true });
  const hub = await root.getDirectoryHandle('hub', { create: true });
  const d = await hub.getDirectoryHandle(`${repo.owner}--${repo.name}--${encodeURIComponent(repo.revision)}`, { create: true });
  const has = (f: string) => d.getFileHandle(f).then(() => true, () => false);
  const pending = new Map<string, Promise<File | null>>();
  const fetchFile = (f: string, optional: boolean): Promise<File | null> => {
    checkRepoFile(f, spec);
    let p = pending.get(f);
    if (!p) { p = download(f, optional); pending.set(f, p); }
    return p;
  };
  const download = async (f: string, optional: boolean): Promise<File | null> => {
    if (await has(`.${f}.done`)) return (await d.getFileHandle(f)).getFile();
    if (await has(`.${f}.absent`)) return null;
    const h = await d.getFileHandle(f, { create: true });
    const have = (await h.getFile()).size;
    const res = await hubGet(hubUrl(endpoint, repo, f), o, { headers: have ? { Range: `bytes=${have}-` } : {}, optional, pass: [416] });
    if (!res) { await d.getFileHandle(`.${f}.absent`, { create: true }); return null; }
    let total: number | null;
    const w = await h.createWritable({ keepExistingData: res.status === 206 });
    if (res.status === 416) { await res.body?.cancel(); total = have; } // the part was already whole
    else {
      let at = 0;
      if (res.status === 206) { const cr = contentRange(res); at = cr?.start ?? have; total = cr?.total ?? null; await w.seek(at); }
      else total = Number(res.headers.get('content-length') ?? NaN) || null;
      const report = onRead(f);
      const reader = res.body!.getReader();
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          await w.write(r.value);
          at += r.value.byteLength;
          report(r.value.byteLength, total ?? at, at);
        }
      } catch (e) {
        await w.close(); // keep what arrived: the next load resumes from it with a Range request
        fail(`${spec}: the download of ${f} broke off after ${at} bytes (${(e as Error).message})`, 'load it again: the download resumes where it stopped');
      }
    }
    await w.close();
    const file = await h.getFile();
    if (total !== null && file.size !== total) fail(`${spec}: ${f} has ${file.size} of ${total} bytes after the download`, 'load it again: the download resumes where it stopped');
    await d.getFileHandle(`.${f}.done`, { create: true });
    return file;
  };
  return {
    name: spec,
    exists: async (f) => (await fetchFile(f, true)) !== null,
    readText: async (f) => (await fetchFile(f, false))!.text(),
    source: async (f) => counted(blobSource((await fetchFile(f, false))!), onRead(f)),
  };
}
