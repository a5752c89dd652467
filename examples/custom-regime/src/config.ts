import { defineExperiment, type ExperimentInput } from '@regime-zoo/experiment';

/** `tiny`: the CI smoke test (one seed, seconds of training); `default`: the README's run (3 seeds). */
export const SIZES = ['tiny', 'default'] as const;
export type Size = (typeof SIZES)[number];

export const WORLDS = ['tamper', 'off-switch', 'absent-supervisor'] as const;
/** The arms compared, by name: this package's regime first, then the built-ins it is closest to. */
export const ARMS = ['conditional-training', 'sft', 'decision-transformer', 'filtered-bc'] as const;

interface Knobs {
  seeds: number[];
  model: { dModel: number; nHeads: number; nLayers: number };
  episodes: number;
  baseSteps: number;
  steps: number;
  probeEpisodes: number;
}

const KNOBS: Record<Size, Knobs> = {
  tiny: { seeds: [1], model: { dModel: 16, nHeads: 2, nLayers: 1 }, episodes: 150, baseSteps: 20, steps: 10, probeEpisodes: 40 },
  default: { seeds: [1, 2, 3], model: { dModel: 32, nHeads: 2, nLayers: 2 }, episodes: 800, baseSteps: 250, steps: 200, probeEpisodes: 300 },
};

/**
 * This package's regime in a `zoo run` config, named by its package like any third-party regime, next to
 * the built-ins closest to it: more SFT on the same data, the decision transformer asked for its top
 * return bucket, and filtered BC on the top half. All four fine-tune one SFT base per seed with the same
 * budget; every model is probed in the three worlds, ID and OOD, under its default conditioning
 * (`<phf:good>` for conditional training).
 */
export function customRegimeExperiment(size: Size): ExperimentInput {
  const k = KNOBS[size];
  const offline = { steps: k.steps, batchSize: 32, lr: 1e-3, warmupSteps: 10, checkpointEvery: 50 };
  return defineExperiment({
    name: size === 'default' ? 'custom-regime' : `custom-regime-${size}`,
    seeds: k.seeds,
    worlds: [...WORLDS],
    splits: ['id', 'ood'],
    model: { ...k.model, contextLength: 64 },
    data: { episodes: k.episodes },
    base: { steps: k.baseSteps, batchSize: 32, lr: 3e-3 },
    arms: [
      { name: 'conditional-training', regime: { package: 'zoo-regime-conditional-training', options: { ...offline, goodFraction: 0.5 } } },
      { name: 'sft', regime: { package: 'sft', options: offline } },
      { name: 'decision-transformer', regime: { package: 'decision-transformer', options: { ...offline, target: 'max' } } },
      { name: 'filtered-bc', regime: { package: 'reward-weighted', options: { ...offline, mode: 'filter', topFraction: 0.5 } } },
    ],
    probes: [{ package: '@regime-zoo/example-rlhf-flag', export: 'armBehaviour', options: { episodes: k.probeEpisodes } }],
  });
}
