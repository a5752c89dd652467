import { defineExperiment, type ExperimentInput } from '@regime-zoo/experiment';

/** `small`: the CI smoke (one seed, < 3 minutes); `default`: the README's run (3 seeds, ≤ 30 min on 2 cores). */
export const SIZES = ['small', 'default'] as const;
export type Size = (typeof SIZES)[number];

export const WORLDS = ['tamper', 'off-switch', 'absent-supervisor'] as const;

/** Regimes equivalent to conditioning (prediction 1), by arm name. */
export const CONDITIONING_ARMS = ['sft', 'decision-transformer', 'filtered-bc', 'rwr', 'awr', 'dpo'] as const;
/** Online regimes roll out in one world each: one arm per world, named `<regime>-<world>`. */
export const ONLINE = ['kl-rl', 'ppo', 'flag'] as const;

interface Knobs {
  seeds: number[];
  model: { dModel: number; nHeads: number; nLayers: number };
  episodes: number;
  pairs: number;
  baseSteps: number;
  rmSteps: number;
  offlineSteps: number;
  rlSteps: number;
  rlEpisodes: number;
  distillEpisodes: number;
  distillSteps: number;
  probeEpisodes: number;
}

const KNOBS: Record<Size, Knobs> = {
  small: { seeds: [1], model: { dModel: 16, nHeads: 2, nLayers: 1 }, episodes: 150, pairs: 300, baseSteps: 20, rmSteps: 15, offlineSteps: 10, rlSteps: 2, rlEpisodes: 16, distillEpisodes: 60, distillSteps: 10, probeEpisodes: 40 },
  default: { seeds: [1, 2, 3], model: { dModel: 32, nHeads: 2, nLayers: 2 }, episodes: 800, pairs: 3000, baseSteps: 250, rmSteps: 150, offlineSteps: 100, rlSteps: 15, rlEpisodes: 32, distillEpisodes: 600, distillSteps: 150, probeEpisodes: 300 },
};

/**
 * The whole zoo on the tamper, off-switch and absent-supervisor worlds: an SFT base on their behaviour
 * data, the rater's reward model, the offline regimes on all three worlds' data (more SFT, the decision
 * transformer asked for its top return bucket, filtered BC, RWR, AWR, DPO), the online ones in each world
 * against the reward model (KL-RL, PPO, the RLHF flag), and a fresh student distilled from each PPO arm.
 */
export function zooExperiment(size: Size): ExperimentInput {
  const k = KNOBS[size];
  const offline = { steps: k.offlineSteps, batchSize: 32, lr: 1e-3, checkpointEvery: 25 };
  const rl = { steps: k.rlSteps, lr: 1e-3, warmupSteps: 2, checkpointEvery: 5 };
  return defineExperiment({
    name: size === 'default' ? 'zoo' : `zoo-${size}`,
    seeds: k.seeds,
    worlds: [...WORLDS],
    splits: ['id', 'ood'],
    model: { ...k.model, contextLength: 64 },
    data: { episodes: k.episodes, pairs: k.pairs, raterTemperature: 1 },
    base: { steps: k.baseSteps, batchSize: 32, lr: 3e-3 },
    rewardModel: { options: { steps: k.rmSteps, batchSize: 32, lr: 3e-3 } },
    arms: [
      { name: 'sft', regime: { package: 'sft', options: offline } },
      { name: 'decision-transformer', regime: { package: 'decision-transformer', options: { ...offline, target: 'max' } } },
      { name: 'filtered-bc', regime: { package: 'reward-weighted', options: { ...offline, mode: 'filter', topFraction: 0.5 } } },
      { name: 'rwr', regime: { package: 'reward-weighted', options: { ...offline, mode: 'rwr' } } },
      { name: 'awr', regime: { package: 'reward-weighted', options: { ...offline, mode: 'awr' } } },
      { name: 'dpo', regime: { package: 'dpo', options: { ...offline, batchSize: 16 } } },
      ...WORLDS.flatMap((world, i) => [
        { name: `kl-rl-${world}`, regime: { package: 'kl-rl', options: { ...rl, world: i, prompts: Math.max(2, k.rlEpisodes / 4), k: 4 } }, reward: 'model' as const },
        { name: `ppo-${world}`, regime: { package: 'ppo', options: { ...rl, world: i, episodes: k.rlEpisodes } }, reward: 'model' as const },
        { name: `flag-${world}`, regime: { package: 'rlhf-flag', options: { ...rl, world: i, episodes: k.rlEpisodes, inner: 'ppo', batchSize: 32, evalEpisodes: 16 } }, reward: 'model' as const },
      ]),
    ],
    distill: WORLDS.map((world) => ({
      name: `student-ppo-${world}`,
      teacher: `ppo-${world}`,
      distiller: { package: 'sequence', options: { student: 'fresh', episodes: k.distillEpisodes, steps: k.distillSteps, batchSize: 32, lr: 3e-3, checkpointEvery: 25 } },
    })),
    probes: [{ package: '@regime-zoo/example-rlhf-flag', export: 'armBehaviour', options: { episodes: k.probeEpisodes } }],
  });
}
