import { collectRollouts, defineRegime, fitWithLoss, microBatch, repeatResets, rolloutOptionsShape, rolloutSummary, sequenceKl, tf, trainingOptionsSchema, worldAt } from '@regime-zoo/core';
import type { RolloutBatch } from '@regime-zoo/core';
import { z } from 'zod';
import { groupAdvantages } from './advantages.js';
import { grpoLoss } from './loss.js';

const NAME = 'regime-grpo';

export const grpoOptionsSchema = z
  .object({
    // No `batchSize`: a step trains on the whole rollout batch (`prompts · numGenerations`), split by `microBatches`.
    ...trainingOptionsSchema.omit({ batchSize: true }).shape,
    ...rolloutOptionsShape,
    /** Samples per prompt G (TRL's `num_generations`, default 8); at least 2, or a group has no spread. */
    numGenerations: z.number().int().min(2, 'a group needs at least 2 samples (numGenerations ≥ 2)').default(8),
    /** Prompts (groups) per rollout batch: each batch has `prompts · numGenerations` episodes. */
    prompts: z.number().int().positive().default(4),
    /** KL coefficient β (DeepSeekMath's 0.04; TRL's default is 0: no reference model, pure reward maximisation). */
    beta: z.number().min(0, 'β must be ≥ 0 (0: no KL term)').default(0.04),
    /** Lower clip ε of the ratio (TRL's `epsilon`). */
    epsilon: z.number().positive('the clip ε must be > 0').default(0.2),
    /** Upper clip ε (TRL's `epsilon_high`, DAPO's clip-higher; default: `epsilon`). */
    epsilonHigh: z.number().positive('the clip ε_high must be > 0').optional(),
    /** Optimizer steps per rollout batch (TRL's `num_iterations`, μ). */
    numIterations: z.number().int().positive().default(1),
    /** Divide advantages by the group's std (GRPO), the batch's, or not at all (Dr. GRPO): TRL's `scale_rewards`. */
    scaleRewards: z.enum(['group', 'batch', 'none']).default('group'),
    /** Token averaging (TRL's `loss_type`): per sequence then over sequences (GRPO), over the batch's tokens, or by a constant (Dr. GRPO). */
    lossType: z.enum(['grpo', 'bnpo', 'dr_grpo', 'dapo']).default('grpo'),
    /** Fold β·Σ_t (log π − log π_ref) into the reward (as regime-kl-rl does) instead of adding β·k3 to the loss. */
    klInReward: z.boolean().default(false),
  })
  .strict()
  .refine((o) => o.prompts % o.microBatches === 0, { message: 'prompts must be a multiple of microBatches (each micro-batch takes whole groups)', path: ['microBatches'] });

export type GrpoOptions = z.input<typeof grpoOptionsSchema>;

interface Prepared {
  batch: RolloutBatch;
  advantages: number[];
  metrics: Record<string, number>;
}

/**
 * GRPO (Shao et al. 2024, DeepSeekMath) and Dr. GRPO (Liu et al. 2025): `numGenerations` samples per
 * prompt, advantages = (r − group mean) / (group std + 1e-4) (or not divided: `scaleRewards: 'none'`), a
 * clipped ratio, and β times the per-token k3 estimate of KL added to the loss. With `klInReward` the KL
 * is folded into the reward instead (r − β·Σ_t log π/π_ref) and the fixed point is π* ∝ π_ref·exp(r/β);
 * with k3 in the loss it is not (see `grpoFixedPoint` and docs/regimes/regime-grpo.md). Options and
 * metric names follow TRL's GRPOTrainer (`kl`, `entropy`, `reward`, `reward_std`, `frac_reward_zero_std`,
 * `clip_ratio/*`), plus the zoo's `objective/kl`, `objective/entropy`, `objective/rlhf_reward`.
 */
export const grpo = defineRegime({
  name: NAME,
  options: grpoOptionsSchema,
  create: (o) => ({
    async fit(ctx) {
      const G = o.numGenerations;
      const env = repeatResets(worldAt(ctx, o.world, NAME), G);
      const epsilonHigh = o.epsilonHigh ?? o.epsilon;
      const maxLength = o.maxLength ?? ctx.policy.config.contextLength;
      let prepared: Prepared | undefined;
      return fitWithLoss(ctx, {
        plugin: NAME,
        options: { ...o, steps: o.steps * o.numIterations },
        // A batch is used for numIterations steps: checkpoints carry it, so a resumed run continues exactly.
        state: {
          save: () => prepared,
          restore: (saved) => {
            prepared = saved as Prepared | undefined;
          },
        },
        async beforeStep(step, trainer) {
          if (step % o.numIterations !== 0 && prepared) return;
          const batch = await collectRollouts({
            policy: ctx.policy,
            base: ctx.base,
            env,
            episodes: o.prompts * G,
            rng: trainer.rng,
            temperature: o.temperature,
            maxLength: o.maxLength,
            reward: ctx.reward,
            plugin: NAME,
            step,
          });
          const k1 = o.klInReward ? sequenceKl(batch, 'k1') : undefined;
          const rewards = k1 ? batch.scores.map((s, i) => s - o.beta * k1[i]!) : batch.scores;
          const adv = groupAdvantages(rewards, G, o.scaleRewards);
          const summary = rolloutSummary(batch, o.beta);
          prepared = {
            batch,
            advantages: adv.advantages,
            metrics: { ...summary, reward: summary['objective/scores'], reward_std: adv.rewardStd, frac_reward_zero_std: adv.fracZeroStd },
          };
        },
        loss: (_step, micro) => {
          const p = prepared!;
          const part = microBatch(p.batch, micro, o.microBatches);
          const tokens = p.batch.mask.reduce((s, m) => s + m.reduce((a, v) => a + v, 0), 0);
          const { loss, metrics } = grpoLoss(ctx.policy, part.batch, p.advantages.slice(part.start, part.end), {
            beta: o.klInReward ? 0 : o.beta,
            epsilon: o.epsilon,
            epsilonHigh,
            lossType: o.lossType,
            normalizer: o.lossType === 'dr_grpo' ? maxLength : tokens / o.microBatches,
          });
          for (const [k, v] of Object.entries(p.metrics)) metrics[k] = tf.scalar(v);
          return { loss, metrics };
        },
      });
    },
  }),
});
