// hflayout: writes a model into a folder the way huggingface_hub lays out its cache, written here
// independently of src/node/hfcache.ts (from huggingface_hub's file_download.py): blobs named by the
// content's sha256 (an LFS file's etag), snapshots/<sha>/<file> as relative links ../../blobs/<hash>
// (or plain files, as on systems without symlinks), refs/<rev> holding the sha.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { InherituneError } from '../src/util/errors.js';
import type { Checkpoint } from '../src/model/config.js';

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** the git blob id of the content: the Hub's ETag for a file not stored in LFS */
export const gitSha1 = (b: Uint8Array) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
/** a stand-in commit sha for a name */
export const commitOf = (name: string) => createHash('sha1').update(`commit ${name}`).digest('hex');

/** the files of a test/ref/hf directory plus `extra`, as {name: bytes} */
export function filesOf(dir: string, extra: Record<string, string | Uint8Array> = {}): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const f of readdirSync(dir)) out[f] = new Uint8Array(readFileSync(join(dir, f)));
  for (const [k, v] of Object.entries(extra)) out[k] = typeof v === 'string' ? new TextEncoder().encode(v) : v;
  return out;
}

/** a tokenizer.json to make a snapshot complete (its content is not read by the cache lookup) */
export const TOKENIZER = { 'tokenizer.json': '{"model":{"type":"BPE","vocab":{},"merges":[]}}\n' };

/** lay out repo `owner/name` at commit `sha` in cache; refs: revision names pointed at it; returns the snapshot folder */
export function writeSnapshot(cache: string, id: string, sha: string, files: Record<string, Uint8Array>,
                              opts: { refs?: string[]; symlinks?: boolean } = {}): string {
  const repo = join(cache, `models--${id.replace('/', '--')}`);
  const snap = join(repo, 'snapshots', sha);
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  for (const [f, bytes] of Object.entries(files)) {
    const pointer = join(snap, f);
    mkdirSync(dirname(pointer), { recursive: true });
    if (opts.symlinks === false) { writeFileSync(pointer, bytes); continue; }
    writeFileSync(join(repo, 'blobs', sha256(bytes)), bytes);
    symlinkSync(join('..', '..', 'blobs', sha256(bytes)), pointer);
  }
  for (const ref of opts.refs ?? ['main']) {
    mkdirSync(dirname(join(repo, 'refs', ref)), { recursive: true });
    writeFileSync(join(repo, 'refs', ref), sha);
  }
  return snap;
}

/** a model read through the cache has exactly the config and tensors of the one read from its source */
export const expectSame = (got: Checkpoint, want: Checkpoint) => {
  expect(got.config).toEqual(want.config);
  expect(Object.keys(got.tensors).sort()).toEqual(Object.keys(want.tensors).sort());
  for (const k of Object.keys(want.tensors)) expect(got.tensors[k], k).toEqual(want.tensors[k]);
};

/** p rejects with an InherituneError whose message matches re */
export const fails = async (p: Promise<unknown>, re: RegExp) => {
  const e = await p.then(() => null, (e) => e);
  expect(e).toBeInstanceOf(InherituneError);
  expect(e.message).toMatch(re);
  return e as InherituneError;
};
