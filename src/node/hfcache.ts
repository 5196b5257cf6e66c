// node/hfcache: huggingface_hub's own cache, read and written in its layout so that a model downloaded
// with Python (`hf download`, snapshot_download, from_pretrained) is used as is, and ours is found by Python:
//   <cache>/models--<owner>--<name>/
//     refs/<revision>              the commit sha a branch or tag pointed at (refs/pr/1 nests folders)
//     snapshots/<sha>/<file>       the repo's files at that commit: relative symlinks to ../../blobs/<etag>,
//                                  or plain files where the system has no symlinks
//     blobs/<etag>                 the contents (LFS files: the sha256; others: the git blob sha1);
//                                  <etag>.incomplete while a transfer is under way (resumed with Range)
//     .no_exist/<sha>/<file>       empty: the repo has no such file at that commit (a 404 seen earlier)
//   <cache>/.locks/models--<owner>--<name>/   lock files (ours: inheritune-rt.lock, a pid)
// The cache is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (huggingface_hub's constants.py, in
// its order; an empty variable counts as unset). Offline: HF_HUB_OFFLINE, else TRANSFORMERS_OFFLINE,
// true for 1/ON/YES/TRUE in any case.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { shardFiles, type HubRepo } from '../formats/hub.js';

export type Env = Record<string, string | undefined>;

export const INDEX = 'model.safetensors.index.json';
/** the file sets that make a tokenizer the package reads (src/tokenizers/load.ts), in the Hub's names */
const TOKENIZER_SETS = [['tokenizer.json'], ['tokenizer.model'], ['vocab.json', 'merges.txt']];

/** the cache root and the variable that chose it (for error messages) */
export function hubCache(env: Env): { dir: string; from: string } {
  const home = env.HOME || env.USERPROFILE || homedir();
  const expand = (p: string) => (p === '~' || p.startsWith('~/') ? join(home, p.slice(1)) : p);
  for (const v of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE']) if (env[v]) return { dir: expand(env[v]!), from: `$${v}` };
  if (env.HF_HOME) return { dir: join(expand(env.HF_HOME), 'hub'), from: '$HF_HOME/hub' };
  if (env.XDG_CACHE_HOME) return { dir: join(expand(env.XDG_CACHE_HOME), 'huggingface', 'hub'), from: '$XDG_CACHE_HOME/huggingface/hub' };
  return { dir: join(home, '.cache', 'huggingface', 'hub'), from: '~/.cache/huggingface/hub' };
}

/** HF_HUB_OFFLINE (or, when that is unset or empty, TRANSFORMERS_OFFLINE) is 1, ON, YES or TRUE */
export function isOffline(env: Env): boolean {
  const v = env.HF_HUB_OFFLINE || env.TRANSFORMERS_OFFLINE;
  return v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.toUpperCase());
}

export const isCommit = (rev: string) => /^[0-9a-f]{40}$/.test(rev);

export function repoCacheDir(cache: string, r: HubRepo): string {
  return join(cache, `models--${r.owner}--${r.name}`);
}

export const snapshotDir = (repoDir: string, commit: string) => join(repoDir, 'snapshots', commit);
export const noExistPath = (repoDir: string, commit: string, file: string) => join(repoDir, '.no_exist', commit, file);
const isFile = (p: string) => existsSync(p) && statSync(p).isFile(); // follows links: a dangling one is no file

/**
 * The commit a revision names in the cache, as huggingface_hub's try_to_load_from_cache resolves it:
 * refs/<revision> when that file exists, else the revision itself (a commit sha); null when the
 * cache has no snapshot of it.
 */
export function cachedCommit(repoDir: string, revision: string): string | null {
  const ref = join(repoDir, 'refs', revision);
  const commit = isFile(ref) ? readFileSync(ref, 'utf8').trim() : revision;
  return /^[\w.-]+$/.test(commit) && existsSync(snapshotDir(repoDir, commit)) ? commit : null;
}

/**
 * What a snapshot lacks before the package can use it without the network (empty: complete):
 * config.json; the weights (model.safetensors, or the index and every shard it names); a tokenizer
 * (tokenizer.json, tokenizer.model or vocab.json + merges.txt), unless .no_exist records that the repo
 * has none. Other tokenizer side files (tokenizer_config.json, ...) are used when present, not required.
 */
export function missingFiles(repoDir: string, commit: string): string[] {
  const dir = snapshotDir(repoDir, commit);
  const has = (f: string) => isFile(join(dir, f));
  const known404 = (f: string) => existsSync(noExistPath(repoDir, commit, f));
  const missing: string[] = [];
  if (!has('config.json')) missing.push('config.json');
  if (has(INDEX)) {
    for (const s of shardFiles(readFileSync(join(dir, INDEX), 'utf8'), join(dir, INDEX))) if (!has(s)) missing.push(s);
  } else if (!has('model.safetensors')) {
    missing.push(`model.safetensors (or ${INDEX} and its shards)`);
  }
  const tokenizer = TOKENIZER_SETS.some((set) => set.every(has));
  const none = TOKENIZER_SETS.every((set) => set.some(known404));
  if (!tokenizer && !none) missing.push('a tokenizer (tokenizer.json, tokenizer.model or vocab.json + merges.txt)');
  return missing;
}

/** where hf:owner/name@rev is (or would be) in the cache, and what its snapshot lacks */
export interface CacheLookup {
  repoDir: string;
  /** the commit the revision resolves to in the cache, or null */
  commit: string | null;
  /** the snapshot folder when the commit has one */
  snapshot: string | null;
  /** missingFiles() of the snapshot; empty when it is complete */
  missing: string[];
}

export function lookup(cache: string, r: HubRepo): CacheLookup {
  const repoDir = repoCacheDir(cache, r);
  const commit = cachedCommit(repoDir, r.revision);
  if (!commit) return { repoDir, commit: null, snapshot: null, missing: ['the snapshot'] };
  return { repoDir, commit, snapshot: snapshotDir(repoDir, commit), missing: missingFiles(repoDir, commit) };
}

/** a sentence saying what the lookup found, for errors */
export function describe(l: CacheLookup, r: HubRepo, from: string): string {
  const where = `${l.repoDir} (the huggingface_hub cache, from ${from})`;
  if (!l.commit) {
    return isCommit(r.revision) || !existsSync(l.repoDir) ? `${where} has no snapshot of ${r.revision}`
      : `${where} has no refs/${r.revision} pointing at a snapshot`;
  }
  return `the snapshot ${l.snapshot} is incomplete (missing ${l.missing.join(', ')})`;
}
