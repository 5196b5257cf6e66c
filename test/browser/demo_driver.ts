// demo_driver: a loopback server for the demo page test (test/demo.test.ts). Serves dist/demo/ (the
// built page, demo.mjs, worker.mjs, the Brown text slices) under /demo/, the package's assets/reference/
// under /assets/reference/ (where ../../assets/reference/ from the page leads), the stories260K checkpoint and tokenizer under
// /data/stories260k/, and HF directories written by the test under /hf/<name>/ with HTTP Range
// support (206 + Content-Range), the way a static file server serves safetensors, and again under
// /hub/test/<name>/resolve/main/ (a Hub's URL layout, endpoint <origin>/hub).
// GET/HEAD only, no '..', no dotfiles; every request is logged with its Range header.
// Chromium itself is started by the test with test/browser/driver.ts's CHROMIUM_ARGS.
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json', '.json': 'application/json', '.txt': 'text/plain; charset=utf-8',
};

export interface DemoServer { server: Server; origin: string; log: string[]; close(): Promise<void> }

/** hf: URL name -> a directory on disk, served at /hf/<name>/ */
/**
 * cutOnce: the first whole-file GET whose path matches is cut after `bytes` bytes (the connection is
 * destroyed), to test resumable downloads.
 */
export async function startDemoServer(opts: { repo: string; shared: string; hf?: Record<string, string>; cutOnce?: { path: RegExp; bytes: number } }): Promise<DemoServer> {
  let cut = opts.cutOnce;
  const log: string[] = [];
  const note = (line: string) => { log.push(line); };
  const under = (root: string, rel: string) => {
    const f = resolve(root, rel);
    return f.startsWith(root + sep) ? f : null;
  };
  const route = (urlPath: string): string | null => {
    let p: string;
    try { p = decodeURIComponent(urlPath.split('?')[0]); } catch { return null; }
    if (p.includes('\0') || p.split('/').some((s) => s === '..' || s.startsWith('.'))) return null;
    if (p.startsWith('/demo/')) return under(join(opts.repo, 'dist/demo'), p.slice('/demo/'.length) || 'index.html');
    // the built-in reference, where the page finds it in the package: ../../assets/reference/ from dist/demo/
    if (p.startsWith('/assets/reference/')) return under(join(opts.repo, 'assets/reference'), p.slice('/assets/reference/'.length));
    const m = /^\/data\/stories260k\/(stories260K\.bin|tok512\.bin)$/.exec(p);
    if (m) return join(opts.shared, 'stories260k', m[1]);
    const h = /^\/hf\/([\w-]+)\/([\w.-]+)$/.exec(p);
    if (h && opts.hf?.[h[1]]) return under(resolve(opts.hf[h[1]]), h[2]);
    // the same directories in a Hub's layout: /hub/<owner>/<name>/resolve/<revision>/<file>
    const hub = /^\/hub\/test\/([\w-]+)\/resolve\/main\/([\w.-]+)$/.exec(p);
    if (hub && opts.hf?.[hub[1]]) return under(resolve(opts.hf[hub[1]]), hub[2]);
    return null;
  };
  const server = createServer((req, res) => {
    const range = req.headers.range;
    const file = req.method === 'GET' || req.method === 'HEAD' ? route(req.url ?? '/') : null;
    let status = 404;
    if (req.method !== 'GET' && req.method !== 'HEAD') status = 405;
    else if (file && existsSync(file) && statSync(file).isFile()) status = 200;
    if (status !== 200) {
      note(`${status} ${req.method} ${req.url}${range ? ` ${range}` : ''}`);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`${status}\n`);
      return;
    }
    const body = readFileSync(file!);
    const headers: Record<string, string | number> = { 'content-type': TYPES[extname(file!)] ?? 'application/octet-stream', 'cache-control': 'no-store', 'accept-ranges': 'bytes' };
    // one byte range, as fetch() sends it: bytes=a-b (b optional)
    const r = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (range && (!r || Number(r[1]) >= body.length)) {
      note(`416 ${req.method} ${req.url} ${range}`);
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    let out = body;
    if (r) {
      const a = Number(r[1]), b = Math.min(r[2] ? Number(r[2]) : body.length - 1, body.length - 1);
      out = body.subarray(a, b + 1);
      status = 206;
      headers['content-range'] = `bytes ${a}-${b}/${body.length}`;
    }
    headers['content-length'] = out.length;
    if (cut && !range && req.method === 'GET' && cut.path.test(req.url ?? '')) {
      const n = cut.bytes;
      cut = undefined;
      note(`cut ${req.method} ${req.url} after ${n}`);
      res.writeHead(status, headers);
      res.write(out.subarray(0, n), () => setTimeout(() => res.destroy(), 200));
      return;
    }
    note(`${status} ${req.method} ${req.url}${range ? ` ${range}` : ''}`);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : out);
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((ok, bad) => { server.once('error', bad); server.listen(0, '127.0.0.1', () => ok()); });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('server has no port');
  return {
    server, origin: `http://127.0.0.1:${addr.port}`, log,
    close: async () => { server.closeAllConnections(); await new Promise((ok) => server.close(ok)); },
  };
}
