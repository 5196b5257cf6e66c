// node/bytes: reading files the way every format reader here does: one check that a path is a regular
// file before anything is read from it (a FIFO, a device or a directory is refused by name), and the one
// rule for a file a directory names itself. Random access to a file's bytes: src/node/filesource.ts.
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, realpathSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join, dirname, basename, sep } from 'node:path';
import { fail, InherituneError } from '../util/errors.js';

// Opened non-blocking: opening a FIFO for reading otherwise waits for a writer forever; the kind of file
// is then checked on the open descriptor (fstat), so nothing can be swapped in between check and read.
// (O_NONBLOCK does nothing to a regular file's reads; Windows has no such flag and no FIFOs to open.)
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** what a non-regular file is, for the error */
function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** the error of an open or stat that failed (ENOENT, EACCES, ...), naming the file and saying what it was for */
function openError(path: string, what: string, e: unknown): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') fail(`${what} '${path}' does not exist`, 'check the path');
  if (code === 'EACCES' || code === 'EPERM') fail(`${what} '${path}' cannot be read (permission denied)`, 'check the file\'s permissions');
  if (code === 'ELOOP') fail(`${what} '${path}' is a link that loops`, 'point the link at a file');
  return fail(`${what} '${path}' cannot be opened (${code ?? (e as Error).message})`, 'check the path');
}

const ERRNO: Record<string, string> = {
  ENOENT: 'does not exist', EISDIR: 'is a directory where a file was expected', ENOTDIR: 'has a file where a directory was expected in its path',
  EACCES: 'cannot be accessed (permission denied)', EPERM: 'cannot be accessed (operation not permitted)', ELOOP: 'is a link that loops',
  ENOSPC: 'cannot be written: the disk is full', EROFS: 'cannot be written: the file system is read-only', EEXIST: 'already exists',
  ENOTEMPTY: 'is a directory that is not empty', EMFILE: 'cannot be opened: too many open files',
};

/**
 * A file-system error no reader anticipated (Node's ENOENT, EISDIR, ...: an Error with `code` and `path`) as
 * an InherituneError naming the file, so the CLI prints it instead of a stack trace; null for anything else.
 */
export function fileError(e: unknown): InherituneError | null {
  const x = e as NodeJS.ErrnoException;
  if (!(x instanceof Error) || typeof x.code !== 'string' || !(x.code in ERRNO) || typeof x.path !== 'string') return null;
  return new InherituneError(`'${x.path}' ${ERRNO[x.code]}${x.syscall ? ` (${x.syscall}, ${x.code})` : ''}`, 'check the path and what the command expects there (see `inheritune-rt COMMAND --help`)');
}

/** refuses a non-regular file (stats of the open file), naming it */
function checkRegular(path: string, what: string, s: Stats): void {
  if (s.isFile()) return;
  fail(`${what} '${path}' is ${kindOf(s)}, not a regular file`, s.isDirectory()
    ? 'pass the file itself, not a directory'
    : 'pass a regular file: pipes and devices are never read (a pipe may never end, and /dev/zero never does)');
}

/**
 * The one way every file this package reads is opened: a regular file (after links), opened for reading,
 * with its size; a missing file, a directory, a FIFO or a device is an error naming the file and `what`
 * it was for ('model', 'text file', 'token shard', ...). The caller closes the descriptor.
 */
export function openRegular(path: string, what = 'file'): { fd: number; size: number } {
  let fd: number;
  try { fd = openSync(path, READ_FLAGS); } catch (e) { return openError(path, what, e); }
  try {
    const s = fstatSync(fd);
    checkRegular(path, what, s);
    return { fd, size: s.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** the size of a regular file (refused as openRegular refuses) */
export function regularSize(path: string, what = 'file'): number {
  const { fd, size } = openRegular(path, what);
  closeSync(fd);
  return size;
}

/**
 * A whole regular file's bytes; `maxBytes` refuses a larger one before reading it (and bounds the read
 * if the file grows meanwhile), with `tooBig` as the hint.
 */
export function readRegular(path: string, what = 'file', limit?: { maxBytes: number; tooBig: string }): Buffer {
  const { fd, size } = openRegular(path, what);
  try {
    const max = limit?.maxBytes ?? Infinity;
    const big = (n: string) => fail(`${what} '${path}' is ${n} bytes, over the limit of ${limit!.maxBytes} bytes`, limit!.tooBig);
    if (size > max) big(String(size));
    // read to the end (the size may have changed since fstat), never past the limit
    let buf = Buffer.allocUnsafe(Math.min(size, max) + 1), got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > max) big(`over ${max}`);
        const more = Buffer.allocUnsafe(Math.min(buf.length * 2, max + 1));
        buf.copy(more, 0, 0, got);
        buf = more;
      }
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got > max) big(`over ${max}`);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** a regular file as UTF-8 text (config.json, an index, a manifest) */
export function readRegularText(path: string, what = 'file'): string {
  return readRegular(path, what).toString('utf8');
}

/** the first `n` bytes of a regular file (fewer if it is shorter), and its size */
export function readHead(path: string, n: number, what = 'file'): { head: Uint8Array; size: number } {
  const { fd, size } = openRegular(path, what);
  try {
    const head = new Uint8Array(Math.min(n, size));
    let got = 0;
    while (got < head.length) {
      const r = readSync(fd, head, got, head.length - got, got);
      if (r === 0) break;
      got += r;
    }
    return { head: head.subarray(0, got), size };
  } finally {
    closeSync(fd);
  }
}

/** openRegular's async twin: a FileHandle on a regular file, and its size */
export async function openRegularHandle(path: string, what = 'file'): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try { fh = await open(path, READ_FLAGS); } catch (e) { return openError(path, what, e); }
  try {
    const s = await fh.stat();
    checkRegular(path, what, s);
    return { fh, size: s.size };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * dir/f, for a file the directory names itself (index shards, tokenizer files): f must be a plain name,
 * and a link may not lead out of the directory (but for a huggingface_hub snapshot's links into its blobs/)
 */
export function inside(dir: string, f: string): string {
  if (!/^[^/\\]+$/.test(f) || f === '.' || f === '..') {
    fail(`${dir}: '${f}' is not a file name inside the model directory`, 'model directories name their files by plain names (no paths)');
  }
  const p = join(dir, f);
  if (existsSync(p)) {
    const real = realpathSync(p), root = realpathSync(dir);
    // a huggingface_hub cache snapshot (<repo>/snapshots/<sha>/) links its files into <repo>/blobs/
    const blobs = basename(dirname(root)) === 'snapshots' ? join(dirname(dirname(root)), 'blobs') + sep : null;
    if (!real.startsWith(root + sep) && !(blobs && real.startsWith(blobs))) fail(`${p} is a link that leaves ${dir} (it points at ${real})`, 'copy the file into the model directory instead of linking outside it');
  }
  return p;
}
