// fuzz/cli/fixtures: the unmutated inputs every case starts from, made once per fuzz run by the CLI itself, and
// their baselines (what the unmutated run prints: the oracles compare with these). The smallest models and data
// the tests use: stories260K (llama2.c) and a 2-block child of it, a few KB of TinyStories.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { jsonOut, runCli, type Res } from './proc.js';

export interface TrainOut { losses: number[]; val_loss: number; step: number }
export interface Fixtures {
  cli: string; work: string; shared: string;
  k2: string;            // HF directory: config.json, model.safetensors, tokenizer.json/.model, tok512.bin, ...
  llama2c: string; tokBin: string; tokModel: string; gpt2: string; // stories260K.bin, tok512.bin, tok512.model, a dir with encoder.json + vocab.bpe
  train: string; val: string; big: string; sample: string;
  packed: string;        // `pack` of big.txt (many small shards, data_pack.json)
  run3: string;          // a training run saved at steps 1..3 (checkpoint -> checkpoints/step-00000003)
  run5: string;          // the same run, 5 steps uninterrupted (its checkpoint: the weights a killed and resumed run must end with)
  cache: string;         // a distill-cache of train.txt (3 shards)
  base: {
    evalK2: number; evalLlama2c: number; evalPacked: number;
    trainPacked: TrainOut; // 2 steps on the train shards of packed/
    full5: TrainOut;     // 5 steps uninterrupted: a 5-step run killed and resumed must end bit-identical
    resume5: TrainOut;   // run3 resumed to 5 steps (the schedule's length changes: not full5): a damaged run3 resumed must end so or fail
    distill3: TrainOut;  // 3 steps with --teacher-cache
    tok: Record<string, number[]>; // tokenize --file sample.txt, per tokenizer fixture
    trainMs: number; packMs: number;
  };
}

export const evalArgs = (model: string, text: string, extra: string[] = []) =>
  ['eval', '--model', model, '--text', text, '--seq', '32', '--windows', '2', '--batch', '2', '--json', ...extra];
export const trainArgs = (f: Pick<Fixtures, 'k2' | 'train' | 'val'>, out: string, steps: number, extra: string[] = []) =>
  ['train', '--model', f.k2, '--text', f.train, '--val-text', f.val, '--steps', String(steps), '--batch', '2', '--seq', '32',
    '--save-every', '1', '--val-windows', '2', '--out', out, '--json', ...extra];
export const distillArgs = (f: Pick<Fixtures, 'k2' | 'train'>, cache: string, out: string) =>
  ['train', '--model', f.k2, '--teacher-cache', cache, '--text', f.train, '--steps', '3', '--batch', '2', '--seq', '32', '--val-windows', '2', '--out', out, '--json'];
export const packedTrainArgs = (f: Pick<Fixtures, 'k2'>, dir: string, out: string) =>
  ['train', '--model', f.k2, '--text', dir, '--steps', '2', '--batch', '2', '--seq', '32', '--val-windows', '2', '--out', out, '--json'];
export const tokenizeArgs = (tok: string, file: string) => ['tokenize', '--tokenizer', tok, '--file', file, '--json'];

export async function makeFixtures(repo: string, work: string): Promise<Fixtures> {
  const cli = resolve(repo, 'dist/cli.mjs'), shared = process.env.INHERITUNE_SHARED ?? resolve(repo, '../shared/data');
  const at = (...p: string[]) => join(work, 'fx', ...p);
  mkdirSync(at(), { recursive: true });
  const must = async (args: string[], what: string): Promise<Res> => {
    const r = await runCli(cli, args, { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`fuzz fixtures: ${what} failed (exit ${r.code}): ${r.stderr.slice(0, 2000)}`);
    return r;
  };
  const stories = readFileSync(resolve(shared, 'tinystories-sample/tinystories_val.txt'), 'utf8');
  const f = {
    cli, work, shared, k2: at('k2'), llama2c: at('stories260K.bin'), tokBin: at('tok512.bin'), tokModel: at('tok512.model'), gpt2: at('gpt2'),
    train: at('train.txt'), val: at('val.txt'), big: at('big.txt'), sample: at('sample.txt'), packed: at('packed'), run3: at('run3'), run5: at('run5'), cache: at('cache'),
  } as Fixtures;
  writeFileSync(f.train, stories.slice(0, 20000));
  writeFileSync(f.val, stories.slice(20000, 24000));
  writeFileSync(f.big, stories.slice(0, 120000));
  writeFileSync(f.sample, 'Once upon a time, a little dog saw a big red ball. <s> </s> <|endoftext|> Héllo wörld 🙂\n\tThe end.\n');
  cpSync(resolve(shared, 'stories260k/stories260K.bin'), f.llama2c);
  cpSync(resolve(shared, 'stories260k/tok512.bin'), f.tokBin);
  cpSync(resolve(shared, 'stories260k/tok512.model'), f.tokModel);
  mkdirSync(f.gpt2);
  for (const n of ['encoder.json', 'vocab.bpe']) cpSync(resolve(shared, 'gpt2-bpe', n), join(f.gpt2, n));
  await must(['inherit', '--model', f.llama2c, '--layers', '2', '--out', f.k2], 'inherit');
  const loss = async (args: string[], what: string) => jsonOut(await must(args, what))!.loss as number;
  const timed = async <T>(p: () => Promise<T>): Promise<[T, number]> => { const t0 = performance.now(); const v = await p(); return [v, performance.now() - t0]; };
  const tok: Record<string, number[]> = {};
  // in two lanes (this machine's cores): packing and evaluation, training and distillation
  const [[evalPacked, packMs, trainPacked, evalK2, evalLlama2c], [full5, resume5, trainMs, distill3]] = await Promise.all([
    (async () => {
      const [, packMs] = await timed(() => must(['pack', '--tokenizer', f.k2, '--input', f.big, '--out', f.packed, '--shard-tokens', '4000', '--val-fraction', '0.1'], 'pack'));
      const trainPacked = jsonOut(await must(packedTrainArgs(f, f.packed, at('run-packed')), 'train on packed')) as TrainOut;
      const r = [await loss(evalArgs(f.k2, f.packed), 'eval packed'), packMs, trainPacked, await loss(evalArgs(f.k2, f.val), 'eval k2'),
        await loss(evalArgs(f.llama2c, f.val, ['--tokenizer', f.tokBin]), 'eval stories260K.bin')] as const;
      for (const t of [f.k2, join(f.k2, 'tokenizer.json'), f.tokBin, f.tokModel, f.gpt2]) tok[t] = jsonOut(await must(tokenizeArgs(t, f.sample), `tokenize ${t}`))!.ids;
      return r;
    })(),
    (async () => {
      const [, trainMs] = await timed(() => must(trainArgs(f, f.run3, 3), 'train 3 steps'));
      const full5 = jsonOut(await must(trainArgs(f, f.run5, 5), 'train 5 steps')) as TrainOut;
      cpSync(f.run3, at('run3-resumed'), { recursive: true, verbatimSymlinks: true });
      const resume5 = jsonOut(await must(trainArgs(f, at('run3-resumed'), 5, ['--resume']), 'resume to 5 steps')) as TrainOut;
      await must(['distill-cache', '--teacher', f.k2, '--text', f.train, '--seq', '32', '--topk', '8', '--shard-windows', '100', '--out', f.cache], 'distill-cache');
      return [full5, resume5, trainMs, jsonOut(await must(distillArgs(f, f.cache, at('runD')), 'train --teacher-cache')) as TrainOut] as const;
    })(),
  ]);
  // the oracles compare losses exactly: an unmutated re-run must give the same bits
  const again = await loss(evalArgs(f.k2, f.val), 'eval k2');
  if (again !== evalK2) throw new Error(`fuzz fixtures: eval is not deterministic (${evalK2} then ${again}): the oracles compare losses exactly`);
  f.base = { evalK2, evalLlama2c, evalPacked, trainPacked, full5, resume5, distill3, tok, trainMs, packMs };
  return f;
}
