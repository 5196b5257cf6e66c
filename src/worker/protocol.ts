// worker/protocol: the messages between a page and the inheritune-rt web worker (src/worker/worker.ts), as
// types only. Every request carries an id and a type; the worker answers with any number of
// progress messages, then exactly one result or one error, all with the request's id. Requests run
// one after another on the worker's GPU, except `cancel`, which is answered at once.
// Model names: 'reference' is the loaded reference (uploaded to the GPU when a request needs it);
// every other name is a model made by `inherit` (default 'inherited'), kept on the GPU with its
// trainer state until `dispose`, another `inherit` of the same name, or another `load`.
import type { ModelConfig } from '../model/config.js';
import type { TrainOptions, StepMetrics } from '../train/trainer.js';
import type { DistillOptions } from '../train/distill.js';
import type { WindowedLoss } from '../train/evaluate.js';
import type { InheritRecord } from '../method/inherit.js';
import type { Analysis } from '../method/analyze.js';

/** a text: the string itself, or a File/Blob of UTF-8 text */
export type TextSource = string | Blob;

/** splitSpecialTokens: special tokens written in texts and prompts (<|endoftext|>, <s>) stay text (HF's
 *  split_special_tokens=True); default: their ids, as HF tokenizers encode */
export type LoadRequest = { splitSpecialTokens?: boolean } & (
  /** files by name: an HF directory's (config.json, *.safetensors, tokenizer files) or a llama2.c model .bin + tokenizer .bin */
  | { source: 'files'; files: Record<string, Blob> }
  /** a directory URL (HF: config.json, safetensors read with HTTP Range), or the URL of a llama2.c .bin;
   *  tokenizer: file names or URLs, resolved against the model's directory (default: probe the usual names) */
  | { source: 'url'; url: string; tokenizer?: string | string[] }
  /** a Hub repo, hf:owner/name[@revision], read lazily with Range requests (src/formats/hub.ts hubDir) */
  | { source: 'hub'; spec: string; endpoint?: string; token?: string; /** download into OPFS once (resumable) and read from there */ cache?: boolean }
  /** a directory written by `save` with to: 'opfs' (OPFS path inheritune/<name>) */
  | { source: 'opfs'; name: string });

export interface GpuInfo { runtime: string; adapter: Record<string, string>; features: string[]; limits: Record<string, number> }

export interface ModelInfo {
  name: string;
  format: 'hf' | 'llama2c';
  config: ModelConfig;
  parameters: number;
  tokenizer: { kind: string; vocabSize: number; files: string[] } | null;
  bytes: number;                     // bytes read to load it
}

export interface LoadProgress { phase: 'read'; done: number; total: number; file: string }

export interface DataRequest {
  train: TextSource;
  val?: TextSource;                  // default: hold out the last valFraction of the training tokens
  valFraction?: number;              // default 0.1
}
export interface DataInfo { train_tokens: number; val_tokens: number; held_out: boolean }

export interface InheritRequest {
  model?: string;                    // default 'inherited'
  layers?: number; select?: number[]; preset?: 'paper' | 'official'; seed?: number;
  /** a random-init model of the same size instead (the baseline); `layers` gives its depth */
  random?: boolean;
}
export interface InheritResult { model: string; n_layers: number; parameters: number; blocks: number[] | null; record: InheritRecord | null }

export interface TrainRequest {
  model: string;
  /** over TRAIN_DEFAULTS; steps, batch and seq are required for a new run */
  options?: Partial<TrainOptions>;
  /** continue the kept trainer state of `model` (after a cancel); options.steps may extend the run */
  resume?: boolean;
  /** new data first (as a `data` request); default: the worker's current data */
  text?: TextSource; val?: TextSource;
  /**
   * knowledge distillation with the loaded reference as teacher (src/train/distill.ts): true for its
   * defaults (A 0.5, T 1, the whole distribution), or the settings; history then carries ce and kd
   */
  distill?: boolean | Partial<DistillOptions>;
}
export type TrainProgress = StepMetrics & { model: string; steps: number };
export interface TrainResult {
  model: string;
  step: number;                      // optimizer steps done in total (the trainer's state.step)
  steps: number;                     // the run's target
  done: boolean;
  cancelled: boolean;
  history: StepMetrics[];            // the steps of this request
  val_loss?: number;                 // at the end of the run, when done
  seconds: number;
}

export interface EvaluateRequest { model: string; seq: number; windows: number; batch?: number }
export interface AnalyzeRequest { model?: string; sequences?: number; seq?: number; tau?: number }
export interface AnalyzeProgress { done: number; total: number }
/** analyzeAttention's result, plus the max_rank below which a block counts as lazy (LAZY_MAX_RANK) */
export type AnalyzeResult = Analysis & { lazy_below: number };

export interface SaveRequest {
  model: string;
  /** 'opfs': write the HF directory to OPFS inheritune/<name>; 'bytes': return the files */
  to: 'opfs' | 'bytes';
  name?: string;
  /** also export the ONNX graph as onnx/model.onnx (the layout transformers.js reads) */
  onnx?: boolean;
}
export interface SaveResult { model: string; sizes: Record<string, number>; files?: Record<string, Uint8Array>; opfs?: string }

export interface GenerateRequest {
  model: string;                     // 'reference' or a model made by inherit
  prompt: string;                    // encoded with the reference's tokenizer (BOS first when it has one)
  maxNewTokens?: number;             // default 64
  temperature?: number; topK?: number; topP?: number; seed?: number; // default 0.8, 50, 1, 0 (temperature 0: greedy)
}
/** one progress message per generated token: its id and the text decoded so far */
export interface GenerateProgress { id: number; text: string }
export interface GenerateResult { text: string; ids: number[] }

/** request type -> [request fields, result, progress] */
export interface Protocol {
  info: [{}, GpuInfo, never];
  load: [LoadRequest, ModelInfo, LoadProgress];
  data: [DataRequest, DataInfo, never];
  inherit: [InheritRequest, InheritResult, never];
  train: [TrainRequest, TrainResult, TrainProgress];
  cancel: [{ model?: string }, { cancelling: boolean; model: string | null; step: number | null }, never];
  evaluate: [EvaluateRequest, WindowedLoss, never];
  analyze: [AnalyzeRequest, AnalyzeResult, AnalyzeProgress];
  logits: [{ model: string; ids: number[] }, Float32Array, never];
  generate: [GenerateRequest, GenerateResult, GenerateProgress];
  save: [SaveRequest, SaveResult, never];
  dispose: [{ model: string }, { disposed: boolean }, never];
}
export type RequestType = keyof Protocol;
export type RequestOf<K extends RequestType> = { id: number; type: K } & Protocol[K][0];
export type Request = { [K in RequestType]: RequestOf<K> }[RequestType];

/** an error as it crosses the worker boundary; the client turns it back into an InherituneError */
export interface WireError { name: string; message: string; problem: string; hint?: string }

export type Response =
  | { id: number; kind: 'progress'; data: unknown }
  | { id: number; kind: 'result'; data: unknown }
  | { id: number; kind: 'error'; error: WireError };
