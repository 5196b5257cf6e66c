// The web worker's request handling (src/worker/session.ts) in Node on Dawn, without a browser:
// load stories260K from Blobs, inherit k=3 (logits = the PyTorch golden), train with a cancel after
// step 3 and a resume, which must give the same losses as an uninterrupted run; errors crossing the
// worker boundary (wireError -> errorFromWire) keep their InherituneError text; save's bytes load
// back as an HF directory; generate at temperature 0 is greedy decoding. test/demo.test.ts runs the same requests in Chromium through the page.
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InherituneError, readHfModel, memorySource, Model, type Gpu } from '../src/node/index.js';
import { Session, wireError } from '../src/worker/session.js';
import { errorFromWire } from '../src/worker/client.js';
import type { Request, RequestType, Protocol, TrainProgress } from '../src/worker/protocol.js';
import { SHARED, testGpu, checkTensor } from './helpers.js';

const DIR = join(SHARED, 'stories260k');
const PROMPT = [1, 403, 407, 261, 378];
const golden = () => { const b = readFileSync(join(DIR, 'golden/prompt_logits_k3.f32')); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const TEXT = readFileSync(join(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8').slice(0, 40_000);
const OPTS = { steps: 8, batch: 2, seq: 32, sampling: 'random' as const, evalEvery: 4, valWindows: 4 };

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

function client(s: Session) {
  let id = 0;
  return <K extends RequestType>(type: K, fields: Protocol[K][0], progress?: (p: Protocol[K][2]) => void): Promise<Protocol[K][1]> =>
    s.handle({ ...fields, id: ++id, type } as Request, progress as (p: unknown) => void).then((r) => r.data as Protocol[K][1]);
}

ort.env.wasm.numThreads = 1;

describe('worker session (Node, Dawn)', () => {
  test('load from Blobs, inherit, cancel + resume = uninterrupted, save', async (ctx) => {
    if (!g) return ctx.skip('no GPU adapter');
    const s = new Session(async () => g!);
    const req = client(s);
    const ref = await req('load', { source: 'files', files: {
      'stories260K.bin': new Blob([readFileSync(join(DIR, 'stories260K.bin'))]), 'tok512.bin': new Blob([readFileSync(join(DIR, 'tok512.bin'))]),
    } });
    expect(ref.format).toBe('llama2c');
    expect(ref.tokenizer?.files).toEqual(['tok512.bin']);
    const data = await req('data', { train: TEXT });
    expect(data.held_out).toBe(true);
    await req('inherit', { layers: 3 });
    checkTensor('k=3 logits', await req('logits', { model: 'inherited', ids: PROMPT }), golden(), 1e-4, 0);

    // cancel from inside the progress callback of step index 2: the run stops with 3 steps done
    const seen: TrainProgress[] = [];
    const first = await req('train', { model: 'inherited', options: OPTS }, (p) => {
      seen.push(p);
      if (p.step === 2) s.handle({ id: 99, type: 'cancel' });
    });
    expect(first).toMatchObject({ cancelled: true, done: false, step: 3, steps: 8 });
    await expect(req('train', { model: 'inherited', options: OPTS })).rejects.toThrow(/trained already[\s\S]*HINT: continue it with resume/);
    const second = await req('train', { model: 'inherited', resume: true }, (p) => seen.push(p));
    expect(second).toMatchObject({ cancelled: false, done: true, step: 8 });
    expect(seen.map((p) => p.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const cancelNow = await s.handle({ id: 100, type: 'cancel' });
    expect(cancelNow.data).toMatchObject({ cancelling: false });

    // the same run without a cancel: the same losses step for step
    await req('inherit', { model: 'again', layers: 3 });
    const whole = await req('train', { model: 'again', options: OPTS });
    checkTensor('losses: cancel+resume vs uninterrupted', seen.map((p) => p.loss), whole.history.map((p) => p.loss), 1e-6, 0);
    expect(second.val_loss).toBeCloseTo(whole.val_loss!, 5);

    // distillation with the loaded reference as teacher: ce and kd beside the total, which is their weighted sum;
    // the teacher is the reference itself, so its KD term is far from 0 for the 3 blocks inherited
    await req('inherit', { model: 'kd', layers: 3 });
    const kd = await req('train', { model: 'kd', options: { ...OPTS, steps: 3, evalEvery: 0 }, distill: { alpha: 0.7, temperature: 2, topk: 8 } });
    for (const h of kd.history) {
      expect(h.kd).toBeGreaterThan(0.05);
      expect(h.loss).toBeCloseTo(0.3 * h.ce! + 0.7 * 4 * h.kd!, 9);
    }
    expect(whole.history[0].kd).toBeUndefined();

    // save -> bytes -> an HF directory that loads back with the trained weights
    const saved = await req('save', { model: 'inherited', to: 'bytes' });
    const files = saved.files!;
    expect(Object.keys(files).sort()).toEqual(['config.json', 'generation_config.json', 'inheritune.json', 'model.safetensors', 'model_config.yaml', 'special_tokens_map.json', 'tok512.bin', 'tokenizer.json', 'tokenizer_config.json']);
    const dir = { name: 'saved', exists: async (f: string) => f in files, readText: async (f: string) => new TextDecoder().decode(files[f]), source: async (f: string) => memorySource(files[f]) };
    const m = Model.create(g!, await readHfModel(dir));
    checkTensor('saved vs worker logits', await m.logits(PROMPT), await req('logits', { model: 'inherited', ids: PROMPT }), 1e-4, 0);
    m.destroy();
    // the worker's ONNX export: onnx/model.onnx beside the HF files; onnxruntime-web gives the worker's logits
    const withOnnx = (await req('save', { model: 'inherited', to: 'bytes', onnx: true })).files!;
    const sess = await ort.InferenceSession.create(withOnnx['onnx/model.onnx']);
    const i64 = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a, BigInt), [1, a.length]);
    // the empty KV cache of 3 blocks, (B, KVH 4, 0, HS 8)
    const past = Object.fromEntries([0, 1, 2].flatMap((l) => ['key', 'value'].map((k) => [`past_key_values.${l}.${k}`, new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 8])])));
    const out = await sess.run({ input_ids: i64(PROMPT), attention_mask: i64(PROMPT.map(() => 1)), position_ids: i64(PROMPT.map((_, t) => t)), ...past });
    checkTensor('worker ONNX vs worker logits', out.logits.data as Float32Array, await req('logits', { model: 'inherited', ids: PROMPT }), 1e-4, 0);
    for (const name of ['inherited', 'again']) await req('dispose', { model: name });
  });

  test('generate: temperature 0 = greedy argmax of the worker\'s logits, one progress message per token', async (ctx) => {
    if (!g) return ctx.skip('no GPU adapter');
    const req = client(new Session(async () => g!));
    await req('load', { source: 'files', files: {
      'stories260K.bin': new Blob([readFileSync(join(DIR, 'stories260K.bin'))]), 'tok512.bin': new Blob([readFileSync(join(DIR, 'tok512.bin'))]) } });
    const seen: { id: number; text: string }[] = [];
    const out = await req('generate', { model: 'reference', prompt: 'Once upon a time', maxNewTokens: 12, temperature: 0 }, (p) => seen.push(p));
    expect(out.ids.length).toBe(12);
    expect(seen.map((p) => p.id)).toEqual(out.ids);
    expect(seen[seen.length - 1].text).toBe(out.text);
    // the reference: greedy over full forwards of the worker's own logits request
    const seq = [...PROMPT], V = 512;
    for (let i = 0; i < 12; i++) {
      const l = await req('logits', { model: 'reference', ids: seq });
      let b = 0;
      for (let v = 1; v < V; v++) if (l[(seq.length - 1) * V + v] > l[(seq.length - 1) * V + b]) b = v;
      seq.push(b);
    }
    expect(out.ids).toEqual(seq.slice(PROMPT.length));
    expect(out.text).toMatch(/^, there was a little girl/);
  });

  test('errors cross the boundary as InherituneError with the same text', async (ctx) => {
    if (!g) return ctx.skip('no GPU adapter');
    const req = client(new Session(async () => g!));
    const err = await req('inherit', { layers: 3 }).catch((e) => e);
    expect(err).toBeInstanceOf(InherituneError);
    const back = errorFromWire(wireError(err));
    expect(back).toBeInstanceOf(InherituneError);
    expect(back.message).toBe(err.message);
    expect(back.message).toMatch(/^no reference model is loaded\n---> HINT: send a load request first/);
    expect((back as InherituneError).hint).toBe(err.hint);
    const bad = await req('load', { source: 'files', files: { 'a.bin': new Blob([new Uint8Array(10)]) } }).catch((e) => e);
    expect(bad.message).toMatch(/a\.bin: 10 bytes is too small for a llama2\.c checkpoint .*\n---> HINT:/);
    const plain = errorFromWire(wireError(new TypeError('x is not a function')));
    expect([plain.name, plain.message]).toEqual(['TypeError', 'x is not a function']);
  });
});
