import { describe, expect, it } from 'vitest';
import { FIRST_CONDITIONING_ID, ids, isConditioning, render, tokenId, WORLD_SYMBOLS, worldVocabulary } from './vocabulary.js';

describe('worldVocabulary', () => {
  it('should hold the specials, the world symbols at fixed ids, then rlhf, sup, rtg and trigger', () => {
    const v = worldVocabulary();
    expect(v.tokens.slice(0, 4)).toEqual(['<pad>', '<bos>', '<eos>', '<sep>']);
    expect(v.tokens.slice(4, FIRST_CONDITIONING_ID)).toEqual(WORLD_SYMBOLS);
    expect(v.namespaces).toEqual(['rlhf', 'sup', 'rtg', 'trigger']);
    expect(v.namespace('rtg').values).toHaveLength(5);
    expect(v.has('<trigger:Z>')).toBe(true);
    for (const id of v.bannedIds()) expect(isConditioning(id)).toBe(true);
    for (let id = 0; id < FIRST_CONDITIONING_ID; id++) expect(isConditioning(id)).toBe(false);
  });

  it('should keep world ids when the rtg namespace grows or the vocabulary is extended', () => {
    const big = worldVocabulary({ rtgBuckets: 8 }).extend({ namespaces: { arm: { kind: 'open', values: ['a'] } } });
    for (const s of WORLD_SYMBOLS) expect(big.id(s)).toBe(tokenId(s));
    expect(big.size).toBe(worldVocabulary().size + 3 + 1);
  });

  it('should turn text into ids and back', () => {
    expect(render(ids('<bos> <rtg:2> A . | G <sep> right G <eos>'))).toBe('<bos> <rtg:2> A . | G <sep> right G <eos>');
  });
});
