// fuzz/cli/cases: what every case shares (its files, one CLI run judged, the safetensors layout) and the cases of
// the model's own files: safetensors, config.json, the tokenizer files, a llama2.c model .bin. Each oracle says when
// an exit 0 is right: the unmutated run's loss exactly, or a mutation that leaves a valid file of other content
// (a weight's value, a tokenizer's piece) where any finite result is right.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { mutateBytes, mutateJson, toTree, type Rng } from '../mutate.js';
import { evalArgs, tokenizeArgs, type Fixtures } from './fixtures.js';
import { judgeExit, jsonOut, runCli, type Res, type Verdict } from './proc.js';

export interface Case { format: string; mutation: string; run(): Promise<Verdict> }
export type Maker = (r: Rng, f: Fixtures, dir: string) => Case;

export const TIMEOUT_MS = 30_000;
export const ok = (detail = ''): Verdict => ({ kind: 'ok', detail });
export const silent = (detail: string): Verdict => ({ kind: 'silent', detail });
/** a copy of a fixture directory, links kept as links */
export const copy = (src: string, dst: string) => { cpSync(src, dst, { recursive: true, verbatimSymlinks: true }); return dst; };
export const cli = (f: Fixtures, args: string[], timeoutMs = TIMEOUT_MS, killAfterMs?: number, env?: Record<string, string>): Promise<Res> =>
  runCli(f.cli, args, { timeoutMs, killAfterMs, env });
/** deep equality by JSON text (false where a value is nested too deep to write) */
const same = (a: unknown, b: unknown) => { try { return JSON.stringify(a) === JSON.stringify(b); } catch { return false; } };

/** eval, judged: an error by judgeExit; an exit 0 by `good(loss)` (the loss must be finite in any case) */
export async function evalCase(f: Fixtures, args: string[], names: string[], good: (loss: number) => string | null): Promise<Verdict> {
  const r = await cli(f, args);
  const v = judgeExit(r, names);
  if (v) return v;
  const loss = jsonOut(r)?.loss;
  if (typeof loss !== 'number' || !Number.isFinite(loss)) return silent(`exit 0 with loss ${loss}`);
  const wrong = good(loss);
  return wrong ? silent(wrong) : ok();
}
export const sameLoss = (base: number) => (loss: number) => loss === base ? null : `exit 0 with loss ${loss}, the unmutated file gives ${base}`;

// ---- safetensors -------------------------------------------------------------------------------------------------

export interface St { header: Record<string, any>; start: number; data: Uint8Array }
export function readSt(b: Uint8Array): St {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))), start: 8 + n, data: b.subarray(8 + n) };
}
export function writeSt(json: string, data: Uint8Array): Uint8Array {
  const j = new TextEncoder().encode(json + ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8));
  const out = new Uint8Array(8 + j.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(j.length), true);
  out.set(j, 8); out.set(data, 8 + j.length);
  return out;
}
/** a header a reader may take: every tensor of the seed present with its dtype and shape, ranges inside the data and
 *  not overlapping (what reads the same tensors, possibly from other bytes) */
function validLike(h: unknown, seed: Record<string, any>, dataLen: number): boolean {
  if (!h || typeof h !== 'object' || Array.isArray(h)) return false;
  const ranges: [number, number][] = [];
  for (const [k, t] of Object.entries(seed)) {
    if (k === '__metadata__') continue;
    const u = (h as Record<string, any>)[k];
    if (!u || u.dtype !== t.dtype || !same(u.shape, t.shape) || !Array.isArray(u.data_offsets)) return false;
    const [b, e] = u.data_offsets;
    if (!(Number.isInteger(b) && Number.isInteger(e) && e - b === t.data_offsets[1] - t.data_offsets[0] && b >= 0 && e <= dataLen)) return false;
    ranges.push([b, e]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  return ranges.every(([b], i) => i === 0 || b >= ranges[i - 1][1]);
}

const safetensors: Maker = (r, f, dir) => {
  const m = copy(f.k2, join(dir, 'k2')), file = join(m, 'model.safetensors');
  const bytes = new Uint8Array(readFileSync(file)), st = readSt(bytes);
  const names = Object.keys(st.header).filter((k) => k !== '__metadata__');
  let out: Uint8Array, mutation: string, valueOnly = false;
  const h = structuredClone(st.header), k = r.pick(names), t = h[k];
  switch (r.int(10)) {
    case 0: case 1: { const j = mutateJson(r, toTree(st.header)); out = writeSt(j.text, st.data); mutation = `header JSON: ${j.what}`;
      let parsed: unknown = null; try { parsed = JSON.parse(j.text); } catch { /* broken */ }
      valueOnly = validLike(parsed, st.header, st.data.length); break; }
    case 2: t.dtype = r.pick(['F16', 'BF16', 'I32', 'F64', 'U8', 'I64', 'f32', 'F8_E4M3', '']); out = writeSt(JSON.stringify(h), st.data); mutation = `dtype of ${k} -> ${t.dtype}`; break;
    case 3: { const d = r.pick([-8, -4, -1, 1, 4, 8, 1e6, 2 ** 40]), which = r.int(2);
      t.data_offsets[which] += d; out = writeSt(JSON.stringify(h), st.data); mutation = `data_offsets[${which}] of ${k} ${d > 0 ? '+' : ''}${d}`; break; }
    case 4: { const s = t.shape.slice();
      t.shape = s.length === 2 && s[0] !== s[1] && r.chance(0.6) ? [s[1], s[0]] : r.pick([[...s, 1], s.slice(1), [s.reduce((a: number, b: number) => a * b, 1)], s.map((x: number) => x * 2)]);
      out = writeSt(JSON.stringify(h), st.data); mutation = `shape of ${k} ${JSON.stringify(s)} -> ${JSON.stringify(t.shape)}`; break; }
    case 5: { const o = names.filter((n) => n !== k && same(h[n].shape, t.shape) && h[n].dtype === t.dtype);
      if (!o.length) { delete h[k]; out = writeSt(JSON.stringify(h), st.data); mutation = `delete tensor ${k}`; break; }
      const k2 = r.pick(o); [t.data_offsets, h[k2].data_offsets] = [h[k2].data_offsets, t.data_offsets];
      out = writeSt(JSON.stringify(h), st.data); mutation = `swap data of ${k} and ${k2} (same shape: a valid file)`; valueOnly = true; break; }
    case 6: { out = bytes.slice(); const dv = new DataView(out.buffer), n = Number(dv.getBigUint64(0, true));
      const v = r.pick([n - 1, n - 2, n - 8, n + 1, n + 8, 0, 1, 2 ** 32 - 1, 2 ** 53]); dv.setBigUint64(0, BigInt(v), true); mutation = `header length ${n} -> ${v}`; break; }
    case 7: { const inData = r.chance(0.5), mb = mutateBytes(r, bytes, inData ? st.start : 0, inData ? bytes.length : st.start);
      out = mb.bytes; mutation = `${inData ? 'data' : 'header'} bytes: ${mb.what}`;
      valueOnly = inData && out.length === bytes.length; break; }
    case 8: out = bytes.slice(0, r.int(bytes.length)); mutation = `truncate to ${out.length} of ${bytes.length}`; break;
    default: { // a sharded layout: model.safetensors.index.json naming the one file for every tensor, then damaged
      const index = join(m, 'model.safetensors.index.json'), map = Object.fromEntries(names.map((n) => [n, 'model.safetensors']));
      let text = JSON.stringify({ metadata: { total_size: st.data.length }, weight_map: map });
      if (r.chance(0.3)) { const to = r.pick(['model-00002-of-00002.safetensors', '../k2/model.safetensors', 'config.json', 'model.safetensors/']); map[k] = to;
        text = JSON.stringify({ weight_map: map }); mutation = `index: ${k} -> ${to}`; }
      else { const j = mutateJson(r, toTree(JSON.parse(text))); text = j.text; mutation = `index JSON: ${j.what}`; }
      writeFileSync(index, text);
      return { format: 'safetensors', mutation,
        run: () => evalCase(f, evalArgs(m, f.val), ['model.safetensors.index.json', 'model-00002-of-00002.safetensors'], sameLoss(f.base.evalK2)) };
    }
  }
  writeFileSync(file, out);
  return { format: 'safetensors', mutation,
    run: () => evalCase(f, evalArgs(m, f.val), ['model.safetensors'], valueOnly ? () => null : sameLoss(f.base.evalK2)) };
};

// ---- config.json -------------------------------------------------------------------------------------------------

/** config fields whose other valid values give another valid model (a loss of its own is right) */
const FREE = new Set(['rms_norm_eps', 'rope_theta', 'rope_scaling', 'max_position_embeddings', 'hidden_act', 'bos_token_id', 'eos_token_id',
  'torch_dtype', 'architectures', 'attention_bias', 'mlp_bias', 'transformers_version', 'pad_token_id', 'initializer_range', 'use_cache']);
/** config keys the readers take that the seed (a llama config) does not hold */
const READ_TOO = new Set(['rope_parameters', 'n_embd', 'n_layer', 'n_head', 'n_positions', 'n_inner', 'n_ctx', 'layer_norm_epsilon', 'layer_norm_eps',
  'activation_function', 'rotary_pct', 'rotary_emb_base', 'use_parallel_residual', 'partial_rotary_factor', 'sliding_window', 'use_sliding_window',
  'max_window_layers', 'query_pre_attn_scalar', 'qk_norm']);
const config: Maker = (r, f, dir) => {
  const m = copy(f.k2, join(dir, 'k2')), file = join(m, 'config.json');
  const seed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  let text: string, mutation: string;
  if (r.chance(0.7)) ({ text, what: mutation } = mutateJson(r, toTree(seed)));
  else { // a plausible other value: right type, wrong model
    const c = { ...seed }, key = r.pick(['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
      'head_dim', 'tie_word_embeddings', 'model_type', 'max_position_embeddings', 'rope_theta', 'hidden_act']);
    c[key] = typeof c[key] === 'boolean' ? !c[key] : typeof c[key] === 'string' ? r.pick(['gpt2', 'gpt_neox', 'mistral', 'qwen2', 'gelu', 'relu', 'llama'])
      : r.pick([1, 2, 4, 8, 16, 32, 64, 128, 256, 511, 513, 1024, 10, 0]);
    text = JSON.stringify(c, null, 2); mutation = `${key} -> ${JSON.stringify(c[key])}`;
  }
  writeFileSync(file, text);
  let parsed: Record<string, unknown> | null = null;
  try { parsed = JSON.parse(text); } catch { /* broken */ }
  const changed = parsed && typeof parsed === 'object' ? [...new Set([...Object.keys(seed), ...Object.keys(parsed)])].filter((k) => !same(seed[k], parsed![k])) : ['(unparsable)'];
  // a key the seed does not have and no supported model_type reads (a renamed key's new name) changes nothing
  const free = changed.every((k) => FREE.has(k) || (!(k in seed) && !READ_TOO.has(k)));
  return { format: 'config.json', mutation,
    run: () => evalCase(f, evalArgs(m, f.val), ['config.json'], (loss) => free || loss === f.base.evalK2 ? null
      : `exit 0 with loss ${loss} (unmutated ${f.base.evalK2}) after changing ${changed.join(', ')}`) };
};

// ---- tokenizer files ---------------------------------------------------------------------------------------------

const READ = ['model', 'added_tokens', 'normalizer', 'pre_tokenizer'];
const tokenizers: Maker = (r, f, dir) => {
  const which = r.pick(['tokenizer.json', 'tokenizer.json', 'tokenizer.model', 'tokenizer.bin', 'encoder.json', 'vocab.bpe', 'tokenizer_config.json']);
  let path: string, tok: string, mutation: string, unreadOnly = false;
  if (which === 'tokenizer_config.json') { // read with the model: eval, its BOS
    const m = copy(f.k2, join(dir, 'k2')), file = join(m, which);
    const j = mutateJson(r, toTree(JSON.parse(readFileSync(file, 'utf8'))));
    writeFileSync(file, j.text);
    return { format: 'tokenizer_config.json', mutation: j.what, run: () => evalCase(f, evalArgs(m, f.val), [which], () => null) };
  }
  if (which === 'tokenizer.json') {
    const src = join(f.k2, 'tokenizer.json'); path = tok = join(dir, which);
    const seed = JSON.parse(readFileSync(src, 'utf8')), j = mutateJson(r, toTree(seed));
    writeFileSync(path, j.text); mutation = j.what;
    try { const p = JSON.parse(j.text); unreadOnly = READ.every((k) => same(p?.[k], seed[k])); } catch { /* broken */ }
  } else if (which === 'encoder.json' || which === 'vocab.bpe') {
    tok = copy(f.gpt2, join(dir, 'gpt2')); path = join(tok, which);
    if (which === 'encoder.json') {
      const j = mutateJson(r, toTree(JSON.parse(readFileSync(path, 'utf8')))); writeFileSync(path, j.text); mutation = j.what;
    } else {
      const lines = readFileSync(path, 'utf8').split('\n'), at = 1 + r.int(2000), op = r.int(4);
      if (op === 0) lines.splice(at, 1); else if (op === 1) lines.splice(at, 0, r.pick(['a b c', '', 'Ġ', 'x y', '#version: 0.2', 'Ġ  t']));
      else if (op === 2) lines[at] = lines[at].split(' ').reverse().join(' '); else lines.length = at;
      const mb = r.chance(0.3) ? mutateBytes(r, new TextEncoder().encode(lines.join('\n'))) : null;
      writeFileSync(path, mb ? mb.bytes : lines.join('\n')); mutation = `merges line ${at} op ${op}${mb ? `; ${mb.what}` : ''}`;
    }
  } else {
    path = tok = join(dir, which);
    const b = new Uint8Array(readFileSync(which === 'tokenizer.model' ? f.tokModel : f.tokBin));
    const mb = which === 'tokenizer.bin' && r.chance(0.4) ? mutateBytes(r, b, 0, 64) : mutateBytes(r, b);
    writeFileSync(path, mb.bytes); mutation = mb.what;
  }
  const base = f.base.tok[which === 'tokenizer.json' ? join(f.k2, 'tokenizer.json') : which === 'tokenizer.model' ? f.tokModel
    : which === 'tokenizer.bin' ? f.tokBin : f.gpt2];
  return { format: which === 'encoder.json' || which === 'vocab.bpe' ? 'GPT-2 vocab/merges' : which, mutation,
    async run() {
      const res = await cli(f, tokenizeArgs(tok, f.sample));
      const v = judgeExit(res, [basename(path), basename(tok)]);
      if (v) return v;
      const ids = jsonOut(res)?.ids;
      if (!Array.isArray(ids) || !ids.length || ids.some((x) => !Number.isInteger(x) || x < 0)) return silent(`exit 0 with ids ${JSON.stringify(ids)?.slice(0, 100)}`);
      if (unreadOnly && !same(ids, base)) return silent('only fields the tokenizer does not read changed, but the ids differ');
      return ok();
    } };
};

// ---- llama2.c model .bin -----------------------------------------------------------------------------------------

const llama2c: Maker = (r, f, dir) => {
  const file = join(dir, 'model.bin'), b = new Uint8Array(readFileSync(f.llama2c));
  let out: Uint8Array, mutation: string, valueOnly = false;
  const k = r.int(10);
  if (k < 4) { out = b.slice(); const at = 4 * r.int(7), v = r.pick([0, 1, -1, 2, 3, 4, 5, 7, 8, 32, 63, 64, 65, 256, 511, 512, 513, -512, 1024, 2 ** 31 - 1, -(2 ** 31)]);
    new DataView(out.buffer).setInt32(at, v, true); mutation = `header int ${at / 4} = ${v}`; }
  else if (k < 7) { const mb = mutateBytes(r, b, 28); out = mb.bytes; mutation = `weights: ${mb.what}`; valueOnly = out.length === b.length; }
  else if (k < 9) { const mb = mutateBytes(r, b, 0, 28); out = mb.bytes; mutation = `header bytes: ${mb.what}`; }
  else { out = r.chance(0.5) ? b.slice(0, r.int(b.length)) : new Uint8Array([...b, 0, 0, 0, 0]); mutation = `size ${b.length} -> ${out.length}`; }
  writeFileSync(file, out);
  return { format: 'llama2.c model .bin', mutation,
    run: () => evalCase(f, evalArgs(file, f.val, ['--tokenizer', f.tokBin]), ['model.bin'], valueOnly ? () => null : sameLoss(f.base.evalLlama2c)) };
};

export const MODEL_MAKERS: Record<string, [Maker, number]> = { safetensors: [safetensors, 14], config: [config, 10], tokenizers: [tokenizers, 16], llama2c: [llama2c, 8] };
