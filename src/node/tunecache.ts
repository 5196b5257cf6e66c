// tunecache: kernel variant choices (src/gpu/tune.ts) kept between processes, one JSON file
// ($XDG_CACHE_HOME or ~/.cache)/inheritune-rt/kernels.json holding { adapter: { key: variant } },
// written atomically (a temporary file, then a rename) so that concurrent processes never read half.
// A file that is missing or unreadable is an empty cache: tuning runs again.
import { readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TuneCache } from '../gpu/tune.js';

export function kernelCachePath(e: Record<string, string | undefined> = process.env): string {
  return join(e.XDG_CACHE_HOME || join(homedir(), '.cache'), 'inheritune-rt', 'kernels.json');
}

function readAll(path: string): Record<string, Record<string, string>> {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8'));
    return j && typeof j === 'object' && !Array.isArray(j) ? j : {};
  } catch {
    return {};
  }
}

export function fileTuneCache(path = kernelCachePath()): TuneCache {
  return {
    load: (adapter) => {
      const c = readAll(path)[adapter];
      return c && typeof c === 'object' ? c : {};
    },
    save: (adapter, choices) => {
      try {
        const all = readAll(path);
        all[adapter] = choices;
        mkdirSync(dirname(path), { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify(all, null, 1) + '\n');
        renameSync(tmp, path);
      } catch { /* a read-only home: the choices stay in memory */ }
    },
  };
}

/** kernel variants forced by the environment: INHERITUNE_MATMUL=subgroup|regs|tiled|scalar|auto,
 * INHERITUNE_MATMUL_F16=f16|f16tiled|auto (real f16 arithmetic), INHERITUNE_ATTENTION=subgroup2|subgroup|tiled|auto */
export function forcedKernels(e: Record<string, string | undefined> = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  if (e.INHERITUNE_MATMUL) out.matmul = e.INHERITUNE_MATMUL;
  if (e.INHERITUNE_MATMUL_F16) out.matmul_f16 = e.INHERITUNE_MATMUL_F16;
  if (e.INHERITUNE_ATTENTION) out.attention = e.INHERITUNE_ATTENTION;
  return out;
}
