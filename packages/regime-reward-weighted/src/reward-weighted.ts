import { checkExamples, datasetReturns, defineRegime, fitWithLoss, legalLogits, padExamples, policyDiagnostics, tf, maskedNll, trainingOptionsSchema, ZooError } from '@regime-zoo/core';
import type { Example, Rng } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'regime-reward-weighted';

export const rewardWeightedOptionsSchema = z
  .object({
    ...trainingOptionsSchema.shape,
    /**
     * `filter`: behaviour cloning on the top `topFraction` of episodes by return (filtered BC);
     * `rwr`: episodes weighted by exp((R − R̄)/β) (Peters & Schaal's reward-weighted regression);
     * `awr`: weighted by exp(A/β) with A = R − mean return of episodes with the same prompt (Peng et al.).
     */
    mode: z.enum(['filter', 'rwr', 'awr']).default('awr'),
    /** Temperature β of the exponential weights (AWR's and PHF's β = 10). */
    beta: z.number().positive().default(10),
    /** Weights are clipped at this value (AWR's w_max = 20); Infinity turns clipping off. */
    maxWeight: z.number().positive().default(20),
    /** Fraction of episodes filtered BC keeps, by return (0 < f ≤ 1). */
    topFraction: z.number().gt(0).max(1).default(0.5),
    returnSource: z.enum(['visible', 'reward']).default('visible'),
  })
  .strict();

export type RewardWeightedOptions = z.input<typeof rewardWeightedOptionsSchema>;

/** The prompt of an example: its tokens before the first target position. */
function promptKey(ex: Example): string {
  const first = ex.targetMask ? ex.targetMask.indexOf(true) : 1;
  return ex.tokens.slice(0, first < 0 ? ex.tokens.length : first).join(',');
}

/** Sampling weight of every example under the chosen mode (unnormalised, clipped). */
export function exampleWeights(dataset: readonly Example[], returns: readonly number[], o: { mode: 'filter' | 'rwr' | 'awr'; beta: number; maxWeight: number; topFraction: number }): number[] {
  const n = returns.length;
  if (o.mode === 'filter') {
    const keep = Math.max(1, Math.ceil(o.topFraction * n));
    const order = returns.map((_, i) => i).sort((a, b) => returns[b]! - returns[a]! || a - b);
    const w = new Array<number>(n).fill(0);
    for (const i of order.slice(0, keep)) w[i] = 1;
    return w;
  }
  const baseline = new Map<string, number>();
  if (o.mode === 'awr') {
    const sums = new Map<string, [number, number]>();
    dataset.forEach((ex, i) => {
      const k = promptKey(ex);
      const [s, c] = sums.get(k) ?? [0, 0];
      sums.set(k, [s + returns[i]!, c + 1]);
    });
    for (const [k, [s, c]] of sums) baseline.set(k, s / c);
  }
  const mean = returns.reduce((a, b) => a + b, 0) / n;
  return returns.map((r, i) => {
    const b = o.mode === 'awr' ? baseline.get(promptKey(dataset[i]!))! : mean;
    return Math.min(Math.exp((r - b) / o.beta), o.maxWeight);
  });
}

/** Draws indices in proportion to `weights` (cumulative sums and binary search). */
function weightedSampler(weights: readonly number[]): (rng: Rng) => number {
  const cum: number[] = [];
  let total = 0;
  for (const w of weights) cum.push((total += w));
  return (rng) => {
    const u = rng.next() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

/**
 * RL that is equivalent to conditioning without tokens: maximum likelihood on behaviour episodes
 * resampled in proportion to w = exp(A/β) (RWR/AWR) or to 1 on the top fraction (filtered BC). With data
 * from π₀ and unclipped weights, RWR's optimum is π*(x) ∝ π₀(x)·exp(r(x)/β). Likelihoods are over each
 * action's `legal` ids when the examples carry them (the policy as a rollout samples it).
 */
export const rewardWeighted = defineRegime({
  name: NAME,
  options: rewardWeightedOptionsSchema,
  create: (o) => ({
    async fit(ctx) {
      if (ctx.dataset.length === 0) throw new ZooError('EMPTY_DATASET', 'ctx.dataset is empty; reward-weighted regression needs behaviour episodes with returns', { field: 'dataset' });
      checkExamples(ctx.dataset, ctx.policy);
      const returns = await datasetReturns(ctx, o.returnSource, NAME);
      const weights = exampleWeights(ctx.dataset, returns, o);
      const sum = weights.reduce((a, b) => a + b, 0);
      if (!(sum > 0) || !Number.isFinite(sum)) {
        throw new ZooError('NON_FINITE', `${NAME}: the example weights sum to ${sum}; check the returns and beta (${o.beta})`, { field: 'beta', plugin: NAME });
      }
      const ess = sum ** 2 / weights.reduce((a, w) => a + w * w, 0);
      const draw = weightedSampler(weights);
      return fitWithLoss(ctx, {
        plugin: NAME,
        options: o,
        loss: (_step, _micro, trainer) => {
          const batch = Array.from({ length: o.batchSize }, () => ctx.dataset[draw(trainer.rng)]!);
          const { tokens, targets } = padExamples(batch);
          const logits = legalLogits(ctx.policy.forward(tokens).logits, batch);
          const nll = maskedNll(logits, tokens, targets);
          return { loss: nll, metrics: { ...policyDiagnostics(logits, legalLogits(ctx.base.forward(tokens).logits, batch), targets), 'weights/effective_sample_size': tf.scalar(ess) } };
        },
      });
    },
  }),
});
