import { defineDistiller, maskedMean, sampleExamples, tf } from '@regime-zoo/core';
import { z } from 'zod';
import { distillDiagnostics, legalLogits, takenLogProbs } from './losses.js';
import { distillOptionsShape, runDistillation } from './run.js';

const NAME = 'distill-sequence';

export const sequenceDistillOptionsSchema = z
  .object({
    ...distillOptionsShape,
    /** The filtered arm: drop teacher episodes where U(τ) holds (needs ctx.judges). */
    dropUnsafe: z.boolean().default(false),
    /** Drop teacher episodes whose hidden performance is below this (needs ctx.judges). */
    minHidden: z.number().optional(),
  })
  .strict();

export type SequenceDistillOptions = z.input<typeof sequenceDistillOptionsSchema>;

/**
 * Sequence-level distillation (Kim & Rush 2016; TRL GKD's `seq_kd`: supervised training on teacher
 * output): the teacher rolls out `episodes` times in `ctx.worlds` (or continues `ctx.prompts`) at
 * `temperature`, episodes are optionally filtered (`dropUnsafe`, `minHidden`), and the student maximises
 * the likelihood of the kept episodes' actions, each over the legal actions it was taken from:
 * L = −Σ_t m_t log π_S(a_t | s_t) / Σ_t m_t. Logs `loss`, `objective/kl` (KL(teacher ‖ student) per action
 * token), `objective/entropy` and `mean_token_accuracy`.
 */
export const sequenceDistill = defineDistiller({
  name: NAME,
  options: sequenceDistillOptionsSchema,
  create: (o) => ({
    distill: (ctx) =>
      runDistillation(ctx, {
        plugin: NAME,
        options: o,
        collect: true,
        filter: { dropUnsafe: o.dropUnsafe, minHidden: o.minHidden },
        batch: ({ trainer, data }) => sampleExamples(trainer.rng, data, o.batchSize),
        loss: (student, b) => {
          const logits = legalLogits(student.forward(b.tokens).logits, b.legalMask);
          const nll = tf.neg(maskedMean(takenLogProbs(logits, b.tokens), b.targets)) as tf.Scalar;
          return { loss: nll, metrics: distillDiagnostics(logits, b) };
        },
      }),
  }),
});
