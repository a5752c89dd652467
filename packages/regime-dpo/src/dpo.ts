import { checkExamples, defineRegime, exampleLogProbs, legalLogits, logSigmoid, fitWithLoss, padExamples, policyDiagnostics, sequenceLogProbs, tf, trainingOptionsSchema, ZooError } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'regime-dpo';

export const dpoOptionsSchema = z
  .object({
    ...trainingOptionsSchema.shape,
    // Issue 21's measurements (docs/convergence.md): DPO's KL to π* falls with pairs seen; batch 256 and
    // lr 3e-3 for 300 steps reach 0.029 on the stop-choice posterior world (core's defaults: 0.063).
    steps: z.number().int().positive().default(300),
    batchSize: z.number().int().positive().default(256),
    lr: z.number().positive().default(3e-3),
    /** β: strength of the implicit KL constraint to the reference (TRL's default 0.1). */
    beta: z.number().positive().default(0.1),
    /** Conservative DPO: probability ε that a preference label is flipped (TRL's `label_smoothing`, 0 = plain DPO). */
    labelSmoothing: z.number().min(0).lt(0.5).default(0),
  })
  .strict();

export type DpoOptions = z.input<typeof dpoOptionsSchema>;

/**
 * Direct Preference Optimization (Rafailov et al. 2023; TRL's `sigmoid` loss): for a pair (y_w, y_l),
 * z = β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))] and
 * L = −(1−ε)·log σ(z) − ε·log σ(−z). Its optimum under Bradley–Terry preferences from reward r is
 * π* ∝ π_ref·exp(r/β). log π(y) sums each action's log-probability over its `legal` ids when the
 * examples carry them (π and π_ref as a rollout samples them, so the optimum is π* of the policy that
 * acts), else over the whole vocabulary. Logs TRL's `rewards/chosen|rejected|margins|accuracies` (implicit rewards
 * β·log π/π_ref), `loss`, `objective/entropy` and `objective/kl` (on chosen sequences).
 */
export const dpo = defineRegime({
  name: NAME,
  options: dpoOptionsSchema,
  create: (o) => ({
    async fit(ctx) {
      const pairs = ctx.preferences;
      if (pairs.length === 0) throw new ZooError('EMPTY_DATASET', 'ctx.preferences is empty; DPO needs preference pairs (a rater can generate them)', { field: 'preferences' });
      checkExamples(pairs.map((p) => p.chosen), ctx.policy, 'preferences.chosen');
      checkExamples(pairs.map((p) => p.rejected), ctx.policy, 'preferences.rejected');
      // The reference is frozen: score every pair once.
      const refChosen = exampleLogProbs(ctx.base, pairs.map((p) => p.chosen));
      const refRejected = exampleLogProbs(ctx.base, pairs.map((p) => p.rejected));
      return fitWithLoss(ctx, {
        plugin: NAME,
        options: o,
        loss: (_step, _micro, trainer) => {
          const idx = Array.from({ length: o.batchSize }, () => trainer.rng.int(pairs.length));
          const B = idx.length;
          const batch = [...idx.map((i) => pairs[i]!.chosen), ...idx.map((i) => pairs[i]!.rejected)];
          const { tokens, targets } = padExamples(batch);
          const logits = legalLogits(ctx.policy.forward(tokens).logits, batch);
          const lp = sequenceLogProbs(logits, tokens, targets);
          const ref = tf.tensor1d([...idx.map((i) => refChosen[i]!), ...idx.map((i) => refRejected[i]!)]);
          const implicit = tf.mul(tf.sub(lp, ref), o.beta); // β·log π/π_ref
          const chosen = tf.slice(implicit, [0], [B]);
          const rejected = tf.slice(implicit, [B], [B]);
          const z = tf.sub(chosen, rejected);
          const loss = tf.neg(tf.mean(tf.add(tf.mul(logSigmoid(z), 1 - o.labelSmoothing), tf.mul(logSigmoid(tf.neg(z)), o.labelSmoothing)))) as tf.Scalar;
          const chosenRows = (x: tf.Tensor) => tf.slice(x, [0, 0, 0], [B, -1, -1]) as tf.Tensor3D;
          const diag = policyDiagnostics(chosenRows(logits), chosenRows(legalLogits(ctx.base.forward(tokens).logits, batch)), tf.slice(targets, [0, 0], [B, -1]) as tf.Tensor2D);
          return {
            loss,
            metrics: {
              ...diag,
              'rewards/chosen': tf.mean(chosen) as tf.Scalar,
              'rewards/rejected': tf.mean(rejected) as tf.Scalar,
              'rewards/margins': tf.mean(z) as tf.Scalar,
              'rewards/accuracies': tf.mean(tf.cast(tf.greater(z, 0), 'float32')) as tf.Scalar,
            },
          };
        },
      });
    },
  }),
});
