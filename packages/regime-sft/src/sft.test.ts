import { createFitContext, exampleLogProbs, Rng, runFit, tf, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, sampleIndices, stopChoiceWorld } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { sft } from './sft.js';

const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const config = { vocabSize: worldVocabulary().size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 7 };

/** π_model(x) for every enumerated sequence, over the legal actions (each example carries them). */
function modelDistribution(model: Transformer, w = world): number[] {
  return exampleLogProbs(model, w.sequences.map((_, i) => w.example(i))).map(Math.exp);
}

// 4 symbols, lengths 1–3 (the agent may stop), a reward that is not a count.
const stopWorld = posteriorFixture(posteriorWorld(stopChoiceWorld.world), stopChoiceWorld.pi0);

describe('regime-sft', () => {
  it('should fit samples of π₀ to KL(π₀ ‖ π_SFT) ≤ 0.02 nats on the posterior world', async () => {
    const dataset = sampleIndices(world.pi0, 4000, 3).map((i) => world.example(i));
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    const log: Record<string, number>[] = [];
    const report = await runFit(sft({ steps: 250, batchSize: 64, lr: 3e-3 }), createFitContext({ base, policy, rng: new Rng(1), dataset, log: (_s, m) => log.push(m) }));
    const kl = klDivergence(world.pi0, modelDistribution(policy));
    console.log(`SFT fixed length: KL(π₀ ‖ π) ${kl.toFixed(4)}`);
    expect(kl).toBeLessThanOrEqual(0.02);
    expect(report.steps).toBe(250);
    // TRL's names are logged; the policy moved away from the (random) base.
    expect(Object.keys(log[0]!)).toEqual(expect.arrayContaining(['loss', 'objective/entropy', 'objective/kl']));
    expect(log.at(-1)!['objective/kl']).toBeGreaterThan(0.05);
    // Sanity: the untrained base is far from π₀ (so the bound is not trivially met).
    expect(klDivergence(world.pi0, modelDistribution(base))).toBeGreaterThan(0.1);
    [policy, base].forEach((m) => m.dispose());
  });

  it('should fit π₀ on a world with a stop choice to KL ≤ 0.015, scoring actions over their legal ids (over the whole vocabulary it stays 2× further)', async () => {
    const samples = sampleIndices(stopWorld.pi0, 4000, 3);
    const kls: number[] = [];
    for (const whole of [false, true]) {
      const dataset = samples.map((i) => {
        const { legal, ...rest } = stopWorld.example(i);
        return whole ? rest : { ...rest, legal };
      });
      const policy = Transformer.create(config);
      const base = policy.clone({ trainable: false });
      await runFit(sft({ steps: 300, batchSize: 64, lr: 3e-3 }), createFitContext({ base, policy, rng: new Rng(1), dataset }));
      kls.push(klDivergence(stopWorld.pi0, modelDistribution(policy, stopWorld)));
      if (!whole) expect(klDivergence(stopWorld.pi0, modelDistribution(base, stopWorld))).toBeGreaterThan(0.2);
      [policy, base].forEach((m) => m.dispose());
    }
    console.log(`SFT stop world: KL(π₀ ‖ π) ${kls[0]!.toFixed(4)} over legal ids, ${kls[1]!.toFixed(4)} over the whole vocabulary`);
    expect(kls[0]).toBeLessThanOrEqual(0.015);
    expect(kls[1]).toBeGreaterThan(2 * kls[0]!);
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
