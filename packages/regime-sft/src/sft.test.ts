import { createFitContext, exampleLogProbs, Rng, runFit, tf, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, sampleIndices } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { sft } from './sft.js';

const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const config = { vocabSize: worldVocabulary().size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 7 };

/** π_model(x) for every enumerated sequence. */
function modelDistribution(model: Transformer): number[] {
  const lp = exampleLogProbs(model, world.sequences.map((_, i) => world.example(i)), { legalIds: world.legal });
  return lp.map(Math.exp);
}

describe('regime-sft', () => {
  it('should fit samples of π₀ to KL(π₀ ‖ π_SFT) ≤ 0.02 nats on the posterior world', async () => {
    const dataset = sampleIndices(world.pi0, 4000, 3).map((i) => world.example(i));
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    const log: Record<string, number>[] = [];
    const report = await runFit(sft({ steps: 250, batchSize: 64, lr: 3e-3 }), createFitContext({ base, policy, rng: new Rng(1), dataset, log: (_s, m) => log.push(m) }));
    const kl = klDivergence(world.pi0, modelDistribution(policy));
    expect(kl).toBeLessThanOrEqual(0.02);
    expect(report.steps).toBe(250);
    // TRL's names are logged; the policy moved away from the (random) base.
    expect(Object.keys(log[0]!)).toEqual(expect.arrayContaining(['loss', 'objective/entropy', 'objective/kl']));
    expect(log.at(-1)!['objective/kl']).toBeGreaterThan(0.05);
    // Sanity: the untrained base is far from π₀ (so the bound is not trivially met).
    expect(klDivergence(world.pi0, modelDistribution(base))).toBeGreaterThan(0.1);
    [policy, base].forEach((m) => m.dispose());
  });

  it('should reject bad options and data with errors that name them', async () => {
    expect(() => sft({ lr: 0 })).toThrow(/\[regime-sft\] options\.lr/);
    expect(() => sft({ steps: 1.5 })).toThrow(/options\.steps/);
    const policy = Transformer.create(config);
    const frozen = policy.clone({ trainable: false }); // base and policy must be different models
    const ctx = createFitContext({ base: frozen, policy, rng: new Rng(1), dataset: [{ tokens: [1, 3, 99, 2] }] });
    await expect(runFit(sft({ steps: 1 }), ctx)).rejects.toMatchObject({ code: 'TOKEN_OUT_OF_RANGE', position: [0, 2] });
    await expect(runFit(sft({ steps: 1 }), { ...ctx, dataset: [] })).rejects.toMatchObject({ code: 'EMPTY_DATASET' });
    [policy, frozen].forEach((m) => m.dispose());
    expect(tf.getBackend()).toBe(process.env.REGIME_ZOO_BACKEND === 'cpu' ? 'cpu' : 'tensorflow');
  });
});
