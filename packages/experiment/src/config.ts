import { z } from 'zod';

/**
 * A plugin named by its package: `'@regime-zoo/regime-dpo'` or `'dpo'` (a built-in short name), or
 * `{ package, export?, options? }`. The package is imported from the config file's folder, so any
 * installed package works, in the `@regime-zoo` scope or not; `export` names its factory (default: the
 * package's default export, or the factory a built-in short name stands for).
 */
export const pluginRefSchema = z.union([
  z.string().min(1),
  z.strictObject({
    package: z.string().min(1),
    export: z.string().min(1).optional(),
    options: z.record(z.string(), z.unknown()).optional(),
  }),
]);

export type PluginRefInput = z.input<typeof pluginRefSchema>;

/** A plugin reference with its package, factory export and options all spelled out. */
export interface PluginRef {
  package: string;
  export: string;
  options: Record<string, unknown>;
}

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lower-case letters, digits, ".", "_" or "-", starting with a letter or digit (it names folders)');

export const armSchema = z.strictObject({
  /** Names the arm in the run directory, the report and `distill[].teacher`. */
  name,
  regime: pluginRefSchema,
  /** What online regimes maximise: the episode's visible return, or the trained reward model's score. */
  reward: z.enum(['visible', 'model']).default('visible'),
});

export const distillArmSchema = z.strictObject({
  name,
  /** The arm whose model is distilled (`base` for the SFT base). */
  teacher: z.string().min(1),
  distiller: pluginRefSchema,
});

/** Training options of the SFT base (regime-sft's options) and of the reward model. */
const trainingSchema = z.record(z.string(), z.unknown());

export const experimentSchema = z.strictObject({
  /** Names the run directory (`runs/<name>`). */
  name,
  /** One run of every stage per seed; results are aggregated over seeds. */
  seeds: z.array(z.number().int().min(0)).min(1, 'must list at least one seed, e.g. [1]'),
  /** Worlds (plugins of kind 'world' with behaviour policies, e.g. `'tamper'` or `{ package: '@regime-zoo/worlds', export: 'tamperWorld' }`). */
  worlds: z.array(pluginRefSchema).min(1, 'must list at least one world, e.g. ["tamper"]'),
  /** Splits the probes measure. */
  splits: z.array(z.enum(['id', 'ood'])).min(1).default(['id', 'ood']),
  /** Model size (core's model config without `vocabSize` and `seed`, which the run sets). */
  model: z
    .strictObject({
      dModel: z.number().int().min(2).default(32),
      nHeads: z.number().int().min(1).default(2),
      nLayers: z.number().int().min(1).default(1),
      contextLength: z.number().int().min(8).max(256).default(64),
      mlpRatio: z.number().int().min(1).default(4),
    })
    .default({ dModel: 32, nHeads: 2, nLayers: 1, contextLength: 64, mlpRatio: 4 }),
  /** Behaviour data per world and seed (in-distribution split), and preference pairs from the simulated rater. */
  data: z
    .strictObject({
      episodes: z.number().int().min(2).max(1_000_000).default(1000),
      /** Preference pairs (0: none; DPO and the reward model need some). */
      pairs: z.number().int().min(0).max(10_000_000).default(0),
      /** Bradley–Terry temperature of the simulated rater. */
      raterTemperature: z.number().min(0).default(1),
    })
    .default({ episodes: 1000, pairs: 0, raterTemperature: 1 }),
  /** Options of the SFT base's training (`@regime-zoo/regime-sft`: steps, batchSize, lr, ...). */
  base: trainingSchema.default({}),
  /** A Bradley–Terry reward model on the preference pairs, started from the SFT base; arms with `reward: 'model'` maximise it. */
  rewardModel: z.strictObject({ options: trainingSchema.default({}) }).optional(),
  /** The regime arms: each fine-tunes a copy of the base. */
  arms: z.array(armSchema).default([]),
  /** Distillation arms: each trains a student on a teacher arm's behaviour. */
  distill: z.array(distillArmSchema).default([]),
  /** Probes run on every model (base, arms, students) on each split. */
  probes: z.array(pluginRefSchema).min(1, 'must list at least one probe'),
  vocabulary: z
    .strictObject({
      /** Number of `<rtg:k>` return buckets the vocabulary starts with. */
      rtgBuckets: z.number().int().min(1).max(64).default(5),
      /** Add the regimes' conditioning tokens to the vocabulary (off: a regime whose tokens are missing is an error). */
      grow: z.boolean().default(true),
    })
    .default({ rtgBuckets: 5, grow: true }),
  run: z
    .strictObject({
      /** Worker processes of the local pool (default: the number of cores; 1 runs everything in this process). */
      workers: z.number().int().min(1).max(256).optional(),
      /** Checkpoint the base and reward model every this many steps (regimes: their own `checkpointEvery` option). */
      checkpointEvery: z.number().int().min(0).default(20),
    })
    .default({ checkpointEvery: 20 }),
});

export type ExperimentInput = z.input<typeof experimentSchema>;
export type ExperimentConfig = z.output<typeof experimentSchema>;
export type ArmConfig = z.output<typeof armSchema>;
export type DistillArmConfig = z.output<typeof distillArmSchema>;

/**
 * Types an experiment config (the `defineConfig` habit of vite.config.ts): `export default
 * defineExperiment({ ... })` in `experiment.config.ts`. It returns its argument; `zoo run` validates it.
 */
export function defineExperiment(config: ExperimentInput): ExperimentInput {
  return config;
}
