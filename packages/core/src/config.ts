import { z } from 'zod';
import { ZooError } from './errors.js';

export const MAX_CONTEXT = 256;

export const modelConfigSchema = z
  .object({
    vocabSize: z.number().int().min(2).max(65536),
    contextLength: z.number().int().min(2).max(MAX_CONTEXT),
    dModel: z.number().int().min(2),
    nHeads: z.number().int().min(1),
    nLayers: z.number().int().min(1),
    mlpRatio: z.number().int().min(1).default(4),
    dropout: z.number().min(0).max(0.9).default(0),
    tiedEmbeddings: z.boolean().default(false),
    valueHead: z.boolean().default(false),
    layerNormEps: z.number().positive().default(1e-5),
    initStd: z.number().positive().default(0.02),
    seed: z.number().int().min(0).default(0),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.dModel % c.nHeads !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['nHeads'],
        message: `nHeads (${c.nHeads}) must divide dModel (${c.dModel}); try nHeads = ${divisorNear(c.dModel, c.nHeads)}`,
      });
    }
  });

function divisorNear(n: number, k: number): number {
  for (let d = 0; d < n; d++) {
    if (k - d >= 1 && n % (k - d) === 0) return k - d;
    if (n % (k + d) === 0) return k + d;
  }
  return 1;
}

export type ModelConfigInput = z.input<typeof modelConfigSchema>;
export type ModelConfig = z.output<typeof modelConfigSchema>;

/**
 * Formats the first zod issue as "<where>.<field>: <problem>", the message shape every option and
 * config error in regime-zoo uses.
 */
export function describeZodError(where: string, error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  const field = issue && issue.path.length ? issue.path.join('.') : '(root)';
  let message = issue?.message ?? 'invalid';
  if (issue?.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove them or check the spelling`;
  return { field, message: `${where}.${field}: ${message}` };
}

/** Validates a model config, filling defaults; throws `CONFIG_INVALID` naming the field. */
export function parseModelConfig(input: unknown): ModelConfig {
  const r = modelConfigSchema.safeParse(input);
  if (!r.success) {
    const { field, message } = describeZodError('model config', r.error);
    throw new ZooError('CONFIG_INVALID', message, { field, cause: r.error });
  }
  return r.data;
}
