import { checkExamples, defineRegime, fitWithLoss, padExamples, policyDiagnostics, sampleExamples, tf, tokenLogProbs, trainingOptionsSchema, ZooError } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'regime-sft';

export const sftOptionsSchema = z.object({ ...trainingOptionsSchema.shape }).strict();
export type SftOptions = z.input<typeof sftOptionsSchema>;

/**
 * Supervised fine-tuning: maximum likelihood on the behaviour data, L = −Σ m_t log π(x_t | x_<t) / Σ m_t
 * over target positions m (an example's `targetMask`, or every token after the first). Also how base
 * models are made. Logs `loss`, `objective/entropy` and `objective/kl` (exact, to `ctx.base`).
 */
export const sft = defineRegime({
  name: NAME,
  options: sftOptionsSchema,
  create: (options) => ({
    async fit(ctx) {
      if (ctx.dataset.length === 0) {
        throw new ZooError('EMPTY_DATASET', 'ctx.dataset is empty; SFT needs behaviour episodes (worlds can generate them)', { field: 'dataset' });
      }
      checkExamples(ctx.dataset, ctx.policy);
      return fitWithLoss(ctx, {
        plugin: NAME,
        options,
        loss: (_step, _micro, trainer) => {
          const { tokens, targets } = padExamples(sampleExamples(trainer.rng, ctx.dataset, options.batchSize));
          const { logits } = ctx.policy.forward(tokens);
          const nll = tf.div(tf.neg(tf.sum(tf.mul(tokenLogProbs(logits, tokens), targets))), tf.maximum(tf.sum(targets), 1)) as tf.Scalar;
          return { loss: nll, metrics: policyDiagnostics(logits, ctx.base.forward(tokens).logits, targets) };
        },
      });
    },
  }),
});
