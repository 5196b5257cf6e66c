// cli/generate: `inheritune-rt generate` (flags: src/node/cli/specs.ts): text from a model, decoded on the GPU with a KV cache
// (src/model/generate.ts), streamed to the terminal as it is chosen; --json prints {"text", "ids"}
// at the end (ids: the generated ids only).
import type { Gpu } from '../../gpu/gpu.js';
import { generate, GENERATE_DEFAULTS as D } from '../../model/generate.js';
import { readModelConfig, loadModel } from '../models.js';
import { readTokenizer } from '../tokfiles.js';
import { fail } from '../../util/errors.js';
import { int, num, str, modelPath, tokenizerOpts, type Flags } from './args.js';

export async function generateCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const path = await modelPath(flags, 'model');
  const tok = await readTokenizer(flags.tokenizer as string | undefined, path, (await readModelConfig(path)).vocabSize, tokenizerOpts(flags));
  const prompt = str(flags, 'prompt');
  const ids = tok.encode(prompt, { bos: tok.bos !== null }); // the BOS, if the tokenizer has one (as files are encoded)
  if (!ids.length) fail('the prompt encodes to no tokens (and the tokenizer has no BOS)', 'pass a non-empty --prompt');
  const model = await loadModel(gpu, path, { layers: int(flags, 'layers') });
  const out: number[] = [];
  let shown = '';
  try {
    const stream = generate(model, ids, {
      maxNewTokens: int(flags, 'max-new-tokens') ?? D.maxNewTokens, temperature: num(flags, 'temperature', D.temperature),
      topK: int(flags, 'top-k', { min: 0 }) ?? D.topK, topP: num(flags, 'top-p', D.topP), seed: int(flags, 'seed', { min: 0 }) ?? D.seed,
      stop: tok.eos !== null ? [tok.eos] : [],
    });
    if (!flags.json) process.stdout.write(prompt);
    for await (const id of stream) {
      out.push(id);
      if (flags.json) continue;
      // print what the ids decode to so far, holding back a character that is still incomplete
      const text = tok.decode(out);
      const ready = text.endsWith('\uFFFD') ? text.slice(0, -1) : text;
      if (ready.startsWith(shown)) { process.stdout.write(ready.slice(shown.length)); shown = ready; }
    }
  } finally {
    model.destroy();
  }
  const text = tok.decode(out);
  if (flags.json) { console.log(JSON.stringify({ text, ids: out })); return; }
  process.stdout.write(text.startsWith(shown) ? text.slice(shown.length) + '\n' : '\n');
}
