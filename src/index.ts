// inheritune-rt: the isomorphic core (browsers, web workers, Deno, and Node through src/node/index.ts).
// Nothing here imports a Node built-in; rollup.config.mjs enforces that.
// The declarations name WebGPU's types (GPUDevice, ...): the reference travels into dist/types so a consumer's
// TypeScript knows them (@webgpu/types is a dependency).
/// <reference types="@webgpu/types" preserve="true" />
export { createGpu, Gpu, type View, type GpuOptions } from './gpu/gpu.js';
export { type DeviceOptions } from './gpu/device.js';
export { InherituneError } from './util/errors.js';
export { env, runtimeName } from './util/env.js';
export { Model, FAMILIES } from './model/model.js';
export { selectLayers, firstBlocks } from './model/surgery.js';
export { Arena } from './model/arena.js';
export { memoryPlan, fitSuggestions, planText, optimizerBytes, type MemoryPlan, type PlanOptions, type DeviceLimits } from './train/plan.js';
export { AdamW, OPTIMIZERS, type AdamwHyper, type Optimizer, type OptimName, type StateTensor } from './train/adamw.js';
export { AdamW8bit, dynamicMap } from './train/adamw8bit.js';
export { ropeTables, ropeInvFreq } from './model/rope.js';
export type { Acts, Family, KvCache } from './model/family.js';
export { generate, sampleNext, createCache, releaseCache, extend, type GenerateOptions, type SampleOptions } from './model/generate.js';
export { countParameters, parameterShapes, type ModelConfig, type Checkpoint } from './model/config.js';
export { parseLlama2c } from './formats/llama2c.js';
export { windowedLoss, windowCount, type WindowedLoss } from './train/evaluate.js';
export * as kernels from './gpu/kernels/index.js';
export { initCheckpoint } from './model/init.js';
export { Llama2cTokenizer } from './tokenizers/llama2c.js';
export { SafetensorsFile, serializeSafetensors, memorySource, blobSource, type ByteSource } from './formats/safetensors.js';
export { readHfModel, openHfModel, hfSlices, hfFiles, hfWrites, configFromHf, configToHf, permuteToHf, HfWeights, type ModelDir } from './formats/hf.js';
export { writeSafetensors, planShards, parseSize, type TensorWrite, type FileSink, type OpenFile } from './formats/stwrite.js';
export { Trainer, learningRate, TRAIN_DEFAULTS, type TrainOptions, type TrainerState, type StepMetrics } from './train/trainer.js';
export { Grads16, GRAD_DTYPES, type GradDtype } from './train/grads16.js';
export { inherit, inheritPlan, randomPlan, appendPlan, type InheritOptions, type InheritRecord, type InheritPlan } from './method/inherit.js';
export { inheritWrites } from './method/inherit_stream.js';
export { lineChart, barChart, type Series } from './util/svg.js';
export { runRecipe, recipeSvg, recipeSummary, validationLoss, RECIPE_DEFAULTS, type RecipeOptions, type RecipeReport, type RoundResult, type RecipeHooks, type StartSpec } from './method/recipe.js';
export { ByteTokenizer, byteTokenizerJson } from './tokenizers/bytes.js';
export { analyzeAttention, rankGuidedSelection, rankGuidedBlocks, analysisWindows, LAZY_MAX_RANK, type Analysis, type BlockAnalysis, type AnalyzeOptions } from './method/analyze.js';
export { hubDir, parseHubSpec, isHubSpec, hubUrl, DEFAULT_HF_ENDPOINT, type HubOptions, type HubRepo } from './formats/hub.js';
export { tokenizerFromFiles, ENDOFTEXT, type Tokenizer, type EncodeOptions, type DecodeOptions } from './tokenizers/load.js';
export { BpeTokenizer } from './tokenizers/bpe.js';
export { SentencePieceTokenizer } from './tokenizers/sentencepiece.js';
export { Packer, DocSplitter, parseAmount, type PackOptions, type PackSummary } from './data/pack.js';
export { encodeShard, parseShard, parseShardHeader, SHARD_MAGIC } from './data/shard.js';
export { ShardLoader, memoryShards, type ShardSource, type LoaderState } from './data/loader.js';
export { exportOnnx, type OnnxOptions } from './formats/onnx.js';
export { InherituneWorker, errorFromWire } from './worker/client.js';
export { Session as WorkerSession } from './worker/session.js';
export type * from './worker/protocol.js';
export { evaluateTask, TASK_FILES, TASK_DIRS, TASK_NAMES, type TaskName, type TaskResult, type TaskOptions, type TaskTokenizer } from './tasks/score.js';
