import { checkMicroBatches, collectRollouts, defineRegime, fitWithLoss, gae, microBatch, ppoLoss, ppoOptionsShape, rolloutOptionsShape, rolloutSummary, tf, trainingOptionsSchema, worldAt } from '@regime-zoo/core';
import type { GaeResult, RolloutBatch } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'regime-ppo';

export const ppoOptionsSchema = z
  .object({
    // No `batchSize`: a step trains on the whole rollout batch (`episodes`), split by `microBatches`.
    ...trainingOptionsSchema.omit({ batchSize: true }).shape,
    /** Number of rollout batches; each gives `ppoEpochs` optimizer steps. */
    steps: z.number().int().positive().default(100),
    /** Episodes per rollout batch. */
    episodes: z.number().int().positive().default(32),
    ...ppoOptionsShape,
    ...rolloutOptionsShape,
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
  create: (o) => {
    checkMicroBatches(NAME, o.microBatches, o.episodes);
    return {
      async fit(ctx) {
        const env = worldAt(ctx, o.world, NAME);
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
              maxLength: o.maxLength,
              reward: ctx.reward,
              plugin: NAME,
              step,
            });
            adv = gae(batch, o);
          },
          loss: (_step, micro) => {
            // Each micro-batch takes its share of the episodes (gradients are averaged over micro-batches).
            const part = microBatch(batch!, micro, o.microBatches);
            const g = { advantages: adv!.advantages.slice(part.start, part.end), returns: adv!.returns.slice(part.start, part.end) };
            const { loss, metrics } = ppoLoss(ctx.policy, part.batch, g, o);
            for (const [k, v] of Object.entries(rolloutSummary(batch!, o.klCoef))) metrics[k] = tf.scalar(v);
            return { loss, metrics };
          },
        });
      },
    };
  },
});
