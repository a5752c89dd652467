import { z } from 'zod';
import { ZooError } from './errors.js';
import { checkSize } from './validate.js';

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
  checkModelSize(r.data);
  return r.data;
}

/**
 * A config whose parameters cannot be held fails here, naming the field, rather than in a typed-array
 * constructor halfway through initialisation: no weight matrix may exceed one tensor's limit, and weights,
 * gradients and AdamW's two moments (4 × 4 bytes per parameter) must fit in the machine's memory.
 */
function checkModelSize(c: ModelConfig): void {
  const d = c.dModel;
  const m = d * c.mlpRatio;
  const perLayer = 4 * d * d + 2 * d * m + 9 * d + m;
  const embed = c.vocabSize * d * (c.tiedEmbeddings ? 1 : 2) + c.contextLength * d;
  const params = embed + c.nLayers * perLayer;
  const mlpLargest = d * m > Math.max(3 * d * d, c.vocabSize * d);
  checkSize({
    where: 'model config',
    field: mlpLargest && c.mlpRatio > 4 ? 'mlpRatio' : 'dModel',
    elements: Math.max(3 * d * d, d * m, c.vocabSize * d, c.contextLength * d),
    what: `the largest weight matrix (dModel ${d}, mlpRatio ${c.mlpRatio}, vocabSize ${c.vocabSize})`,
    fix: 'use a smaller dModel or mlpRatio',
    code: 'CONFIG_INVALID',
  });
  checkSize({
    where: 'model config',
    field: c.nLayers * perLayer > embed ? 'nLayers' : 'dModel',
    elements: 0,
    bytes: params * 16,
    what: `${params.toExponential(2)} parameters with their gradients and AdamW moments`,
    fix: 'use fewer layers or a smaller dModel',
    code: 'CONFIG_INVALID',
  });
}
