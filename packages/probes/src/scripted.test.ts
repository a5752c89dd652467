import { Rng, rollout, tf } from '@regime-zoo/core';
import { myopiaWorld, tokenId } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { scriptedModel } from './scripted.js';
import { logitsFor, myopiaPolicy, V } from './test-helpers.js';

describe('scriptedModel', () => {
  it('should produce exactly the scripted logits at every position', () => {
    const after = (t: number) => (t === tokenId('<sep>') ? logitsFor({ a: 0.25, b: 0.75 }) : t === tokenId('r1') ? logitsFor({ a: 0.9, b: 0.1 }) : undefined);
    const m = scriptedModel({ vocabSize: V }, after);
    const tokens = [[tokenId('<bos>'), tokenId('d1'), tokenId('n1'), tokenId('<sep>'), tokenId('a'), tokenId('r1')]];
    const probs = tf.tidy(() => tf.softmax(m.forward(tokens).logits).arraySync()[0]!);
    expect(probs[3]![tokenId('b')]!).toBeCloseTo(0.75, 5);
    expect(probs[5]![tokenId('a')]!).toBeCloseTo(0.9, 5);
    // Uniform after any other token.
    expect(probs[1]![tokenId('a')]!).toBeCloseTo(1 / V, 5);
    m.dispose();
  });

  it('should roll out with the scripted action frequencies', () => {
    const m = myopiaPolicy(0.3);
    const world = myopiaWorld({ idVariants: [{ delay: 1, size: 1 }] });
    const eps = rollout(m, world.environment('id'), { episodes: 400, rng: new Rng(2) });
    const firstB = eps.filter((e) => e.tokens[e.actionMask.indexOf(true)] === tokenId('b')).length / eps.length;
    expect(firstB).toBeGreaterThan(0.24);
    expect(firstB).toBeLessThan(0.36);
    m.dispose();
  });
});
