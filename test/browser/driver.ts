// driver: serves the repo's dist/ and test/browser/ plus the stories260K checkpoint and goldens
// (read-only, GET/HEAD only, whitelisted paths) on 127.0.0.1 at a random port, opens
// test/browser/index.html in headless Debian Chromium through playwright-core, waits for the web
// worker's result on window.__result, optionally screenshots the page, and closes everything.
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { chromium } from 'playwright-core';

/**
 * The flags that give headless Chromium (Debian 156) a WebGPU adapter here. --enable-unsafe-webgpu
 * is the one that matters on Linux (without it requestAdapter() returns null); --no-sandbox because
 * we run as root; the rest keep the browser off the network. The adapter is Chromium's bundled
 * SwiftShader Vulkan (no GPU, no system Vulkan driver needed); --enable-features=Vulkan,
 * --use-angle=vulkan and --use-webgpu-adapter=swiftshader change nothing and are left out.
 * Note: navigator.gpu exists only in secure contexts, so the page must come from http://127.0.0.1
 * (or localhost), not about:blank or file://.
 */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium to drive: $CHROMIUM_PATH, else the first of the usual Debian/Ubuntu/Chrome paths. */
export function findChromium(): string | null {
  const cands = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  for (const c of cands) if (c && existsSync(c)) return c;
  return null;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json', '.json': 'application/json', '.bin': 'application/octet-stream', '.f32': 'application/octet-stream',
};

/** URL path -> file, or null. Only these roots, no '..', no dotfiles; data files are whitelisted. */
function route(repo: string, shared: string, urlPath: string): string | null {
  let p: string;
  try { p = decodeURIComponent(urlPath.split('?')[0]); } catch { return null; }
  if (p.includes('\0') || p.split('/').some((s) => s === '..' || s.startsWith('.'))) return null;
  const under = (root: string, rel: string) => {
    const f = resolve(root, rel);
    return f.startsWith(root + sep) ? f : null;
  };
  if (p.startsWith('/dist/')) return under(join(repo, 'dist'), p.slice('/dist/'.length));
  if (p.startsWith('/test/browser/')) return under(join(repo, 'test/browser'), p.slice('/test/browser/'.length));
  const m = /^\/data\/stories260k\/(stories260K\.bin|golden\/prompt_logits(_k[1-5])?\.f32)$/.exec(p);
  if (m) return join(shared, 'stories260k', m[1]);
  return null;
}

export async function startServer(repo: string, shared: string): Promise<{ server: Server; origin: string; log: string[] }> {
  const log: string[] = [];
  const server = createServer((req, res) => {
    const file = req.method === 'GET' || req.method === 'HEAD' ? route(repo, shared, req.url ?? '/') : null;
    let status = 404;
    if (req.method !== 'GET' && req.method !== 'HEAD') status = 405;
    else if (file && existsSync(file) && statSync(file).isFile()) status = 200;
    log.push(`${status} ${req.method} ${req.url}`);
    if (status !== 200) { res.writeHead(status, { 'content-type': 'text/plain' }).end(`${status}\n`); return; }
    const body = readFileSync(file!);
    res.writeHead(200, { 'content-type': TYPES[extname(file!)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 1_000;
  server.maxConnections = 32;
  await new Promise<void>((ok, bad) => { server.once('error', bad); server.listen(0, '127.0.0.1', () => ok()); });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('server has no port');
  return { server, origin: `http://127.0.0.1:${addr.port}`, log };
}

export interface BrowserRun {
  /** what the worker posted (see test/browser/core.js), or null on timeout */
  result: any;
  /** page console lines, page errors, and the server's request log */
  console: string[];
  requests: string[];
  ms: number;
}

export async function runBrowserCheck(opts: {
  repo: string; shared: string; executablePath: string; screenshot?: string; timeoutMs?: number;
}): Promise<BrowserRun> {
  const t0 = Date.now();
  const { server, origin, log } = await startServer(opts.repo, opts.shared);
  const lines: string[] = [];
  let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
  try {
    browser = await chromium.launch({ executablePath: opts.executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    const page = await browser.newPage({ viewport: { width: 1000, height: 400 } });
    page.on('console', (m) => lines.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
    page.on('worker', (w) => lines.push(`worker started: ${w.url()}`));
    await page.goto(`${origin}/test/browser/index.html`, { timeout: 30_000 });
    let result: any = null;
    try {
      await page.waitForFunction(() => (window as any).__result !== undefined, null, { timeout: opts.timeoutMs ?? 90_000, polling: 100 });
      result = await page.evaluate(() => (window as any).__result);
    } catch (e) {
      lines.push(`timeout waiting for window.__result: ${(e as Error).message.split('\n')[0]}`);
    }
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
    return { result, console: lines, requests: log, ms: Date.now() - t0 };
  } finally {
    await browser?.close().catch(() => {});
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  }
}
