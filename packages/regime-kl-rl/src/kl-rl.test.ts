import { createFitContext, exampleLogProbs, Rng, runFit, tf, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, stopChoiceWorld, tiltedPosterior } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { klRl } from './kl-rl.js';

const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const rewards = world.rewards;
const config = { vocabSize: worldVocabulary().size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 17 };
/** π(x) of every enumerated sequence, over each action's legal ids (as rollouts sample it). */
const distribution = (m: Transformer, w = world) => exampleLogProbs(m, w.sequences.map((_, i) => w.example(i))).map(Math.exp);

describe('regime-kl-rl', () => {
  for (const beta of [0.5, 2]) {
    it(`should reach KL(π* ‖ π) ≤ 0.05 nats from π₀ at β = ${beta} on the posterior world`, async () => {
      const base = Transformer.create(config, { trainable: false });
      const policy = base.clone({ trainable: true });
      const pi0 = distribution(base);
      const target = tiltedPosterior(pi0, rewards, beta);
      const log: Record<string, number>[] = [];
      await runFit(klRl({ beta, steps: 150, prompts: 16, k: 4, lr: 3e-3, warmupSteps: 10 }), createFitContext({ base, policy, rng: new Rng(4), worlds: [world.environment], log: (_s, m) => log.push(m) }));
      const kl = klDivergence(target, distribution(policy));
      console.log(`KL-RL β=${beta}: KL(π*‖π) ${kl.toFixed(4)} (start ${klDivergence(target, pi0).toFixed(4)}), objective/kl ${log.at(-1)!['objective/kl']!.toFixed(3)}`);
      expect(kl).toBeLessThanOrEqual(0.05);
      expect(klDivergence(target, pi0)).toBeGreaterThan(0.05); // the start does not meet the bound
      expect(Math.min(...log.map((m) => m['objective/kl']!))).toBeGreaterThanOrEqual(0); // k3: never negative
      [policy, base].forEach((m) => m.dispose());
    });
  }

  it('should split the step\'s episodes between micro-batches, and refuse batchSize and too many micro-batches', async () => {
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    const rows: number[] = [];
    const forward = policy.forward.bind(policy);
    policy.forward = (tokens, options) => {
      rows.push(tokens instanceof tf.Tensor ? tokens.shape[0] : tokens.length);
      return forward(tokens, options);
    };
    await runFit(klRl({ steps: 1, prompts: 3, k: 2, microBatches: 2 }), createFitContext({ base, policy, rng: new Rng(5), worlds: [world.environment] }));
    // The rollout batch's log-probs (6 rows), then one loss per micro-batch of 3 episodes.
    expect(rows).toEqual([6, 3, 3]);
    expect(() => klRl({ batchSize: 8 } as never)).toThrow(expect.objectContaining({ code: 'OPTION_INVALID', plugin: 'regime-kl-rl' }));
    expect(() => klRl({ prompts: 2, k: 2, microBatches: 5 })).toThrow(expect.objectContaining({ code: 'OPTION_INVALID', field: 'microBatches' }));
    [policy, base].forEach((m) => m.dispose());
  });

  it('should reach KL(π* ‖ π) ≤ 0.012 from π₀ on a world with a stop choice and a reward that is not a count (β = 1.3)', async () => {
    const stop = posteriorFixture(posteriorWorld(stopChoiceWorld.world), stopChoiceWorld.pi0);
    const beta = stopChoiceWorld.beta;
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    const pi0 = distribution(base, stop);
    const target = tiltedPosterior(pi0, stop.rewards, beta);
    await runFit(klRl({ beta, steps: 150, prompts: 16, k: 4, lr: 3e-3, warmupSteps: 10 }), createFitContext({ base, policy, rng: new Rng(4), worlds: [stop.environment] }));
    const kl = klDivergence(target, distribution(policy, stop));
    console.log(`KL-RL stop world β=${beta}: KL(π*‖π) ${kl.toFixed(4)} (start ${klDivergence(target, pi0).toFixed(4)})`);
    expect(kl).toBeLessThanOrEqual(0.012);
    expect(klDivergence(target, pi0)).toBeGreaterThan(0.1);
    [policy, base].forEach((m) => m.dispose());
  });
});
