// inheritune-rt: the isomorphic core (browsers, web workers, Deno, and Node through src/node.ts).
// Nothing here imports a Node built-in; rollup.config.mjs enforces that.
export { createGpu, Gpu, type View } from './gpu.js';
export { type DeviceOptions } from './device.js';
export { InherituneError } from './errors.js';
export { env, runtimeName } from './env.js';
export { Model, selectLayers } from './model.js';
export { countParameters, parameterShapes, type ModelConfig, type Checkpoint } from './config.js';
export { parseLlama2c } from './llama2c.js';
export { windowedLoss, type WindowedLoss } from './evaluate.js';
export * as kernels from './kernels.js';
export { initCheckpoint } from './init.js';
export { Llama2cTokenizer } from './tokenizer.js';
export { SafetensorsFile, serializeSafetensors, memorySource, blobSource, type ByteSource } from './safetensors.js';
export { readHfModel, hfFiles, configFromHf, configToHf, permuteToHf, type ModelDir } from './hf.js';
export { Trainer, learningRate, TRAIN_DEFAULTS, type TrainOptions, type TrainerState, type StepMetrics } from './train.js';
export { inherit, type InheritOptions, type InheritRecord } from './inherit.js';
export { lineChart, type Series } from './svg.js';
export { runRecipe, recipeSvg, recipeSummary, appendBlocks, RECIPE_DEFAULTS, type RecipeOptions, type RecipeReport, type RoundResult } from './recipe.js';
export { ByteTokenizer, byteTokenizerJson } from './bytes.js';
export { analyzeAttention, rankGuidedSelection, LAZY_MAX_RANK, type Analysis, type BlockAnalysis, type AnalyzeOptions } from './analyze.js';
export { hubDir, parseHubSpec, isHubSpec, hubUrl, DEFAULT_HF_ENDPOINT, type HubOptions, type HubRepo } from './hub.js';
export { tokenizerFromFiles, ENDOFTEXT, type Tokenizer, type EncodeOptions } from './tokenizers.js';
export { BpeTokenizer } from './bpe.js';
export { SentencePieceTokenizer } from './sentencepiece.js';
export { Packer, DocSplitter, encodeShard, parseShard, parseShardHeader, parseAmount, SHARD_MAGIC, type PackOptions, type PackSummary } from './pack.js';
export { ShardLoader, memoryShards, type ShardSource, type LoaderState } from './loader.js';
