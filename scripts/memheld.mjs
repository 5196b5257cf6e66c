// memheld: the memory a process tree holds, sampled while it runs (scripts/big-train.mjs).
// Peak RSS (/usr/bin/time -v) undercounts on a CPU adapter: lavapipe keeps all "GPU" memory in one
// memfd, and a freed buffer's pages stay in it (counted by the kernel as Shmem) after they are unmapped
// from the process, so they leave its RSS but not the machine's RAM. Held = RSS anon + RSS file of every
// process in the tree + the blocks of each memfd it has open (counted once; its mapped pages are the
// RssShmem that RSS also counts, so that part is not added twice).
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

const kb = (status, key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;

/** pids of root and its descendants */
function tree(root) {
  const kids = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(p));
    } catch { /* gone */ }
  }
  const out = [], todo = [root];
  while (todo.length) { const p = todo.pop(); out.push(p); todo.push(...(kids.get(p) ?? [])); }
  return out;
}

/** one sample: { rss: anon + file bytes, memfd: bytes held by open memfds, held: their sum } */
export function sample(root) {
  let rss = 0, memfd = 0;
  const seen = new Set();
  for (const p of tree(root)) {
    try {
      const st = readFileSync(`/proc/${p}/status`, 'utf8');
      rss += kb(st, 'RssAnon') + kb(st, 'RssFile');
      for (const f of readdirSync(`/proc/${p}/fd`)) {
        const l = readlinkSync(`/proc/${p}/fd/${f}`);
        if (!l.startsWith('/memfd:')) continue;
        const s = statSync(`/proc/${p}/fd/${f}`);
        if (seen.has(s.ino)) continue;
        seen.add(s.ino);
        memfd += s.blocks * 512;
      }
    } catch { /* gone */ }
  }
  return { rss, memfd, held: rss + memfd };
}

/** sample root's tree every ms until stop() is called; stop() gives the peak of each */
export function watch(root, ms = 200) {
  const peak = { rss: 0, memfd: 0, held: 0 };
  const tick = () => { const s = sample(root); for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], s[k]); };
  const t = setInterval(tick, ms);
  return { stop: () => { clearInterval(t); tick(); return peak; } };
}
