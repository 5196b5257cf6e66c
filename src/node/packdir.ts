// node/packdir: a directory of token shards as `pack` owns it. pack writes into a hidden temporary
// directory beside --out and moves the result in only when it is complete (installPack), so a pack
// killed midway leaves nothing in --out; it replaces only the shards an earlier pack there listed in its
// manifest (earlierPack: shards it did not write are refused, never removed); and a directory holding a
// manifest is read only when its shards are the ones the manifest lists, with the token counts it
// records (checkPackDir). A directory of shards with no manifest (llm.c's own) is read as it is.
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseShardHeader, SHARD_HEADER_BYTES } from '../data/shard.js';
import { fail, InherituneError } from '../util/errors.js';
import { readHead, readRegularText } from './bytes.js';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `${prefix}_train_NNNNNN.bin` / `${prefix}_val_NNNNNN.bin` (one split, or both) */
export const shardName = (prefix: string, split?: 'train' | 'val') => new RegExp(`^${esc(prefix)}_(${split ?? 'train|val'})_\\d+\\.bin$`);
export const manifestName = (prefix: string) => `${prefix}_pack.json`;

const REPACK = 'the pack did not finish, or the directory was changed after it: pack again into a new --out (or the same with --force)';

/** the real path of an --out that may not exist yet (so the temporary directory is on its file system) */
function realOut(outDir: string): string {
  return existsSync(outDir) ? realpathSync(outDir) : resolve(outDir);
}

/** an earlier pack's manifest: its shard names per split, or null when there is none or it cannot be read */
function manifestFiles(dir: string, prefix: string): { train: string[]; val: string[] } | null {
  const path = join(dir, manifestName(prefix));
  if (!existsSync(path)) return null;
  let m: { files?: { train?: unknown; val?: unknown } };
  try { m = JSON.parse(readRegularText(path, 'pack manifest')); } catch { return null; }
  const names = (x: unknown, split: 'train' | 'val') => (Array.isArray(x) ? x : []).filter((f): f is string => typeof f === 'string' && shardName(prefix, split).test(f));
  return { train: names(m?.files?.train, 'train'), val: names(m?.files?.val, 'val') };
}

/**
 * The shards an earlier pack in outDir wrote (its manifest lists them): what a new pack there replaces.
 * Shards it did not list (llm.c's own, a user's) are never removed: a directory holding them is refused.
 */
export function earlierPack(outDir: string, prefix: string): string[] {
  if (!existsSync(outDir)) return [];
  if (!statSync(outDir).isDirectory()) fail(`pack: --out ${outDir} is a file, not a directory`, 'pass a directory (new or empty) for --out');
  const m = manifestFiles(outDir, prefix);
  const listed = m ? [...m.train, ...m.val] : [];
  const foreign = readdirSync(outDir).filter((f) => shardName(prefix).test(f) && !listed.includes(f));
  if (foreign.length) {
    fail(`--out ${outDir} holds token shards that no earlier pack there wrote (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}): pack replaces only the shards its own manifest listed`,
      'pass another --out, or move those shards away');
  }
  return listed;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; } };

/**
 * A new temporary directory beside outDir (`.NAME.pack-PID`). Those a killed pack left (their process is
 * gone, and they hold only shards and a manifest) are removed first; anything else of that name is left alone.
 */
export function tempDir(outDir: string, prefix: string): string {
  const out = realOut(outDir), parent = dirname(out), re = new RegExp(`^\\.${esc(basename(out))}\\.pack-(\\d+)$`);
  mkdirSync(parent, { recursive: true });
  for (const f of readdirSync(parent)) {
    const m = re.exec(f);
    if (!m || (Number(m[1]) !== process.pid && alive(Number(m[1])))) continue;
    const d = join(parent, f);
    const ours = (() => { try { return readdirSync(d).every((x) => shardName(prefix).test(x) || x === manifestName(prefix)); } catch { return false; } })();
    if (ours) rmSync(d, { recursive: true, force: true });
  }
  const tmp = join(parent, `.${basename(out)}.pack-${process.pid}`);
  mkdirSync(tmp);
  return tmp;
}

/**
 * Moves a complete pack from tmp into outDir: a rename of the whole directory when outDir does not exist;
 * else the manifest first (from then until the last shard is in, the directory disagrees with it and
 * checkPackDir refuses it, so it is never read half-replaced), the earlier pack's shards the new one does
 * not overwrite removed, then each shard.
 */
export function installPack(tmp: string, outDir: string, prefix: string, earlier: readonly string[]): void {
  const out = realOut(outDir);
  if (!existsSync(out)) { renameSync(tmp, out); return; }
  const names = readdirSync(tmp), manifest = manifestName(prefix);
  renameSync(join(tmp, manifest), join(out, manifest));
  for (const f of earlier) if (!names.includes(f)) rmSync(join(out, f), { force: true });
  for (const f of names) if (f !== manifest) renameSync(join(tmp, f), join(out, f));
  rmdirSync(tmp);
}

/**
 * A shard directory against its manifest (`${prefix}_pack.json`), when it has one: each split's shards
 * are exactly the ones it lists (none missing, none extra) and hold the tokens it records. Reads the
 * 1024-byte headers only. No manifest: an llm.c shard directory, read as it is.
 */
export function checkPackDir(dir: string, prefix = 'data'): void {
  const path = join(dir, manifestName(prefix));
  if (!existsSync(path)) return;
  let m: Record<string, unknown>;
  try { m = JSON.parse(readRegularText(path, 'pack manifest')); } catch (e) {
    if (e instanceof InherituneError) throw e;
    return fail(`${path} is not valid JSON (${(e as Error).message})`, REPACK);
  }
  const files = (m?.files ?? {}) as { train?: unknown; val?: unknown };
  const present = readdirSync(dir);
  for (const split of ['train', 'val'] as const) {
    const listed = files[split];
    if (!Array.isArray(listed) || !listed.every((f) => typeof f === 'string' && shardName(prefix, split).test(f))) {
      fail(`${path}: files.${split} is not a list of ${prefix}_${split}_NNNNNN.bin shard names`, REPACK);
    }
    const missing = listed.filter((f) => !present.includes(f));
    if (missing.length) fail(`${dir}: its ${manifestName(prefix)} lists ${split === 'val' ? 'validation' : 'training'} shard(s) that are not there: ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}`, REPACK);
    const extra = present.filter((f) => shardName(prefix, split).test(f) && !listed.includes(f));
    if (extra.length) {
      fail(`${dir} holds ${split === 'val' ? 'validation' : 'training'} shard(s) that its ${manifestName(prefix)} does not list: ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', ...' : ''}`,
        'they would be read with the pack\'s own: move shards that pack did not write out of the directory, or pack again into a new --out');
    }
    const want = (m[split] as { tokens?: unknown } | undefined)?.tokens;
    let got = 0;
    for (const f of listed) {
      const { head, size } = readHead(join(dir, f), SHARD_HEADER_BYTES, 'token shard');
      got += parseShardHeader(head, join(dir, f), size).ntok;
    }
    if (typeof want === 'number' && want !== got) {
      fail(`${dir}: its ${manifestName(prefix)} says the ${split === 'val' ? 'validation' : 'training'} split holds ${want} tokens, but its shards hold ${got}`, REPACK);
    }
  }
}
