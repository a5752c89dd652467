import { createFitContext, exampleLogProbs, Rng, runFit, Transformer } from '@regime-zoo/core';
import type { PreferencePair } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, tiltedPosterior } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { dpo } from './dpo.js';

// r = 2.5 × (number of c's): pairs of distinct reward differ by ≥ 2.5, so Bradley–Terry labels agree
// with r at least σ(2.5) = 92% of the time.
const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => 2.5 * x.filter((s) => s === 2).length }));
const rewards = world.rewards;
const config = { vocabSize: worldVocabulary().size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 13 };
const example = (i: number) => world.example(i);

/** Pairs of distinct-reward sequences drawn uniformly, labelled by a Bradley–Terry rater with temperature 1. */
function preferences(n: number, rng: Rng): PreferencePair[] {
  const out: PreferencePair[] = [];
  while (out.length < n) {
    const a = rng.int(rewards.length);
    const b = rng.int(rewards.length);
    if (rewards[a] === rewards[b]) continue;
    const pA = 1 / (1 + Math.exp(-(rewards[a]! - rewards[b]!)));
    const [w, l] = rng.next() < pA ? [a, b] : [b, a];
    out.push({ chosen: example(w), rejected: example(l) });
  }
  return out;
}

const distribution = (m: Transformer) => exampleLogProbs(m, world.sequences.map((_, i) => example(i)), { legalIds: world.legal }).map(Math.exp);

describe('regime-dpo', () => {
  it('should approach π* ∝ π_ref·exp(r/β) (KL ≤ 0.1 at β = 1) with rewards/accuracies above 0.9', async () => {
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    const log: Record<string, number>[] = [];
    await runFit(dpo({ beta: 1, steps: 300, batchSize: 64, lr: 3e-3, warmupSteps: 20 }), createFitContext({ base, policy, rng: new Rng(1), preferences: preferences(3000, new Rng(7)), log: (_s, m) => log.push(m) }));
    const target = tiltedPosterior(distribution(base), rewards, 1);
    const kl = klDivergence(target, distribution(policy));
    const late = log.slice(-50);
    const accuracy = late.reduce((a, m) => a + m['rewards/accuracies']!, 0) / late.length;
    console.log('DPO KL(π*‖π)', kl.toFixed(4), 'accuracy', accuracy.toFixed(3), 'margin', late.at(-1)!['rewards/margins']!.toFixed(2));
    expect(kl).toBeLessThanOrEqual(0.1);
    expect(accuracy).toBeGreaterThan(0.9);
    expect(log[0]!['rewards/accuracies']).toBeLessThan(0.75); // it rose, from about chance
    expect(Object.keys(log[0]!)).toEqual(expect.arrayContaining(['loss', 'objective/kl', 'objective/entropy', 'rewards/chosen', 'rewards/rejected', 'rewards/margins']));
    [policy, base].forEach((m) => m.dispose());
  });

  it('should reject bad options, no pairs, and pairs whose episodes do not fit the model', async () => {
    expect(() => dpo({ beta: -0.1 })).toThrow(/\[regime-dpo\] options\.beta/);
    expect(() => dpo({ labelSmoothing: 0.5 })).toThrow(/options\.labelSmoothing/);
    const policy = Transformer.create(config);
    const frozen = policy.clone({ trainable: false }); // base and policy must be different models
    const ctx = createFitContext({ base: frozen, policy, rng: new Rng(1) });
    await expect(runFit(dpo(), ctx)).rejects.toMatchObject({ code: 'EMPTY_DATASET' });
    const bad = { chosen: example(0), rejected: { tokens: [1, 3, 99, 2] } };
    await expect(runFit(dpo(), { ...ctx, preferences: [bad] })).rejects.toMatchObject({
      code: 'TOKEN_OUT_OF_RANGE',
      field: 'preferences.rejected[0]',
      position: [0, 2],
    });
    [policy, frozen].forEach((m) => m.dispose());
  });
});
