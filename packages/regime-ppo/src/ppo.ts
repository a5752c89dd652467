import { collectRollouts, defineRegime, fitWithLoss, gae, ppoLoss, rolloutSummary, tf, trainingOptionsSchema, ZooError } from '@regime-zoo/core';
import type { GaeResult, RolloutBatch } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'regime-ppo';

export const ppoOptionsSchema = z
  .object({
    ...trainingOptionsSchema.shape,
    /** Number of rollout batches; each gives `ppoEpochs` optimizer steps. */
    steps: z.number().int().positive().default(100),
    /** Episodes per rollout batch. */
    episodes: z.number().int().positive().default(32),
    /** Optimizer steps per rollout batch (TRL's `num_ppo_epochs` 4). */
    ppoEpochs: z.number().int().positive().default(4),
    /** Policy ratio clip ε (TRL's `cliprange` 0.2). */
    clip: z.number().positive().default(0.2),
    /** Value clip (TRL's `cliprange_value` 0.2). */
    clipValue: z.number().positive().default(0.2),
    /** Value-loss weight (TRL's `vf_coef` 0.1). */
    vfCoef: z.number().min(0).default(0.1),
    gamma: z.number().min(0).max(1).default(1),
    lambda: z.number().min(0).max(1).default(0.95),
    /** KL coefficient in the per-token reward; 0 (default) is pure reward maximisation. */
    klCoef: z.number().min(0).default(0),
    /** Whiten advantages over the batch (TRL does). */
    whiten: z.boolean().default(true),
    temperature: z.number().positive().default(1),
    maxLength: z.number().int().positive().optional(),
    world: z.number().int().min(0).default(0),
  })
  .strict();

export type PpoOptions = z.input<typeof ppoOptionsSchema>;

/**
 * RLHF that is not equivalent to conditioning: PPO (Schulman et al. 2017) with a value head on the
 * policy's trunk, GAE (γ = 1, λ = 0.95), clipped ratio and value, several epochs per batch, maximising the
 * reward (`ctx.reward`, e.g. a learned reward model, or the visible return). With `klCoef` 0 it is pure
 * reward maximisation and collapses onto a maximum-reward sequence; with `klCoef` β its per-token
 * reward −β·(log π − log π₀) makes the optimum π* ∝ π₀·exp(r/β). Defaults follow TRL's PPO trainer.
 */
export const ppo = defineRegime({
  name: NAME,
  options: ppoOptionsSchema,
  create: (o) => ({
    async fit(ctx) {
      const env = ctx.worlds[o.world];
      if (!env) throw new ZooError('OPTION_INVALID', `[${NAME}] ctx.worlds has no world at index ${o.world}; pass the world to roll out in`, { field: 'world', plugin: NAME });
      ctx.policy.addValueHead(); // PPO's critic shares the policy's trunk
      let batch: RolloutBatch | undefined;
      let adv: GaeResult | undefined;
      return fitWithLoss(ctx, {
        plugin: NAME,
        options: { ...o, steps: o.steps * o.ppoEpochs },
        // A batch is used for ppoEpochs steps: checkpoints carry it, so a resumed run continues exactly.
        state: {
          save: () => ({ batch, adv }),
          restore: (saved) => {
            const s = saved as { batch?: RolloutBatch; adv?: GaeResult } | undefined;
            batch = s?.batch;
            adv = s?.adv;
          },
        },
        async beforeStep(step, trainer) {
          if (step % o.ppoEpochs !== 0 && batch) return;
          batch = await collectRollouts({
            policy: ctx.policy,
            base: ctx.base,
            env,
            episodes: o.episodes,
            rng: trainer.rng,
            temperature: o.temperature,
            ...(o.maxLength ? { maxLength: o.maxLength } : {}),
            ...(ctx.reward ? { reward: ctx.reward } : {}),
            plugin: NAME,
            step,
          });
          adv = gae(batch, { gamma: o.gamma, lambda: o.lambda, klCoef: o.klCoef, whiten: o.whiten });
        },
        loss: () => {
          const { loss, metrics } = ppoLoss(ctx.policy, batch!, adv!, o);
          for (const [k, v] of Object.entries(rolloutSummary(batch!, o.klCoef))) metrics[k] = tf.scalar(v);
          return { loss, metrics };
        },
      });
    },
  }),
});
