// The complete example regime of docs/writing-a-regime.md (kept identical by a test).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { padExamples, trainLoop } from '../loop.js';
import { sequenceLogProbs } from '../ops.js';
import { defineRegime } from '../plugin.js';
import { Trainer } from '../train.js';

/** Maximum-likelihood training on the context's dataset: the simplest regime there is. */
export const mleRegime = defineRegime({
  name: 'example-mle',
  options: z
    .object({
      steps: z.number().int().positive().default(100),
      batchSize: z.number().int().positive().default(16),
      lr: z.number().positive().default(1e-3),
    })
    .strict(),
  create: (o) => ({
    async fit(ctx) {
      if (ctx.dataset.length === 0) throw new Error('the dataset is empty; pass behaviour episodes in ctx.dataset');
      const trainer = new Trainer(ctx.policy, { totalSteps: o.steps, optimizer: { lr: o.lr }, seed: ctx.rng.seed(), signal: ctx.signal });
      try {
        return await trainLoop({
          plugin: 'example-mle',
          trainer,
          log: ctx.log,
          progress: ctx.progress,
          signal: ctx.signal,
          ...(ctx.checkpointDir ? { checkpointDir: ctx.checkpointDir } : {}),
          loss: () => {
            const batch = Array.from({ length: o.batchSize }, () => ctx.dataset[trainer.rng.int(ctx.dataset.length)]!);
            const { tokens, targets } = padExamples(batch);
            const { logits } = ctx.policy.forward(tokens);
            const nll = tf.neg(tf.div(tf.sum(sequenceLogProbs(logits, tokens, targets)), tf.sum(targets))) as tf.Scalar;
            return { loss: nll };
          },
        });
      } finally {
        trainer.dispose();
      }
    },
  }),
});
