import { createFitContext, fitWithLoss, trainingOptionsSchema, type DistillContext, type DistillReport, type LossOutput, type Trainer, type Transformer } from '@regime-zoo/core';
import { z } from 'zod';
import { checkFitsStudent, collectEpisodes, distillSources, filterEpisodes, type DistillExample, type FilterOptions } from './data.js';
import { disposeBatch, prepareBatch, type PreparedBatch } from './losses.js';
import { makeStudent, studentModelSchema } from './student.js';

/** Options every distiller takes: core's training options, the student, and how the teacher's episodes are drawn. */
export const distillOptionsShape = {
  ...trainingOptionsSchema.shape,
  /** How the student starts: `fresh` (new random model), `base` (copy of ctx.base: shared initialisation), `teacher` (copy: the control). */
  student: z.enum(['fresh', 'base', 'teacher']).default('fresh'),
  /** Architecture of a `fresh` student: overrides of the teacher's model config (smaller, shallower, ...). */
  studentModel: studentModelSchema.default({}),
  /** Teacher episodes rolled out before training (split evenly over the worlds). */
  episodes: z.number().int().positive().default(1000),
  /** Sampling temperature of the rollouts (TRL GKD's `temperature`). */
  temperature: z.number().positive('must be > 0: rollouts sample from softmax(logits / T)').default(1),
  /** Episode length limit of the rollouts (default: the teacher's context). */
  maxLength: z.number().int().positive().optional(),
  /** Token that ends a free continuation of `ctx.prompts` (default: the vocabulary's `<eos>`). */
  stopId: z.number().int().min(0).optional(),
};

type CommonOptions = z.output<z.ZodObject<typeof distillOptionsShape>>;

export interface DistillationSpec {
  plugin: string;
  options: CommonOptions;
  filter?: FilterOptions;
  /** Collect the teacher's episodes up front (false when every batch is the student's own). */
  collect: boolean;
  /** The examples of micro-batch `micro` at `step` (drawn with `trainer.rng`; may roll out the student). */
  batch: (io: { step: number; micro: number; trainer: Trainer; student: Transformer; data: readonly DistillExample[] }) => DistillExample[];
  /** The loss of a prepared batch (inside `tf.tidy`). */
  loss: (student: Transformer, batch: PreparedBatch) => LossOutput;
}

/**
 * What both distillers share: make the student, collect and filter the teacher's episodes, check that
 * they fit the student, then train with core's `fitWithLoss` (AdamW, schedule, clipping, NaN guard,
 * checkpoints, resume, abort, progress). Seeds come from `ctx.rng` in a fixed order (student, data,
 * trainer), so a resumed run rebuilds the same data and continues the trainer's RNG from the checkpoint.
 */
export async function runDistillation(ctx: DistillContext, spec: DistillationSpec): Promise<DistillReport> {
  const o = spec.options;
  const sources = distillSources(ctx, spec.plugin, o.stopId);
  const studentSeed = ctx.rng.seed();
  const dataSeed = ctx.rng.seed();
  const student = makeStudent(ctx, o.student, o.studentModel, studentSeed, spec.plugin);
  const maxLength = o.maxLength ?? ctx.teacher.config.contextLength;
  const data = { collected: 0, kept: 0, droppedUnsafe: 0, droppedHidden: 0, examples: [] as DistillExample[] };
  const batches: PreparedBatch[] = [];
  const release = () => batches.splice(0).forEach(disposeBatch);
  try {
    if (spec.collect) {
      const episodes = await collectEpisodes({
        plugin: spec.plugin,
        model: ctx.teacher,
        sources,
        episodes: o.episodes,
        temperature: o.temperature,
        maxLength,
        seed: dataSeed,
        worldIndex: (s) => (ctx.worlds.length > 0 ? s : -1),
        progress: ctx.progress,
        signal: ctx.signal,
      });
      if (!episodes) return { steps: 0, metrics: {}, aborted: true, student, init: o.student, data };
      const f = filterEpisodes(episodes, ctx.judges, spec.filter ?? { dropUnsafe: false }, spec.plugin);
      checkFitsStudent(f.kept, student, spec.plugin);
      Object.assign(data, { collected: episodes.length, kept: f.kept.length, droppedUnsafe: f.droppedUnsafe, droppedHidden: f.droppedHidden, examples: f.kept });
    }
    const fitCtx = createFitContext({
      base: ctx.teacher,
      policy: student,
      rng: ctx.rng,
      log: ctx.log,
      progress: ctx.progress,
      signal: ctx.signal,
      shared: ctx.shared,
      ...(ctx.checkpointDir ? { checkpointDir: ctx.checkpointDir } : {}),
      ...(ctx.vocabulary ? { vocabulary: ctx.vocabulary } : {}),
    });
    const report = await fitWithLoss(fitCtx, {
      plugin: spec.plugin,
      options: o,
      beforeStep(step, trainer) {
        release();
        for (let micro = 0; micro < o.microBatches; micro++) {
          batches.push(prepareBatch(ctx.teacher, spec.batch({ step, micro, trainer, student, data: data.examples })));
        }
      },
      loss: (_step, micro) => spec.loss(student, batches[micro]!),
    });
    return { ...report, student, init: o.student, data };
  } catch (e) {
    student.dispose();
    throw e;
  } finally {
    release();
  }
}
