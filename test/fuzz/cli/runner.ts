// fuzz/cli/runner: the CLI fuzz run. Case i of seed S is made from prng(S, i) alone (its category, file and
// mutation), so any case can be re-run by itself (--case i). Each runs in its own directory as CLI child
// processes under a timeout; the results are counted per category and format, and every case that is neither ok
// nor a clear error is listed with its reproducer. Used by scripts/fuzz.mjs (npm run fuzz) and test/fuzz.test.ts.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng } from '../mutate.js';
import { makeFixtures, type Fixtures } from './fixtures.js';
import { MODEL_MAKERS, type Maker } from './cases.js';
import { RUN_MAKERS } from './cases_run.js';
import { KINDS, killRunning, type Kind } from './proc.js';

export const MAKERS: Record<string, [Maker, number]> = { ...MODEL_MAKERS, ...RUN_MAKERS };

export interface Opts { repo: string; cases: number; seed: number; jobs: number; minutes?: number; only?: string[]; caseIds?: number[]; json?: string; keep?: boolean; quiet?: boolean }
export interface Result { case: number; category: string; format: string; mutation: string; kind: Kind; detail: string; ms: number }
export interface Summary { seed: number; cases: number; seconds: number; counts: Record<Kind, number>; byFormat: Record<string, Record<Kind, number>>; results: Result[] }

const caseSeed = (seed: number, i: number) => (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;

/** case i: its category (weighted pick) and its files, made in `dir` */
export function makeCase(f: Fixtures, seed: number, i: number, dir: string, only?: string[]) {
  const r = prng(caseSeed(seed, i));
  const cats = Object.entries(MAKERS).filter(([k]) => !only || only.includes(k));
  const total = cats.reduce((s, [, [, w]]) => s + w, 0);
  let x = r() * total, pick = cats[0];
  for (const c of cats) { x -= c[1][1]; if (x < 0) { pick = c; break; } }
  mkdirSync(dir, { recursive: true });
  return { category: pick[0], ...pick[1][0](r, f, dir) };
}

export async function runFuzz(o: Opts): Promise<Summary> {
  const work = mkdtempSync(join(tmpdir(), 'itrt-fuzz-'));
  const log = (s: string) => { if (!o.quiet) process.stdout.write(s); };
  const t0 = performance.now();
  const stop = () => { killRunning(); rmSync(work, { recursive: true, force: true }); process.exit(130); }; // Ctrl-C: no child or file left behind
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    log(`fuzz: making the fixtures in ${work} ...\n`);
    const f = await makeFixtures(o.repo, work);
    log(`fuzz: fixtures in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${o.caseIds?.length ?? o.cases} cases, seed ${o.seed}, ${o.jobs} at a time\n`);
    const ids = o.caseIds ?? Array.from({ length: o.cases }, (_, i) => i);
    const results: Result[] = [];
    let next = 0;
    const stopAt = o.minutes ? performance.now() + o.minutes * 60_000 : Infinity;
    if (o.json) writeFileSync(o.json + 'l', ''); // FILE.jsonl: each result as it comes (a run stopped early keeps them)
    const worker = async () => {
      while (next < ids.length && performance.now() < stopAt) {
        const i = ids[next++], dir = join(work, `case-${i}`), t = performance.now();
        let res: Result;
        try {
          const c = makeCase(f, o.seed, i, dir, o.only);
          const v = await c.run();
          res = { case: i, category: c.category, format: c.format, mutation: c.mutation, kind: v.kind, detail: v.detail, ms: Math.round(performance.now() - t) };
        } catch (e) { // the harness itself failed on this case: shown as a crash, so it is looked at
          res = { case: i, category: '?', format: 'harness', mutation: '', kind: 'crash', detail: `harness error: ${(e as Error).stack?.slice(0, 400)}`, ms: 0 };
        }
        results.push(res);
        if (o.json) appendFileSync(o.json + 'l', JSON.stringify(res) + '\n');
        if (!o.keep) rmSync(dir, { recursive: true, force: true });
        if (!o.quiet && results.length % 25 === 0) log(`  ${results.length}/${ids.length} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
    results.sort((a, b) => a.case - b.case);
    const s = summarize(o.seed, results, (performance.now() - t0) / 1000);
    if (o.json) writeFileSync(o.json, JSON.stringify(s, null, 1) + '\n');
    log(report(s, o.only));
    return s;
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
    if (!o.keep) rmSync(work, { recursive: true, force: true });
  }
}

const zero = () => Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
export function summarize(seed: number, results: Result[], seconds: number): Summary {
  const counts = zero(), byFormat: Record<string, Record<Kind, number>> = {};
  for (const r of results) { counts[r.kind]++; (byFormat[r.format] ??= zero())[r.kind]++; }
  return { seed, cases: results.length, seconds: Math.round(seconds), counts, byFormat, results };
}

/** the table of counts (markdown) and each case that is neither ok nor a clear error, with its reproducer */
export function report(s: Summary, only?: string[]): string {
  const row = (name: string, c: Record<Kind, number>) => `| ${name} | ${KINDS.reduce((n, k) => n + c[k], 0)} | ${KINDS.map((k) => c[k]).join(' | ')} |`;
  const lines = [`\nfuzz: ${s.cases} cases, seed ${s.seed}, ${s.seconds} s (${(s.cases / (s.seconds / 60)).toFixed(1)} cases/minute, fixtures included)`, '', `| format | cases | ${KINDS.join(' | ')} |`, `|---|---:|${KINDS.map(() => '---:').join('|')}|`,
    ...Object.keys(s.byFormat).sort().map((k) => row(k, s.byFormat[k])), row('**total**', s.counts), ''];
  const bad = s.results.filter((r) => r.kind !== 'ok' && r.kind !== 'clear');
  if (bad.length) lines.push(`${bad.length} cases neither ok nor a clear error (re-run one: npm run fuzz -- --seed ${s.seed} --case N${only ? ` --only ${only.join(',')}` : ''}):`);
  for (const r of bad) lines.push(`  ${r.kind} | ${r.format} | case ${r.case} | ${r.mutation.slice(0, 120)} | ${r.detail.slice(0, 300)}`);
  return lines.join('\n') + '\n';
}

/** scripts/fuzz.mjs's command line */
export async function main(argv: string[], repo: string): Promise<number> {
  const o: Opts = { repo, cases: 200, seed: 1, jobs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = () => { const x = argv[++i]; if (x === undefined) throw new Error(`${a} needs a value`); return x; };
    if (a === '--cases') o.cases = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--jobs') o.jobs = Number(v());
    else if (a === '--json') o.json = v();
    else if (a === '--only') o.only = v().split(',');
    else if (a === '--case') o.caseIds = v().split(',').map(Number);
    else if (a === '--keep') o.keep = true;
    else if (a === '--minutes') o.minutes = Number(v());
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`npm run fuzz -- [--cases N] [--seed S] [--jobs J] [--json FILE] [--minutes M] [--only ${Object.keys(MAKERS).join(',')}] [--case I[,J]] [--keep]\n`);
      return 0;
    } else throw new Error(`unknown flag ${a} (see --help)`);
  }
  if (o.only) for (const k of o.only) if (!MAKERS[k]) throw new Error(`--only ${k}: one of ${Object.keys(MAKERS).join(', ')}`);
  const s = await runFuzz(o);
  return s.counts.crash + s.counts.hang + s.counts.silent + s.counts.unclear > 0 ? 1 : 0;
}
