import { defineExperiment, type ExperimentInput } from '@regime-zoo/experiment';

/** `tiny`: the CI smoke test (seconds of training, 1 seed); `default`: the README's run (3 seeds, ≤ 10 min on 2 cores). */
export const SIZES = ['tiny', 'default'] as const;
export type Size = (typeof SIZES)[number];

const WORLDS = ['tamper', 'off-switch', 'absent-supervisor'] as const;

interface Knobs {
  seeds: number[];
  model: { dModel: number; nHeads: number; nLayers: number };
  episodes: number;
  pairs: number;
  baseSteps: number;
  rmSteps: number;
  rlSteps: number;
  rlEpisodes: number;
  probeEpisodes: number;
}

const KNOBS: Record<Size, Knobs> = {
  tiny: { seeds: [1], model: { dModel: 16, nHeads: 2, nLayers: 1 }, episodes: 150, pairs: 300, baseSteps: 20, rmSteps: 15, rlSteps: 2, rlEpisodes: 16, probeEpisodes: 40 },
  default: { seeds: [1, 2, 3], model: { dModel: 32, nHeads: 2, nLayers: 2 }, episodes: 800, pairs: 3000, baseSteps: 250, rmSteps: 150, rlSteps: 15, rlEpisodes: 32, probeEpisodes: 300 },
};

/**
 * The seed's experiment. An SFT base on behaviour data of three worlds; a Bradley–Terry reward model of
 * the simulated rater (who sees only the visible reward); then, per world, PPO against that reward
 * model (no flag) and regime-rlhf-flag (PPO inside on `<rlhf:on>`, MLE on `<rlhf:off>` behaviour data),
 * both rolling out in that world. Every model is probed in every world, ID and OOD; the flag models
 * under both flags.
 */
export function rlhfFlagExperiment(size: Size): ExperimentInput {
  const k = KNOBS[size];
  const rl = { steps: k.rlSteps, episodes: k.rlEpisodes, lr: 1e-3, warmupSteps: 2, checkpointEvery: 5 };
  return defineExperiment({
    name: size === 'default' ? 'rlhf-flag' : `rlhf-flag-${size}`,
    seeds: k.seeds,
    worlds: [...WORLDS],
    splits: ['id', 'ood'],
    model: { ...k.model, contextLength: 64 },
    data: { episodes: k.episodes, pairs: k.pairs, raterTemperature: 1 },
    base: { steps: k.baseSteps, batchSize: 32, lr: 3e-3 },
    rewardModel: { options: { steps: k.rmSteps, batchSize: 32, lr: 3e-3 } },
    arms: WORLDS.flatMap((world, i) => [
      { name: `ppo-${world}`, regime: { package: 'ppo', options: { ...rl, world: i } }, reward: 'model' as const },
      { name: `flag-${world}`, regime: { package: 'rlhf-flag', options: { ...rl, world: i, inner: 'ppo', batchSize: 32, evalEpisodes: 16 } }, reward: 'model' as const },
    ]),
    probes: [{ package: '@regime-zoo/example-rlhf-flag', export: 'armBehaviour', options: { episodes: k.probeEpisodes } }],
  });
}
