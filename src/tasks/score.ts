// tasks/score: zero-shot evaluation scored the way lm-evaluation-harness scores a causal LM (lm_eval/models/
// huggingface.py HFLM: _encode_pair, loglikelihood, loglikelihood_rolling, _loglikelihood_tokens; the
// metrics of lm_eval/api/task.py and lm_eval/api/metrics.py), batched on the GPU. Prompts and files:
// src/tasks/data.ts. Reference: test/ref/tasks_ref.py (PyTorch, per request, float64).
//   request   (context, continuation) -> token ids: whole = enc(context + continuation), ctx = enc(context),
//             cont = whole[len(ctx):]; trailing whitespace of the context moves to the continuation first;
//             enc() prepends the tokenizer's BOS. Scored: seq = (ctx + cont)[-(maxLen+1):], input seq[:-1],
//             ll = sum of log p(cont token) over the last len(cont) positions, greedy = all of them argmax.
//   rolling   a page's tokens (no BOS) in windows of maxLen predictions, the first one after the BOS
//             (utils.get_rolling_token_windows with context_len 1, then make_disjoint_window).
// Batching: requests with the same input share a row (the harness's one-token-continuation logits
// cache does the same for boolq's " no"/" yes"); rows are sorted longest first and packed B at a time
// into one forward of (B,T), padded at the end (causal attention ignores the padding). One readback per
// batch: the per-token losses and, for requests that need them, the logits rows they score.
// Sizes: B rows, T positions, V vocab, maxLen = the model's maximum sequence length.
import type { Model } from '../model/model.js';
import { logitsStride } from '../model/config.js';
import type { View } from '../gpu/gpu.js';
import { slice } from '../gpu/view.js';
import { fail } from '../util/errors.js';
import { parseTask, pyRstrip, pyWordCount, type TaskName, type ChoiceDoc, type PageDoc } from './data.js';

export { TASK_FILES, TASK_DIRS, TASK_NAMES, parseTask, type TaskName } from './data.js';

/** What evaluateTask needs of a tokenizer: every tokenizer of src/tokenizers/load.ts fits. */
export interface TaskTokenizer {
  encode(text: string, opts?: { bos?: boolean }): number[];
  /** null: the tokenizer has no BOS (requests then get none, rolling windows start with the EOS) */
  bos?: number | null;
  eos?: number | null;
}

export interface TaskResult {
  task: TaskName;
  acc?: number;
  acc_norm?: number;
  /** lambada_openai: exp(-mean loglikelihood of the last word) */
  ppl?: number;
  word_perplexity?: number;
  byte_perplexity?: number;
  bits_per_byte?: number;
  /** items scored (wikitext: pages) */
  n: number;
  /** with opts.details, per item: the loglikelihood of each choice (lambada, wikitext: one), lambada's greedy flag */
  details?: { ll: number[]; greedy?: boolean }[];
}

export interface TaskOptions {
  /** score only the first `limit` items (wikitext: pages), as the harness's --limit */
  limit?: number;
  /** rows per forward (default 16; fewer when long rows would not fit ACT_BUDGET) */
  batch?: number;
  /** called after each batch: requests (wikitext: windows) scored so far, of all */
  onProgress?: (done: number, total: number) => void;
  details?: boolean;
}

// tasks whose harness config reports acc_norm (piqa, arc_easy, hellaswag); boolq and winogrande: acc only
const ACC_NORM = new Set<TaskName>(['piqa', 'arc_easy', 'hellaswag']);
const ACT_BUDGET = 512 * 2 ** 20; // bytes of activations one forward may take (rows are cut to fit)
const GATHER_BYTES = 128 * 2 ** 20; // logits read back at once, at most

/** a scored token sequence: the last n of seq[1:] are scored */
interface Req { seq: number[]; n: number; greedy: boolean }
interface Scored { ll: number; greedy: boolean }

export async function evaluateTask(model: Model, tok: TaskTokenizer, task: TaskName, files: Record<string, string>,
                                   opts: TaskOptions = {}): Promise<TaskResult> {
  const limit = opts.limit ?? Infinity;
  if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 1))) fail(`\`limit\` ${limit} must be a positive integer`);
  const docs = parseTask(task, files).slice(0, limit);
  const maxLen = model.config.maxSeqLen;
  const run = (reqs: Req[]) => scoreRequests(model, reqs, opts.batch ?? 16, opts.onProgress);
  if (task === 'wikitext') return rolling(docs as PageDoc[], tok, maxLen, run, opts.details);

  // 1) requests, one per choice, in document order
  const greedy = task === 'lambada_openai';
  const reqs: Req[] = [];
  for (const d of docs as ChoiceDoc[]) {
    for (const [c, x] of d.requests) reqs.push(request(...encodePair(tok, c, x), maxLen, greedy, task));
  }
  // 2) score them
  const scored = await run(reqs);
  // 3) per-item metrics, as process_results; then the mean (lambada ppl: exp(-mean ll))
  let k = 0, acc = 0, accNorm = 0, llSum = 0;
  const details: { ll: number[]; greedy?: boolean }[] = [];
  for (const d of docs as ChoiceDoc[]) {
    const s = scored.slice(k, k += d.requests.length);
    const lls = s.map((r) => r.ll);
    if (greedy) {
      acc += s[0].greedy ? 1 : 0;
      llSum += lls[0];
      details.push({ ll: lls, greedy: s[0].greedy });
      continue;
    }
    acc += argmax(lls) === d.gold ? 1 : 0;
    accNorm += argmax(lls.map((ll, i) => ll / [...d.choices[i]].length)) === d.gold ? 1 : 0; // len(choice): code points
    details.push({ ll: lls });
  }
  const n = docs.length;
  const out: TaskResult = { task, acc: acc / n, n };
  if (greedy) out.ppl = Math.exp(-llSum / n);
  if (ACC_NORM.has(task)) out.acc_norm = accNorm / n;
  if (opts.details) out.details = details;
  return out;
}

/** wikitext: rolling loglikelihood per page; word/byte perplexity over the original (tokenized) pages */
async function rolling(docs: PageDoc[], tok: TaskTokenizer, maxLen: number, run: (r: Req[]) => Promise<Scored[]>,
                       details?: boolean): Promise<TaskResult> {
  const prefix = prefixToken(tok);
  const reqs: Req[] = [], windows: number[] = [];
  for (const d of docs) {
    const w = rollingWindows(tok.encode(d.text, { bos: false }), prefix, maxLen);
    for (const [ctx, cont] of w) reqs.push(request(ctx, cont, maxLen, false, 'wikitext'));
    windows.push(w.length);
  }
  const scored = await run(reqs);
  let k = 0, ll = 0, words = 0, bytes = 0;
  const per: { ll: number[] }[] = [];
  const utf8 = new TextEncoder();
  docs.forEach((d, i) => {
    const page = scored.slice(k, k += windows[i]).reduce((s, r) => s + r.ll, 0);
    per.push({ ll: [page] });
    ll += page;
    words += pyWordCount(d.page);
    bytes += utf8.encode(d.page).length;
  });
  const out: TaskResult = {
    task: 'wikitext', word_perplexity: Math.exp(-ll / words), byte_perplexity: Math.exp(-ll / bytes),
    bits_per_byte: -ll / bytes / Math.LN2, n: docs.length,
  };
  if (details) out.details = per;
  return out;
}

// ---- tokenization (HFLM) ----

/** the rolling windows' first input (HFLM prefix_token_id): the BOS, else the EOS */
function prefixToken(tok: TaskTokenizer): number {
  if (typeof tok.bos === 'number') return tok.bos;
  if (tok.bos === undefined) {
    const ids = tok.encode('', { bos: true });
    if (ids.length === 1) return ids[0];
  }
  if (typeof tok.eos === 'number') return tok.eos;
  return fail('wikitext: the tokenizer has neither a BOS nor an EOS token to start the rolling windows with',
    'use a tokenizer with a BOS or EOS token (tokenizer_config.json bos_token/eos_token)');
}

/**
 * HFLM._encode_pair: (context tokens, continuation tokens) of a request, BOS first where the tokenizer has
 * one. An empty context is HFLM.loglikelihood's case: [prefix token] and the continuation alone.
 */
export function encodePair(tok: TaskTokenizer, context: string, continuation: string): [number[], number[]] {
  if (context === '') return [[prefixToken(tok)], tok.encode(continuation, { bos: false })];
  const stripped = pyRstrip(context); // whitespace is BMP-only, so UTF-16 lengths count it right
  if (stripped.length < context.length) {
    continuation = context.slice(stripped.length) + continuation;
    context = stripped;
  }
  const bos = tok.bos !== null; // undefined: a bare { encode } that takes { bos: true }
  const whole = tok.encode(context + continuation, { bos }), ctx = tok.encode(context, { bos });
  return [ctx, whole.slice(ctx.length)];
}

/** utils.get_rolling_token_windows(tokens, prefix, maxLen, context_len=1) mapped by make_disjoint_window */
export function rollingWindows(tokens: number[], prefix: number, maxLen: number): [number[], number[]][] {
  const out: [number[], number[]][] = [];
  if (tokens.length === 0) return out;
  const first = Math.min(maxLen, tokens.length);
  out.push([[prefix, ...tokens.slice(0, first - 1)], tokens.slice(0, first)]);
  for (let predicted = first; predicted < tokens.length;) {
    const n = Math.min(tokens.length - predicted, maxLen), end = predicted + n;
    out.push([tokens.slice(end - maxLen - 1, end - 1), tokens.slice(end - n, end)]);
    predicted += n;
  }
  return out.map(([a, b]) => [a.slice(0, a.length - (b.length - 1)), b]);
}

function request(ctx: number[], cont: number[], maxLen: number, greedy: boolean, task: TaskName): Req {
  if (cont.length === 0) fail(`${task}: a continuation encodes to no tokens`, 'the task data or the tokenizer is broken');
  if (cont.length > maxLen) fail(`${task}: a continuation of ${cont.length} tokens exceeds the model's ${maxLen} positions`);
  if (ctx.length === 0) fail(`${task}: a context encodes to no tokens`, 'use a tokenizer with a BOS token');
  return { seq: ctx.concat(cont).slice(-(maxLen + 1)), n: cont.length, greedy };
}

// ---- scoring on the GPU ----

/** a forward row: its input ids, the targets the GPU losses use (its owner's), and the requests it serves */
interface Row { ids: number[]; targets: number[]; reqs: number[] }

async function scoreRequests(model: Model, reqs: Req[], batch: number, onProgress?: (done: number, total: number) => void): Promise<Scored[]> {
  if (!(Number.isInteger(batch) && batch >= 1)) fail(`\`batch\` ${batch} must be a positive integer`);
  const V = model.config.vocabSize, maxLen = model.config.maxSeqLen;
  // 1) one row per distinct input (seq[:-1])
  const byInput = new Map<string, Row>();
  reqs.forEach((r, i) => {
    const ids = r.seq.slice(0, -1), key = ids.join(',');
    const row = byInput.get(key);
    if (row) row.reqs.push(i);
    else byInput.set(key, { ids, targets: r.seq.slice(1), reqs: [i] });
  });
  const rows = [...byInput.values()].sort((a, b) => b.ids.length - a.ids.length);
  const out: Scored[] = new Array(reqs.length);
  let done = 0;
  for (let r0 = 0; r0 < rows.length;) {
    // 2) B rows of the longest length in the batch, rounded up to 8 to keep few distinct (B,T) shapes
    const T = Math.min(maxLen, Math.ceil(rows[r0].ids.length / 8) * 8);
    const B = Math.min(rowsFor(model, T, batch), rows.length - r0);
    const group = rows.slice(r0, r0 += B);
    const ids = new Uint32Array(B * T), tgt = new Uint32Array(B * T);
    group.forEach((row, b) => { ids.set(row.ids, b * T); tgt.set(row.targets, b * T); });
    const a = model.forward(ids, B, T, tgt);
    // 3) what the CPU needs: greedy requests and those whose targets are not the row's get their logits rows
    const cpu: [number, number, number][] = []; // (request, row b, first scored position)
    group.forEach((row, b) => row.reqs.forEach((i, j) => {
      if (reqs[i].greedy || j > 0) cpu.push([i, b, row.ids.length - reqs[i].n]);
    }));
    const { losses, logits } = await readBatch(model, a.losses, a.logits, B * T, cpu.flatMap(([i, b, p]) => span(b * T + p, reqs[i].n)));
    let o = 0;
    for (const [i] of cpu) {
      const r = reqs[i], s = { ll: 0, greedy: true };
      for (let t = 0; t < r.n; t++, o++) {
        const row = logits.subarray(o * V, (o + 1) * V), target = r.seq[r.seq.length - r.n + t];
        const { lse, best } = logSumExp(row);
        s.ll += row[target] - lse;
        if (best !== target) s.greedy = false;
      }
      out[i] = s;
    }
    // 4) the rest from the GPU's per-token losses: their targets are the row's own
    group.forEach((row, b) => {
      const i = row.reqs[0];
      if (reqs[i].greedy) return;
      let ll = 0;
      for (let p = row.ids.length - reqs[i].n; p < row.ids.length; p++) ll -= losses[b * T + p];
      out[i] = { ll, greedy: false };
    });
    for (const row of group) {
      for (const i of row.reqs) {
        if (!Number.isFinite(out[i].ll)) fail(`the loglikelihood of request ${i} is ${out[i].ll}`, 'the model weights produce NaN/Inf; check the checkpoint');
      }
      done += row.reqs.length;
    }
    onProgress?.(done, reqs.length);
  }
  return out;
}

const span = (start: number, n: number) => Array.from({ length: n }, (_, k) => start + k);

/**
 * The first N per-token losses and the logits rows `rows` (indices into the (B*T, V) logits, in the order
 * wanted), copied into one buffer in queue order and read back at once (in parts of GATHER_BYTES).
 */
async function readBatch(model: Model, losses: View, logits: View, N: number, rows: number[]): Promise<{ losses: Float32Array; logits: Float32Array }> {
  const g = model.gpu, V = model.config.vocabSize, ld = logitsStride(model.config); // rows of ld floats on the GPU
  const per = Math.max(1, Math.floor(GATHER_BYTES / 4 / ld)); // logits rows per part
  const out = new Float32Array(rows.length * V);
  let lossOut = new Float32Array(0);
  for (let k0 = 0; k0 === 0 || k0 < rows.length; k0 += per) {
    const part = rows.slice(k0, k0 + per), head = k0 === 0 ? N : 0;
    const buf = g.tensor(head + part.length * ld, 'task_gather');
    if (head) g.copy(slice(buf, 0, N), slice(losses, 0, N));
    for (let k = 0; k < part.length;) {
      let e = k + 1; // one copy per run of consecutive rows
      while (e < part.length && part[e] === part[e - 1] + 1) e++;
      g.copy(slice(buf, head + k * ld, (e - k) * ld), slice(logits, part[k] * ld, (e - k) * ld));
      k = e;
    }
    const host = await g.read(buf);
    g.release(buf.buffer);
    if (head) lossOut = host.slice(0, N);
    for (let k = 0; k < part.length; k++) out.set(host.subarray(head + k * ld, head + k * ld + V), (k0 + k) * V);
  }
  return { losses: lossOut, logits: out };
}

/** log(sum(exp(row))) in float64, and the first index of the maximum (torch.argmax) */
function logSumExp(row: Float32Array): { lse: number; best: number } {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
  const m = row[best];
  let s = 0;
  for (let v = 0; v < row.length; v++) s += Math.exp(row[v] - m);
  return { lse: m + Math.log(s), best };
}

/** rows per forward at length T: `batch`, or fewer when the activations would pass ACT_BUDGET */
function rowsFor(model: Model, T: number, batch: number): number {
  const { nLayers: L, nHeads: NH, dim: C, hiddenDim: H, vocabSize: V } = model.config;
  const perRow = 4 * T * (L * (NH + 12 * C + 3 * H) + V); // activations per token: no (T,T) attention is kept
  return Math.max(1, Math.min(batch, Math.floor(ACT_BUDGET / perRow)));
}

function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
