import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { loadCheckpoint, restoreTrainer, saveCheckpoint } from './checkpoint.js';
import { withStep, ZooError } from './errors.js';
import type { Example, FitContext, FitReport, MetricsSink, ProgressEvent } from './plugin.js';
import type { Transformer } from './model.js';
import { sequenceLogProbs } from './ops.js';
import type { Rng } from './rng.js';
import { Trainer, TRAINING_DEFAULTS, type LossOutput, type StepInfo } from './train.js';

/**
 * Pads examples on the right into `tokens` [B, T] (int32) and `targets` [B, T-1] (1 where the token at
 * t+1 is a training target: the example's `targetMask`, or every real token after the first).
 */
export function padExamples(examples: readonly Example[], padId = 0): { tokens: tf.Tensor2D; targets: tf.Tensor2D } {
  const T = Math.max(...examples.map((e) => e.tokens.length));
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

/**
 * Log-probability of each example's target tokens under `model` (Σ over its `targetMask`), in batches
 * of `batchSize`; e.g. log π(x) of every enumerated sequence of the posterior world. With `legalIds`, each
 * next-token distribution is renormalised over those ids: the policy as a rollout samples it, when only
 * those tokens are legal actions.
 */
export function exampleLogProbs(model: Transformer, examples: readonly Example[], options: { batchSize?: number; legalIds?: readonly number[] } = {}): number[] {
  const batchSize = options.batchSize ?? 256;
  const out: number[] = [];
  const V = model.config.vocabSize;
  const legal = options.legalIds ? new Set(options.legalIds) : undefined;
  const mask = legal ? tf.tensor1d(Array.from({ length: V }, (_, id) => (legal.has(id) ? 0 : -1e9))) : undefined;
  try {
    for (let i = 0; i < examples.length; i += batchSize) {
      const lp = tf.tidy(() => {
        const { tokens, targets } = padExamples(examples.slice(i, i + batchSize));
        const logits = model.forward(tokens).logits;
        return sequenceLogProbs(mask ? (tf.add(logits, mask) as tf.Tensor3D) : logits, tokens, targets);
      });
      out.push(...lp.dataSync());
      lp.dispose();
    }
  } finally {
    mask?.dispose();
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
    if (dir) await saveCheckpoint(dir, { model: trainer.model, trainer, regime, tokenizer: o.tokenizer });
  };
  if (dir && fs.existsSync(path.join(dir, 'model.json'))) {
    const ckpt = await loadCheckpoint(dir);
    try {
      trainer.model.copyWeightsFrom(ckpt.model);
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
    /** The regime's training options (`batchSize` is the regime's own business: online regimes have none). */
    options: Omit<TrainingOptions, 'batchSize'>;
    loss: (step: number, micro: number, trainer: Trainer) => LossOutput;
    /** Runs before each step outside `tf.tidy` (rollouts, rewards); use `trainer.rng` for exact resume. */
    beforeStep?: (step: number, trainer: Trainer) => void | Promise<void>;
    /** Extra state saved with each checkpoint (a function is called at save time) and handed back on resume. */
    state?: { save: () => unknown; restore: (saved: unknown) => void };
  },
): Promise<FitReport> {
  const t = o.options;
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
      regimeMeta: () => ({ name: o.plugin, options: t, ...(o.state ? { state: o.state.save() } : {}) }),
      ...(o.state ? { onResume: (meta: unknown) => o.state!.restore((meta as { state?: unknown } | undefined)?.state) } : {}),
      ...(ctx.checkpointDir ? { checkpointDir: ctx.checkpointDir } : {}),
      ...(ctx.vocabulary ? { tokenizer: ctx.vocabulary.toJSON() } : {}),
    });
  } finally {
    trainer.dispose();
  }
}
