// pack: text -> documents -> token streams -> llm.c shards (src/data/shard.ts), streaming with bounded
// memory. Isomorphic: the Node-only file reading and writing is in src/node/pack.ts; browsers feed
// DocSplitter/Packer themselves.
// Each document becomes [BOS] + tokens (or tokens + [EOS], or both: `separator`), llm.c/llama2.c style; the
// streams of all documents are concatenated and cut into shards of `shardTokens` (a document may straddle two).
// Selection is per document and stateless: document i is kept iff hash(seed, i) < the subset fraction, and a
// kept one goes to validation iff hash'(seed, i) < the val fraction, so a run is reproducible and independent of
// chunking. "N tokens" targets turn into fractions of the expected corpus size (src/node/pack.ts estimates it
// from a sample), with 5% headroom; the subset then stops at exactly N tokens, the val split once it holds >= N.
import { fail } from '../util/errors.js';
import { chunks } from '../tokenizers/encoding.js';
import type { Tokenizer } from '../tokenizers/types.js';
import { encodeShard, shardVersionFor } from './shard.js';

// ---- amounts and selection ------------------------------------------------------------------------------------

export type Amount = { fraction: number } | { tokens: number };

/** "0.1%" -> { fraction: 0.001 }; "5M tokens", "250000 tokens", "1.5B", 250000 -> { tokens }. */
export function parseAmount(spec: string | number, what: string): Amount {
  const hint = `give ${what} as a percentage ("0.1%") or a token count ("5M tokens", "250000 tokens")`;
  if (typeof spec === 'number') {
    if (!(Number.isInteger(spec) && spec >= 0)) fail(`${what}: ${spec} is not a token count`, hint);
    return { tokens: spec };
  }
  const s = spec.trim();
  const pct = /^([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*%$/i.exec(s);
  if (pct) {
    const f = Number(pct[1]) / 100;
    if (!(f >= 0 && f <= 1)) fail(`${what}: ${spec} is not between 0% and 100%`, hint);
    return { fraction: f };
  }
  const tok = /^([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmb]?)\s*(tokens?)?$/i.exec(s);
  if (!tok) fail(`${what}: cannot read ${JSON.stringify(spec)}`, hint);
  const mult = { '': 1, k: 1e3, m: 1e6, b: 1e9 }[tok[2].toLowerCase()]!;
  return { tokens: Math.round(Number(tok[1]) * mult) };
}

/** A uniform number in [0, 1) for document `index` in selection stream `stream` (murmur3 fmix32 rounds). */
export function docHash(seed: number, index: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  for (const w of [index >>> 0, Math.floor(index / 4294967296)]) {
    h = Math.imul(h ^ w, 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
    h = Math.imul(h, 0x1b873593);
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  }
  return (h >>> 0) / 4294967296;
}

// ---- documents ------------------------------------------------------------------------------------------------

export type DocMode = 'file' | 'jsonl' | 'blankline';

/** Where DocSplitter sends documents (a Packer is one). */
export interface DocSink { begin(): void; text(s: string): void | Promise<void>; end(): void | Promise<void> }

/**
 * Cuts a stream of text chunks into documents. 'file': the whole stream is one document, passed on in pieces
 * as it comes (never held whole); 'jsonl': one JSON record per line, the document is its `textField`;
 * 'blankline': blocks of lines separated by blank (empty or whitespace-only) lines, without the line break
 * that ends the block. Call start(), push(chunk)..., finish() per input file (a document never spans files).
 */
export class DocSplitter {
  private buf = '';
  private block: string[] = [];
  private line = 0;
  constructor(readonly mode: DocMode, private readonly sink: DocSink, readonly textField = 'text', readonly name = 'input') {
    if (!['file', 'jsonl', 'blankline'].includes(mode)) fail(`documents: unknown mode '${mode}'`, "use 'file', 'jsonl' or 'blankline'");
  }

  start(): void { this.line = 0; if (this.mode === 'file') this.sink.begin(); }

  async push(chunk: string): Promise<void> {
    if (this.mode === 'file') { if (chunk) await this.sink.text(chunk); return; }
    this.buf += chunk;
    let from = 0, nl: number;
    while ((nl = this.buf.indexOf('\n', from)) >= 0) {
      await this.onLine(this.buf.slice(from, nl));
      from = nl + 1;
    }
    this.buf = this.buf.slice(from);
  }

  async finish(): Promise<void> {
    if (this.mode === 'file') { await this.sink.end(); return; }
    if (this.buf) await this.onLine(this.buf);
    this.buf = '';
    await this.flushBlock();
  }

  private async onLine(line: string): Promise<void> {
    this.line++;
    if (this.mode === 'blankline') {
      if (line.trim() === '') await this.flushBlock();
      else this.block.push(line);
      return;
    }
    if (line.trim() === '') return;
    let rec: unknown;
    try { rec = JSON.parse(line); } catch (e) {
      fail(`${this.name}: line ${this.line} is not valid JSON (${(e as Error).message})`, 'pass JSON Lines (one object per line), or choose documents file/blankline');
    }
    const text = (rec as Record<string, unknown>)?.[this.textField];
    if (typeof text !== 'string') {
      fail(`${this.name}: line ${this.line} has no string field "${this.textField}"`, 'name the field that holds the text (textField)');
    }
    await this.doc(text);
  }

  private async flushBlock(): Promise<void> {
    if (!this.block.length) return;
    const last = this.block.length - 1;
    if (this.block[last].endsWith('\r')) this.block[last] = this.block[last].slice(0, -1);
    const text = this.block.join('\n');
    this.block = [];
    await this.doc(text);
  }

  private async doc(text: string): Promise<void> { this.sink.begin(); await this.sink.text(text); await this.sink.end(); }
}

// ---- the packer ---------------------------------------------------------------------------------------------

export interface PackOptions {
  /** Tokens per shard (llm.c uses 1e8). Default 1e7. */
  shardTokens?: number;
  /** Separator between documents: 'bos' (prepend; default when the tokenizer has a BOS), 'eos' or 'both'. */
  separator?: 'bos' | 'eos' | 'both';
  /** Keep only this much of the corpus: "0.1%" or "N tokens" (default all). */
  subset?: string | number;
  /** Validation split: "1%" of the kept documents or "N tokens" (default "0.5%"; 0 for none). */
  val?: string | number;
  /** Seed of the selection hashes (default 1337). */
  seed?: number;
  /** Estimated tokens in the whole corpus, needed by "N tokens" amounts (src/node/pack.ts estimates it). */
  expectedTokens?: number;
  /** Characters of one document encoded at a time (long 'file' documents are cut at " word"). Default 1M. */
  chunkChars?: number;
}

export interface SplitSummary { tokens: number; shards: number; docs: number }
export interface PackSummary { version: 1 | 2; docs: number; kept: number; train: SplitSummary; val: SplitSummary; truncated: boolean }
export type ShardSink = (split: 'train' | 'val', index: number, shard: Uint8Array) => void | Promise<void>;

/** The first cut piece of a document is encoded as is; the rest continue it (see encoding.ts safeCut). Special
 *  tokens written in the text become their ids unless the tokenizer was loaded with splitSpecialTokens. */
function encodePiece(tok: Tokenizer, s: string, first: boolean): ArrayLike<number> {
  const t = tok as Tokenizer & { encodeContinuation?(s: string): ArrayLike<number> };
  if (!first && t.encodeContinuation) return t.encodeContinuation(s);
  if (!first && tok.kind === 'llama2c') return tok.encode(s.slice(1), { bos: false }); // run.c adds the " " prefix
  return tok.encode(s, { bos: false });
}

class SplitWriter {
  buf: Uint32Array;
  n = 0;
  s: SplitSummary = { tokens: 0, shards: 0, docs: 0 };
  constructor(readonly split: 'train' | 'val', readonly shardTokens: number, readonly version: 1 | 2, readonly sink: ShardSink) {
    this.buf = new Uint32Array(Math.min(shardTokens, 1 << 16));
  }
  async push(ids: ArrayLike<number>, limit = Infinity): Promise<number> {
    let k = 0;
    while (k < ids.length && this.s.tokens < limit) {
      if (this.n === this.buf.length) {
        if (this.n === this.shardTokens) await this.flush();
        else { const b = new Uint32Array(Math.min(this.shardTokens, this.buf.length * 2)); b.set(this.buf); this.buf = b; }
      }
      const take = Math.min(ids.length - k, this.buf.length - this.n, limit - this.s.tokens);
      for (let i = 0; i < take; i++) this.buf[this.n + i] = ids[k + i];
      this.n += take; k += take; this.s.tokens += take;
    }
    return k;
  }
  async flush(): Promise<void> {
    if (!this.n) return;
    await this.sink(this.split, this.s.shards++, encodeShard(this.buf.subarray(0, this.n), this.version));
    this.n = 0;
  }
}

/**
 * Streams documents into train/val shards. Call begin(), text(piece)..., end() per document (or add(text)),
 * awaiting each, then finish(). Memory: one shard buffer per split plus one chunk of text.
 */
export class Packer {
  readonly version: 1 | 2;
  private readonly train: SplitWriter;
  private readonly valw: SplitWriter;
  private readonly keepFrac: number;
  private readonly valFrac: number;
  private readonly subsetTokens: number;
  private readonly valTokens: number;
  private readonly seed: number;
  private readonly sep: 'bos' | 'eos' | 'both';
  private readonly chunkChars: number;
  private doc = -1;
  private kept = 0;
  private target: SplitWriter | null = null;
  private pending = '';
  private first = true;
  private done = false;

  constructor(readonly tok: Tokenizer, readonly opts: PackOptions, sink: ShardSink) {
    this.version = shardVersionFor(tok.vocabSize);
    const shardTokens = opts.shardTokens ?? 10_000_000;
    if (!(Number.isInteger(shardTokens) && shardTokens > 0)) fail(`shardTokens must be a positive integer, got ${shardTokens}`);
    this.train = new SplitWriter('train', shardTokens, this.version, sink);
    this.valw = new SplitWriter('val', shardTokens, this.version, sink);
    this.seed = (opts.seed ?? 1337) >>> 0;
    this.chunkChars = opts.chunkChars ?? 1 << 20;
    this.sep = opts.separator ?? (tok.bos !== null ? 'bos' : 'eos');
    if ((this.sep !== 'eos' && tok.bos === null) || (this.sep !== 'bos' && tok.eos === null)) {
      fail(`separator '${this.sep}' needs a ${tok.bos === null ? 'BOS' : 'EOS'} token, which this ${tok.kind} tokenizer lacks`,
        `use separator '${tok.bos === null ? 'eos' : 'bos'}'`);
    }
    const frac = (a: Amount, base: number, what: string) => {
      if ('fraction' in a) return a.fraction;
      if (!opts.expectedTokens) fail(`${what} "${a.tokens} tokens" needs the expected corpus size`, 'pass expectedTokens (src/node/pack.ts estimates it), or give a percentage');
      return Math.min(1, (a.tokens / base) * 1.05);
    };
    const subset = parseAmount(opts.subset ?? '100%', '`subset`');
    this.subsetTokens = 'tokens' in subset ? subset.tokens : Infinity;
    this.keepFrac = frac(subset, opts.expectedTokens ?? 1, 'subset');
    const val = parseAmount(opts.val ?? '0.5%', '`val`');
    this.valTokens = 'tokens' in val ? val.tokens : Infinity;
    const keptTokens = Math.min(this.subsetTokens, (opts.expectedTokens ?? 1) * this.keepFrac);
    this.valFrac = 'tokens' in val && val.tokens === 0 ? 0 : frac(val, keptTokens, 'val');
  }

  /**
   * Starts document number `docs` (0, 1, ...) and decides where it goes; `split` puts it there instead
   * (kept whatever the subset: src/node/pack.ts's split of a single document into its head and tail).
   */
  begin(split?: 'train' | 'val'): void {
    if (this.target !== null || this.pending) fail('Packer.begin() inside a document', 'call end() first');
    this.doc++;
    this.first = true;
    if (!split && (this.done || docHash(this.seed, this.doc, 0) >= this.keepFrac)) { this.target = null; this.first = false; return; }
    this.kept++;
    const toVal = split ? split === 'val' : docHash(this.seed, this.doc, 1) < this.valFrac && this.valw.s.tokens < this.valTokens;
    this.target = toVal ? this.valw : this.train;
    this.target.s.docs++;
  }

  /** Adds text to the current document; encodes whole chunks as soon as a safe cut is known. */
  async text(s: string): Promise<void> {
    if (!this.target) return;
    this.pending += s;
    if (this.pending.length < 2 * this.chunkChars) return;
    const parts = [...chunks(this.pending, this.chunkChars)];
    this.pending = parts.pop()!;
    for (const p of parts) await this.emit(p);
  }

  async end(): Promise<void> {
    if (this.target) {
      await this.emit(this.pending);
      if (this.sep !== 'bos') await this.put([this.tok.eos!]);
    }
    this.pending = '';
    this.target = null;
  }

  async add(text: string): Promise<void> { this.begin(); await this.text(text); await this.end(); }

  private async emit(piece: string): Promise<void> {
    const start = this.first;
    if (start && this.sep !== 'eos') await this.put([this.tok.bos!]);
    this.first = false;
    if (piece) await this.put(encodePiece(this.tok, piece, start));
  }

  private async put(ids: ArrayLike<number>): Promise<void> {
    const t = this.target!;
    if (t === this.train) {
      await t.push(ids, this.subsetTokens - this.valw.s.tokens);
      if (t.s.tokens + this.valw.s.tokens >= this.subsetTokens) this.done = true;
    } else await t.push(ids);
  }

  get docs(): number { return this.doc + 1; }

  async finish(): Promise<PackSummary> {
    if (this.target) await this.end();
    await this.train.flush();
    await this.valw.flush();
    return { version: this.version, docs: this.doc + 1, kept: this.kept, train: this.train.s, val: this.valw.s, truncated: this.done };
  }
}
