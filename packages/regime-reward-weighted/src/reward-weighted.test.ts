import { createFitContext, exampleLogProbs, Rng, runFit, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, sampleIndices, stopChoiceWorld, tiltedPosterior } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { exampleWeights, rewardWeighted } from './reward-weighted.js';

const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const rewards = world.rewards;
const config = { vocabSize: worldVocabulary().size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 11 };
const dataset = sampleIndices(world.pi0, 4000, 5).map((i) => world.example(i));

describe('regime-reward-weighted', () => {
  it('should reach KL(π* ‖ π_RWR) ≤ 0.05 nats with π* ∝ π₀·exp(r/β) on the posterior world', async () => {
    const beta = 1;
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    await runFit(rewardWeighted({ mode: 'rwr', beta, steps: 250, batchSize: 64, lr: 5e-3, warmupSteps: 20 }), createFitContext({ base, policy, rng: new Rng(3), dataset }));
    const model = exampleLogProbs(policy, world.sequences.map((_, i) => world.example(i))).map(Math.exp);
    const target = tiltedPosterior(world.pi0, rewards, beta);
    const kl = klDivergence(target, model);
    console.log('RWR KL(π*‖π)', kl.toFixed(4), 'KL(π*‖π₀)', klDivergence(target, world.pi0).toFixed(4));
    expect(kl).toBeLessThanOrEqual(0.05);
    // π* is far from π₀ here, so staying at π₀ would fail.
    expect(klDivergence(target, world.pi0)).toBeGreaterThan(0.2);
    [policy, base].forEach((m) => m.dispose());
  });

  it('should reach KL(π* ‖ π_RWR) ≤ 0.05 on a world with a stop choice and a reward that is not a count (β = 1.3)', async () => {
    const stop = posteriorFixture(posteriorWorld(stopChoiceWorld.world), stopChoiceWorld.pi0);
    const beta = stopChoiceWorld.beta;
    const data = sampleIndices(stop.pi0, 4000, 5).map((i) => stop.example(i));
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    await runFit(rewardWeighted({ mode: 'rwr', beta, steps: 300, batchSize: 64, lr: 3e-3, warmupSteps: 20 }), createFitContext({ base, policy, rng: new Rng(3), dataset: data }));
    const model = exampleLogProbs(policy, stop.sequences.map((_, i) => stop.example(i))).map(Math.exp);
    const target = tiltedPosterior(stop.pi0, stop.rewards, beta);
    const kl = klDivergence(target, model);
    console.log('RWR stop world: KL(π*‖π)', kl.toFixed(4), 'KL(π*‖π₀)', klDivergence(target, stop.pi0).toFixed(4));
    expect(kl).toBeLessThanOrEqual(0.05);
    expect(klDivergence(target, stop.pi0)).toBeGreaterThan(0.15);
    [policy, base].forEach((m) => m.dispose());
  });

  it('should weight by exp(A/β) with a per-prompt baseline, clip, and keep the top fraction when filtering', () => {
    const ex = (prompt: number, r: number) => ({ tokens: [1, prompt, 4, 2], targetMask: [false, false, true, false], return: r });
    const data = [ex(3, 0), ex(3, 2), ex(5, 10), ex(5, 10)];
    const r = data.map((d) => d.return);
    const awr = exampleWeights(data, r, { mode: 'awr', beta: 1, maxWeight: 20, topFraction: 0.5 });
    expect(awr[0]).toBeCloseTo(Math.exp(-1), 6); // prompt 3: baseline 1
    expect(awr[1]).toBeCloseTo(Math.exp(1), 6);
    expect(awr[2]).toBeCloseTo(1, 6); // prompt 5: advantage 0
    const rwr = exampleWeights(data, r, { mode: 'rwr', beta: 1, maxWeight: 20, topFraction: 0.5 });
    expect(rwr[2]).toBe(20); // exp(10 − 5.5) clipped at 20
    expect(exampleWeights(data, r, { mode: 'filter', beta: 1, maxWeight: 20, topFraction: 0.5 })).toEqual([0, 0, 1, 1]);
  });

  it('should reject bad options when the factory is called', () => {
    expect(() => rewardWeighted({ beta: 0 })).toThrow(/\[regime-reward-weighted\] options\.beta/);
    expect(() => rewardWeighted({ topFraction: 0 })).toThrow(/options\.topFraction/);
    expect(() => rewardWeighted({ mode: 'best' as never })).toThrow(/options\.mode/);
  });
});
