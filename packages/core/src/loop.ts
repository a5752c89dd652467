import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { loadCheckpoint, restoreTrainer, saveCheckpoint } from './checkpoint.js';
import { DEFAULT_KEEP_LAST, findCheckpoint } from './checkpoint-store.js';
import { withStep, ZooError } from './errors.js';
import type { Example, FitContext, FitReport, MetricsSink, ProgressEvent } from './plugin.js';
import type { Transformer } from './model.js';
import { legalLogitMask, sequenceLogProbs } from './ops.js';
import type { Rng } from './rng.js';
import { Trainer, TRAINING_DEFAULTS, type LossOutput, type StepInfo } from './train.js';
import { checkSize, describeValue } from './validate.js';

/**
 * Pads examples on the right into `tokens` [B, T] (int32) and `targets` [B, T-1] (1 where the token at
 * t+1 is a training target: the example's `targetMask`, or every real token after the first).
 */
export function padExamples(examples: readonly Example[], padId = 0): { tokens: tf.Tensor2D; targets: tf.Tensor2D } {
  if (examples.length === 0) throw new ZooError('EMPTY_DATASET', 'padExamples needs at least one example', { field: 'examples' });
  let T = 0;
  for (const e of examples) T = Math.max(T, e.tokens.length); // no spread: it overflows the stack past ~100k examples
  checkSize({ where: 'padExamples', field: 'examples', elements: examples.length * T, what: `tokens [${examples.length}, ${T}]`, fix: 'pad and score the examples in batches' });
  const ids = new Int32Array(examples.length * T).fill(padId);
  const mask = new Float32Array(examples.length * (T - 1));
  examples.forEach((e, b) => {
    if (e.targetMask && e.targetMask.length !== e.tokens.length) {
      throw new ZooError('SHAPE_MISMATCH', `example ${b}: targetMask has ${e.targetMask.length} entries but tokens has ${e.tokens.length}`, { field: 'targetMask', position: [b] });
    }
    e.tokens.forEach((id, t) => {
      ids[b * T + t] = id;
      if (t > 0 && (e.targetMask ? e.targetMask[t] : true)) mask[b * (T - 1) + t - 1] = 1;
    });
  });
  return { tokens: tf.tensor2d(ids, [examples.length, T], 'int32'), targets: tf.tensor2d(mask, [examples.length, T - 1]) };
}

/** Whether token t of `ex` is a training target (its `targetMask`, or every token after the first). */
const isTarget = (ex: Example, t: number): boolean => t > 0 && (ex.targetMask ? ex.targetMask[t] === true : true);

/**
 * `logits` [B, T, V] of the padded `examples` with each example's legal-action mask added: at a target
 * position of an example that carries `legal`, every id outside that position's legal ids gets −1e9
 * (core's `legalLogitMask`, as online regimes apply it), so log-softmax gives the policy as a rollout
 * samples it. Other positions and examples without `legal` are unchanged; with no `legal` anywhere the
 * logits are returned as they are. Likelihoods, entropies and KL terms taken from the result are over
 * the legal actions.
 */
export function legalLogits(logits: tf.Tensor3D, examples: readonly Example[]): tf.Tensor3D {
  if (!examples.some((e) => e.legal)) return logits;
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const rows = examples.map((e) => Array.from({ length: T - 1 }, (_, j) => (j + 1 < e.tokens.length && isTarget(e, j + 1) ? 1 : 0)));
    const mask = legalLogitMask({ mask: rows, legal: examples.map((e) => e.legal) }, V);
    return tf.add(logits, tf.concat([mask, tf.zeros([B, 1, V])], 1)) as tf.Tensor3D;
  });
}

/**
 * Log-probability of each example's target tokens under `model` (Σ over its `targetMask`), in batches
 * of `batchSize`; e.g. log π(x) of every enumerated sequence of the posterior world. Each target is
 * scored over the example's own `legal` ids when it has them; otherwise over `legalIds` when given (the
 * same ids at every target), otherwise over the whole vocabulary. Over legal ids this is the policy as a
 * rollout samples it.
 */
export function exampleLogProbs(model: Transformer, examples: readonly Example[], options: { batchSize?: number; legalIds?: readonly number[] } = {}): number[] {
  const batchSize = options.batchSize ?? 256;
  const ids = options.legalIds;
  const scored = ids
    ? examples.map((e) => (e.legal ? e : { ...e, legal: e.tokens.flatMap((_, t) => (isTarget(e, t) ? [ids] : [])) }))
    : examples;
  const out: number[] = [];
  const V = model.config.vocabSize;
  const C = model.config.contextLength;
  checkSize({ where: 'exampleLogProbs options', field: 'batchSize', elements: Math.min(batchSize, examples.length) * C * V, what: `logits [batch ${batchSize}, time ≤ ${C}, vocab ${V}]`, fix: 'lower batchSize' });
  for (let i = 0; i < scored.length; i += batchSize) {
    const batch = scored.slice(i, i + batchSize);
    const lp = tf.tidy(() => {
      const { tokens, targets } = padExamples(batch);
      return sequenceLogProbs(legalLogits(model.forward(tokens).logits, batch), tokens, targets);
    });
    for (const v of lp.dataSync()) out.push(v);
    lp.dispose();
  }
  return out;
}

/**
 * Checks examples against a model before training: integer ids inside the vocabulary, length within the
 * context, a `targetMask` of the same length. Errors name the example (`field[i]`) and the token position.
 */
export function checkExamples(examples: readonly Example[], model: Transformer, field = 'dataset'): void {
  const { vocabSize, contextLength } = model.config;
  examples.forEach((ex, i) => {
    const where = `${field}[${i}]`;
    if (!ex || !Array.isArray(ex.tokens) || ex.tokens.length < 2) {
      throw new ZooError('BAD_INPUT', `${where} must have at least two tokens (a prompt and a target)`, { field: where, position: [i] });
    }
    if (ex.tokens.length > contextLength) {
      throw new ZooError('SEQUENCE_TOO_LONG', `${where} has ${ex.tokens.length} tokens, more than the model's contextLength ${contextLength}`, { field: where, position: [i, contextLength] });
    }
    ex.tokens.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new ZooError('TOKEN_OUT_OF_RANGE', `${where}: token ${id} at position ${t} is not an id of the model's vocabulary [0, ${vocabSize - 1}]`, { field: where, position: [i, t] });
      }
    });
    if (ex.targetMask && ex.targetMask.length !== ex.tokens.length) {
      throw new ZooError('SHAPE_MISMATCH', `${where}: targetMask has ${ex.targetMask.length} entries but tokens has ${ex.tokens.length}`, { field: `${where}.targetMask`, position: [i] });
    }
    if (ex.legal !== undefined) checkLegal(ex, where, i, vocabSize);
  });
}

/** `legal` has one non-empty list of in-vocabulary ids per target, and each target token is in its list. */
function checkLegal(ex: Example, where: string, i: number, vocabSize: number): void {
  const targets = ex.tokens.flatMap((_, t) => (isTarget(ex, t) ? [t] : []));
  const legal = ex.legal!;
  if (!Array.isArray(legal) || legal.length !== targets.length) {
    const n = Array.isArray(legal) ? `${legal.length} entries` : String(legal);
    throw new ZooError('SHAPE_MISMATCH', `${where}: legal has ${n} but the example has ${targets.length} target positions; give one list of legal ids per target, in order`, {
      field: `${where}.legal`,
      position: [i],
    });
  }
  targets.forEach((t, k) => {
    const ids = legal[k];
    if (!Array.isArray(ids) || ids.length === 0) {
      throw new ZooError('BAD_INPUT', `${where}: legal[${k}] (token position ${t}) must be a non-empty array of token ids`, { field: `${where}.legal`, position: [i, t] });
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new ZooError('TOKEN_OUT_OF_RANGE', `${where}: legal[${k}] (token position ${t}) has id ${id}, not an id of the model's vocabulary [0, ${vocabSize - 1}]`, {
          field: `${where}.legal`,
          position: [i, t],
        });
      }
    }
    if (!ids.includes(ex.tokens[t]!)) {
      throw new ZooError('BAD_INPUT', `${where}: token ${ex.tokens[t]} at position ${t} is a target but not one of its legal ids [${ids.join(', ')}]`, {
        field: `${where}.legal`,
        position: [i, t],
      });
    }
  });
}

/**
 * The return of every example of `ctx.dataset`: its visible `return`, or `ctx.reward(example)` (a reward
 * model or function) when `source` is `'reward'`. Errors name the plugin and the example.
 */
export async function datasetReturns(ctx: FitContext, source: 'visible' | 'reward', plugin: string): Promise<number[]> {
  return Promise.all(
    ctx.dataset.map(async (ex, i) => {
      let r: number | undefined;
      if (source === 'reward') {
        if (!ctx.reward) throw new ZooError('OPTION_INVALID', `[${plugin}] returnSource 'reward' needs ctx.reward (a reward model or function)`, { field: 'returnSource', plugin });
        r = await ctx.reward(ex);
      } else {
        r = ex.return;
        if (typeof r !== 'number') {
          throw new ZooError('BAD_RETURN', `[${plugin}] dataset[${i}] has no visible return; set Example.return or use returnSource: 'reward'`, { field: 'dataset', position: [i], plugin });
        }
      }
      if (typeof r !== 'number') {
        throw new ZooError('BAD_RETURN', `[${plugin}] the ${source === 'reward' ? 'reward function returned' : 'visible return of'} dataset[${i}] ${source === 'reward' ? '' : 'is '}${describeValue(r)}, not a number; returns must be finite numbers`, {
          field: 'dataset',
          position: [i],
          plugin,
        });
      }
      if (!Number.isFinite(r)) throw new ZooError('BAD_RETURN', `[${plugin}] the return of dataset[${i}] is ${r}; returns must be finite`, { field: 'dataset', position: [i], plugin });
      return r;
    }),
  );
}

/**
 * The example with conditioning token ids inserted after its first token (BOS). They are conditioned on,
 * not predicted: the mask marks neither them nor the BOS as targets; the rest of the mask is kept.
 */
export function withConditioning(ex: Example, ids: readonly number[]): Example {
  const [first, ...rest] = ex.tokens;
  const mask = ex.targetMask ?? ex.tokens.map((_, t) => t > 0);
  return { ...ex, tokens: [first!, ...ids, ...rest], targetMask: [false, ...ids.map(() => false), ...mask.slice(1)] };
}

/** `batchSize` examples drawn uniformly with replacement by a seeded RNG (the trainer's, for exact resume). */
export function sampleExamples<T>(rng: Rng, data: readonly T[], batchSize: number): T[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ZooError('OPTION_INVALID', `sampleExamples: batchSize must be an integer ≥ 1, got ${batchSize}`, { field: 'batchSize' });
  if (data.length === 0) throw new ZooError('EMPTY_DATASET', 'cannot draw a batch from an empty dataset; pass behaviour episodes in ctx.dataset', { field: 'dataset' });
  return Array.from({ length: batchSize }, () => data[rng.int(data.length)]!);
}

export interface TrainLoopOptions {
  /** The plugin running the loop (named in progress events and errors). */
  plugin: string;
  trainer: Trainer;
  /** Loss of micro-batch `micro` at `step`; called inside `tf.tidy`. */
  loss: (step: number, micro: number) => LossOutput;
  /** Runs before each step, outside `tf.tidy` and may be async: online regimes roll out and score here. */
  beforeStep?: (step: number) => void | Promise<void>;
  log?: MetricsSink;
  progress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Save here every `checkpointEvery` steps, on abort and at the end; resume from here if a checkpoint exists. */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Step folders kept in `checkpointDir` (default 2); older ones are pruned at each save. */
  keepLast?: number;
  /** Stored in the checkpoint's `regime` field; a function is called at each save (state that must resume). */
  regimeMeta?: unknown;
  /** Called with the checkpoint's `regime` field when the loop resumes from a checkpoint. */
  onResume?: (regimeMeta: unknown) => void;
  tokenizer?: unknown;
}

/**
 * The loop every trainer-based regime shares: resume from `checkpointDir` when it holds a checkpoint,
 * step until `trainer.totalSteps`, log and report progress, checkpoint periodically, and on abort save
 * and return `aborted: true`. A `NON_FINITE` step throws and leaves the last good checkpoint in place.
 */
export async function trainLoop(o: TrainLoopOptions): Promise<FitReport> {
  const { trainer } = o;
  const dir = o.checkpointDir;
  const save = async () => {
    const regime = typeof o.regimeMeta === 'function' ? (o.regimeMeta as () => unknown)() : o.regimeMeta;
    if (dir) await saveCheckpoint(dir, { model: trainer.model, trainer, regime, tokenizer: o.tokenizer, keepLast: o.keepLast ?? DEFAULT_KEEP_LAST });
  };
  const found = dir ? await findCheckpoint(dir) : undefined;
  if (found) {
    const ckpt = await loadCheckpoint(dir!);
    try {
      trainer.model.copyWeightsFrom(ckpt.model);
    } catch (e) {
      ckpt.dispose();
      const c = ckpt.model.config;
      const m = trainer.model.config;
      throw new ZooError(
        'CHECKPOINT_MISMATCH',
        `cannot resume from ${found.folder}: it holds a model of another shape (vocabSize ${c.vocabSize}, contextLength ${c.contextLength}, dModel ${c.dModel}, nLayers ${c.nLayers}, valueHead ${c.valueHead}) than the one being trained (vocabSize ${m.vocabSize}, contextLength ${m.contextLength}, dModel ${m.dModel}, nLayers ${m.nLayers}, valueHead ${m.valueHead}); use another checkpointDir or delete that one`,
        { cause: e, field: found.folder },
      );
    } finally {
      ckpt.model.dispose();
    }
    restoreTrainer(trainer, ckpt);
    o.onResume?.(ckpt.meta.regime);
  }
  let metrics: Record<string, number> = {};
  const every = o.checkpointEvery ?? 0;
  while (trainer.step < trainer.totalSteps) {
    if (o.signal?.aborted) {
      await save();
      return { steps: trainer.step, metrics, aborted: true };
    }
    const step = trainer.step;
    let info: StepInfo;
    try {
      await o.beforeStep?.(step);
      info = trainer.trainStep((micro) => o.loss(step, micro));
    } catch (e) {
      throw withStep(e, step); // the plugin error then says at which step
    }
    metrics = { loss: info.loss, ...info.metrics, 'train/lr': info.lr, 'train/grad_norm': info.gradNorm };
    o.log?.(step, metrics);
    o.progress?.({ plugin: o.plugin, phase: 'train', step: trainer.step, total: trainer.totalSteps, metrics });
    if (every > 0 && trainer.step % every === 0) await save();
    // Let abort listeners and I/O run between steps.
    await new Promise((r) => setImmediate(r));
  }
  await save();
  return { steps: trainer.step, metrics };
}

/**
 * Training options every trainer-based regime accepts; regimes spread `.shape` into their own schema. The
 * optimizer's defaults are `TRAINING_DEFAULTS`, the same ones `Trainer` uses.
 */
export const trainingOptionsSchema = z.object({
  steps: z.number().int().positive().default(200),
  batchSize: z.number().int().positive().default(32),
  microBatches: z.number().int().positive().default(1),
  lr: z.number().positive().default(TRAINING_DEFAULTS.lr),
  warmupSteps: z.number().int().min(0).default(TRAINING_DEFAULTS.warmupSteps),
  weightDecay: z.number().min(0).default(TRAINING_DEFAULTS.weightDecay),
  clipNorm: z.number().min(0).default(TRAINING_DEFAULTS.clipNorm),
  /** Save a checkpoint every this many steps (0: only on abort and at the end). */
  checkpointEvery: z.number().int().min(0).default(0),
  /** Step folders kept in the checkpoint directory; older ones are deleted at each save. */
  keepLast: z.number().int().min(1).default(DEFAULT_KEEP_LAST),
});

export type TrainingOptions = z.output<typeof trainingOptionsSchema>;

/**
 * Trains `ctx.policy` with `loss` under the regime's training options: builds the `Trainer` (seeded
 * from `ctx.rng`), runs `trainLoop` with the context's log, progress, signal and checkpoint folder, and
 * disposes the trainer. `loss(step, micro, trainer)` runs inside `tf.tidy`; draw batches with
 * `sampleExamples(trainer.rng, ...)` so that a resumed run sees the same data.
 */
export async function fitWithLoss(
  ctx: FitContext,
  o: {
    plugin: string;
    /**
     * The regime's training options. `batchSize` is the regime's own business (online regimes have
     * none); when given, a micro-batch's logits are checked against the memory limits before training.
     */
    options: Omit<TrainingOptions, 'batchSize'> & { batchSize?: number };
    loss: (step: number, micro: number, trainer: Trainer) => LossOutput;
    /** Runs before each step outside `tf.tidy` (rollouts, rewards); use `trainer.rng` for exact resume. */
    beforeStep?: (step: number, trainer: Trainer) => void | Promise<void>;
    /** Extra state saved with each checkpoint (a function is called at save time) and handed back on resume. */
    state?: { save: () => unknown; restore: (saved: unknown) => void };
  },
): Promise<FitReport> {
  const t = o.options;
  const { vocabSize: V, contextLength: C } = ctx.policy.config;
  // Logits, their softmax and gradient for one micro-batch: fail now rather than at the first step.
  const micro = Math.ceil((t.batchSize ?? 0) / t.microBatches);
  if (t.batchSize !== undefined) checkSize({ where: `[${o.plugin}] options`, field: 'batchSize', elements: micro * C * V, bytes: micro * C * V * 4 * 4, what: `logits of a micro-batch [${micro}, ≤ ${C}, ${V}] and their gradients`, fix: 'lower batchSize or raise microBatches' });
  const trainer = new Trainer(ctx.policy, {
    totalSteps: t.steps,
    microBatches: t.microBatches,
    seed: ctx.rng.seed(),
    signal: ctx.signal,
    optimizer: { lr: t.lr, warmupSteps: Math.min(t.warmupSteps, t.steps), weightDecay: t.weightDecay, clipNorm: t.clipNorm },
  });
  try {
    return await trainLoop({
      plugin: o.plugin,
      trainer,
      loss: (step, micro) => o.loss(step, micro, trainer),
      ...(o.beforeStep ? { beforeStep: (step: number) => o.beforeStep!(step, trainer) } : {}),
      log: ctx.log,
      progress: ctx.progress,
      signal: ctx.signal,
      checkpointEvery: t.checkpointEvery,
      keepLast: t.keepLast,
      regimeMeta: () => ({ name: o.plugin, options: t, ...(o.state ? { state: o.state.save() } : {}) }),
      ...(o.state ? { onResume: (meta: unknown) => o.state!.restore((meta as { state?: unknown } | undefined)?.state) } : {}),
      ...(ctx.checkpointDir ? { checkpointDir: ctx.checkpointDir } : {}),
      ...(ctx.vocabulary ? { tokenizer: ctx.vocabulary.toJSON() } : {}),
    });
  } finally {
    trainer.dispose();
  }
}
