// llama2c: both checkpoint layouts read the same weights; malformed files get clear errors.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseLlama2c, InherituneError } from '../src/index.js';
import { SHARED } from './helpers.js';

const dir = resolve(SHARED, 'stories260k');
const legacy = new Uint8Array(readFileSync(resolve(dir, 'stories260K.bin')));
const v1 = new Uint8Array(readFileSync(resolve(dir, 'stories260K_v1.bin')));

describe('llama2.c checkpoints', () => {
  it('reads the legacy header as SOURCE.md documents it', () => {
    const { config, tensors } = parseLlama2c(legacy);
    expect(config).toMatchObject({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, maxSeqLen: 512, tiedEmbeddings: true });
    expect(tensors.wk.length).toBe(5 * 32 * 64);
    // first weight of the embedding straight from the file bytes at offset 28
    expect(tensors.token_embedding[0]).toBe(new DataView(legacy.buffer, legacy.byteOffset).getFloat32(28, true));
  });

  it('version 1 holds exactly the same tensors as the legacy file', () => {
    const a = parseLlama2c(legacy), b = parseLlama2c(v1);
    expect(b.config).toEqual(a.config);
    for (const k of Object.keys(a.tensors)) expect(Buffer.from(b.tensors[k].buffer).equals(Buffer.from(a.tensors[k].buffer)), k).toBe(true);
  });

  const bad: [string, () => Uint8Array, RegExp][] = [
    ['empty file', () => new Uint8Array(0), /too small.*HINT/s],
    ['truncated legacy', () => legacy.slice(0, legacy.length - 100), /truncated: 1056440 bytes.*says 1056540.*HINT/s],
    ['truncated v1', () => v1.slice(0, 1000), /truncated.*HINT/s],
    ['trailing bytes', () => { const b = new Uint8Array(legacy.length + 8); b.set(legacy); return b; }, /trailing bytes/],
    ['wrong magic / random header', () => new Uint8Array(4096).fill(0x7f), /not a llama2.c checkpoint.*HINT/s],
    ['version 2 export', () => { const b = v1.slice(); new DataView(b.buffer).setInt32(4, 2, true); return b; }, /version 2 is not supported.*HINT/s],
    ['NaN weight', () => { const b = legacy.slice(); new DataView(b.buffer).setFloat32(28 + 4 * 10, NaN, true); return b; }, /non-finite.*HINT/s],
  ];
  for (const [name, make, re] of bad) {
    it(`rejects ${name} with a clear error`, () => {
      let err: unknown;
      try { parseLlama2c(make(), 'x.bin'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(InherituneError);
      expect((err as Error).message).toMatch(re);
    });
  }
});
