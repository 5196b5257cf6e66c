// fuzz/cli/proc: one CLI run as a child process under a watchdog, and what its end says. The child gets its own
// process group (so a timeout or a kill -9 reaches the GPU worker the CLI starts too) and, where prlimit exists, a
// data-segment limit (a reader that takes /dev/zero without bound dies instead of taking the machine's memory).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export type Kind = 'ok' | 'clear' | 'unclear' | 'crash' | 'hang' | 'silent';
export const KINDS: Kind[] = ['ok', 'clear', 'unclear', 'crash', 'hang', 'silent'];

export interface Res { code: number | null; signal: string | null; stdout: string; stderr: string; ms: number; timedOut: boolean; killed: boolean }
export interface Verdict { kind: Kind; detail: string }

const PRLIMIT = existsSync('/usr/bin/prlimit') ? '/usr/bin/prlimit' : null;
const DATA_LIMIT = 3_000_000_000;

export interface RunOpts { timeoutMs: number; cwd?: string; killAfterMs?: number; env?: Record<string, string> }

/** the process groups of the runs under way: a fuzz run that is interrupted ends them (killRunning) */
const running = new Set<number>();
export function killRunning(): void { for (const pid of running) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } } }

/** `node CLI ...args`; `killAfterMs` sends SIGKILL to the whole group then (a kill -9 at a random moment) */
export function runCli(cli: string, args: string[], o: RunOpts): Promise<Res> {
  const argv = [process.execPath, cli, ...args];
  const [cmd, ...rest] = PRLIMIT ? [PRLIMIT, `--data=${DATA_LIMIT}`, ...argv] : argv;
  const t0 = performance.now();
  return new Promise((done) => {
    const p = spawn(cmd, rest, { cwd: o.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...o.env } });
    let stdout = '', stderr = '', timedOut = false, killed = false;
    if (p.pid) running.add(p.pid);
    p.stdout.setEncoding('utf8').on('data', (s: string) => { if (stdout.length < 1 << 20) stdout += s; });
    p.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 1 << 20) stderr += s; });
    const kill = () => { try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ } };
    const t = setTimeout(() => { timedOut = true; kill(); }, o.timeoutMs);
    const k = o.killAfterMs !== undefined ? setTimeout(() => { killed = true; kill(); }, o.killAfterMs) : null;
    p.on('close', (code, signal) => {
      clearTimeout(t);
      if (k) clearTimeout(k);
      kill(); // a worker left behind by a CLI that died
      running.delete(p.pid!);
      done({ code, signal, stdout, stderr, ms: performance.now() - t0, timedOut, killed });
    });
  });
}

/** a raw stack trace or an uncaught JS error on stderr (what a user must never see) */
const RAW = /^\s+at (?:.+ \()?(?:file:|node:|\/|<anonymous>)|^(?:Uncaught )?(?:TypeError|SyntaxError|RangeError|ReferenceError|EvalError|URIError|AggregateError|Error)(?: \[\w+\])?: |^Node\.js v\d|FATAL ERROR|^node:internal/m;

/**
 * The verdict on a run that did not end with exit 0 (null when it did: the case's oracle decides then).
 * clear: an InherituneError's "inheritune-rt: ..." and "---> HINT:" that names one of `names` (the damaged file,
 * field or path); unclear: such a message that names none of them, or an exit != 0 with no message of that form.
 */
export function judgeExit(r: Res, names: string[]): Verdict | null {
  const first = (s: string) => s.split('\n').filter((l) => l.trim()).slice(0, 3).join(' | ').slice(0, 300);
  if (r.timedOut) return { kind: 'hang', detail: `no exit within ${Math.round(r.ms)} ms` };
  if (r.signal) return { kind: 'crash', detail: `killed by ${r.signal}; ${first(r.stderr)}` };
  if (r.code === 0) return null;
  if (RAW.test(r.stderr)) return { kind: 'crash', detail: `raw error/stack trace (exit ${r.code}): ${first(r.stderr)}` };
  if (r.code !== 1) return { kind: 'crash', detail: `exit ${r.code}: ${first(r.stderr)}` };
  const msg = r.stderr.slice(r.stderr.lastIndexOf('inheritune-rt: '));
  if (!r.stderr.includes('inheritune-rt: ') || !msg.includes('---> HINT:')) return { kind: 'unclear', detail: `exit 1 without an InherituneError message: ${first(r.stderr)}` };
  if (names.length && !names.some((n) => msg.includes(n))) return { kind: 'unclear', detail: `names none of ${JSON.stringify(names)}: ${first(msg)}` };
  return { kind: 'clear', detail: first(msg) };
}

/** the --json object a run printed (its last line that parses), or null */
export function jsonOut(r: Res): Record<string, any> | null {
  const lines = r.stdout.trim().split('\n').reverse();
  for (const l of lines) { try { const v = JSON.parse(l); if (v && typeof v === 'object') return v; } catch { /* next */ } }
  return null;
}
