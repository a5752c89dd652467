import { modelConfigSchema, parseModelConfig, Transformer, ZooError, type DistillContext, type StudentInit } from '@regime-zoo/core';
import { z } from 'zod';

/**
 * The architecture of a `fresh` student: any field of core's model config, overriding the teacher's
 * (a smaller `dModel`, fewer `nLayers`, a shorter `contextLength`, ...). `seed` defaults to one drawn from
 * the run's RNG; `vocabSize`, if given, must equal the teacher's.
 */
export const studentModelSchema = z
  .object({
    vocabSize: z.number().int().positive(),
    contextLength: z.number().int().positive(),
    dModel: z.number().int().positive(),
    nHeads: z.number().int().positive(),
    nLayers: z.number().int().positive(),
    mlpRatio: z.number().int().positive(),
    tiedEmbeddings: z.boolean(),
    initStd: z.number().positive(),
    seed: z.number().int().min(0),
  })
  .partial()
  .strict();

export type StudentModelOptions = z.output<typeof studentModelSchema>;

/** Checks that a model speaks the teacher's vocabulary (same size as the teacher's unembedding). */
function checkVocabulary(plugin: string, what: string, field: string, size: number, teacherSize: number): void {
  if (size !== teacherSize) {
    throw new ZooError(
      'CONFIG_INVALID',
      `[${plugin}] ${what} has a vocabulary of ${size} ids but the teacher's has ${teacherSize}; teacher and student must share one vocabulary (the student learns the teacher's distribution over the same ids)`,
      { field, plugin },
    );
  }
}

/**
 * Makes the student a distiller trains: `fresh` a new random model (the teacher's config with
 * `studentModel` on top, valueHead off), `base` a trainable copy of `ctx.base`, `teacher` a trainable copy
 * of the teacher. Checks that the student, the base and `ctx.vocabulary` share the teacher's vocabulary.
 */
export function makeStudent(ctx: DistillContext, init: StudentInit, model: StudentModelOptions, seed: number, plugin: string): Transformer {
  const V = ctx.teacher.config.vocabSize;
  if (ctx.vocabulary) checkVocabulary(plugin, `ctx.vocabulary`, 'vocabulary', ctx.vocabulary.size, V);
  if (init === 'teacher') return ctx.teacher.clone({ trainable: true });
  if (init === 'base') {
    if (!ctx.base) {
      throw new ZooError('OPTION_INVALID', `[${plugin}] student 'base' starts from the model the teacher was fine-tuned from; pass it as ctx.base`, { field: 'student', plugin });
    }
    checkVocabulary(plugin, 'ctx.base (the base student)', 'base', ctx.base.config.vocabSize, V);
    return ctx.base.clone({ trainable: true });
  }
  if (model.vocabSize !== undefined) checkVocabulary(plugin, 'the fresh student (options.studentModel.vocabSize)', 'studentModel.vocabSize', model.vocabSize, V);
  const { valueHead: _v, ...teacher } = ctx.teacher.config;
  let config: z.output<typeof modelConfigSchema>;
  try {
    config = parseModelConfig({ ...teacher, ...model, seed: model.seed ?? seed });
  } catch (e) {
    const inner = e as ZooError;
    throw new ZooError('OPTION_INVALID', `[${plugin}] options.studentModel: ${inner.message}`, { field: `studentModel.${inner.field ?? ''}`, plugin, cause: e });
  }
  return Transformer.create(config, { trainable: true });
}
