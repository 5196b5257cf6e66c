// added: the one place where a tokenizer's added tokens (special tokens such as <|endoftext|>, <s>, </s>, and
// HF's non-special added tokens) are found in text, before the normalizer, pre-tokenizer and model see it.
// It follows Hugging Face tokenizers (AddedVocabulary::extract_and_normalize, find_matches):
//   1. the tokens with normalized = false are matched in the raw text: leftmost, longest first, non-overlapping;
//   2. every piece of text between them is normalized, and the tokens with normalized = true are matched in it
//      (as the normalizer writes their content);
//   single_word: a match touching a word character (Rust regex \w) on either side is left as text;
//   lstrip / rstrip: the match takes in the whitespace (Unicode White_Space) on its left / right.
// splitSpecialTokens (HF `split_special_tokens=True`, tokenizers' `encode_special_tokens`) leaves the special
// ones as text; a match skipped that way still covers its characters, as in tokenizers (aho-corasick's
// iterator has moved past it), so no shorter added token is looked for inside it.
// BpeTokenizer and SentencePieceTokenizer use it; llama2.c's tokenizer.bin (run.c) matches none.

export interface AddedToken {
  content: string;
  id: number;
  /** special (HF "special": true): <s>, </s>, <|endoftext|>; left as text under splitSpecialTokens */
  special: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  singleWord?: boolean;
  /** matched in the normalized text (default: not for special tokens, as HF's AddedToken) */
  normalized?: boolean;
}

/** text pieces (normalized when the tokenizer has a normalizer) and added-token ids, in order */
export type Piece = string | number;

interface Node { next: Map<number, Node>; tok: AddedToken | null }

const SPACE = /^\p{White_Space}$/u;
// Rust regex's Unicode \w
const WORD = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;
const isSpace = (c: number) => c < 0x80 ? c === 0x20 || (c >= 0x09 && c <= 0x0d) : SPACE.test(String.fromCharCode(c));
/** the character (code point) that ends at i */
function before(s: string, i: number): string {
  const c = s.charCodeAt(i - 1), h = i >= 2 ? s.charCodeAt(i - 2) : 0;
  return c >= 0xdc00 && c <= 0xdfff && h >= 0xd800 && h <= 0xdbff ? String.fromCharCode(h, c) : String.fromCharCode(c);
}
const hex4 = (c: number) => '\\u' + c.toString(16).padStart(4, '0');

/** one trie of token contents, with a regex of their first characters to find where a match can start */
class Matcher {
  private readonly root: Node = { next: new Map(), tok: null };
  private readonly starts: RegExp;

  constructor(tokens: { text: string; tok: AddedToken }[]) {
    const first = new Set<number>();
    for (const { text, tok } of tokens) {
      let n = this.root;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        let m = n.next.get(c);
        if (!m) n.next.set(c, m = { next: new Map(), tok: null });
        n = m;
      }
      n.tok ??= tok; // the first of two tokens that read the same (after normalization) wins
      first.add(text.charCodeAt(0));
    }
    this.starts = new RegExp(`[${[...first].map(hex4).join('')}]`, 'g');
  }

  /** the longest token at i (and its length), or null */
  private longest(s: string, i: number): [AddedToken, number] | null {
    let n: Node | undefined = this.root, best: [AddedToken, number] | null = null;
    for (let j = i; j < s.length && (n = n.next.get(s.charCodeAt(j))); j++) if (n.tok) best = [n.tok, j + 1 - i];
    return best;
  }

  /** splits s into text (given to onText, never empty) and token ids (pushed to out) */
  split(s: string, splitSpecial: boolean, out: Piece[], onText: (t: string) => void): void {
    const re = this.starts;
    re.lastIndex = 0;
    let start = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      const i = m.index, hit = this.longest(s, i);
      if (!hit) { re.lastIndex = i + 1; continue; }
      const [tok, len] = hit;
      let b = i, e = i + len;
      re.lastIndex = e;
      if (splitSpecial && tok.special) continue;
      if (tok.singleWord && ((b > 0 && WORD.test(before(s, b))) || (e < s.length && WORD.test(String.fromCodePoint(s.codePointAt(e)!))))) continue;
      if (tok.lstrip) while (b > start && isSpace(s.charCodeAt(b - 1))) b--;
      if (tok.rstrip) { while (e < s.length && isSpace(s.charCodeAt(e))) e++; re.lastIndex = e; }
      if (b > start) onText(s.slice(start, b));
      out.push(tok.id);
      start = e;
    }
    if (start < s.length) onText(start === 0 ? s : s.slice(start));
  }
}

export class AddedVocabulary {
  /** content -> id of every added token */
  readonly ids: ReadonlyMap<string, number>;
  /** ids of the special ones (decode's skipSpecialTokens) */
  readonly specialIds: ReadonlySet<number>;
  private readonly raw: Matcher | null;
  private readonly norm: Matcher | null;
  private readonly anyPlain: boolean; // a non-special token exists (matched even under splitSpecialTokens)

  constructor(readonly tokens: readonly AddedToken[], private readonly normalize: ((s: string) => string) | null = null) {
    const usable = tokens.filter((t) => t.content.length > 0);
    this.ids = new Map(tokens.map((t) => [t.content, t.id]));
    this.specialIds = new Set(tokens.filter((t) => t.special).map((t) => t.id));
    const isNorm = (t: AddedToken) => t.normalized ?? !t.special;
    const raw = usable.filter((t) => !isNorm(t)).map((tok) => ({ text: tok.content, tok }));
    const norm = usable.filter(isNorm).map((tok) => ({ text: normalize ? normalize(tok.content) : tok.content, tok })).filter((x) => x.text.length > 0);
    this.raw = raw.length ? new Matcher(raw) : null;
    this.norm = norm.length ? new Matcher(norm) : null;
    this.anyPlain = usable.some((t) => !t.special);
  }

  /** Text pieces (normalized) and added-token ids, as HF's extract_and_normalize. */
  split(text: string, splitSpecial: boolean): Piece[] {
    const out: Piece[] = [];
    const normalized = (s: string) => {
      const n = this.normalize ? this.normalize(s) : s;
      if (!n) return;
      if (this.norm && (this.anyPlain || !splitSpecial)) this.norm.split(n, splitSpecial, out, (t) => out.push(t));
      else out.push(n);
    };
    if (this.raw && (this.anyPlain || !splitSpecial)) this.raw.split(text, splitSpecial, out, normalized);
    else if (text) normalized(text);
    return out;
  }
}
