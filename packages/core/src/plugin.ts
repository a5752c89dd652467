import { z } from 'zod';
import { describeZodError } from './config.js';
import { ZooError, callPluginHook } from './errors.js';
import type { Transformer } from './model.js';
import type { Rng } from './rng.js';
import type { Environment, Episode } from './rollout.js';

export type PluginKind = 'regime' | 'probe' | 'world' | 'distiller';

/** What every plugin is: a plain object with a required `name` (shown in logs and errors) and its kind. */
export interface PluginBase<K extends PluginKind> {
  readonly name: string;
  readonly kind: K;
}

/** One training example: a token sequence, which positions are trained on, and what the data says of it. */
export interface Example {
  tokens: readonly number[];
  /** `true` at positions whose token is a training target (default: every position after the first). */
  targetMask?: readonly boolean[];
  /**
   * Legal action ids at each target position, in order (one entry per target, as `Episode.legal` has
   * one per action). When present, regimes score each target over these ids only: the policy as a
   * rollout samples it. Absent: over the whole vocabulary.
   */
  legal?: readonly (readonly number[])[];
  /** Visible return of the episode, when it is one. */
  return?: number;
  /** Free-form labels (world, split, flag, ...). */
  meta?: Record<string, unknown>;
}

/** A preference pair (DPO, reward models): `chosen` preferred to `rejected`. */
export interface PreferencePair {
  chosen: Example;
  rejected: Example;
}

/**
 * A reward: a plain function or a reward model's scoring method; both are accepted wherever one is. It
 * may carry `many`, a batched form that online regimes call once per rollout batch instead of once per
 * episode (a reward model scores a batch in one forward pass).
 */
export type RewardFn = ((episode: Episode | Example) => number | Promise<number>) & {
  many?: (episodes: readonly (Episode | Example)[]) => readonly number[] | Promise<readonly number[]>;
};

/** The minimum core needs of a vocabulary (the tokenizer package implements it). */
export interface VocabularyLike {
  readonly size: number;
  id(token: string): number;
  toJSON(): unknown;
}

/** Where regimes write metrics (TRL names: `loss`, `objective/kl`, `objective/entropy`, ...). */
export type MetricsSink = (step: number, metrics: Record<string, number>) => void;

export interface ProgressEvent {
  plugin: string;
  phase: string;
  step: number;
  total: number;
  metrics?: Record<string, number>;
}

/**
 * Data shared across plugins. Packages add fields by declaration merging
 * (`declare module '@regime-zoo/core' { interface SharedData { myField: T } }`), not through globals.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SharedData {}

/** Everything a regime's `fit` gets. */
export interface FitContext {
  /** The frozen reference model π₀ (never updated). */
  base: Transformer;
  /** The model to train, in place (starts as a copy of `base`, or as a resumed checkpoint). */
  policy: Transformer;
  vocabulary?: VocabularyLike;
  /** Worlds to roll out in (online regimes). */
  worlds: readonly Environment[];
  /** Behaviour data (offline regimes). */
  dataset: readonly Example[];
  /** Preference pairs (DPO). */
  preferences: readonly PreferencePair[];
  reward?: RewardFn;
  rng: Rng;
  log: MetricsSink;
  progress: (event: ProgressEvent) => void;
  signal: AbortSignal;
  /** Folder for this regime's checkpoints; undefined when the run does not save. */
  checkpointDir?: string;
  shared: Partial<SharedData>;
}

export interface FitReport {
  steps: number;
  /** Final values of the logged metrics. */
  metrics: Record<string, number>;
  /** `true` when the abort signal stopped training early. */
  aborted?: boolean;
}

/** What to condition on at evaluation (a target return bucket, an RLHF flag, ...). */
export interface EvalSpec {
  world?: string;
  /** Requested return bucket, for return-conditioned regimes. */
  bucket?: number;
  [key: string]: unknown;
}

/** A fine-tuning regime. */
export interface Regime extends PluginBase<'regime'> {
  /** Conditioning tokens this regime needs in the vocabulary (`<rtg:0>`, `<rlhf:on>`, ...). */
  readonly tokens?: readonly string[];
  /**
   * Inputs the regime cannot train without, beyond behaviour data: `preferences` (pairs in
   * `ctx.preferences`) or `rewardModel` (a learned reward as `ctx.reward`). An experiment runner checks
   * them against its config before training.
   */
  readonly requires?: readonly ('preferences' | 'rewardModel')[];
  fit(ctx: FitContext): Promise<FitReport>;
  /** Token ids to put after BOS when evaluating (empty for regimes without conditioning). */
  condition?(spec: EvalSpec, vocabulary?: VocabularyLike): readonly number[];
}

export interface ProbeContext {
  policy: Transformer;
  /** The model the policy was fine-tuned from (KL to base, flag leakage). */
  base?: Transformer;
  /** Worlds to probe, as plugins: a probe makes the environment of each split it measures. */
  worlds: readonly World[];
  /** Splits to measure (default both: `['id', 'ood']`). */
  splits?: readonly ('id' | 'ood')[];
  vocabulary?: VocabularyLike;
  /**
   * The regime's `condition()` bound to the vocabulary: conditioning ids for an evaluation spec (a DT is
   * asked for a bucket, a flag model for `<rlhf:on|off>`). Absent: the policy is probed unconditioned.
   */
  condition?: (spec: EvalSpec) => readonly number[];
  rng: Rng;
  signal: AbortSignal;
  shared: Partial<SharedData>;
}

/**
 * One number a probe measured, JSON-serialisable (`@regime-zoo/probes` exports its zod schema). Every
 * number says where it is from: world, split, conditioning and decoding.
 */
export interface ProbeRow {
  probe: string;
  world: string;
  /** `ood-id` for a difference between the splits (OOD amplification). */
  split: 'id' | 'ood' | 'ood-id';
  /** Conditioning tokens the policy was given, as text (`rlhf:off`, `rtg:4`), or `none`. */
  condition: string;
  decoding: 'sample' | 'greedy';
  /** Metric name (`TamperRate`, `DeltaI`, `trigger/layer0/accuracy`, …): per-layer metrics carry `/layer{l}`. */
  metric: string;
  value: number;
  /** 95% interval (Wilson for rates, Newcombe for differences of rates); null where none applies. */
  lo: number | null;
  hi: number | null;
  /** Episodes (or examples) the number rests on. */
  n: number;
}

export interface ProbeResult {
  /** Metric name -> value (rates with their Wilson interval as `<name>/lo`, `<name>/hi`). */
  metrics: Record<string, number>;
  /** The same numbers with where they are from (`@regime-zoo/probes` fills this in). */
  rows?: ProbeRow[];
}

/** A behavioural or representation probe. */
export interface Probe extends PluginBase<'probe'> {
  run(ctx: ProbeContext): Promise<ProbeResult>;
}

/** A world: makes environments for its in- and out-of-distribution splits. */
export interface World<S = unknown> extends PluginBase<'world'> {
  environment(split: 'id' | 'ood'): Environment<S>;
}

/** What a world says of one episode's tokens (a toy world's `evaluate` gives both): U(τ) and hidden performance. */
export interface EpisodeVerdict {
  unsafe: boolean;
  hidden: number;
}

/** How a distiller's student starts: a new random model, a copy of the teacher's base, or a copy of the teacher. */
export type StudentInit = 'fresh' | 'base' | 'teacher';

/** Everything a distiller's `distill` gets. The distiller makes the student (per its options) and returns it. */
export interface DistillContext {
  /** The fine-tuned model whose behaviour is distilled; only read, never updated. */
  teacher: Transformer;
  /** The model the teacher was fine-tuned from: the `base` student starts as a copy of it. */
  base?: Transformer;
  /** Environments the teacher (and an on-policy student) roll out in, e.g. the worlds' ID split. */
  worlds: readonly Environment[];
  /** Judges of the episodes of `worlds[i]` (a toy world's `evaluate`), for filtering on U(τ) or hidden score. */
  judges?: readonly ((tokens: readonly number[]) => EpisodeVerdict)[];
  /** Prompts (token ids, BOS first) the teacher continues freely, when there are no worlds. */
  prompts: readonly (readonly number[])[];
  vocabulary?: VocabularyLike;
  rng: Rng;
  log: MetricsSink;
  progress: (event: ProgressEvent) => void;
  signal: AbortSignal;
  /** Folder for the student's checkpoints; resumes from it when one is there. */
  checkpointDir?: string;
  shared: Partial<SharedData>;
}

/** A distillation run's report: the trained student (the caller owns and disposes it) and what it learnt from. */
export interface DistillReport extends FitReport {
  student: Transformer;
  init: StudentInit;
  /** Teacher episodes collected, kept after filtering, and dropped by each filter (0 when nothing was collected up front). */
  data: { collected: number; kept: number; droppedUnsafe: number; droppedHidden: number; examples: readonly Example[] };
}

/** Trains a student on a teacher's behaviour. */
export interface Distiller extends PluginBase<'distiller'> {
  distill(ctx: DistillContext): Promise<DistillReport>;
}

export type Plugin = Regime | Probe | World | Distiller;

type KindOf<P> = P extends PluginBase<infer K> ? K : never;

interface PluginSpec<P extends Plugin, S extends z.ZodType> {
  name: string;
  /** Zod schema of the options; defaults fill in what the caller leaves out. */
  options: S;
  create: (options: z.output<S>) => Omit<P, 'name' | 'kind'>;
}

/**
 * Makes a plugin factory (rollup's convention: a package exports `(options) => plugin`). Options are
 * validated with the spec's zod schema when the factory is called, and a bad option throws
 * `OPTION_INVALID` naming the plugin and the option.
 */
export function definePlugin<P extends Plugin, S extends z.ZodType>(kind: KindOf<P>, spec: PluginSpec<P, S>): (options?: z.input<S>) => P {
  return (options) => {
    const parsed = spec.options.safeParse(options ?? {});
    if (!parsed.success) {
      const { field, message } = describeZodError('options', parsed.error as z.ZodError);
      throw new ZooError('OPTION_INVALID', `[${spec.name}] ${message}`, { field, plugin: spec.name, hook: 'options', cause: parsed.error });
    }
    return { ...spec.create(parsed.data), name: spec.name, kind } as P;
  };
}

/**
 * A regime factory. `const r = myRegime({ beta: 0.5 })` validates the options at once.
 *
 * ```ts
 * export const myRegime = defineRegime({
 *   name: 'my-regime',
 *   options: z.object({ beta: z.number().positive().default(0.1) }).strict(),
 *   create: (o) => ({ async fit(ctx) { ... } }),
 * });
 * ```
 */
export const defineRegime = <S extends z.ZodType, R extends Regime = Regime>(spec: PluginSpec<R, S>) => definePlugin<R, S>('regime' as KindOf<R>, spec);
export const defineProbe = <S extends z.ZodType, P extends Probe = Probe>(spec: PluginSpec<P, S>) => definePlugin<P, S>('probe' as KindOf<P>, spec);
/** A world factory; `W` may extend `World` with the world's own API (enumerate, unsafe, policies, ...). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const defineWorld = <S extends z.ZodType, W extends World<any> = World>(spec: PluginSpec<W, S>) => definePlugin<W, S>('world' as KindOf<W>, spec);
export const defineDistiller = <S extends z.ZodType, D extends Distiller = Distiller>(spec: PluginSpec<D, S>) => definePlugin<D, S>('distiller' as KindOf<D>, spec);

/** Runs a regime's `fit`, wrapping any failure with the regime's name and the hook. */
export function runFit(regime: Regime, ctx: FitContext): Promise<FitReport> {
  return callPluginHook(regime, 'fit', () => {
    checkFitContext(ctx);
    return regime.fit(ctx);
  });
}

/** Rejects a context whose frozen reference is the model being trained (every KL to it would be 0). */
export function checkFitContext(ctx: Pick<FitContext, 'base' | 'policy'>): void {
  if (ctx.base === ctx.policy) {
    throw new ZooError('CONFIG_INVALID', 'ctx.base and ctx.policy are the same model: the reference would move with the policy; pass policy.clone({ trainable: false }) as base', { field: 'base' });
  }
}

/** Runs a probe's `run`, wrapping any failure with the probe's name and the hook. */
export function runProbe(probe: Probe, ctx: ProbeContext): Promise<ProbeResult> {
  return callPluginHook(probe, 'run', () => probe.run(ctx));
}

/** A `FitContext` with defaults for everything but the models (empty data, no-op logging, a live signal). */
export function createFitContext(
  o: Pick<FitContext, 'base' | 'policy' | 'rng'> & Partial<Omit<FitContext, 'base' | 'policy' | 'rng'>>,
): FitContext {
  return {
    worlds: [],
    dataset: [],
    preferences: [],
    log: () => {},
    progress: () => {},
    signal: new AbortController().signal,
    shared: {},
    ...o,
  };
}

/** Runs a distiller's `distill`, wrapping any failure with the distiller's name and the hook (as `runFit`). */
export function runDistill(distiller: Distiller, ctx: DistillContext): Promise<DistillReport> {
  return callPluginHook(distiller, 'distill', () => distiller.distill(ctx));
}

/** A `DistillContext` with defaults for everything but the teacher (no worlds or prompts, no-op logging, a live signal). */
export function createDistillContext(
  o: Pick<DistillContext, 'teacher' | 'rng'> & Partial<Omit<DistillContext, 'teacher' | 'rng'>>,
): DistillContext {
  return { worlds: [], prompts: [], log: () => {}, progress: () => {}, signal: new AbortController().signal, shared: {}, ...o };
}
