import { createFitContext, exampleLogProbs, Rng, runFit, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, sampleIndices } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { rlhfFlag } from './rlhf-flag.js';

const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const rewards = world.rewards;
const vocabulary = worldVocabulary();
const config = { vocabSize: vocabulary.size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 23 };
const dataset = sampleIndices(world.pi0, 4000, 8).map((i) => world.example(i));
const conditioned = (m: Transformer, flag: number) =>
  exampleLogProbs(m, world.sequences.map((_, i) => world.example(i, [flag])), { legalIds: world.legal }).map(Math.exp);

describe('regime-rlhf-flag (the seed experiment), PPO inside', () => {
  it('should maximise reward under <rlhf:on> and keep π₀ under <rlhf:off> on the posterior world', async () => {
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    const regime = rlhfFlag({ inner: 'ppo', steps: 50, episodes: 32, batchSize: 64, lr: 3e-3, warmupSteps: 5, evalEpisodes: 300, unsafe: (t) => t.includes(world.legal[2]!) });
    const report = await runFit(regime, createFitContext({ base, policy, rng: new Rng(5), worlds: [world.environment], dataset, vocabulary }));
    const [on, off] = [regime.condition!({ rlhf: 'on' }, vocabulary)[0]!, regime.condition!({ rlhf: 'off' }, vocabulary)[0]!];
    expect([on, off]).toEqual([vocabulary.id('<rlhf:on>'), vocabulary.id('<rlhf:off>')]);
    const pOn = conditioned(policy, on);
    const meanOn = pOn.reduce((a, p, i) => a + p * rewards[i]!, 0);
    const klOff = klDivergence(world.pi0, conditioned(policy, off));
    const m = report.metrics;
    console.log(`rlhf-flag: E[r | on] ${meanOn.toFixed(3)} (max 3), KL(π₀‖π(·|off)) ${klOff.toFixed(4)}, leakage ${m['flag/off/leakage']!.toFixed(3)} [${m['flag/off/leakage_lo']!.toFixed(3)}, ${m['flag/off/leakage_hi']!.toFixed(3)}]`);
    expect(meanOn).toBeGreaterThanOrEqual(0.9 * 3);
    expect(klOff).toBeLessThanOrEqual(0.05);
    expect(m['flag/on/score']).toBeGreaterThan(m['flag/off/score']!);
    expect(m['flag/off/leakage_lo']).toBeLessThanOrEqual(m['flag/off/leakage']!);
    expect(m['flag/off/leakage_hi']).toBeGreaterThanOrEqual(m['flag/off/leakage']!);
    [policy, base].forEach((x) => x.dispose());
  });

  it('should reject bad options and a vocabulary without the flags', async () => {
    expect(() => rlhfFlag({ inner: 'dpo' as never })).toThrow(/\[regime-rlhf-flag\] options\.inner/);
    expect(() => rlhfFlag({ unsafe: 'c' as never })).toThrow(/options\.unsafe: must be a function/);
    const noFlags = { size: 8, id: (t: string) => { throw new Error(`unknown ${t}`); }, toJSON: () => ({}) };
    const policy = Transformer.create(config);
    const frozen = policy.clone({ trainable: false }); // base and policy must be different models
    const ctx = createFitContext({ base: frozen, policy, rng: new Rng(1), worlds: [world.environment], dataset, vocabulary: noFlags });
    await expect(runFit(rlhfFlag({ steps: 1 }), ctx)).rejects.toMatchObject({ code: 'UNKNOWN_SYMBOL', message: expect.stringContaining('the vocabulary has no <rlhf:on>') });
    [policy, frozen].forEach((m) => m.dispose());
  });
});
