import { checkExamples, defineRegime, fitWithLoss, legalLogits, maskedNll, padExamples, policyDiagnostics, sampleExamples, trainingOptionsSchema, withConditioning, ZooError } from '@regime-zoo/core';
import type { EvalSpec, Example, VocabularyLike } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'conditional-training';
/** PHF's `<|good|>` and `<|bad|>` control tokens, in the toolkit's `<namespace:value>` form (`zoo run` adds them to the vocabulary). */
export const CONTROL_TOKENS = { good: '<phf:good>', bad: '<phf:bad>' } as const;

export const conditionalTrainingOptionsSchema = z
  .object({
    ...trainingOptionsSchema.shape,
    // docs/convergence.md: at core's defaults (200 steps, lr 1e-3) conditioned MLE is far from its answer
    // on the posterior world; the decision transformer's 1,000 steps at batch 64 and lr 3e-3 reach it.
    steps: z.number().int().positive().default(1000),
    batchSize: z.number().int().positive().default(64),
    lr: z.number().positive().default(3e-3),
    /** Fraction of the behaviour episodes labelled `<phf:good>`: those whose return is at least the (1 − goodFraction) quantile. */
    goodFraction: z.number().gt(0, 'goodFraction must be > 0 (some episodes must be good)').lt(1, 'goodFraction must be < 1 (some episodes must be bad)').default(0.5),
  })
  .strict();

export type ConditionalTrainingOptions = z.input<typeof conditionalTrainingOptionsSchema>;

/** The return threshold τ: the smallest return among the top `goodFraction` of the data (episodes with return ≥ τ are good). */
export function goodThreshold(returns: readonly number[], goodFraction: number): number {
  const sorted = [...returns].sort((a, b) => b - a);
  return sorted[Math.max(0, Math.ceil(goodFraction * sorted.length) - 1)]!;
}

function controlId(vocabulary: VocabularyLike | undefined, label: 'good' | 'bad'): number {
  const token = CONTROL_TOKENS[label];
  if (!vocabulary) throw new ZooError('OPTION_INVALID', `[${NAME}] needs ctx.vocabulary holding ${CONTROL_TOKENS.good} and ${CONTROL_TOKENS.bad}`, { field: 'vocabulary', plugin: NAME });
  try {
    return vocabulary.id(token);
  } catch (e) {
    throw new ZooError('UNKNOWN_SYMBOL', `[${NAME}] the vocabulary has no ${token}; extend it with the phf namespace (zoo run does, from this regime's tokens) and grow the model`, { field: 'vocabulary', symbol: token, plugin: NAME, cause: e });
  }
}

/**
 * Conditional training (Korbak et al. 2023, "Pretraining Language Models with Human Preferences"): every
 * behaviour episode gets a control token after BOS, `<phf:good>` when its return is at least the
 * (1 − goodFraction) quantile of the data's returns and `<phf:bad>` otherwise, and the policy learns all
 * of them by maximum likelihood. Asked with `<phf:good>`, its optimum is the behaviour distribution
 * conditioned on a good return, π₀(x | r(x) ≥ τ): conditioning, not reward maximisation.
 */
export const conditionalTraining = defineRegime({
  name: NAME,
  options: conditionalTrainingOptionsSchema,
  create: (o) => ({
    tokens: [CONTROL_TOKENS.good, CONTROL_TOKENS.bad],
    async fit(ctx) {
      if (ctx.dataset.length === 0) throw new ZooError('EMPTY_DATASET', `[${NAME}] the dataset is empty; pass behaviour episodes in ctx.dataset`, { field: 'dataset', plugin: NAME });
      const returns = ctx.dataset.map((ex, i) => {
        if (typeof ex.return !== 'number' || !Number.isFinite(ex.return)) {
          throw new ZooError('BAD_RETURN', `[${NAME}] dataset[${i}] has no finite return (got ${String(ex.return)}); every episode needs one to be labelled good or bad`, { field: `dataset[${i}].return`, plugin: NAME });
        }
        return ex.return;
      });
      const tau = goodThreshold(returns, o.goodFraction);
      const [good, bad] = [controlId(ctx.vocabulary, 'good'), controlId(ctx.vocabulary, 'bad')];
      const labelled: Example[] = ctx.dataset.map((ex, i) => withConditioning(ex, [returns[i]! >= tau ? good : bad]));
      checkExamples(labelled, ctx.policy);
      return fitWithLoss(ctx, {
        plugin: NAME,
        options: o,
        loss: (_step, _micro, trainer) => {
          const batch = sampleExamples(trainer.rng, labelled, o.batchSize);
          const { tokens, targets } = padExamples(batch);
          const logits = legalLogits(ctx.policy.forward(tokens).logits, batch);
          return { loss: maskedNll(logits, tokens, targets), metrics: policyDiagnostics(logits, legalLogits(ctx.base.forward(tokens).logits, batch), targets) };
        },
      });
    },
    /** `<phf:good>` unless the spec asks `{ phf: 'bad' }`. */
    condition(spec: EvalSpec, vocabulary?: VocabularyLike) {
      const label = spec.phf ?? 'good';
      if (label !== 'good' && label !== 'bad') throw new ZooError('OPTION_INVALID', `[${NAME}] spec.phf must be 'good' or 'bad', got ${JSON.stringify(label)}`, { field: 'phf', plugin: NAME });
      return [controlId(vocabulary, label)];
    },
  }),
});

export default conditionalTraining;
