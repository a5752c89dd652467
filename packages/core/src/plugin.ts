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
  fit(ctx: FitContext): Promise<FitReport>;
  /** Token ids to put after BOS when evaluating (empty for regimes without conditioning). */
  condition?(spec: EvalSpec, vocabulary?: VocabularyLike): readonly number[];
}

export interface ProbeContext {
  policy: Transformer;
  base?: Transformer;
  worlds: readonly Environment[];
  vocabulary?: VocabularyLike;
  rng: Rng;
  signal: AbortSignal;
  shared: Partial<SharedData>;
}

export interface ProbeResult {
  /** Metric name -> value (rates with their Wilson interval as `<name>/lo`, `<name>/hi`). */
  metrics: Record<string, number>;
}

/** A behavioural or representation probe. */
export interface Probe extends PluginBase<'probe'> {
  run(ctx: ProbeContext): Promise<ProbeResult>;
}

/** A world: makes environments for its in- and out-of-distribution splits. */
export interface World<S = unknown> extends PluginBase<'world'> {
  environment(split: 'id' | 'ood'): Environment<S>;
}

export interface DistillContext {
  teacher: Transformer;
  student: Transformer;
  worlds: readonly Environment[];
  rng: Rng;
  log: MetricsSink;
  signal: AbortSignal;
}

/** Trains a student on a teacher's behaviour. */
export interface Distiller extends PluginBase<'distiller'> {
  distill(ctx: DistillContext): Promise<FitReport>;
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
