// fuzz/mutate: seeded mutators for the fuzz test (test/fuzz.test.ts). JSON documents are mutated as trees that
// can hold what JSON.stringify cannot write (a key twice, NaN, 1e999 = Infinity, 10,000-deep nesting), then
// written out by emit(); binary files by byte-level mutators. Every mutator records what it did, so a failing
// case can be described and re-made from its seed.

/** mulberry32: a small seeded PRNG */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = next as Rng;
  r.int = (n) => Math.floor(next() * n);
  r.pick = (xs) => xs[Math.floor(next() * xs.length)];
  r.chance = (p) => next() < p;
  return r;
}
export interface Rng {
  (): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
}

// ---- JSON trees -----------------------------------------------------------------------------------------------

export type Node =
  | { k: 'obj'; entries: [string, Node][] }
  | { k: 'arr'; items: Node[] }
  | { k: 'lit'; v: string | number | boolean | null }
  | { k: 'raw'; text: string }; // written as is: NaN, 1e999, deep nesting, broken JSON

export function toTree(v: unknown): Node {
  if (Array.isArray(v)) return { k: 'arr', items: v.map(toTree) };
  if (v !== null && typeof v === 'object') return { k: 'obj', entries: Object.entries(v).map(([k, x]) => [k, toTree(x)]) };
  return { k: 'lit', v: v as string | number | boolean | null };
}

export function emit(n: Node): string {
  switch (n.k) {
    case 'obj': return '{' + n.entries.map(([k, v]) => JSON.stringify(k) + ':' + emit(v)).join(',') + '}';
    case 'arr': return '[' + n.items.map(emit).join(',') + ']';
    case 'raw': return n.text;
    default: return JSON.stringify(n.v) ?? 'null';
  }
}

export const clone = (n: Node): Node => structuredClone(n);

const NUMBERS: (number | string)[] = [0, -0, 1, -1, 2, 3, 0.5, -0.5, 255, 256, 511, 512, 65535, 65536, 1e9, 2 ** 31, 2 ** 31 - 1, -(2 ** 31),
  2 ** 32, 2 ** 53, 1e308, -1e308, 1e-320, 'NaN', '1e999', '-1e999', 'Infinity'];
const STRINGS = ['', ' ', 'x', 'BPE', 'Sequence', 'Replace', 'Metaspace', 'ByteLevel', 'Prepend', 'NFKC', 'WordPiece', 'Split', '<s>', '</s>',
  '<unk>', '<|endoftext|>', '\u2581', '\u2581\u2581', 'always', 'never', 'first', 'F8', 'I32', 'U32', '(a+)+$', '(?=x)', '\\1', '[',
  '\u0000', '\ud800', '\udc00x', 'a b', 'a b c', 'Ġ t', '\u{1F642}', 'x'.repeat(2000)];

/** A value of a random kind (what a field type swap puts in) */
export function randomValue(r: Rng): Node {
  switch (r.int(7)) {
    case 0: return { k: 'lit', v: null };
    case 1: return { k: 'lit', v: r.chance(0.5) };
    case 2: { const x = r.pick(NUMBERS); return typeof x === 'string' ? { k: 'raw', text: x } : { k: 'lit', v: x }; }
    case 3: return { k: 'lit', v: r.pick(STRINGS) };
    case 4: return { k: 'arr', items: r.chance(0.5) ? [] : [randomValue(r)] };
    case 5: return { k: 'obj', entries: r.chance(0.5) ? [] : [[r.pick(['type', 'id', 'content', 'a']), randomValue(r)]] };
    default: return deep(r);
  }
}

/** nesting 1,000 .. 100,000 deep (JSON.parse takes it; a recursive walk over it overflows the stack) */
function deep(r: Rng): Node {
  const d = r.pick([1000, 10000, 100000]);
  return r.chance(0.5) ? { k: 'raw', text: '['.repeat(d) + ']'.repeat(d) } : { k: 'raw', text: '{"a":'.repeat(d) + '1' + '}'.repeat(d) };
}

/** A node chosen by a random walk down from the root that stops early (structure gets hit as often as leaves). */
function pickPath(r: Rng, root: Node): { node: Node; parent: Node | null; index: number } {
  let node = root, parent: Node | null = null, index = -1;
  for (;;) {
    const kids = node.k === 'obj' ? node.entries.length : node.k === 'arr' ? node.items.length : 0;
    if (kids === 0 || (parent !== null && r.chance(0.3))) return { node, parent, index };
    parent = node;
    index = r.int(kids);
    node = node.k === 'obj' ? node.entries[index][1] : (node as { items: Node[] }).items[index];
  }
}

function replaceAt(parent: Node | null, index: number, root: Node, by: Node): Node {
  if (!parent) return by;
  if (parent.k === 'obj') parent.entries[index][1] = by;
  else if (parent.k === 'arr') parent.items[index] = by;
  return root;
}

/** One structural mutation of the tree (in place; returns the new root and what was done). */
export function mutateTree(r: Rng, root: Node): { root: Node; what: string } {
  const { node, parent, index } = pickPath(r, root);
  const op = r.int(12);
  switch (op) {
    case 0: case 1: return { root: replaceAt(parent, index, root, randomValue(r)), what: 'type swap' };
    case 2: { // huge / special numbers
      const x = r.pick(NUMBERS);
      return { root: replaceAt(parent, index, root, typeof x === 'string' ? { k: 'raw', text: x } : { k: 'lit', v: x }), what: `number ${x}` };
    }
    case 3: return { root: replaceAt(parent, index, root, r.pick<Node>([{ k: 'lit', v: '' }, { k: 'arr', items: [] }, { k: 'obj', entries: [] }])), what: 'empty' };
    case 4: return { root: replaceAt(parent, index, root, deep(r)), what: 'deep nesting' };
    case 5: { // a key twice (the copy mutated or not)
      if (parent?.k !== 'obj') break;
      const [k, v] = parent.entries[index];
      if (r.chance(0.3)) parent.entries.splice(index, 0, [k, deep(r)]); // an earlier copy that JSON.parse drops: deep nesting hides there
      else parent.entries.splice(r.int(parent.entries.length + 1), 0, [k, r.chance(0.5) ? clone(v) : randomValue(r)]);
      return { root, what: `duplicate key ${JSON.stringify(k).slice(0, 20)}` };
    }
    case 6: { // delete
      if (parent?.k === 'obj') parent.entries.splice(index, 1);
      else if (parent?.k === 'arr') parent.items.splice(index, 1);
      else break;
      return { root, what: 'delete' };
    }
    case 7: { // wrong length
      if (node.k !== 'arr') break;
      if (r.chance(0.5) && node.items.length) node.items.length = r.int(node.items.length);
      else node.items.push(node.items.length && r.chance(0.5) ? clone(r.pick(node.items)) : randomValue(r));
      return { root, what: 'array length' };
    }
    case 8: { // string edits
      if (node.k !== 'lit' || typeof node.v !== 'string') break;
      const s = node.v, at = r.int(s.length + 1);
      const ins = r.pick(['\ud800', '\u2581', ' ', '\u0000', 'é', '\u{1F642}', 'x', '\n']);
      node.v = r.pick([s.slice(0, at) + ins + s.slice(at), s.slice(0, at) + s.slice(at + 1), s.repeat(r.pick([2, 50, 1000])), r.pick(STRINGS)]);
      return { root, what: 'string edit' };
    }
    case 9: { // rename a key
      if (parent?.k !== 'obj') break;
      const e = parent.entries[index];
      e[0] = r.pick([e[0] + 'x', e[0].slice(1), e[0].toUpperCase(), '', '__proto__', 'type', r.pick(STRINGS)]);
      return { root, what: 'rename key' };
    }
    case 10: { // swap two siblings
      if (!parent) break;
      const list: Node[] = parent.k === 'obj' ? parent.entries.map((e) => e[1]) : parent.k === 'arr' ? parent.items : [];
      if (list.length < 2) break;
      const j = r.int(list.length);
      if (parent.k === 'obj') { const t = parent.entries[index][1]; parent.entries[index][1] = parent.entries[j][1]; parent.entries[j][1] = t; }
      else if (parent.k === 'arr') { const t = parent.items[index]; parent.items[index] = parent.items[j]; parent.items[j] = t; }
      return { root, what: 'swap siblings' };
    }
    default: break;
  }
  return { root: replaceAt(parent, index, root, randomValue(r)), what: 'type swap' };
}

/** 1-3 tree mutations, then (sometimes) text-level damage. */
export function mutateJson(r: Rng, seed: Node): { text: string; what: string } {
  let root = clone(seed);
  const whats: string[] = [];
  for (let n = 1 + r.int(3); n > 0; n--) {
    const m = mutateTree(r, root);
    root = m.root;
    whats.push(m.what);
  }
  let text = emit(root);
  if (r.chance(0.1)) {
    const at = r.int(text.length + 1);
    const kind = r.int(3);
    text = kind === 0 ? text.slice(0, at) : kind === 1 ? text.slice(0, at) + r.pick(['"', '}', ']', ',', '\\', '\u0000']) + text.slice(at + 1)
      : text.slice(0, at) + text.slice(at, at + 20) + text.slice(at);
    whats.push(['truncate', 'char flip', 'duplicate slice'][kind]);
  }
  return { text, what: whats.join(', ') };
}

// ---- bytes ----------------------------------------------------------------------------------------------------

const INTS = [0, 1, -1, 2, 7, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 1e6, 1e9, 0x7fffffff, -0x80000000, 0xffffffff];

/** One byte-level mutation of a copy of `b` (within [from, to) when given). */
export function mutateBytes(r: Rng, b: Uint8Array, from = 0, to = b.length): { bytes: Uint8Array; what: string } {
  const span = Math.max(1, to - from);
  const at = from + r.int(span);
  switch (r.int(7)) {
    case 0: return { bytes: b.slice(0, at), what: `truncate at ${at}` };
    case 1: {
      const out = b.slice();
      for (let n = 1 + r.int(4); n > 0; n--) out[from + r.int(span)] ^= 1 << r.int(8);
      return { bytes: out, what: 'bit flips' };
    }
    case 2: {
      const out = b.slice();
      for (let n = 1 + r.int(3); n > 0; n--) out[from + r.int(span)] = r.int(256);
      return { bytes: out, what: 'byte sets' };
    }
    case 3: { // a 4-byte little-endian integer at an aligned offset set to a special value
      const out = b.slice();
      const o = Math.min(at & ~3, out.length - 4);
      if (o >= 0) new DataView(out.buffer).setInt32(o, r.pick(INTS) | 0, true);
      return { bytes: out, what: `int at ${o}` };
    }
    case 4: { // insert random bytes
      const ins = Uint8Array.from({ length: 1 + r.int(8) }, () => r.int(256));
      return { bytes: concat([b.subarray(0, at), ins, b.subarray(at)]), what: `insert ${ins.length} at ${at}` };
    }
    case 5: { // delete a slice
      const n = 1 + r.int(16);
      return { bytes: concat([b.subarray(0, at), b.subarray(at + n)]), what: `delete ${n} at ${at}` };
    }
    default: { // duplicate a slice
      const n = 1 + r.int(32);
      return { bytes: concat([b.subarray(0, at + n), b.subarray(at, at + n), b.subarray(at + n)]), what: `duplicate ${n} at ${at}` };
    }
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.byteLength; }
  return out;
}

export const utf8 = (s: string) => new TextEncoder().encode(s);
