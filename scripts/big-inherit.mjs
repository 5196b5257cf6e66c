// big-inherit: issue 12 item 1's must-show. Writes a random 3.4B-parameter bf16 checkpoint of
// OpenLLaMA-3B's shape (hidden 3200, 26 layers, 32 heads, 32 kv heads, intermediate 8640, vocab 32000,
// untied head, llama) as 5 GB shards (the first over 4 GiB) + model.safetensors.index.json, streaming (one tensor's bytes at a
// time, from a pool of random finite bf16 values), then runs
//   node dist/cli.mjs inherit --model REF --layers 13 --out OUT
// under /usr/bin/time -v and reports its peak resident memory and wall time; then loads the output
// back (headers checked against config.json by the package's reader; every tensor BF16; a few tensors
// byte-compared against the source's by this script's own safetensors parsing). A second run with
// --dtype f32 writes 7.3 GB, so two shards, the first over 4 GiB, checked the same way (values widened
// exactly). Then the files are deleted.
// Usage: npm run build && node scripts/big-inherit.mjs [DIR=/tmp/big] [--keep]
import { openSync, writeSync, closeSync, mkdirSync, rmSync, writeFileSync, readFileSync, readSync, fstatSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const root = args.find((a) => !a.startsWith('--')) ?? '/tmp/big';
const keep = args.includes('--keep');
const REF = join(root, 'ref'), OUT = join(root, 'out');
const C = 3200, H = 8640, L = 26, NH = 32, V = 32000, K = 13, SHARD = 5e9; // transformers' default: the first shard passes 4 GiB

// --- the reference: tensors in HF's order, random finite bf16 (exponent kept near 2^-7) ---
const tensors = [['model.embed_tokens.weight', [V, C]]];
for (let l = 0; l < L; l++) {
  const p = `model.layers.${l}.`;
  tensors.push([p + 'input_layernorm.weight', [C]]);
  for (const m of ['q', 'k', 'v', 'o']) tensors.push([`${p}self_attn.${m}_proj.weight`, [C, C]]);
  tensors.push([p + 'post_attention_layernorm.weight', [C]], [p + 'mlp.gate_proj.weight', [H, C]], [p + 'mlp.up_proj.weight', [H, C]], [p + 'mlp.down_proj.weight', [C, H]]);
}
tensors.push(['model.norm.weight', [C]], ['lm_head.weight', [V, C]]);
const bytesOf = (shape) => 2 * shape.reduce((a, b) => a * b, 1);

const POOL = 128 * 2 ** 20; // random bf16 values each tensor takes its bytes from, at its own offset
const pool = new Uint16Array(POOL / 2 + 2 ** 20);
randomFillSync(pool);
for (let i = 0; i < pool.length; i++) pool[i] = (pool[i] & 0x807f) | 0x3c00 | ((pool[i] >> 8) & 0x0180); // sign, mantissa, exponent 120..123
const poolBytes = new Uint8Array(pool.buffer);
const hash = (s) => { let h = 2166136261; for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0; return h; };
/** the bytes [at, at + n) of a tensor (deterministic in its name) */
function tensorBytes(name, at, n) {
  const out = new Uint8Array(n), start = (hash(name) % (POOL / 2)) * 2;
  for (let o = 0; o < n;) {
    const p = (start + at + o) % POOL, m = Math.min(n - o, POOL - p);
    out.set(poolBytes.subarray(p, p + m), o);
    o += m;
  }
  return out;
}

function writeReference() {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(REF, { recursive: true });
  writeFileSync(join(REF, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: C, intermediate_size: H,
    num_hidden_layers: L, num_attention_heads: NH, num_key_value_heads: NH, vocab_size: V, max_position_embeddings: 2048, rms_norm_eps: 1e-6,
    rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu', torch_dtype: 'bfloat16', bos_token_id: 1, eos_token_id: 2 }, null, 2));
  const shards = [];
  let size = 0;
  for (const t of tensors) { if (!shards.length || size + bytesOf(t[1]) > SHARD) { shards.push([]); size = 0; } shards.at(-1).push(t); size += bytesOf(t[1]); }
  const weightMap = {}, N = String(shards.length).padStart(5, '0');
  let total = 0;
  shards.forEach((ts, i) => {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${N}.safetensors`;
    const header = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (const [k, shape] of ts) { header[k] = { dtype: 'BF16', shape, data_offsets: [off, off + bytesOf(shape)] }; off += bytesOf(shape); weightMap[k] = file; }
    total += off;
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    const fd = openSync(join(REF, file), 'w');
    writeSync(fd, len); writeSync(fd, Buffer.from(json));
    for (const [k, shape] of ts) for (let at = 0, n = bytesOf(shape); at < n; at += 64 * 2 ** 20) writeSync(fd, tensorBytes(k, at, Math.min(64 * 2 ** 20, n - at)));
    closeSync(fd);
  });
  writeFileSync(join(REF, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return { shards: shards.length, total };
}

/** a safetensors file's header and where its data starts, read with positional reads */
function header(path) {
  const fd = openSync(path, 'r'), len = Buffer.alloc(8);
  readSync(fd, len, 0, 8, 0);
  const n = Number(len.readBigUInt64LE(0)), h = Buffer.alloc(n);
  readSync(fd, h, 0, n, 8);
  return { fd, h: JSON.parse(h.toString()), start: 8 + n, size: fstatSync(fd).size };
}
/** which file of a directory holds a tensor (an index, or the one model.safetensors) */
function fileOf(dir, key) {
  try { return JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')).weight_map[key]; } catch { return 'model.safetensors'; }
}
function readTensor(dir, key) {
  const { fd, h, start } = header(join(dir, fileOf(dir, key)));
  const t = h[key], out = Buffer.alloc(t.data_offsets[1] - t.data_offsets[0]);
  readSync(fd, out, 0, out.length, start + t.data_offsets[0]);
  closeSync(fd);
  return { dtype: t.dtype, shape: t.shape, bytes: out, at: start + t.data_offsets[0] };
}
const widen = (bf) => { const u = new Uint32Array(bf.length / 2); for (let i = 0; i < u.length; i++) u[i] = bf.readUInt16LE(2 * i) << 16; return Buffer.from(u.buffer); };

let t0 = Date.now();
const ref = writeReference();
const params = tensors.reduce((a, t) => a + bytesOf(t[1]) / 2, 0);
console.log(`reference: ${(params / 1e9).toFixed(3)}B parameters, ${(ref.total / 1e9).toFixed(2)} GB bf16 in ${ref.shards} shards, written in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

const { openHfModel, nodeDir } = await import(join(repo, 'dist/node.mjs'));
const CHECK = ['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.7.input_layernorm.weight', 'model.layers.12.mlp.down_proj.weight', 'model.norm.weight', 'lm_head.weight'];
let bad = 0;

/** inherit --layers K (+ flags) under /usr/bin/time -v; then the output loaded back and compared */
async function inheritRun(out, flags, dtype) {
  const timeOut = join(root, 'time.txt');
  execFileSync('/usr/bin/time', ['-v', '-o', timeOut, process.execPath, join(repo, 'dist/cli.mjs'), 'inherit', '--model', REF, '--layers', String(K), ...flags, '--out', out, '--json'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const time = readFileSync(timeOut, 'utf8');
  const peakKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(time)[1]);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(time)[1];
  console.log(`inherit --layers ${K} ${flags.join(' ')}: peak RSS ${(peakKb / 2 ** 20).toFixed(2)} GiB (${peakKb} kB), wall ${wall}`);
  // loads back: the package's reader checks every header against config.json; dtypes; bytes
  const { config, weights } = await openHfModel(nodeDir(out));
  const dtypes = new Set(weights.keys().map((k) => weights.info(k).dtype));
  const files = readdirSync(out).filter((f) => f.endsWith('.safetensors'));
  console.log(`  output: ${config.nLayers} layers, dtypes ${[...dtypes]}, files ${files.map((f) => `${f} (${(statSync(join(out, f)).size / 2 ** 30).toFixed(2)} GiB)`).join(', ')}`);
  if (config.nLayers !== K || dtypes.size !== 1 || !dtypes.has(dtype)) { bad++; console.log('  WRONG layers or dtype'); }
  // and the tensor at the largest offset of every output file (past 4 GiB in the f32 run's first shard)
  const last = files.map((f) => { const { fd, h } = header(join(out, f)); closeSync(fd); return Object.entries(h).filter(([k]) => k !== '__metadata__').sort((x, y) => y[1].data_offsets[0] - x[1].data_offsets[0])[0][0]; });
  for (const k of [...CHECK, ...last]) {
    const a = readTensor(out, k), b = readTensor(REF, k), want = dtype === 'BF16' ? b.bytes : widen(b.bytes);
    const same = a.dtype === dtype && JSON.stringify(a.shape) === JSON.stringify(b.shape) && a.bytes.equals(want);
    const viaPackage = Buffer.from(await weights.readRaw(k)).equals(want);
    console.log(`  ${k} (source at byte ${b.at}, output at ${a.at}): ${same && viaPackage ? 'equal to the reference, byte for byte' : 'DIFFERS'}`);
    if (!(same && viaPackage)) bad++;
  }
  await weights.close();
  rmSync(out, { recursive: true, force: true });
}

// the package reads the reference past 4 GiB too: the tensor at the largest offset of each reference shard
{
  const { weights } = await openHfModel(nodeDir(REF));
  for (const f of readdirSync(REF).filter((x) => x.endsWith('.safetensors'))) {
    const { fd, h } = header(join(REF, f));
    closeSync(fd);
    const k = Object.entries(h).filter(([x]) => x !== '__metadata__').sort((x, y) => y[1].data_offsets[0] - x[1].data_offsets[0])[0][0];
    const want = readTensor(REF, k), ok = Buffer.from(await weights.readRaw(k)).equals(want.bytes);
    console.log(`reference ${f}: ${k} at byte ${want.at} read by the package ${ok ? 'equal' : 'DIFFERENT'}`);
    if (!ok) bad++;
  }
  await weights.close();
}
await inheritRun(OUT, [], 'BF16');
await inheritRun(OUT + '-f32', ['--dtype', 'f32'], 'F32');
if (!keep) rmSync(root, { recursive: true, force: true });
console.log(bad ? `${bad} check(s) FAILED` : 'all checks passed');
process.exit(bad ? 1 : 0);
