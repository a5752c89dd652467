import { tinyConfig } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { corridor } from './__fixtures__/corridor.js';
import { Transformer } from './model.js';
import { Rng } from './rng.js';
import { rollout } from './rollout.js';
import { sampleToken } from './sampling.js';

const model = Transformer.create(tinyConfig);
afterAll(() => model.dispose());

describe('sampleToken', () => {
  it('should respect legal ids, banned ids, greedy and top-k', () => {
    const logits = [0, 5, 1, 4, 3];
    const rng = new Rng(1);
    expect(sampleToken(logits, rng, { temperature: 0 })).toBe(1);
    expect(sampleToken(logits, rng, { temperature: 0, banned: [1] })).toBe(3);
    expect(sampleToken(logits, rng, { temperature: 0 }, [0, 2])).toBe(2);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(sampleToken(logits, rng, { topK: 2 }));
    expect([...seen].sort()).toEqual([1, 3]);
    expect(() => sampleToken(logits, rng, { banned: [0, 2] }, [0, 2])).toThrow(/no token may be sampled/);
  });

  it('should sample in proportion to softmax(logits / T)', () => {
    const rng = new Rng(3);
    let ones = 0;
    for (let i = 0; i < 4000; i++) ones += sampleToken([0, Math.log(3)], rng, { temperature: 1 });
    expect(ones / 4000).toBeGreaterThan(0.72);
    expect(ones / 4000).toBeLessThan(0.78);
  });
});

describe('rollout', () => {
  it('should interleave legal actions and observations, end episodes with EOS and sum rewards', () => {
    const eps = rollout(model, corridor, { episodes: 20, rng: new Rng(2), batchSize: 7 });
    expect(eps).toHaveLength(20);
    for (const e of eps) {
      expect(e.tokens.slice(0, 3)).toEqual([1, 6, 2]);
      const actions = e.tokens.filter((_, i) => e.actionMask[i]);
      expect(actions.every((a) => a === 4 || a === 5)).toBe(true);
      expect(actions.length).toBe(e.rewards.length);
      expect(e.return).toBe(e.rewards.reduce((a, b) => a + b, 0));
      expect(e.done).toBe(true);
      expect(e.tokens.at(-1)).toBe(3);
      // Each action is followed by the cell it leads to.
      e.actionMask.forEach((isAction, i) => isAction && expect(e.tokens[i + 1]).toBeGreaterThanOrEqual(6));
    }
  });

  it('should insert conditioning tokens after BOS and cut at maxLength', () => {
    const eps = rollout(model, corridor, { episodes: 3, rng: new Rng(2), conditioning: (i) => [12 + i], maxLength: 6 });
    expect(eps.map((e) => e.tokens.slice(0, 4))).toEqual([
      [1, 12, 6, 2],
      [1, 13, 6, 2],
      [1, 14, 6, 2],
    ]);
    expect(eps.every((e) => e.tokens.length <= 6 && !e.done)).toBe(true);
  });

  it('should produce the same episodes with and without the KV cache (same seed)', () => {
    const a = rollout(model, corridor, { episodes: 8, rng: new Rng(9) });
    const b = rollout(model, corridor, { episodes: 8, rng: new Rng(9), kvCache: false });
    expect(b.map((e) => e.tokens)).toEqual(a.map((e) => e.tokens));
  });

  it('should follow the model: a model trained to go right reaches the goal in 3 steps greedily', () => {
    const eps = rollout(model, corridor, { episodes: 4, rng: new Rng(1), temperature: 0 });
    // Greedy decoding of a fixed model is deterministic across rows.
    expect(new Set(eps.map((e) => e.tokens.join(','))).size).toBe(1);
  });

  it('should not grow tf.memory().numTensors over 100 rollouts (with and without a value head)', () => {
    const withValues = Transformer.create({ ...tinyConfig, valueHead: true });
    for (const m of [model, withValues]) {
      const rng = new Rng(4);
      rollout(m, corridor, { episodes: 2, rng });
      const before = tf.memory().numTensors;
      for (let i = 0; i < 100; i++) rollout(m, corridor, { episodes: 2, rng });
      expect(tf.memory().numTensors).toBe(before);
    }
    withValues.dispose();
  });
});
