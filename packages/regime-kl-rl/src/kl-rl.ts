import { checkMicroBatches, collectRollouts, defineRegime, fitWithLoss, microBatch, reinforceLoss, repeatResets, klShapedRlooAdvantages, rlooOptionsShape, rolloutOptionsShape, rolloutSummary, tf, trainingOptionsSchema, worldAt } from '@regime-zoo/core';
import type { RolloutBatch } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'regime-kl-rl';

export const klRlOptionsSchema = z
  .object({
    // No `batchSize`: a step trains on its `prompts · k` episodes, split by `microBatches`.
    ...trainingOptionsSchema.omit({ batchSize: true }).shape,
    ...rlooOptionsShape,
    ...rolloutOptionsShape,
    /** Prompts per step: each step rolls out `prompts · k` episodes. */
    prompts: z.number().int().positive().default(8),
    /** Per-token KL estimator folded into the reward: `k1` (TRL's default; its gradient is unbiased) or `k3`. */
    klPenalty: z.enum(['k1', 'k3']).default('k1'),
  })
  .strict();

export type KlRlOptions = z.input<typeof klRlOptionsSchema>;

/**
 * RL that is equivalent to conditioning, online: REINFORCE with the RLOO baseline on the KL-shaped reward
 * r'(x) = r(x) − β·Σ_t (log π(a_t) − log π₀(a_t)), folded in as TRL's RLOO does. The optimum of
 * E_π[r] − β·KL(π‖π₀) is π*(x) ∝ π₀(x)·exp(r(x)/β) (Korbak et al. 2022). Logs `objective/scores`,
 * `objective/rlhf_reward`, `objective/kl` (k3, never negative), `objective/entropy` and `loss`.
 */
export const klRl = defineRegime({
  name: NAME,
  options: klRlOptionsSchema,
  create: (o) => {
    checkMicroBatches(NAME, o.microBatches, o.prompts * o.k);
    return {
      async fit(ctx) {
        const env = repeatResets(worldAt(ctx, o.world, NAME), o.k);
        let batch: RolloutBatch | undefined;
        let advantages: number[] = [];
        return fitWithLoss(ctx, {
          plugin: NAME,
          options: o,
          async beforeStep(step, trainer) {
            batch = await collectRollouts({
              policy: ctx.policy,
              base: ctx.base,
              env,
              episodes: o.prompts * o.k,
              rng: trainer.rng,
              temperature: o.temperature,
              maxLength: o.maxLength,
              reward: ctx.reward,
              plugin: NAME,
              step,
            });
            advantages = klShapedRlooAdvantages(batch, o.beta, o.k, o.klPenalty);
          },
          loss: (_step, micro) => {
            // Each micro-batch takes its share of the episodes (gradients are averaged over micro-batches).
            const part = microBatch(batch!, micro, o.microBatches);
            const { loss, entropy } = reinforceLoss(ctx.policy, part.batch, advantages.slice(part.start, part.end));
            const summary = rolloutSummary(batch!, o.beta);
            const metrics: Record<string, tf.Scalar> = { 'objective/entropy': entropy };
            for (const [k, v] of Object.entries(summary)) metrics[k] = tf.scalar(v);
            return { loss, metrics };
          },
        });
      },
    };
  },
});

