import { checkExamples, defineRegime, fitWithLoss, maskedNll, padExamples, policyDiagnostics, sampleExamples, trainingOptionsSchema, ZooError } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'safe-bc';

/**
 * Safe behaviour cloning: maximum likelihood on the behaviour episodes whose `meta.unsafe` is false (the
 * world's U(τ)), a data-filtering baseline. It lives outside the @regime-zoo scope to show that a regime
 * package plugs into `zoo run` through core's plugin interface alone.
 */
export const safeBc = defineRegime({
  name: NAME,
  options: z.object({ ...trainingOptionsSchema.shape }).strict(),
  create: (o) => ({
    async fit(ctx) {
      const safe = ctx.dataset.filter((ex) => ex.meta?.unsafe === false);
      if (safe.length === 0) {
        throw new ZooError('EMPTY_DATASET', `[${NAME}] none of the ${ctx.dataset.length} behaviour episodes is marked safe (meta.unsafe === false)`, { field: 'dataset', plugin: NAME });
      }
      checkExamples(safe, ctx.policy);
      return fitWithLoss(ctx, {
        plugin: NAME,
        options: o,
        loss: (_step, _micro, trainer) => {
          const { tokens, targets } = padExamples(sampleExamples(trainer.rng, safe, o.batchSize));
          const { logits } = ctx.policy.forward(tokens);
          return { loss: maskedNll(logits, tokens, targets), metrics: policyDiagnostics(logits, ctx.base.forward(tokens).logits, targets) };
        },
      });
    },
  }),
});

export default safeBc;
