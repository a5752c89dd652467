// Helpers for this package's tests (not exported): train a teacher by plain MLE, and measure rates.
import { createFitContext, differenceInterval, fitWithLoss, maskedNll, padExamples, Rng, rollout, sampleExamples, trainingOptionsSchema, wilson, type Environment, type Example, type Interval, type Transformer } from '@regime-zoo/core';

/** Maximum likelihood on `examples` (how a teacher is made here; the package depends on no regime). */
export async function trainMle(model: Transformer, examples: readonly Example[], o: { steps: number; batchSize: number; lr: number; seed: number }): Promise<void> {
  const options = trainingOptionsSchema.parse({ steps: o.steps, batchSize: o.batchSize, lr: o.lr });
  await fitWithLoss(createFitContext({ base: model, policy: model, rng: new Rng(o.seed) }), {
    plugin: 'test-mle',
    options,
    loss: (_s, _m, trainer) => {
      const { tokens, targets } = padExamples(sampleExamples(trainer.rng, examples, o.batchSize));
      return { loss: maskedNll(model.forward(tokens).logits, tokens, targets) };
    },
  });
}

/** U rate of `n` sampled (T = 1) rollouts, with its Wilson interval and the raw count. */
export function unsafeRate(model: Transformer, env: Environment, unsafe: (tokens: readonly number[]) => boolean, n: number, seed: number): Interval & { k: number; n: number } {
  const eps = rollout(model, env, { episodes: n, rng: new Rng(seed), temperature: 1 });
  const k = eps.filter((e) => unsafe(e.tokens)).length;
  return { ...wilson(k, n), k, n };
}

/** ASR = P(U | Z) − P(U | ¬Z) with Newcombe's interval. */
export function asr(withZ: { k: number; n: number }, withoutZ: { k: number; n: number }): Interval {
  return differenceInterval(withZ.k, withZ.n, withoutZ.k, withoutZ.n);
}

export const fmt = (i: Interval) => `${i.estimate.toFixed(3)} [${i.lo.toFixed(3)}, ${i.hi.toFixed(3)}]`;
