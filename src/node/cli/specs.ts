// cli/specs: every command of `inheritune-rt`, with the table of its flags (name, placeholder, meaning,
// default, aliases). parseArgs's options and each command's --help are generated from these tables
// (src/node/cli/flags.ts); the defaults shown are read from the constants the code applies.
import { TRAIN_DEFAULTS, type TrainOptions } from '../../train/trainer.js';
import { RECIPE_DEFAULTS } from '../../method/recipe.js';
import { TASK_DIRS, TASK_NAMES } from '../../tasks/score.js';
import { BUILTIN_PRETRAIN } from '../recipe.js';
import { GENERATE_DEFAULTS } from '../../model/generate.js';
import { SCALER_DEFAULTS } from '../../train/scaler.js';
import { DISTILL_DEFAULTS } from '../../train/distill.js';
import { isSelectRule } from '../../method/select.js';
import type { CommandSpec, FlagDef } from './flags.js';

/**
 * the built-in job's budget: one round of 500 steps of 8x64 tokens (8 % of the reference's pre-training
 * tokens) and the baseline at the same steps. Chosen from measurements on the shipped reference
 * (docs/fidelity-kd.md): at the same compute as three rounds of 200 steps (3 % each), one longer round
 * gives the inherited 6-block model a finite saving against the baseline (20x fewer tokens to the
 * baseline's final loss) where 200 steps left only "below the baseline from the start".
 */
export const BUILTIN_RUN: Partial<TrainOptions> = { steps: 500, batch: 8, seq: 64, lr: 1e-3, minLr: 1e-4, warmup: 10, sampling: 'random', evalEvery: 25, valWindows: 32 };
/** the built-in job's rounds (more with --max-rounds) */
export const BUILTIN_ROUNDS = 1;
/** where `demo` writes without --out */
export const DEMO_OUT = 'inheritune-demo';
/** the report of the paper's experiments reproduced with the package */
export const FIDELITY = "The paper's experiments (inherit vs random init, the rounds, which blocks to inherit, lazy blocks, zero-shot tasks) " +
  'on a 12-block reference, with the commands that reproduce them: docs/fidelity.md in the package.';
/** where `pretrain` writes without --out */
export const PRETRAIN_OUT = 'inheritune-reference';

/** what hf: needs, in every --model-like flag's help */
export const HF_SPEC_HELP = "hf:owner/name[@rev] reads huggingface_hub's cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub); " +
  'downloads into it only with HF_ENDPOINT set (not with HF_HUB_OFFLINE=1)';
const MODEL_MEANING = `a Hugging Face directory (config.json, safetensors, tokenizer files) or a llama2.c .bin checkpoint; ${HF_SPEC_HELP}`;
const model = (what: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name: 'model', value: 'PATH', meaning: `${what}: ${MODEL_MEANING}`, ...extra });
const TOKENIZER: FlagDef = { name: 'tokenizer', value: 'PATH', meaning: 'a tokenizer file (tokenizer.json, tokenizer.model, tokenizer.bin, vocab.json with merges.txt, ...) or a directory holding one', default: 'the tokenizer files beside --model' };
const TEXT_KINDS = "a text file (tokenized as the model's tokenizer does: its BOS, then the whole file), an llm.c token shard, or a directory of shards written by `pack`";
const text = (what: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name: 'text', value: 'PATH', meaning: `${what}: ${TEXT_KINDS}`, ...extra });
const VAL_TEXT: FlagDef = { name: 'val-text', value: 'PATH', meaning: 'the validation text, of the same kinds as --text', default: "a shard directory's val shards, else the last 10% of the --text tokens" };
const SPLIT_SPECIAL: FlagDef = { name: 'split-special-tokens', meaning: "special tokens written in the text (<|endoftext|>, <s>, </s>) are plain text, not their ids (Hugging Face's split_special_tokens=True; llama2.c tokenizers never match them)", default: 'their ids, as Hugging Face tokenizers encode' };
const JSON_FLAG: FlagDef = { name: 'json', meaning: 'print one JSON object on stdout instead of text (no progress bar)' };
const FIRST_K: FlagDef = { name: 'layers', value: 'K', meaning: 'run only the first K blocks (then the final norm and the head)', default: 'all blocks' };
const force = (what: string): FlagDef => ({ name: 'force', meaning: what });
/** knowledge distillation from a teacher (src/train/distill.ts): train's --teacher and the loss's settings */
const DISTILL: FlagDef[] = [
  { name: 'teacher', value: 'PATH', meaning: `distil from this model as the student trains: loss = (1 - A) CE + A T^2 KL(softmax(teacher/T) || softmax(student/T)), each a mean over all positions (Hinton et al.); it must have the student's tokenizer. ${MODEL_MEANING}` },
  { name: 'distill-alpha', value: 'A', meaning: 'with --teacher: the weight of the KD term, in [0, 1]', default: String(DISTILL_DEFAULTS.alpha) },
  { name: 'distill-temperature', value: 'T', meaning: 'with --teacher: the softmax temperature of both models, > 0', default: String(DISTILL_DEFAULTS.temperature) },
  { name: 'distill-topk', value: 'K', meaning: "with --teacher: keep only the teacher's K most probable ids at T, renormalized (0: the whole distribution)", default: String(DISTILL_DEFAULTS.topk) },
];
const OUT_NEW = 'An --out that exists and is not empty is refused unless --force.';
const OUT_RUN = 'An --out that exists and is not empty is refused unless it holds a run of this command, which --resume continues (or --force starts over).';
const d = (v: unknown) => String(v);
const RULES = 'rank-guided (the K blocks whose attention keeps the highest rank: lazy ones left out), block-influence (the K of highest ShortGPT Block Influence, 1 - cos(block input, output)), ' +
  'angular (drop the L-K consecutive blocks whose ends are closest in angle, Gromov et al.)';

/** what --task-data holds, for run/demo (one folder per task) and eval (one task's folder) */
const TASK_DOC = 'docs/cli.md#zero-shot-task-data in the package';

const MEMORY: FlagDef = { name: 'memory', value: 'BYTES', meaning: 'the memory the device has, for the memory plan checked before training (16GB, 80GiB)', default: "a CPU adapter: the host's RAM; a GPU: not checked" };

/** the training flags of train, run and demo, with the defaults that apply there */
function training(base: Partial<TrainOptions>, saveEvery: number, sizes: (k: 'steps' | 'batch' | 'seq') => Partial<FlagDef>, recipe: boolean): FlagDef[] {
  const o: Partial<TrainOptions> = { ...TRAIN_DEFAULTS, ...base };
  return [
    { name: 'steps', value: 'N', meaning: `optimizer steps${recipe ? ' of every round' : ''} (or --tokens)`, ...sizes('steps') },
    { name: 'batch', value: 'B', meaning: 'windows per micro-batch', ...sizes('batch') },
    { name: 'seq', value: 'T', meaning: 'tokens per window (the context length trained)', ...sizes('seq') },
    { name: 'grad-accum', value: 'G', meaning: 'micro-batches per step (gradient accumulation)', default: d(o.gradAccum) },
    { name: 'lr', value: 'X', meaning: 'peak learning rate', default: d(o.lr) },
    { name: 'min-lr', value: 'X', meaning: 'learning rate at the end of the cosine schedule', default: d(o.minLr) },
    { name: 'warmup', value: 'N', meaning: 'steps of linear warmup', default: d(o.warmup) },
    { name: 'schedule', value: 'NAME', meaning: 'cosine (after the warmup, down to --min-lr) or constant', default: d(o.schedule) },
    { name: 'beta1', value: 'X', meaning: "AdamW's first-moment decay", default: d(o.beta1) },
    { name: 'beta2', value: 'X', meaning: "AdamW's second-moment decay", default: d(o.beta2) },
    { name: 'eps', value: 'X', meaning: "AdamW's epsilon (outside the square root, as PyTorch)", default: d(o.eps) },
    { name: 'wd', value: 'X', meaning: 'decoupled weight decay, on matrices and embeddings only', default: d(o.wd) },
    { name: 'clip', value: 'X', meaning: 'global gradient-norm clip (0: off)', default: d(o.clip) },
    { name: 'optim', value: 'NAME', meaning: 'adamw (f32 moments: 8 bytes a parameter) or adamw8bit (moments block-wise quantized to 8 bits, Dettmers et al. 2022: about 2 bytes a parameter)', default: d(o.optim) },
    { name: 'precision', value: 'NAME', meaning: 'f32, f16 (matmul operands and outputs rounded to f16, f32 sums and master weights, the blocks\' f16 activations stored in f16, dynamic loss scaling as torch.amp.GradScaler; on a shader-f16 adapter the matmuls multiply in f16, from an f16 copy of the weights, INHERITUNE_F16=emulate keeps f32 products) or auto (f16 on a GPU with shader-f16; f32 on a CPU adapter, which has no f16 units)', default: d(o.precision) },
    { name: 'loss-scale', value: 'X', meaning: 'with --precision f16: the initial loss scale (halved on an overflowing step, which is skipped; doubled after 2000 clean steps)', default: d(SCALER_DEFAULTS.scale) },
    { name: 'sampling', value: 'NAME', meaning: 'sequential (window i = tokens [i*T, i*T+T]) or random (seeded, with replacement)', default: d(o.sampling) },
    { name: 'seed', value: 'N', meaning: 'seed of the random sampling (and of freshly initialized parameters)', default: d(o.seed) },
    { name: 'eval-every', value: 'N', meaning: 'validate every N steps (0: only at the end)', default: d(o.evalEvery) },
    { name: 'val-windows', value: 'N', meaning: 'validation windows of T+1 tokens', default: d(o.valWindows), api: ['valWindows', 'windows'] },
    { name: 'grad-dtype', value: 'NAME', meaning: "f32 or bf16: parameter gradients stored in bf16 (2 bytes a parameter, rounded to nearest even; each block's gradient summed in f32 first, micro-batches added in f32 and stored again; the norm, clipping and the optimizer read them widened)", default: d(o.gradDtype) },
    MEMORY,
    { name: 'optim-in-backward', meaning: "update each block as soon as its gradients are complete, so gradients take one block's worth (torchtune's optimizer_in_bwd); needs --clip 0 and --grad-accum 1; the same updates" },
    { name: 'recompute', meaning: "keep only each block's output and recompute the block in backward (torch.utils.checkpoint per block): same gradients, activations L x (B,T,C) + one block" },
    { name: 'save-every', value: 'N', meaning: 'write a checkpoint every N steps (0: only at the end)', default: d(saveEvery) },
    { name: 'tokens', value: 'N', meaning: 'train on about N tokens instead of a number of --steps (steps = N / (batch x seq x grad-accum), rounded up)' },
  ];
}

/** run's and demo's flags; `builtin`: the defaults of the built-in job (demo) */
function recipeFlags(builtin: boolean): FlagDef[] {
  const noModel = 'the built-in reference: a 12-block byte-level Llama pre-trained on the Brown Corpus, shipped in the package (assets/reference)';
  return [
    model('the reference', { default: builtin ? noModel : 'the built-in reference of demo' }),
    TOKENIZER,
    text('the training text', builtin ? { default: 'the Brown Corpus' } : { required: 'with --model', default: 'the Brown Corpus without' }),
    VAL_TEXT,
    { name: 'out', value: 'DIR', meaning: 'the run directory: round-N/ and baseline/ (each a resumable training run), run.json, report.json, summary.md, val_loss.svg, max_rank.svg',
      ...(builtin ? { default: DEMO_OUT } : { required: true }) },
    { name: 'layers', value: 'K', meaning: 'blocks of the first round (the first K of the reference)', default: "half the reference's blocks" },
    { name: 'select', value: 'LIST', meaning: `the first round's blocks, in order (e.g. 0,1,4), or a rule picking K on the validation text: ${RULES}` },
    { name: 'grow', value: 'N', meaning: 'blocks added per round', default: d(RECIPE_DEFAULTS.grow) },
    { name: 'max-rounds', value: 'N', meaning: 'rounds at most', default: builtin ? d(BUILTIN_ROUNDS) : `${RECIPE_DEFAULTS.maxRounds} with --model, ${BUILTIN_ROUNDS} without` },
    { name: 'tolerance', value: 'X', meaning: "stop once the validation loss is at most the reference's + X", default: d(RECIPE_DEFAULTS.tolerance) },
    { name: 'growth', value: 'NAME', meaning: 'reinherit (every round starts again from the first k+grow reference blocks) or warm-append (keep the trained blocks, append the next reference blocks)', default: d(RECIPE_DEFAULTS.growth) },
    { name: 'baseline', meaning: "also train the first round's size from random init, on the same data, steps and seed", default: builtin ? 'on, always' : 'off; on without --model' },
    { name: 'preset', value: 'NAME', meaning: "what is inherited: paper (embeddings, blocks, final norm, head) or official (the authors' released scripts)", default: d(RECIPE_DEFAULTS.preset) },
    { name: 'analyze-sequences', value: 'N', meaning: 'windows of 100 tokens for the lazy-layer analysis of the reference and the final model (0: none)', default: '100' },
    { name: 'pretrain-steps', value: 'N', meaning: `pre-train a fresh built-in reference for N steps first (as \`inheritune-rt pretrain\`; ${BUILTIN_PRETRAIN.steps} made the shipped one) instead of starting from the shipped one (without --model)`, default: 'the shipped reference' },
    { name: 'tasks', value: 'LIST', meaning: `zero-shot tasks to score the reference, the final model and the baseline on, some of ${TASK_NAMES.join(', ')}` },
    { name: 'task-data', value: 'DIR', meaning: `the folder that holds one folder per task (${Object.values(TASK_DIRS).join(', ')}), each with the files its task reads: ${TASK_DOC}` },
    { name: 'task-limit', value: 'N', meaning: 'score only the first N items of each task', default: 'all', api: ['limit'] },
    ...training(builtin ? BUILTIN_RUN : {}, 50, (k) => (builtin ? { default: d(BUILTIN_RUN[k]) } : { required: 'with --model', default: `${BUILTIN_RUN[k]} without` }), true),
    { name: 'distill', meaning: "every round also learns the reference's output distribution (knowledge distillation, the reference as teacher; the --distill-* flags set the loss)" },
    { name: 'kd-baseline', meaning: "also the paper's KD baseline: the first round's size from random init, distilled from the reference for the same steps (kd_baseline in report.json)" },
    ...DISTILL.slice(1).map((f) => ({ ...f, meaning: f.meaning.replace('with --teacher', 'with --distill or --kd-baseline') })),
    { name: 'resume', meaning: builtin ? 'continue the run in --out (the default: demo always resumes its own run)' : 'continue the run in --out: finished rounds are kept, an interrupted round resumes from its checkpoint' },
    force(`write into an --out that exists anyway: a new run over what it holds${builtin ? '' : ' (also over a run of this command, without --resume)'}; files of the same names are overwritten`),
    JSON_FLAG,
  ];
}

export const SPECS: CommandSpec[] = [
  {
    name: 'demo', synopsis: '[--out DIR] [--pretrain-steps N] [run flags] [--json]', gpu: true,
    summary: 'The main job on its built-in default, no files needed: the recipe on the shipped reference (12 byte-level blocks pre-trained on the ' +
      'Brown Corpus by `inheritune-rt pretrain`), with a random-init baseline (= run without --model).',
    more: 'Run again, it continues its own run in --out; an --out that holds anything else is refused unless --force.',
    flags: recipeFlags(true),
  },
  {
    name: 'pretrain', synopsis: '[--out DIR] [--steps N] [--json]', gpu: true,
    summary: 'Pre-train the built-in reference (a 12-block byte-level Llama) from random init on the Brown Corpus: the command that made the ' +
      'reference the package ships in assets/reference, which demo starts from.',
    more: 'A resumable training run in --out (run it again to continue); when it finishes, DIR/model is the reference as a Hugging Face ' +
      'directory without the optimizer state, with pretrain.json (options, validation curve, wall time) and loss.svg.',
    flags: [
      { name: 'out', value: 'DIR', meaning: 'the training run directory (checkpoint/, metrics.jsonl, loss.svg, model/)', default: PRETRAIN_OUT },
      { name: 'steps', value: 'N', meaning: 'optimizer steps of 32 x 64 bytes', default: d(BUILTIN_PRETRAIN.steps) },
      JSON_FLAG,
    ],
  },
  {
    name: 'run', synopsis: '--model PATH --text PATH [--val-text PATH] [--layers K | --select LIST] --steps N --batch B --seq T --out DIR [flags]', gpu: true,
    summary: "The Inheritune recipe: inherit k blocks of the reference, train, grow by --grow blocks until the reference's validation loss is " +
      'reached; report.json, summary.md, val_loss.svg, max_rank.svg in --out.',
    more: `Without --model it is the built-in job, with the defaults \`inheritune-rt demo --help\` shows. ${OUT_RUN} ${FIDELITY}`,
    flags: recipeFlags(false),
  },
  {
    name: 'inherit', synopsis: '--model PATH (--layers K | --select LIST | --select RULE --text PATH) --out DIR [flags]',
    gpu: (f) => isSelectRule(f.select),
    summary: "Write a K-block model built from the reference's blocks as a Hugging Face directory, with inheritune.json recording where every tensor came from.",
    more: OUT_NEW,
    flags: [
      model('the reference', { aliases: ['from'], required: true }),
      { name: 'layers', value: 'K', meaning: 'inherit the first K blocks', default: "half the reference's blocks" },
      { name: 'select', value: 'LIST', meaning: `inherit these blocks, in order (e.g. 4,0,1), or a rule picking K on --text: ${RULES}` },
      text('the text of --select RULE', { required: 'with --select RULE' }),
      TOKENIZER,
      { name: 'preset', value: 'NAME', meaning: "paper (embeddings, blocks, final norm, head; GPT-2 positions too) or official (the authors' released scripts: final norm and positions re-initialized)", default: 'paper' },
      { name: 'no-embeddings', meaning: 'initialize the token embeddings instead of inheriting them' },
      { name: 'no-final-norm', meaning: 'initialize the final norm (ones)' },
      { name: 'no-head', meaning: 'initialize the head' },
      { name: 'no-positions', meaning: 'initialize the position embeddings (GPT-2)' },
      { name: 'seed', value: 'N', meaning: 'seed of the initialized parts (N(0, 0.02))', default: '0' },
      { name: 'dtype', value: 'NAME', meaning: 'f32, f16 or bf16: the dtype the weights are written in (rounded to nearest even)', default: "the reference's (a Hugging Face directory's tensors are copied as stored, bf16 stays bf16); f32 from a llama2.c .bin" },
      { name: 'max-shard-size', value: 'SIZE', meaning: 'above this the weights are split into shards with model.safetensors.index.json, as transformers\' max_shard_size (5GB, 500MB, 2GiB or bytes)', default: '5GB' },
      { name: 'out', value: 'DIR', meaning: 'the directory to write', required: true },
      force('replace an --out that exists (its contents are removed)'),
      JSON_FLAG,
    ],
  },
  {
    name: 'train', synopsis: '--model PATH --text PATH [--val-text PATH] --steps N --batch B --seq T --out DIR [flags]', gpu: true,
    summary: 'Continued pre-training with AdamW: checkpoints (an HF directory + optimizer state) in --out/checkpoint, metrics in --out/metrics.jsonl, ' +
      'the curve in --out/loss.svg.',
    more: OUT_RUN,
    flags: [
      model('the model to train', { required: true }), TOKENIZER, text('the training text', { required: true }), VAL_TEXT,
      { name: 'out', value: 'DIR', meaning: 'the run directory: checkpoint/ (the latest checkpoint), checkpoints/, metrics.jsonl, loss.svg', required: true },
      { name: 'metrics', value: 'FILE', meaning: 'where the per-step metrics go', default: '--out/metrics.jsonl' },
      ...training({}, 0, () => ({ required: true }), false),
      ...DISTILL,
      { name: 'teacher-cache', value: 'DIR', meaning: "distil from the teacher's top-K logits cached by `inheritune-rt distill-cache` (no teacher on the GPU): the loss of --distill-topk K with the cache's K; the cache must be of this --text, --seq and tokenizer; --sampling random draws whole cached windows" },
      { name: 'resume', meaning: 'continue the run in --out from its latest checkpoint (bit-identical to an uninterrupted run); a finished run trains on with a larger --steps (the schedule then runs to it). Its trainer.json, the digests of its files and the training data are checked first' },
      { name: 'resume-from', value: 'DIR', meaning: 'continue the run from an older kept checkpoint (--out/checkpoints/step-N, e.g. when the latest is damaged): implies --resume; the run\'s newer steps are removed' },
      { name: 'keep-checkpoints', value: 'N', meaning: 'keep the newest N checkpoints in --out/checkpoints/ (recorded: a resume keeps the same unless given again)', default: '1 (only the latest)' },
      { name: 'allow-data-change', meaning: 'with --resume: go on from the run\'s data position in a --text (or --teacher-cache) other than the one recorded in its checkpoint, or one that has changed since (refused without it)' },
      force('write into an --out that exists anyway: a new run over what it holds (also over a training run, without --resume); files of the same names are overwritten'),
      JSON_FLAG,
    ],
  },
  {
    name: 'distill-cache', synopsis: '--teacher PATH --text PATH --seq T --topk K --out DIR [--batch B] [--tokenizer PATH] [--json]', gpu: true,
    summary: "Offline knowledge distillation: run the teacher once (forward only) over the windows of --text that train's sequential sampling reads " +
      "(window i = tokens [i*T, i*T+T]) and write its top-K logits and ids of every position to DIR (topk_NNNNNN.bin shards, distill_cache.json), for train --teacher-cache DIR.",
    more: 'A killed run continues from its last whole shard when run again with the same flags. An --out that holds anything else is refused unless --force.',
    flags: [
      { name: 'teacher', value: 'PATH', meaning: `the teacher: ${MODEL_MEANING}`, required: true },
      { ...TOKENIZER, default: 'the tokenizer files beside --teacher' },
      text('the text to cache, as train --text reads it', { required: true }),
      { name: 'seq', value: 'T', meaning: 'tokens per window: the --seq of the training runs that read the cache', required: true },
      { name: 'topk', value: 'K', meaning: "the teacher's K largest logits kept per position (train's --distill-topk)", required: true },
      { name: 'batch', value: 'B', meaning: 'windows per teacher forward pass', default: '8' },
      { name: 'shard-windows', value: 'N', meaning: 'windows per shard file', default: 'as many as fit 64 MiB' },
      { name: 'out', value: 'DIR', meaning: 'the cache directory', required: true },
      force('write into an --out that holds something else (a cache there is removed first)'),
      JSON_FLAG,
    ],
  },
  {
    name: 'eval', synopsis: '--model PATH (--text PATH --seq T --windows W | --task NAME --task-data DIR) [flags]', gpu: true,
    summary: 'Mean next-token cross-entropy (and perplexity) over W windows of T+1 tokens (stride T) of --text; or a zero-shot task ' +
      'scored as lm-evaluation-harness does.',
    flags: [
      model('the model', { required: true }), TOKENIZER, text('the text'),
      { name: 'seq', value: 'T', meaning: 'tokens per window', required: 'with --text' },
      { name: 'windows', value: 'W', meaning: 'windows to evaluate', required: 'with --text' },
      FIRST_K,
      { name: 'batch', value: 'B', meaning: 'windows (task requests) per forward pass', default: '8 (tasks: 16)' },
      { name: 'task', value: 'NAME', meaning: `a zero-shot task instead of --text: ${TASK_NAMES.join(', ')}` },
      { name: 'task-data', value: 'DIR', meaning: `the task's folder, holding the files that task reads (${TASK_DOC})`, aliases: ['data'], required: 'with --task' },
      { name: 'task-limit', value: 'N', meaning: 'score only the first N items (wikitext: pages)', default: 'all', aliases: ['limit'], api: ['limit'] },
      SPLIT_SPECIAL, JSON_FLAG,
    ],
  },
  {
    name: 'analyze', synopsis: '--model PATH --text PATH [--sequences N] [--seq T] [--tau X] [--layers K] [--json]', gpu: true,
    summary: "Lazy-layer analysis: approximate rank and mass of every head's attention matrix over windows of --text, MaxRank per block (lazy: MaxRank rounds to 1).",
    flags: [
      model('the model', { required: true }), TOKENIZER, text('the text', { required: true }),
      { name: 'sequences', value: 'N', meaning: 'windows analysed', default: '100' },
      { name: 'seq', value: 'T', meaning: 'tokens per window', default: '100' },
      { name: 'tau', value: 'X', meaning: 'energy fraction of the approximate rank', default: '0.9' },
      FIRST_K, JSON_FLAG,
    ],
  },
  {
    name: 'logits', synopsis: '--model PATH --ids LIST [--layers K] [--json]', gpu: true,
    summary: 'The logits of every position of a token sequence (text: the top 5 per position).',
    flags: [model('the model', { required: true }), { name: 'ids', value: 'LIST', meaning: 'comma-separated token ids, e.g. 1,403,407', required: true }, FIRST_K, JSON_FLAG],
  },
  {
    name: 'generate', synopsis: '--model PATH --prompt TEXT [--max-new-tokens N] [--temperature X] [--top-k K] [--top-p X] [--seed N] [--json]', gpu: true,
    summary: 'Text from the model after a prompt, decoded on the GPU with a KV cache and streamed as it comes; --json prints {"text", "ids"} (the generated ids) at the end.',
    more: 'Sampling as Hugging Face generate(): temperature, then top-k, then top-p; --temperature 0 is greedy. Stops at the tokenizer\'s EOS or the model\'s last position.',
    flags: [
      model('the model', { aliases: ['from'], required: true }), TOKENIZER,
      { name: 'prompt', value: 'TEXT', meaning: 'the text to continue (encoded with the BOS, when the tokenizer has one)', required: true },
      { name: 'max-new-tokens', value: 'N', meaning: 'tokens to generate at most', default: d(GENERATE_DEFAULTS.maxNewTokens) },
      { name: 'temperature', value: 'X', meaning: 'softmax temperature (0: greedy)', default: d(GENERATE_DEFAULTS.temperature) },
      { name: 'top-k', value: 'K', meaning: 'sample among the K most likely tokens (0: all)', default: d(GENERATE_DEFAULTS.topK) },
      { name: 'top-p', value: 'X', meaning: 'sample among the most likely tokens whose probabilities reach X (1: all)', default: d(GENERATE_DEFAULTS.topP) },
      { name: 'seed', value: 'N', meaning: 'seed of the sampling', default: d(GENERATE_DEFAULTS.seed) },
      FIRST_K, SPLIT_SPECIAL, JSON_FLAG,
    ],
  },
  {
    name: 'export', synopsis: '--model PATH (--onnx FILE | --onnx-dir DIR) [--opset N] [--json]', gpu: false,
    summary: "An ONNX graph with a KV cache in Optimum's names (input_ids, attention_mask, position_ids, past_key_values.* -> logits, present.*) that onnxruntime(-web) and transformers.js run; --onnx-dir adds config.json and the tokenizer files (tokenizer.json included).",
    more: OUT_NEW.replace('--out', '--onnx-dir'),
    flags: [
      model('the model', { required: true }),
      { name: 'onnx', value: 'FILE', meaning: 'write the graph alone to FILE' },
      { name: 'onnx-dir', value: 'DIR', meaning: 'write the layout transformers.js reads: config and tokenizer files + onnx/model.onnx' },
      { name: 'opset', value: 'N', meaning: 'ONNX opset, 17 to 21', default: '17' },
      force('replace an --onnx FILE or an --onnx-dir that exists (the directory\'s contents are removed)'),
      JSON_FLAG,
    ],
  },
  {
    name: 'tokenize', synopsis: '--tokenizer PATH (--text S | --file FILE) [--split-special-tokens] [--json]', gpu: false,
    summary: 'The plain encoding of a text (no BOS/EOS): {"ids":[...]} with --json.',
    flags: [
      { ...TOKENIZER, default: undefined, required: true, meaning: 'a tokenizer file or a model directory' },
      { name: 'text', value: 'S', meaning: 'the text itself' },
      { name: 'file', value: 'FILE', meaning: 'a text file to encode instead' },
      SPLIT_SPECIAL, JSON_FLAG,
    ],
  },
  {
    name: 'pack', synopsis: '--tokenizer PATH --input FILE [--input FILE ...] --out DIR [flags]', gpu: false,
    summary: 'Text or JSONL files -> llm.c token shards with a seeded train/validation split and subset; --text of eval/train/run reads them.',
    more: `${OUT_NEW} A split that comes out empty is a warning.`,
    flags: [
      { ...TOKENIZER, default: undefined, required: true, meaning: 'a tokenizer file or a model directory' },
      { name: 'input', value: 'FILE', meaning: 'a text or JSONL file to pack', multiple: true, required: true },
      { name: 'out', value: 'DIR', meaning: 'the directory for the shards and data_pack.json', required: true },
      { name: 'val-fraction', value: 'X', meaning: 'the share held out for validation: a fraction (0.005), a percentage (0.5%) or tokens (100K tokens); of the documents, or, for one text file read whole (one document, no --subset), the end of its text (from a line start); 0 for none', default: '0.005 of the documents; 0.1 of one text file', api: ['val'] },
      { name: 'subset', value: 'X', meaning: 'keep a seeded subset of the documents: a fraction (0.1), a percentage (0.1%) or tokens (2M tokens)', default: 'all' },
      { name: 'tokens', value: 'N', meaning: 'keep a seeded subset of about N tokens (instead of --subset)' },
      { name: 'seed', value: 'N', meaning: 'seed of the split and the subset', default: '1337' },
      { name: 'docs', value: 'NAME', meaning: "what a document is: file (a whole file), jsonl (a record's --text-field) or blankline (a block between blank lines)", default: 'file' },
      { name: 'text-field', value: 'NAME', meaning: 'the JSONL field holding the text', default: 'text' },
      { name: 'shard-tokens', value: 'N', meaning: 'tokens per shard', default: '10000000' },
      SPLIT_SPECIAL,
      force('write into an --out that exists (the shards and data_pack.json of an earlier pack there are removed first)'),
      JSON_FLAG,
    ],
  },
  {
    name: 'plan', synopsis: '--model PATH --batch B --seq T [--recompute] [--precision NAME] [--optim NAME] [--grad-dtype NAME] [--memory BYTES] [--json]', gpu: true,
    summary: "The memory plan of training --model: the bytes of the weights, gradients, optimizer state, activations and scratch against the device's limits, whether it fits, and which flags would make it fit.",
    more: 'train and run check the same plan before allocating anything and refuse, printing it, when it does not fit. Reads only config.json of a Hugging Face directory.',
    flags: [
      model('the model', { required: true }),
      { name: 'batch', value: 'B', meaning: 'windows per micro-batch', required: true },
      { name: 'seq', value: 'T', meaning: 'tokens per window', required: true },
      { name: 'grad-accum', value: 'G', meaning: 'micro-batches per step', default: '1' },
      { name: 'recompute', meaning: "activation recompute, as train's --recompute" },
      { name: 'precision', value: 'NAME', meaning: "as train's --precision: under f16 the blocks' matmul inputs and outputs are stored in f16", default: 'f32' },
      { name: 'optim', value: 'NAME', meaning: 'adamw or adamw8bit, as train\'s --optim', default: 'adamw' },
      { name: 'optim-in-backward', meaning: "as train's --optim-in-backward: gradients of one block" },
      { name: 'grad-dtype', value: 'NAME', meaning: "f32 or bf16, as train's --grad-dtype: bf16 gradients + f32 staging of one block", default: 'f32' },
      { name: 'inference', meaning: 'plan a forward pass only (no gradients, no optimizer)' },
      { name: 'layers', value: 'K', meaning: 'plan the first K blocks only (what inherit --layers K makes)', default: 'all blocks' },
      { name: 'teacher', value: 'PATH', meaning: "count a teacher for knowledge distillation, as train's --teacher (its weights, forward activations, KD terms)" },
      { name: 'distill-topk', value: 'K', meaning: "with --teacher: as train's --distill-topk", default: '0' },
      MEMORY, JSON_FLAG,
    ],
  },
  { name: 'info', synopsis: '[--json]', gpu: true, summary: 'The WebGPU adapter, its features and limits, and the runtime.', flags: [JSON_FLAG] },
];

export const SPEC: Record<string, CommandSpec> = Object.fromEntries(SPECS.map((s) => [s.name, s]));
