import { defineDistiller, maskedMean, rollout, sampleExamples, tf } from '@regime-zoo/core';
import { z } from 'zod';
import { distillSources, toDistillExample } from './data.js';
import { distillDiagnostics, generalizedJsd, legalLogits } from './losses.js';
import { distillOptionsShape, runDistillation } from './run.js';

const NAME = 'distill-logit';

export const logitDistillOptionsSchema = z
  .object({
    ...distillOptionsShape,
    /**
     * Fraction of batches the student samples itself (on-policy, TRL GKD's `lmbda`); the others are drawn
     * from the teacher's episodes. 0: forward distillation on teacher samples; 1: fully on-policy.
     */
    lmbda: z.number().min(0).max(1).default(0),
    /** Generalized JSD interpolation (TRL GKD's `beta`): 0 = KL(teacher ‖ student), 1 = KL(student ‖ teacher). */
    beta: z.number().min(0).max(1).default(0),
  })
  .strict();

export type LogitDistillOptions = z.input<typeof logitDistillOptionsSchema>;

/**
 * Logit-level distillation (Hinton et al. 2015; generalized KD, Agarwal et al. 2024, as TRL's GKDTrainer):
 * on each batch of episodes (the teacher's, or with probability `lmbda` the student's own, sampled at
 * `temperature`), the student minimises the generalized JSD_β between the teacher's and its own
 * next-action distributions at temperature T, softmax(logits / T) over the legal actions, averaged over
 * action positions. With β = 0 and λ = 0 (the defaults) this is the forward KL(teacher ‖ student) on
 * teacher samples. Logs `loss`, `objective/kl` (KL(teacher ‖ student) at T = 1), `objective/entropy` and
 * `mean_token_accuracy`.
 */
export const logitDistill = defineDistiller({
  name: NAME,
  options: logitDistillOptionsSchema,
  create: (o) => ({
    async distill(ctx) {
      const sources = distillSources(ctx, NAME, o.stopId);
      const maxLength = o.maxLength ?? ctx.teacher.config.contextLength;
      return runDistillation(ctx, {
        plugin: NAME,
        options: o,
        collect: o.lmbda < 1,
        batch: ({ trainer, student, data }) => {
          const onPolicy = o.lmbda > 0 && trainer.rng.next() < o.lmbda;
          if (!onPolicy) return sampleExamples(trainer.rng, data, o.batchSize);
          // The student's own samples, split over the sources; at most its context and the teacher's.
          const s = trainer.rng.int(sources.length);
          const eps = rollout(student, sources[s]!, {
            episodes: o.batchSize,
            rng: trainer.rng,
            temperature: o.temperature,
            maxLength: Math.min(maxLength, student.config.contextLength),
          });
          return eps.map((e) => toDistillExample(e, ctx.worlds.length > 0 ? s : -1));
        },
        loss: (student, b) => {
          const logits = legalLogits(student.forward(b.tokens).logits, b.legalMask);
          const T = o.temperature;
          const scaled = (x: tf.Tensor3D) => (T === 1 ? x : (tf.div(x, T) as tf.Tensor3D));
          const jsd = generalizedJsd(tf.logSoftmax(scaled(b.teacherLogits)), tf.logSoftmax(scaled(logits)), o.beta);
          return { loss: maskedMean(jsd, b.targets), metrics: distillDiagnostics(logits, b) };
        },
      });
    },
  }),
});
