// configs: the two models the bench and the profile train (bench/run.mjs, bench/profile.mjs): a small
// GPT-2-style model (the small config) and GPT-2 124M
export const SMALL = { family: 'gpt2', dim: 128, hiddenDim: 512, nLayers: 4, nHeads: 4, nKvHeads: 4, vocabSize: 512, maxSeqLen: 64, normEps: 1e-5, ropeTheta: 10000, ropeMode: 'rotate_half', tiedEmbeddings: true };
export const GPT2 = { ...SMALL, dim: 768, hiddenDim: 3072, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 50257, maxSeqLen: 1024 };
