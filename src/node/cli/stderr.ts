// cli/stderr: keeps Dawn's two limit warnings off the terminal.
// When an adapter is requested, Dawn clamps two limits and says so on stderr, from native code
// (dawn::WarningLog in NormalizeLimits, src/dawn/native/Limits.cpp: an fprintf to stderr with no
// toggle, no instance option and no log callback in front of it):
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
// Node cannot redirect its own file descriptor 2, so a command that needs the GPU runs in a worker
// process (the same command line) whose stderr is a pipe read here: those two lines, whole lines
// exactly as Dawn prints them, are dropped; every other byte passes through at once (a progress bar
// too: the worker is told that stderr is a terminal). stdout is relayed unchanged (so the order of the
// two streams on one terminal stays the worker's), stdin is inherited, the worker's exit status
// becomes this process's, and signals sent to this process are passed on. If this
// process is killed outright (SIGKILL), the worker dies with it: on Linux the kernel kills it
// (setpriv --pdeathsig), elsewhere it kills itself when the pipe on its fd 3 closes.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { Socket } from 'node:net';
import { delimiter, join } from 'node:path';

const WORKER = 'INHERITUNE_CLI_WORKER';
/** set for the worker when this process's stderr is a terminal (its own is a pipe) */
export const STDERR_TTY = 'INHERITUNE_STDERR_TTY';

const DAWN_LIMIT_WARNING = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const PREFIX = 'Warning: maxDynamic';
const NL = 0x0a;

/**
 * A byte stream filter that drops Dawn's limit warnings, whole lines only. A partial line is held
 * back only while it can still become one of them (it is a prefix of one); anything else is written
 * as soon as it arrives.
 */
export class DawnWarningFilter {
  private held = Buffer.alloc(0);
  private atLineStart = true;
  constructor(private readonly write: (b: Buffer) => void) {}

  push(chunk: Uint8Array): void {
    let buf = this.held.length ? Buffer.concat([this.held, chunk]) : Buffer.from(chunk);
    this.held = Buffer.alloc(0);
    const out: Buffer[] = [];
    while (buf.length) {
      const nl = buf.indexOf(NL);
      if (nl < 0) {
        if (this.atLineStart && mayBecomeWarning(buf.toString('latin1'))) this.held = buf;
        else { out.push(buf); this.atLineStart = false; }
        break;
      }
      const line = buf.subarray(0, nl + 1);
      if (!(this.atLineStart && DAWN_LIMIT_WARNING.test(line.toString('latin1', 0, nl)))) out.push(line);
      this.atLineStart = true;
      buf = buf.subarray(nl + 1);
    }
    if (out.length) this.write(Buffer.concat(out));
  }

  /** the end of the stream: whatever is held back goes out */
  end(): void {
    if (this.held.length) this.write(this.held);
    this.held = Buffer.alloc(0);
  }
}

function mayBecomeWarning(s: string): boolean {
  // (a '\r' only as the last byte: the \r\n of a Windows line end)
  return PREFIX.startsWith(s) || (s.startsWith(PREFIX) && s.length < 256 && !s.slice(0, -1).includes('\r'));
}

/** true in the worker process */
export function isWorker(): boolean {
  return process.env[WORKER] === '1';
}

/** the worker's side: die with the parent when its end of the fd-3 pipe closes (a kill -9 of the parent) */
export function watchParent(): void {
  if (!isWorker() || process.env.INHERITUNE_PARENT_PIPE !== '1') return;
  const s = new Socket({ fd: 3, readable: true, writable: false });
  s.on('end', () => process.kill(process.pid, 'SIGKILL'));
  s.on('error', () => process.kill(process.pid, 'SIGKILL'));
  s.resume();
  s.unref();
}

function onPath(exe: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && existsSync(join(dir, exe))) return join(dir, exe);
  return null;
}

const FORWARD = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs this process's own command line again in a worker with stderr filtered, and ends this
 * process the way the worker ended (exit code, or the same signal).
 */
export function runInWorker(): void {
  const args = [...process.execArgv, process.argv[1], ...process.argv.slice(2)];
  const setpriv = process.platform === 'linux' ? onPath('setpriv') : null;
  const [exe, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', process.execPath, ...args]] : [process.execPath, args];
  const env = { ...process.env, [WORKER]: '1', INHERITUNE_PARENT_PIPE: '1', ...(process.stderr.isTTY ? { [STDERR_TTY]: '1' } : {}) };
  // stdout comes through this process too (unchanged), so that on a terminal (or a file) that both
  // streams share, a result line still follows the progress bar's last line as the worker wrote them
  const child = spawn(exe, argv, { stdio: ['inherit', 'pipe', 'pipe', 'pipe'], env });
  const filter = new DawnWarningFilter((b) => process.stderr.write(b));
  child.stderr!.on('data', (b: Buffer) => filter.push(b));
  child.stdout!.on('data', (b: Buffer) => process.stdout.write(b));
  // a reader of stdout that went away (| head): the worker then gets the broken pipe itself, as without a worker
  process.stdout.on('error', () => child.stdout!.destroy());
  const handlers = FORWARD.map((sig) => [sig, () => { child.kill(sig); }] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  child.on('error', (e) => {
    process.stderr.write(`inheritune-rt: could not start the worker process (${e.message})\n`);
    process.exitCode = 1;
  });
  child.on('close', (code, signal) => {
    filter.end();
    for (const [sig, h] of handlers) process.off(sig, h);
    if (signal) {
      process.exitCode = 128 + (constants.signals[signal] ?? 0);
      process.kill(process.pid, signal);
      return;
    }
    process.exitCode = code ?? 1;
  });
}
