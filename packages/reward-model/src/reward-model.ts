import {
  callPluginHook,
  checkExamples,
  createFitContext,
  describeZodError,
  fitWithLoss,
  loadCheckpoint,
  logSigmoid,
  Rng,
  saveCheckpoint,
  tf,
  trainingOptionsSchema,
  Transformer,
  ZooError,
} from '@regime-zoo/core';
import type { Example, FitReport, MetricsSink, ModelConfigInput, PreferencePair, ProgressEvent, VocabularyLike } from '@regime-zoo/core';
import { z } from 'zod';

/** The name in logs, progress events, errors and the checkpoint's `regime.name`. */
export const REWARD_MODEL_NAME = 'reward-model';

/**
 * Options of `trainRewardModel`: core's training options (steps, batchSize, lr, ...) plus TRL
 * RewardTrainer's `center_rewards_coefficient`.
 */
export const rewardModelOptionsSchema = z
  .object({
    ...trainingOptionsSchema.shape,
    /**
     * Adds coefficient · mean((r_chosen + r_rejected)²) to the loss, pulling rewards towards mean zero
     * (TRL's `center_rewards_coefficient`, after Eisenstein et al. 2023). Off by default as in TRL; TRL
     * recommends 0.01.
     */
    centerRewardsCoefficient: z.number().min(0).optional(),
  })
  .strict();

export type RewardModelOptionsInput = z.input<typeof rewardModelOptionsSchema>;
export type RewardModelOptions = z.output<typeof rewardModelOptionsSchema>;

/** A preference pair, optionally with TRL's per-pair `margin`: the loss is −log σ(r_c − r_r − margin). */
export interface RewardPair extends PreferencePair {
  margin?: number;
}

/** What a reward model scores: anything with tokens (a core `Episode`, an `Example`, a dataset record). */
export interface Scorable {
  readonly tokens: readonly number[];
}

export interface TrainRewardModelArgs {
  /** Trunk to start from (e.g. the SFT base). It is copied, so yours is untouched; a value head is added if it has none. */
  model?: Transformer;
  /** Or the config of a fresh model (`valueHead` is forced on). Give exactly one of `model` and `config`. */
  config?: ModelConfigInput;
  /** Preference pairs (`chosen` preferred to `rejected`), e.g. from `@regime-zoo/worlds`' `preferencePairs`. */
  pairs: readonly RewardPair[];
  /** Training options, validated now; bad ones throw `OPTION_INVALID` naming the option. */
  options?: RewardModelOptionsInput;
  /** Seeds the trainer (data order); default `new Rng(0)`. */
  rng?: Rng;
  /** Receives `loss`, `accuracy`, `margin`, `min_reward`, `mean_reward`, `max_reward`, `train/lr`, `train/grad_norm` each step. */
  log?: MetricsSink;
  progress?: (event: ProgressEvent) => void;
  /** Stops training between steps (a checkpoint is saved first when `checkpointDir` is set). */
  signal?: AbortSignal;
  /** Checkpoints go here (every `checkpointEvery` steps, on abort, at the end); training resumes from one found here. */
  checkpointDir?: string;
  /** Stored in checkpoints (its `toJSON()`), so a saved reward model says which vocabulary its ids mean. */
  vocabulary?: VocabularyLike;
  /**
   * Ids of conditioning tokens (`<rlhf:on>`, `<rtg:3>`, ...): `vocabulary.bannedIds()`, which decides by
   * namespace. A run of them right after the first token (BOS) is removed before training and scoring, as
   * the worlds' `unsafe`/`evaluate` skip it, so rollouts of a conditioned policy are scored like the plain
   * episodes the rater compared. Saved with the model. With a tokenizer `vocabulary`, an id it holds as a
   * world symbol is refused (`OPTION_INVALID`).
   */
  conditioningIds?: readonly number[];
}

/** Settings of a `RewardModel` besides its model. */
export interface RewardModelSettings {
  /** See `TrainRewardModelArgs.conditioningIds`. */
  conditioningIds?: readonly number[];
  /** The training report, when the model was just trained. */
  report?: FitReport;
}

export interface RewardEvaluation {
  /** Fraction of pairs with r(chosen) > r(rejected) (TRL's `accuracy`; a tie counts as wrong). */
  accuracy: number;
  /** Mean of r(chosen) − r(rejected) (TRL's `margin`). */
  margin: number;
  /** Number of pairs. */
  pairs: number;
}

const fn = (what: string) => z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', { error: `must be a function (${what})` });
const argsSchema = z.strictObject({
  model: z.unknown().optional(),
  config: z.unknown().optional(),
  options: z.unknown().optional(),
  vocabulary: z.unknown().optional(),
  pairs: z.array(z.unknown(), { error: 'must be an array of { chosen, rejected } preference pairs' }),
  rng: z.instanceof(Rng, { error: 'must be a core Rng' }).optional(),
  log: fn('step, metrics').optional(),
  progress: fn('event').optional(),
  signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
  checkpointDir: z.string().min(1).optional(),
  conditioningIds: z.array(z.number().int().min(0), { error: 'must be an array of token ids' }).optional(),
});

/** What a tokenizer `Vocabulary` adds to core's `VocabularyLike`: it knows which ids are conditioning tokens. */
interface ConditioningAware {
  readonly tokens?: readonly string[];
  isConditioning(id: number): boolean;
}

/**
 * With a vocabulary that knows its namespaces (the tokenizer's `Vocabulary`), every id in
 * `conditioningIds` must be a conditioning token of it: an id range (the old `FIRST_CONDITIONING_ID` up)
 * would also take symbols added with `extend({ symbols })`, and stripping them would change the episode.
 */
function checkConditioningIds(ids: readonly number[] | undefined, vocabulary: unknown): void {
  const v = vocabulary as Partial<ConditioningAware> | undefined;
  if (!ids || typeof v?.isConditioning !== 'function') return;
  ids.forEach((id, i) => {
    if (id < (v.tokens?.length ?? Infinity) && !v.isConditioning!(id)) {
      const token = v.tokens?.[id];
      throw optionError(
        `conditioningIds[${i}] is ${id}${token === undefined ? '' : ` ('${token}')`}, which the vocabulary holds as a world symbol, not a conditioning token; pass vocabulary.bannedIds() (every conditioning id, by namespace)`,
        `conditioningIds[${i}]`,
      );
    }
  });
}

function optionError(message: string, field: string, cause?: unknown): ZooError {
  return new ZooError('OPTION_INVALID', `[${REWARD_MODEL_NAME}] ${message}`, { field, plugin: REWARD_MODEL_NAME, hook: 'options', ...(cause ? { cause } : {}) });
}

/** Validates the training options (what `trainRewardModel` does first); throws `OPTION_INVALID` naming the option. */
export function parseRewardModelOptions(options: unknown): RewardModelOptions {
  const parsed = rewardModelOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const { field, message } = describeZodError('options', parsed.error);
    throw optionError(message, `options.${field}`, parsed.error);
  }
  return parsed.data;
}

/** Checks that every pair has two sides with tokens that fit `model`, and finite margins. Errors name the pair and token. */
function checkPairs(pairs: readonly unknown[], model: Transformer): void {
  pairs.forEach((p, i) => {
    const pair = p as Partial<RewardPair> | null;
    if (!pair || typeof pair !== 'object' || !pair.chosen || !pair.rejected) {
      throw new ZooError('BAD_INPUT', `pairs[${i}] must be { chosen, rejected } with an Example (its tokens) on each side`, { field: `pairs[${i}]`, position: [i] });
    }
    if (pair.margin !== undefined && (typeof pair.margin !== 'number' || !Number.isFinite(pair.margin))) {
      throw new ZooError('BAD_INPUT', `pairs[${i}].margin is ${String(pair.margin)}; a margin must be a finite number (or absent)`, { field: `pairs[${i}].margin`, position: [i] });
    }
  });
  const typed = pairs as readonly RewardPair[];
  checkExamples(typed.map((p) => p.chosen), model, 'pairs.chosen');
  checkExamples(typed.map((p) => p.rejected), model, 'pairs.rejected');
}

/**
 * The reward of each sequence: the value head at its last token, with rows padded on the right by 0
 * (causal attention: padding after a token never changes it). Call inside `tf.tidy`. [B]
 */
function lastTokenRewards(model: Transformer, examples: readonly Scorable[]): tf.Tensor1D {
  const B = examples.length;
  let T = 0;
  for (const e of examples) T = Math.max(T, e.tokens.length); // no spread: it overflows the stack past ~100k rows
  const ids = new Int32Array(B * T);
  const last = new Float32Array(B * T);
  examples.forEach((e, b) => {
    e.tokens.forEach((id, t) => (ids[b * T + t] = id));
    last[b * T + e.tokens.length - 1] = 1;
  });
  const { values } = model.forward(tf.tensor2d(ids, [B, T], 'int32'));
  if (!values) throw new ZooError('INTERNAL', 'the reward model has no value head', { field: 'model' });
  return tf.sum(tf.mul(values, tf.tensor2d(last, [B, T])), -1) as tf.Tensor1D;
}

/**
 * A Bradley–Terry reward model: a core `Transformer` whose value head, read at an episode's last token,
 * is the episode's reward. `score` is a core `RewardFn`, usable wherever `ctx.reward` is (PPO, KL-RL,
 * reward-weighted regimes with `returnSource: 'reward'`).
 */
export class RewardModel {
  /** The trunk with its value head (owned: `dispose()` frees it). Use it for probes (`runWithCache`). */
  readonly model: Transformer;
  /** How training went (`steps`, final `metrics`, `aborted`); undefined for a loaded model. */
  readonly report: FitReport | undefined;
  /** Conditioning ids removed right after the first token before scoring (empty: none). */
  readonly conditioningIds: readonly number[];
  private readonly skip: ReadonlySet<number>;
  private disposed = false;

  /** Wraps a model that has a value head (and takes ownership of it). */
  constructor(model: Transformer, settings: RewardModelSettings = {}) {
    if (!model.config.valueHead) {
      throw new ZooError('CONFIG_INVALID', 'a reward model needs a Transformer with a value head; call model.addValueHead() or create it with valueHead: true', { field: 'model' });
    }
    const ids = settings.conditioningIds ?? [];
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize) {
        throw optionError(`conditioningIds[${i}] is ${id}, not an id of the model's vocabulary [0, ${model.config.vocabSize - 1}]`, `conditioningIds[${i}]`);
      }
    });
    this.model = model;
    this.report = settings.report;
    this.conditioningIds = [...new Set(ids)].sort((a, b) => a - b);
    this.skip = new Set(ids);
  }

  /** The tokens the model scores: `tokens` without the run of conditioning ids right after the first token. */
  strip<E extends Scorable>(episode: E): E {
    const t = episode.tokens;
    if (this.skip.size === 0 || !Array.isArray(t)) return episode;
    let k = 1;
    while (k < t.length && this.skip.has(t[k]!)) k++;
    return k === 1 ? episode : { ...episode, tokens: [t[0]!, ...t.slice(k)], ...('targetMask' in episode && Array.isArray(episode.targetMask) ? { targetMask: [episode.targetMask[0], ...episode.targetMask.slice(k)] } : {}) };
  }

  private live(): void {
    if (this.disposed) throw new ZooError('BAD_INPUT', 'this reward model was disposed; load it again with loadRewardModel(dir)', { field: 'rewardModel' });
  }

  /**
   * The reward of one episode (value at its last token). A core `RewardFn`: pass `rm.score` as
   * `ctx.reward`; its `many` form lets online regimes score a whole rollout batch in one forward pass.
   */
  readonly score = Object.assign((episode: Scorable): number => this.scoreMany([episode], { field: 'episode' })[0]!, {
    many: (episodes: readonly Scorable[]): number[] => this.scoreMany(episodes, { field: 'episodes' }),
  });

  /** Rewards of many episodes, `batchSize` (default 256) per forward pass. Errors name the example and token. */
  scoreMany(examples: readonly Scorable[], options: { batchSize?: number; field?: string } = {}): number[] {
    this.live();
    const batchSize = options.batchSize ?? 256;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw optionError(`scoreMany: batchSize must be a positive integer, got ${batchSize}`, 'batchSize');
    if (!Array.isArray(examples)) throw new ZooError('BAD_INPUT', 'scoreMany takes an array of episodes or examples (objects with tokens)', { field: options.field ?? 'examples' });
    const stripped = examples.map((e) => this.strip(e));
    // Only the tokens are scored (the value head at the last one): an episode's or example's `legal` ids
    // and masks do not enter, so they are not checked here.
    checkExamples(stripped.map((e) => ({ tokens: e.tokens })) as readonly Example[], this.model, options.field ?? 'examples');
    const out: number[] = [];
    for (let i = 0; i < stripped.length; i += batchSize) {
      const r = tf.tidy(() => lastTokenRewards(this.model, stripped.slice(i, i + batchSize)));
      for (const v of r.dataSync()) out.push(v);
      r.dispose();
    }
    return out;
  }

  /** TRL's `accuracy` (fraction with r(chosen) > r(rejected)) and `margin` (mean difference) on `pairs`. */
  evaluate(pairs: readonly PreferencePair[]): RewardEvaluation {
    this.live();
    if (!Array.isArray(pairs) || pairs.length === 0) throw new ZooError('EMPTY_DATASET', 'evaluate needs at least one preference pair', { field: 'pairs' });
    checkPairs(pairs.map((p) => ({ ...p, chosen: this.strip(p.chosen), rejected: this.strip(p.rejected) })), this.model);
    const chosen = this.scoreMany(pairs.map((p) => p.chosen), { field: 'pairs.chosen' });
    const rejected = this.scoreMany(pairs.map((p) => p.rejected), { field: 'pairs.rejected' });
    let wins = 0;
    let margin = 0;
    chosen.forEach((c, i) => {
      const d = c - rejected[i]!;
      if (d > 0) wins += 1;
      margin += d;
    });
    return { accuracy: wins / pairs.length, margin: margin / pairs.length, pairs: pairs.length };
  }

  /** Writes a core checkpoint (`model.json` + `weights.bin`, atomically) that `loadRewardModel` reads. */
  async save(dir: string, options: { vocabulary?: VocabularyLike } = {}): Promise<void> {
    this.live();
    await saveCheckpoint(dir, {
      model: this.model,
      regime: { name: REWARD_MODEL_NAME, score: 'value head at the last token', conditioningIds: this.conditioningIds, ...(this.report ? { report: this.report } : {}) },
      ...(options.vocabulary ? { tokenizer: options.vocabulary.toJSON() } : {}),
    });
  }

  /** Frees the model's tensors; the reward model cannot score afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/**
 * Trains a Bradley–Terry reward model on preference pairs with TRL RewardTrainer's loss,
 * L = −log σ(r(chosen) − r(rejected) − margin) [+ c · (r(chosen) + r(rejected))²], through core's
 * `fitWithLoss` (AdamW, warm-up + cosine, clipping, NaN guard, checkpoints, resume, abort).
 * Validates options, pairs and model first; errors are `ZooError`s naming the option, pair or token.
 */
export async function trainRewardModel(args: TrainRewardModelArgs): Promise<RewardModel> {
  if (!args || typeof args !== 'object') throw optionError('trainRewardModel takes one object: { model | config, pairs, options?, rng?, ... }', '(root)');
  const options = parseRewardModelOptions(args.options);
  const checked = argsSchema.safeParse(args);
  if (!checked.success) {
    const { field, message } = describeZodError('trainRewardModel', checked.error);
    throw optionError(message, field, checked.error);
  }
  if (args.model !== undefined && args.config !== undefined) throw optionError('give either model (a trunk to copy) or config (a fresh model), not both', 'model');
  if (args.model === undefined && args.config === undefined) {
    throw optionError('give model (a Transformer to start from, e.g. the SFT base) or config (for a fresh one: vocabSize, contextLength, dModel, nHeads, nLayers)', 'config');
  }
  if (args.model !== undefined && !(args.model instanceof Transformer)) throw optionError('model must be a core Transformer', 'model');
  if (args.pairs.length === 0) {
    throw new ZooError('EMPTY_DATASET', `[${REWARD_MODEL_NAME}] pairs is empty; a reward model needs preference pairs (e.g. preferencePairs(episodes, { pairs: 1000 }) from @regime-zoo/worlds)`, {
      field: 'pairs',
      plugin: REWARD_MODEL_NAME,
    });
  }

  checkConditioningIds(args.conditioningIds, args.vocabulary);

  const model = args.model ? args.model.clone({ trainable: true }) : Transformer.create({ ...args.config!, valueHead: true });
  try {
    model.addValueHead();
    // Checks the conditioning ids against the model; its `strip` is what training sees too.
    const shell = new RewardModel(model, { conditioningIds: args.conditioningIds ?? [] });
    checkPairs(args.pairs, model); // names the pair as given (a pair with no sides fails here)
    const pairs: readonly RewardPair[] = shell.conditioningIds.length ? args.pairs.map((p) => ({ ...p, chosen: shell.strip(p.chosen), rejected: shell.strip(p.rejected) })) : args.pairs;
    if (pairs !== args.pairs) checkPairs(pairs, model);
    const withMargin = pairs.some((p) => p.margin !== undefined);
    const center = options.centerRewardsCoefficient;
    const ctx = createFitContext({
      base: model,
      policy: model,
      rng: args.rng ?? new Rng(0),
      ...(args.log ? { log: args.log } : {}),
      ...(args.progress ? { progress: args.progress } : {}),
      ...(args.signal ? { signal: args.signal } : {}),
      ...(args.checkpointDir ? { checkpointDir: args.checkpointDir } : {}),
      ...(args.vocabulary ? { vocabulary: args.vocabulary } : {}),
    });
    // Failures during training (a NaN loss, an I/O error) name the reward model and the step.
    const report = await callPluginHook({ name: REWARD_MODEL_NAME }, 'train', () => fitWithLoss(ctx, {
      plugin: REWARD_MODEL_NAME,
      options,
      // Saved in every training checkpoint, so that loadRewardModel(checkpointDir) strips the same ids.
      state: { save: () => ({ conditioningIds: shell.conditioningIds }), restore: () => {} },
      loss: (_step, _micro, trainer) => {
        const B = options.batchSize;
        const idx = Array.from({ length: B }, () => trainer.rng.int(pairs.length));
        const rewards = lastTokenRewards(model, [...idx.map((i) => pairs[i]!.chosen), ...idx.map((i) => pairs[i]!.rejected)]);
        const chosen = tf.slice(rewards, [0], [B]);
        const rejected = tf.slice(rewards, [B], [B]);
        const diff = tf.sub(chosen, rejected);
        const logits = withMargin ? tf.sub(diff, tf.tensor1d(idx.map((i) => pairs[i]!.margin ?? 0))) : diff;
        let loss = tf.neg(tf.mean(logSigmoid(logits))) as tf.Scalar;
        if (center !== undefined && center > 0) loss = tf.add(loss, tf.mul(tf.mean(tf.square(tf.add(chosen, rejected))), center));
        return {
          loss,
          metrics: {
            accuracy: tf.mean(tf.cast(tf.greater(chosen, rejected), 'float32')) as tf.Scalar,
            margin: tf.mean(diff) as tf.Scalar,
            min_reward: tf.min(rewards) as tf.Scalar,
            mean_reward: tf.mean(rewards) as tf.Scalar,
            max_reward: tf.max(rewards) as tf.Scalar,
          },
        };
      },
    }));
    return new RewardModel(model, { report, conditioningIds: shell.conditioningIds });
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Reads a reward model saved by `save` (or a `trainRewardModel` checkpoint folder). Errors name the file. */
export async function loadRewardModel(dir: string): Promise<RewardModel> {
  const ckpt = await loadCheckpoint(dir, { trainable: false });
  ckpt.dispose(); // optimizer moments: not needed to score
  const regime = ckpt.meta.regime as { name?: unknown; conditioningIds?: number[]; state?: { conditioningIds?: number[] } } | undefined;
  if (regime?.name !== REWARD_MODEL_NAME || !ckpt.model.config.valueHead) {
    ckpt.model.dispose();
    throw new ZooError(
      'CHECKPOINT_MISMATCH',
      `${dir} is not a reward model: its model.json has regime ${JSON.stringify(regime?.name ?? null)}${ckpt.model.config.valueHead ? '' : ' and no value head'}; save one with rewardModel.save(dir) or train with checkpointDir`,
      { field: `${dir}/model.json#regime` },
    );
  }
  try {
    return new RewardModel(ckpt.model, { conditioningIds: regime.conditioningIds ?? regime.state?.conditioningIds ?? [] });
  } catch (e) {
    ckpt.model.dispose();
    throw e;
  }
}
