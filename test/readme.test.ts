// readme: the front door holds. README.md stays short (≤ 300 lines) with `npx inheritune-rt demo` in
// its first 80; every image it shows and LICENSE are in the npm tarball (`npm pack --dry-run`'s file
// list); every relative link of README.md and docs/*.md reaches a file, and every #anchor a heading of
// that file (GitHub's slugs); no command's --help names the development-only shared/ folder; and the
// README's code example imports only what dist/node.mjs exports and, on a GPU, runs. Each checker is
// also fed a broken input here, so that it is seen to fail.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, readdirSync, mkdtempSync, writeFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { REPO, testGpu } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const MD_FILES = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** markdown without fenced code blocks and inline code spans (a `[x](y)` or `# x` in code is not markdown) */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/``[^`]+``|`[^`\n]*`/g, 'CODE');
}

/** GitHub's heading anchors: lowercase, punctuation dropped (but - and _), spaces to -, repeats get -1, -2 ... */
function slugs(md: string): Set<string> {
  const seen = new Map<string, number>(), out = new Set<string>();
  const noFences = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, text] of noFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = text.replace(/<[^>]+>/g, '').toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** the targets of the markdown links and images of `md` (outside code) */
function linkTargets(md: string): string[] {
  return [...prose(md).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

/** the problems of the relative links of the markdown file `file` (relative to root): a missing file or anchor */
function brokenLinks(root: string, file: string, md = readFileSync(join(root, file), 'utf8')): string[] {
  const bad: string[] = [];
  for (const target of linkTargets(md)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
    const [path, anchor] = target.split('#', 2) as [string, string | undefined];
    const abs = path ? resolve(root, dirname(file), decodeURIComponent(path)) : join(root, file);
    if (!existsSync(abs)) { bad.push(`${file}: ${target} (no such file)`); continue; }
    if (anchor === undefined) continue;
    if (!path) { if (!slugs(md).has(anchor)) bad.push(`${file}: ${target} (no heading #${anchor} here)`); continue; }
    if (!abs.endsWith('.md') || statSync(abs).isDirectory()) { bad.push(`${file}: ${target} (an anchor into a file that is not markdown)`); continue; }
    if (!slugs(readFileSync(abs, 'utf8')).has(anchor)) bad.push(`${file}: ${target} (no heading #${anchor} in ${relative(root, abs)})`);
  }
  return bad;
}

/** the image paths a markdown file shows: ![..](path) and <img src="path"> */
function imagePaths(md: string): string[] {
  const text = prose(md);
  return [...[...text.matchAll(/!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...text.matchAll(/<img\b[^>]*\bsrc\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1])];
}

/** the commands `inheritune-rt --help` lists */
function commandsOf(help: string): string[] {
  const at = help.indexOf('\nCommands:\n');
  if (at < 0) return [];
  const out: string[] = [];
  for (const line of help.slice(at + 11).split('\n')) {
    if (!line.trim()) break;
    const m = /^ {2}([a-z][a-z0-9-]*) {2,}/.exec(line);
    if (m) out.push(m[1]);
  }
  return out;
}

describe('README.md is the front door', () => {
  it('is at most 300 lines, with `npx inheritune-rt demo` in its first 80', () => {
    const lines = README.split('\n');
    console.log(`README.md: ${lines.length} lines`);
    expect(lines.length).toBeLessThanOrEqual(300);
    const at = lines.findIndex((l) => l.includes('npx inheritune-rt demo'));
    expect(at, '`npx inheritune-rt demo` in README.md').toBeGreaterThanOrEqual(0);
    expect(at + 1).toBeLessThanOrEqual(80);
  });

  it("keeps the clone's two commands as CI runs them", () => {
    expect(README).toContain('bash scripts/setup.sh && npm run demo');
    expect(README).toContain('bash scripts/setup.sh && npm test');
  });

  it('makes no claim to be faster than PyTorch', () => {
    for (const f of MD_FILES) {
      const md = readFileSync(join(REPO, f), 'utf8');
      expect(md, f).not.toMatch(/faster than (one-thread )?PyTorch|\b(4\.6|8\.6)× faster/);
    }
  });
});

describe('the npm tarball carries what the README shows', () => {
  let packed: string[] = [];
  beforeAll(async () => {
    // --dry-run lists the files without writing a tarball (test/package.test.ts packs and installs one)
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, maxBuffer: 1 << 26 });
    packed = (JSON.parse(stdout)[0].files as { path: string }[]).map((f) => f.path);
  }, 120_000);

  const missing = (md: string, files: string[]) => imagePaths(md).map((p) => p.replace(/^\.\//, '')).filter((p) => !files.includes(p));

  it('every image README.md shows, and LICENSE', () => {
    const images = imagePaths(README);
    expect(images.length).toBeGreaterThanOrEqual(2);
    expect(missing(README, packed)).toEqual([]);
    expect(packed).toContain('LICENSE');
    expect(readFileSync(join(REPO, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the inheritune-rt authors\n/);
    // the docs the README links to travel too, so its links work in an installed package
    for (const f of MD_FILES) expect(packed, f).toContain(f);
  });

  it('(the check fails on an image the tarball lacks, markdown or <img>)', () => {
    const md = '![a](docs/demo-page.png)\n<img alt="b" src="docs/not-packed.png">\n![c](./docs/nope.svg "t")\n```\n![d](in-code.png)\n```\n';
    expect(missing(md, packed).sort()).toEqual(['docs/nope.svg', 'docs/not-packed.png']);
  });
});

describe('links', () => {
  it('every relative link of README.md and docs/*.md reaches a file, and its #anchor a heading there', () => {
    expect(MD_FILES.length).toBeGreaterThan(5);
    expect(MD_FILES.flatMap((f) => brokenLinks(REPO, f))).toEqual([]);
  });

  it("anchors follow GitHub's slugs", () => {
    const s = slugs('# Two commands\n## The recipe (`run`)\n### Memory: models bigger than one buffer\n## The CLI\'s worker process\n' +
      '## 2(a). Inherited vs random init\n## API\n## API\n```sh\n# not a heading\n```\n## snake_case and-dash');
    expect([...s]).toEqual(['two-commands', 'the-recipe-run', 'memory-models-bigger-than-one-buffer', 'the-clis-worker-process',
      '2a-inherited-vs-random-init', 'api', 'api-1', 'snake_case-and-dash']);
  });

  it('(the check fails on a missing file, a missing anchor, and an anchor into a file without it)', () => {
    const md = '[ok](docs/cli.md#evaluation) [ok2](#here) [web](https://example.org/x#y) `[code](nope.md)`\n# Here\n' +
      '[a](docs/nope.md) [b](docs/cli.md#no-such-heading) [c](#not-here) [d](\nLICENSE#x)';
    expect(brokenLinks(REPO, 'README.md', md).map((b) => b.replace(/ \(.*/, ''))).toEqual(
      ['README.md: docs/nope.md', 'README.md: docs/cli.md#no-such-heading', 'README.md: #not-here', 'README.md: LICENSE#x']);
  });
});

describe('--help', () => {
  it('no command\'s help names the development-only shared/ folder', () => {
    const top = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(top.status).toBe(0);
    const commands = commandsOf(top.stdout);
    expect(commands).toEqual(expect.arrayContaining(['demo', 'run', 'eval', 'train', 'info']));
    const texts = [['(top)', top.stdout], ...commands.map((c) => [c, spawnSync(process.execPath, [CLI, c, '--help'], { encoding: 'utf8' }).stdout])];
    for (const [cmd, text] of texts) {
      expect(text.length, `${cmd} --help printed nothing`).toBeGreaterThan(50);
      expect(text, `${cmd} --help`).not.toMatch(/shared\//);
    }
  });

  it('(the command list parser finds the commands, and the text check catches shared/)', () => {
    expect(commandsOf('x\n\nCommands:\n  demo        a\n              b\n  run         c\n\nOptions:\n  -h')).toEqual(['demo', 'run']);
    expect('laid out as ../shared/data').toMatch(/shared\//);
  });
});

describe("the README's code example", () => {
  const block = /```js\n([\s\S]*?)```/.exec(README)?.[1] ?? '';

  it('imports only what the Node build exports', async () => {
    const names = [...block.matchAll(/import\s*\{([^}]*)\}\s*from\s*'inheritune-rt'/g)].flatMap((m) => m[1].split(',').map((n) => n.trim()).filter(Boolean));
    expect(names.length).toBeGreaterThanOrEqual(5);
    const node = await import(join(REPO, 'dist/node.mjs'));
    for (const n of names) expect(node[n], `dist/node.mjs exports ${n}`).toBeDefined();
  });

  it('runs as printed (fewer steps) and trains', async (ctx) => {
    const g = await testGpu();
    if (!g) return ctx.skip();
    g.destroy();
    const dir = mkdtempSync(join(tmpdir(), 'itrt-readme-'));
    const code = block.replace("from 'inheritune-rt'", `from ${JSON.stringify(pathToFileURL(join(REPO, 'dist/node.mjs')).href)}`)
      .replace('steps: 20,', 'steps: 3,').replace('console.log(await trainer.step())', 'console.log(JSON.stringify(await trainer.step()))');
    expect(code).toContain('steps: 3,');
    writeFileSync(join(dir, 'example.mjs'), code);
    const { stdout } = await run(process.execPath, [join(dir, 'example.mjs')], { cwd: dir, maxBuffer: 1 << 26, timeout: 240_000 });
    const steps = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(steps.map((s) => s.step)).toEqual([0, 1, 2]);
    for (const s of steps) expect(Number.isFinite(s.loss)).toBe(true);
    expect(steps[0].loss).toBeLessThan(3); // the inherited blocks start far below a random init (~5.5 nats/byte)
  });
});
