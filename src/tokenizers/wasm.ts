// wasm: one instance of the AssemblyScript module (asm/, embedded by scripts/gen.mjs) per tokenizer, and the
// typed view of the exports used by bpe.ts, sentencepiece.ts and llama2c.ts. The module is compiled once and
// cached.
// Memory may grow in any call that allocates: take views of `memory.buffer` only after the call.
import { ASM_WASM_BASE64 } from '../gen/asm.js';

export interface AsmExports {
  memory: WebAssembly.Memory;
  vocab_init(n: number, blobLen: number): number;
  vocab_build(): number;
  vocab_offs_ptr(): number;
  vocab_lens_ptr(): number;
  vocab_blob_ptr(): number;
  vocab_scores_ptr(): number;
  vocab_flags_ptr(): number;
  bpe_init(nMerges: number, mode: number, unkId: number, fuseUnk: number): number;
  bpe_merge_add(a: number, b: number, rank: number, id: number): void;
  bpe_byte_ids_ptr(): number;
  bpe_build(): void;
  bpe_begin(nBytes: number, nWords: number, maxWordBytes: number): number;
  bpe_ends_ptr(): number;
  bpe_out_ptr(): number;
  bpe_encode(nBytes: number, nWords: number): number;
  spm_init(unkId: number, byteFallback: number, wordMode: number): number;
  spm_byte_ids_ptr(): number;
  spm_build(): void;
  spm_begin(nBytes: number): number;
  spm_encode(nBytes: number): number;
  spm_out_ptr(): number;
  tok_init(): number;
  tok_encode_begin(n: number): number;
  tok_encode(n: number, bos: number): number;
  tok_out_ptr(): number;
}

let compiled: Promise<WebAssembly.Module> | undefined;

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export async function instantiateAsm(): Promise<AsmExports> {
  compiled ??= WebAssembly.compile(decodeBase64(ASM_WASM_BASE64));
  const instance = await WebAssembly.instantiate(await compiled, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number): never {
        throw new Error(`asm abort at ${line}:${col}`);
      },
    },
  });
  return instance.exports as unknown as AsmExports;
}

/** Copies piece bytes into the vocab blocks of a fresh instance (vocab.ts steps 1-3); returns false on OOM. */
export function loadVocab(asm: AsmExports, pieces: readonly Uint8Array[], scores?: ArrayLike<number>,
  flags?: ArrayLike<number>): boolean {
  const n = pieces.length;
  let blobLen = 0;
  for (const p of pieces) blobLen += p.length;
  if (!asm.vocab_init(n, blobLen)) return false;
  const buf = asm.memory.buffer;
  const offs = new Int32Array(buf, asm.vocab_offs_ptr(), n);
  const lens = new Int32Array(buf, asm.vocab_lens_ptr(), n);
  const blob = new Uint8Array(buf, asm.vocab_blob_ptr(), blobLen);
  let o = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = o;
    lens[i] = pieces[i].length;
    blob.set(pieces[i], o);
    o += pieces[i].length;
  }
  if (scores) new Float32Array(buf, asm.vocab_scores_ptr(), n).set(scores);
  if (flags) new Uint8Array(buf, asm.vocab_flags_ptr(), n).set(flags);
  return asm.vocab_build() >= 0;
}
