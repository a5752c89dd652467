import { createFitContext, exampleLogProbs, Rng, runFit, Transformer, type Example } from '@regime-zoo/core';
import { expectNoTensorLeak, klDivergence, posteriorFixture, sampleIndices, stopChoiceWorld } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { conditionalTraining, CONTROL_TOKENS, goodThreshold } from './index.js';

// The checklist of docs/writing-a-regime.md: bad options, no tensor leak, and the exact answer on both
// shapes of the posterior world: asked with <phf:good>, π₀(x | r(x) ≥ τ); with <phf:bad>, π₀(x | r(x) < τ).
const vocabulary = worldVocabulary().extend({ namespaces: { phf: { kind: 'open', values: ['good', 'bad'] } } });
const fixed = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const stop = posteriorFixture(posteriorWorld(stopChoiceWorld.world), stopChoiceWorld.pi0);
type Fixture = typeof fixed;
/** Below P(r = 0) on both shapes, so τ > 0 and both labels have data. */
const GOOD_FRACTION = 0.3;
const model = (seed: number) => Transformer.create({ vocabSize: vocabulary.size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed });
const conditioned = (w: Fixture, pred: (r: number) => boolean) => {
  const p = w.pi0.map((x, i) => (pred(w.rewards[i]!) ? x : 0));
  const z = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / z);
};
const distribution = (m: Transformer, w: Fixture, id: number) => exampleLogProbs(m, w.sequences.map((_, i) => w.example(i, [id]))).map(Math.exp);

async function train(w: Fixture, seed: number, steps: number): Promise<{ good: number; bad: number; startGood: number; startBad: number; tau: number }> {
  const dataset: Example[] = sampleIndices(w.pi0, 4000, seed).map((i) => w.example(i));
  const tau = goodThreshold(dataset.map((e) => e.return!), GOOD_FRACTION);
  const policy = model(seed);
  const base = policy.clone({ trainable: false });
  const regime = conditionalTraining({ steps, batchSize: 64, lr: 3e-3, warmupSteps: 20, goodFraction: GOOD_FRACTION });
  const [good, bad] = [regime.condition!({}, vocabulary)[0]!, regime.condition!({ phf: 'bad' }, vocabulary)[0]!];
  const [pGood, pBad] = [conditioned(w, (r) => r >= tau), conditioned(w, (r) => r < tau)];
  const startGood = klDivergence(pGood, distribution(policy, w, good));
  const startBad = klDivergence(pBad, distribution(policy, w, bad));
  await runFit(regime, createFitContext({ base, policy, rng: new Rng(seed), dataset, vocabulary }));
  const out = { good: klDivergence(pGood, distribution(policy, w, good)), bad: klDivergence(pBad, distribution(policy, w, bad)), startGood, startBad, tau };
  [policy, base].forEach((m) => m.dispose());
  return out;
}

describe('zoo-regime-conditional-training', () => {
  it('should reject options outside their bounds, naming the regime and the option', () => {
    expect(() => conditionalTraining({ goodFraction: 0 })).toThrow(/\[conditional-training\] options\.goodFraction/);
    expect(() => conditionalTraining({ goodFraction: 1 })).toThrow(/goodFraction must be < 1/);
    expect(() => conditionalTraining({ steps: -1 } as never)).toThrow(/options\.steps/);
    expect(() => conditionalTraining({ gamma: 1 } as never)).toThrow(/gamma/);
  });

  it('should take τ as the smallest return among the top fraction, and ask for <phf:good> by default', () => {
    expect(goodThreshold([0, 3, 1, 2], 0.5)).toBe(2);
    expect(goodThreshold([0, 3, 1, 2], 0.25)).toBe(3);
    expect(goodThreshold([5, 5, 5], 0.5)).toBe(5);
    const r = conditionalTraining({});
    expect(r.tokens).toEqual([CONTROL_TOKENS.good, CONTROL_TOKENS.bad]);
    expect(r.condition!({}, vocabulary)).toEqual([vocabulary.id('<phf:good>')]);
    expect(() => r.condition!({ phf: 'great' }, vocabulary)).toThrow(/spec\.phf must be 'good' or 'bad', got "great"/);
  });

  it('should fail clearly without the control tokens or without returns', async () => {
    const policy = Transformer.create({ vocabSize: worldVocabulary().size, contextLength: 16, dModel: 8, nHeads: 2, nLayers: 1, seed: 1 });
    const base = policy.clone({ trainable: false });
    const dataset = [fixed.example(0)];
    const ctx = createFitContext({ base, policy, rng: new Rng(1), dataset, vocabulary: worldVocabulary() });
    await expect(runFit(conditionalTraining({ steps: 1 }), ctx)).rejects.toMatchObject({ code: 'UNKNOWN_SYMBOL', message: expect.stringContaining('the vocabulary has no <phf:good>') });
    const noReturn = { ...dataset[0]!, return: undefined } as unknown as Example;
    await expect(runFit(conditionalTraining({ steps: 1 }), { ...ctx, dataset: [noReturn] })).rejects.toMatchObject({ code: 'BAD_RETURN', message: expect.stringContaining('dataset[0] has no finite return') });
    [policy, base].forEach((m) => m.dispose());
  });

  it('should not leak tensors across training steps', async () => {
    const policy = model(3);
    const base = policy.clone({ trainable: false });
    const dataset = sampleIndices(fixed.pi0, 64, 3).map((i) => fixed.example(i));
    const ctx = createFitContext({ base, policy, rng: new Rng(3), dataset, vocabulary });
    await runFit(conditionalTraining({ steps: 2, batchSize: 8 }), ctx); // warm-up: optimizer slots exist
    await expectNoTensorLeak(() => runFit(conditionalTraining({ steps: 3, batchSize: 8 }), ctx));
    [policy, base].forEach((m) => m.dispose());
  });

  // Measured (seed 11): fixed shape, 300 steps: KL good 0.018, bad 0.009. Stop shape (84 sequences, so 4,000
  // samples leave a larger finite-data floor): 300 steps leave 0.25; the regime's default 1,000 reach 0.078 and 0.040.
  // Bounds about 3× what each measured: fixed good 0.018 → 0.05, bad 0.009 → 0.027; stop 0.078 / 0.040 → 0.12.
  for (const [shape, w, steps, goodBound, badBound] of [['fixed length', fixed, 300, 0.05, 0.027], ['stop choice', stop, 1000, 0.12, 0.12]] as const) {
    it(`should reach π₀(x | r ≥ τ) under <phf:good> and π₀(x | r < τ) under <phf:bad> on the ${shape} posterior world (KL ≤ ${goodBound} and ${badBound})`, async () => {
      const r = await train(w, 11, steps);
      console.log(`conditional training, ${shape}: τ ${r.tau}, KL good ${r.startGood.toFixed(3)} → ${r.good.toFixed(4)}, KL bad ${r.startBad.toFixed(3)} → ${r.bad.toFixed(4)}`);
      expect(r.tau).toBeGreaterThan(Math.min(...w.rewards)); // both labels have sequences
      expect(r.startGood).toBeGreaterThan(0.2); // the start does not meet the bound
      expect(r.startBad).toBeGreaterThan(0.2);
      expect(r.good).toBeLessThanOrEqual(goodBound);
      expect(r.bad).toBeLessThanOrEqual(badBound);
    });
  }
});
