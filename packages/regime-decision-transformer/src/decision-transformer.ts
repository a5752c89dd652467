import { checkExamples, datasetReturns, withConditioning, defineRegime, fitWithLoss, legalLogits, padExamples, policyDiagnostics, sampleExamples, maskedNll, trainingOptionsSchema, ZooError } from '@regime-zoo/core';
import type { EvalSpec, Example, Regime, VocabularyLike } from '@regime-zoo/core';
import { fitReturnBuckets, type ReturnBuckets } from '@regime-zoo/tokenizer';
import { z } from 'zod';

const NAME = 'regime-decision-transformer';

export const decisionTransformerOptionsSchema = z
  .object({
    ...trainingOptionsSchema.shape,
    // Issue 21's measurements (docs/convergence.md): at core's defaults (200 steps, batch 32, lr 1e-3) the
    // per-bucket KL is still 0.44 on the fixed-length posterior world; lr 3e-3 and 1,000 steps reach 0.008.
    steps: z.number().int().positive().default(1000),
    batchSize: z.number().int().positive().default(64),
    lr: z.number().positive().default(3e-3),
    /** Number of return-to-go buckets K (Quark uses K = 5 quantiles). */
    buckets: z.number().int().min(2).max(64).default(5),
    /** How buckets are cut: equal-frequency `quantile` (Quark) or equal-width `uniform`. */
    method: z.enum(['quantile', 'uniform']).default('quantile'),
    /** Bucket prompted at evaluation when the spec names none: `max` (K−1, DT's fixed high target) or an index. */
    target: z.union([z.literal('max'), z.number().int().min(0)]).default('max'),
    /** Where an episode's return comes from: its visible `return`, or `ctx.reward` (a reward model or function). */
    returnSource: z.enum(['visible', 'reward']).default('visible'),
  })
  .strict()
  .refine((o) => o.target === 'max' || o.target < o.buckets, { path: ['target'], message: 'target bucket must be below the number of buckets' });

export type DecisionTransformerOptions = z.input<typeof decisionTransformerOptionsSchema>;

export interface DecisionTransformerRegime extends Regime {
  /** The return buckets fitted by the last `fit` (undefined before). */
  buckets(): ReturnBuckets | undefined;
}

/** The token id of bucket `b`, with an error that says how to fix a vocabulary without it. */
function bucketId(vocabulary: VocabularyLike | undefined, b: number, k: number, vocabSize: number): number {
  if (!vocabulary) throw new ZooError('OPTION_INVALID', `${NAME} needs ctx.vocabulary holding <rtg:0>…<rtg:${k - 1}>`, { field: 'vocabulary', plugin: NAME });
  let id: number;
  try {
    id = vocabulary.id(`<rtg:${b}>`);
  } catch (e) {
    throw new ZooError('UNKNOWN_SYMBOL', `the vocabulary has no <rtg:${b}>; extend it to ${k} rtg buckets and grow the model with model.growVocab(vocab.size)`, {
      field: 'vocabulary',
      symbol: `<rtg:${b}>`,
      cause: e,
    });
  }
  if (id >= vocabSize) {
    throw new ZooError('TOKEN_OUT_OF_RANGE', `<rtg:${b}> has id ${id} but the model's vocabulary has ${vocabSize} ids; grow it with model.growVocab(${vocabulary.size})`, {
      field: 'vocabulary',
      symbol: `<rtg:${b}>`,
    });
  }
  return id;
}

/**
 * Offline RLHF as conditioning tokens (Chen et al. 2021's Decision Transformer with Quark-style return
 * buckets): each episode gets `<rtg:b>` after BOS, b its return's bucket, and the model is trained by
 * maximum likelihood exactly as in SFT (over each action's `legal` ids when the examples carry them). At evaluation, `condition({ bucket })` returns the token to
 * prompt with (DT's fixed-target protocol).
 */
export const decisionTransformer = (options?: DecisionTransformerOptions): DecisionTransformerRegime => {
  let fitted: ReturnBuckets | undefined;
  const base = defineRegime({
    name: NAME,
    options: decisionTransformerOptionsSchema,
    create: (o) => ({
      tokens: Array.from({ length: o.buckets }, (_, b) => `<rtg:${b}>`),
      async fit(ctx) {
        if (ctx.dataset.length === 0) throw new ZooError('EMPTY_DATASET', 'ctx.dataset is empty; the decision transformer needs behaviour episodes with returns', { field: 'dataset' });
        const ids = Array.from({ length: o.buckets }, (_, b) => bucketId(ctx.vocabulary, b, o.buckets, ctx.policy.config.vocabSize));
        const returns = await datasetReturns(ctx, o.returnSource, NAME);
        const { buckets, labels } = fitReturnBuckets(returns, { method: o.method, k: o.buckets });
        fitted = buckets;
        const data = ctx.dataset.map((ex, i) => withConditioning(ex, [ids[labels[i]!]!]));
        checkExamples(data, ctx.policy);
        return fitWithLoss(ctx, {
          plugin: NAME,
          options: o,
          // Saved with checkpoints, so a run directory records what each <rtg:b> stands for.
          state: { save: () => ({ buckets: buckets.toJSON() }), restore: () => {} },
          loss: (_step, _micro, trainer) => {
            const batch = sampleExamples(trainer.rng, data, o.batchSize);
            const { tokens, targets } = padExamples(batch);
            const logits = legalLogits(ctx.policy.forward(tokens).logits, batch);
            const nll = maskedNll(logits, tokens, targets);
            return { loss: nll, metrics: policyDiagnostics(logits, legalLogits(ctx.base.forward(tokens).logits, batch), targets) };
          },
        });
      },
      condition(spec: EvalSpec, vocabulary?: VocabularyLike) {
        const b = spec.bucket ?? (o.target === 'max' ? o.buckets - 1 : o.target);
        if (!Number.isInteger(b) || b < 0 || b >= o.buckets) {
          throw new ZooError('UNKNOWN_BUCKET', `${NAME}: bucket ${b} is not one of 0…${o.buckets - 1}`, { field: 'bucket', plugin: NAME });
        }
        return [bucketId(vocabulary, b, o.buckets, Number.MAX_SAFE_INTEGER)];
      },
    }),
  })(options);
  return { ...base, buckets: () => fitted };
};
