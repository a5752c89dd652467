import { createFitContext, exampleLogProbs, Rng, runFit, Transformer } from '@regime-zoo/core';
import type { PreferencePair } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, stopChoiceWorld, tiltedPosterior } from '@regime-zoo/test-utils';
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

/** π(x) of every enumerated sequence, over each action's legal ids (the examples carry them), as rollouts sample it. */
const distribution = (m: Transformer, w = world) => exampleLogProbs(m, w.sequences.map((_, i) => w.example(i))).map(Math.exp);

// 4 symbols, lengths 1–3 (the agent may stop), r(x) ∈ {0, 1, 2} not a count; β = 1.3.
const stop = posteriorFixture(posteriorWorld(stopChoiceWorld.world), stopChoiceWorld.pi0);

/** Pairs of distinct-reward sequences of `w` drawn uniformly, labelled by a Bradley–Terry rater with temperature β. */
function pairsOf(w: typeof stop, beta: number, n: number, rng: Rng): PreferencePair[] {
  const out: PreferencePair[] = [];
  while (out.length < n) {
    const a = rng.int(w.rewards.length);
    const b = rng.int(w.rewards.length);
    if (w.rewards[a] === w.rewards[b]) continue;
    const [x, y] = rng.next() < 1 / (1 + Math.exp(-(w.rewards[a]! - w.rewards[b]!) / beta)) ? [a, b] : [b, a];
    out.push({ chosen: w.example(x), rejected: w.example(y) });
  }
  return out;
}

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

  it('should approach π* on a world with a stop choice, scoring each action over its legal ids (KL ≤ 0.1)', async () => {
    // The 3-seed run to convergence (30,000 pairs, batch 256, 1,500 steps) is the example package's
    // `start dpo` command (docs/regimes/regime-dpo.md); this is the same run, shorter.
    const beta = stopChoiceWorld.beta;
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    const target = tiltedPosterior(distribution(base, stop), stop.rewards, beta);
    await runFit(dpo({ beta, steps: 300, batchSize: 128, lr: 3e-3, warmupSteps: 20 }), createFitContext({ base, policy, rng: new Rng(1), preferences: pairsOf(stop, beta, 10000, new Rng(7)) }));
    const pi = distribution(policy, stop);
    const kl = klDivergence(target, pi);
    // Measured with one set of ids for every action (symbols and <eos>), the policy may stop before its
    // first symbol, which the world forbids: mass leaks off the world's sequences and the KL is overstated.
    const oneSet = (m: Transformer) => exampleLogProbs(m, stop.sequences.map((_, i) => ({ ...stop.example(i), legal: undefined })), { legalIds: [...stop.legal, stop.eos!] }).map(Math.exp);
    const leaky = oneSet(policy);
    const klOneSet = klDivergence(tiltedPosterior(oneSet(base), stop.rewards, beta), leaky);
    const sum = (p: number[]) => p.reduce((a, x) => a + x, 0);
    console.log(`DPO stop world: KL(π*‖π) ${kl.toFixed(4)} (start ${klDivergence(target, distribution(base, stop)).toFixed(4)}); with one legal set for every action ${klOneSet.toFixed(4)}, mass on the world's sequences ${sum(leaky).toFixed(3)}`);
    expect(kl).toBeLessThanOrEqual(0.1);
    expect(sum(pi)).toBeCloseTo(1, 4);
    expect(sum(leaky)).toBeLessThan(0.95);
    expect(klOneSet).toBeGreaterThan(2 * kl);
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
