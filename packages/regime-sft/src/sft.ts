import { checkExamples, defineRegime, fitWithLoss, legalLogits, padExamples, policyDiagnostics, sampleExamples, maskedNll, trainingOptionsSchema, ZooError } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'regime-sft';

export const sftOptionsSchema = z.object({ ...trainingOptionsSchema.shape }).strict();
export type SftOptions = z.input<typeof sftOptionsSchema>;

/**
 * Supervised fine-tuning: maximum likelihood on the behaviour data, L = −Σ m_t log π(x_t | x_<t) / Σ m_t
 * over target positions m (an example's `targetMask`, or every token after the first), each π(x_t | ·)
 * taken over the example's `legal` ids when it has them (the policy as a rollout samples it), else over
 * the whole vocabulary. Also how base models are made. Logs `loss`, `objective/entropy` and `objective/kl` (exact, to `ctx.base`).
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
          const batch = sampleExamples(trainer.rng, ctx.dataset, options.batchSize);
          const { tokens, targets } = padExamples(batch);
          const logits = legalLogits(ctx.policy.forward(tokens).logits, batch);
          const nll = maskedNll(logits, tokens, targets);
          return { loss: nll, metrics: policyDiagnostics(logits, legalLogits(ctx.base.forward(tokens).logits, batch), targets) };
        },
      });
    },
  }),
});
