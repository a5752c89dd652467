import { describe, expect, it } from 'vitest';
import { createVocabulary, fitReturnBuckets, Vocabulary } from './index.js';

// The README's example, kept honest.
describe('README example', () => {
  it('should run as written and give the values the README shows', () => {
    const vocab = createVocabulary({ symbols: ['#', '.', 'A', 'G', 'up', 'down'] });
    const { buckets, labels } = fitReturnBuckets([0, 3, 1, 7, 2, 9, 4, 4, 8, 5]); // 5 quantiles (Quark)
    const episode = { prefix: ['<rlhf:off>', buckets.token(labels[5]!)], tokens: ['#', 'A', '<sep>', 'up', 'G', '<eos>'] };
    const ids = vocab.encode(episode);
    expect(ids).toEqual([1, 11, 18, 4, 6, 3, 8, 7, 2]);
    expect(vocab.decode(ids)).toEqual(episode);
    expect(episode.prefix).toEqual(['<rlhf:off>', '<rtg:4>']);
    expect(buckets.bucket(12)).toEqual({ bucket: 4, token: '<rtg:4>', clipped: 'above' });
    expect(buckets.range(4)).toEqual({ bucket: 4, token: '<rtg:4>', lo: 7.5, hi: 9, hiInclusive: true, count: 2, mean: 8.5 });
    expect(vocab.bannedIds(['rlhf', 'rtg'])).toEqual([10, 11, 14, 15, 16, 17, 18]);
    const grown = Vocabulary.fromJSON(JSON.stringify(vocab)).extend({ triggers: ['Z'] });
    expect(grown.tokens.slice(0, vocab.size)).toEqual(vocab.tokens);
    expect([vocab.size, grown.size]).toEqual([19, 20]);
  });
});
