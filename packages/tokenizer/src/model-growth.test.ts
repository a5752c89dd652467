import { Transformer } from '@regime-zoo/core';
import { describe, expect, it } from 'vitest';
import { thrown } from './test-helpers.js';
import { createVocabulary, Vocabulary } from './vocabulary.js';

/** The float32 bit patterns of a matrix's entries: equal bits, not merely equal values. */
const bits = (rows: readonly (readonly number[])[]): number[] => Array.from(new Uint32Array(Float32Array.from(rows.flat()).buffer));

const matrix = (model: Transformer, name: string): number[][] => {
  const v = model.params.get(name);
  if (!v) throw new Error(`model has no parameter ${name}`);
  return v.arraySync() as number[][];
};

const vector = (model: Transformer, name: string): number[] => {
  const v = model.params.get(name);
  if (!v) throw new Error(`model has no parameter ${name}`);
  return v.arraySync() as number[];
};

// The issue: "Extending a saved vocabulary and reloading keeps every old id; a test grows a core model's
// embedding and checks old rows are bit-identical."
describe('growing a core model with its vocabulary', () => {
  it('should keep every old id, embedding row and unembedding column through save → reload → extend → growVocab', () => {
    const vocab = createVocabulary({ symbols: ['#', '.', 'A', 'G', 'up', 'down'], rtgBuckets: 3 });
    const model = Transformer.create({ vocabSize: vocab.size, contextLength: 16, dModel: 8, nHeads: 2, nLayers: 1, seed: 7 });
    try {
      const oldEpisode = { prefix: ['<rlhf:on>', '<rtg:2>'], tokens: ['#', 'A', '<sep>', 'up', 'G', '<eos>'] };
      const oldIds = vocab.encode(oldEpisode);
      const W_E = matrix(model, 'embed.W_E');
      const W_U = matrix(model, 'unembed.W_U');
      const b_U = vector(model, 'unembed.b_U');
      expect([W_E.length, W_U[0]?.length, b_U.length]).toEqual([vocab.size, vocab.size, vocab.size]);
      const oldLogits = model.forward([oldIds]).logits;
      const before = oldLogits.arraySync() as number[][][];
      oldLogits.dispose();

      // Save with the checkpoint, reload, extend with new conditioning tokens of three kinds.
      const saved = JSON.stringify(vocab.toJSON());
      const reloaded = Vocabulary.fromJSON(saved);
      expect(reloaded.tokens).toEqual(vocab.tokens);
      const grown = reloaded.extend({ rtgBuckets: 5, triggers: ['Z'], namespaces: { regime: { kind: 'open', values: ['sft', 'dpo'] } } });
      const added = ['<rtg:3>', '<rtg:4>', '<trigger:Z>', '<regime:sft>', '<regime:dpo>'];
      expect(grown.tokens.slice(vocab.size)).toEqual(added);
      vocab.tokens.forEach((token, id) => expect(grown.id(token)).toBe(id));
      expect(grown.encode(oldEpisode)).toEqual(oldIds);

      // The model refuses the new ids until it is grown.
      const newEpisode = { prefix: ['<regime:dpo>', '<rtg:4>', '<trigger:Z>'], tokens: ['#', 'A', '<sep>', 'up', 'G', '<eos>'] };
      const newIds = grown.encode(newEpisode);
      expect(thrown(() => model.forward([newIds])).code).toBe('TOKEN_OUT_OF_RANGE');

      model.growVocab(grown.size);
      expect(model.config.vocabSize).toBe(grown.size);
      const W_E2 = matrix(model, 'embed.W_E');
      const W_U2 = matrix(model, 'unembed.W_U');
      const b_U2 = vector(model, 'unembed.b_U');
      expect([W_E2.length, W_U2[0]?.length, b_U2.length]).toEqual([grown.size, grown.size, grown.size]);
      // Old rows of the embedding and old columns of the unembedding: equal values and equal bits.
      const keptE = W_E2.slice(0, vocab.size);
      const keptU = W_U2.map((row) => row.slice(0, vocab.size));
      expect(keptE).toEqual(W_E);
      expect(keptU).toEqual(W_U);
      expect(b_U2.slice(0, vocab.size)).toEqual(b_U);
      expect(bits(keptE)).toEqual(bits(W_E));
      expect(bits(keptU)).toEqual(bits(W_U));
      expect(bits([b_U2.slice(0, vocab.size)])).toEqual(bits([b_U]));
      // The new rows are fresh, not copies of old ones.
      for (const row of W_E2.slice(vocab.size)) expect(W_E).not.toContainEqual(row);

      // The forward pass takes the new ids and scores every token of the grown vocabulary.
      const logits = model.forward([newIds, oldIds.concat(new Array<number>(newIds.length - oldIds.length).fill(0))]).logits;
      expect(logits.shape).toEqual([2, newIds.length, grown.size]);
      const after = logits.arraySync() as number[][][];
      logits.dispose();
      expect(after.flat(2).every(Number.isFinite)).toBe(true);
      // On an old sequence the grown model gives the old logits over the old tokens (causal: the padding
      // after it does not reach back); equal up to float rounding, since the matmul is now wider.
      before[0]!.forEach((row, t) => row.forEach((x, id) => expect(after[1]![t]![id]).toBeCloseTo(x, 5)));
    } finally {
      model.dispose();
    }
  });
});
