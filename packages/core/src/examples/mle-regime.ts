// The complete example regime of docs/writing-a-regime.md (kept identical by a test).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ZooError } from '../errors.js';
import { fitWithLoss, padExamples, sampleExamples, trainingOptionsSchema } from '../loop.js';
import { sequenceLogProbs } from '../ops.js';
import { defineRegime } from '../plugin.js';

/** Maximum-likelihood training on the context's dataset: the simplest regime there is. */
export const mleRegime = defineRegime({
  name: 'example-mle',
  // Core's training options (steps, batchSize, lr, ...) plus this regime's own, validated at call time.
  options: z.object({ ...trainingOptionsSchema.shape, steps: z.number().int().positive().default(100) }).strict(),
  create: (options) => ({
    async fit(ctx) {
      if (ctx.dataset.length === 0) throw new ZooError('EMPTY_DATASET', 'the dataset is empty; pass behaviour episodes in ctx.dataset', { field: 'dataset' });
      return fitWithLoss(ctx, {
        plugin: 'example-mle',
        options,
        loss: (_step, _micro, trainer) => {
          const { tokens, targets } = padExamples(sampleExamples(trainer.rng, ctx.dataset, options.batchSize));
          const { logits } = ctx.policy.forward(tokens);
          const nll = tf.neg(tf.div(tf.sum(sequenceLogProbs(logits, tokens, targets)), tf.sum(targets))) as tf.Scalar;
          return { loss: nll };
        },
      });
    },
  }),
});
