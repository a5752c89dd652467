import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { describeZodError } from './config.js';
import { ZooError } from './errors.js';
import type { Transformer } from './model.js';
import { Rng } from './rng.js';

export const optimizerConfigSchema = z
  .object({
    /** Peak learning rate. */
    lr: z.number().positive().default(3e-4),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
    /** Decoupled weight decay (AdamW), applied to matrices only (not biases, gains or embeddings). */
    weightDecay: z.number().min(0).default(0.01),
    /** Linear warm-up steps from 0 to `lr`. */
    warmupSteps: z.number().int().min(0).default(0),
    /** Cosine decay ends at `lr · minLrRatio` at `totalSteps`. */
    minLrRatio: z.number().min(0).max(1).default(0.1),
    /** Global-norm gradient clipping; 0 turns it off. */
    clipNorm: z.number().min(0).default(1),
  })
  .strict();

export type OptimizerConfigInput = z.input<typeof optimizerConfigSchema>;
export type OptimizerConfig = z.output<typeof optimizerConfigSchema>;

/** Learning rate at `step` (0-based): linear warm-up, then cosine decay to `lr · minLrRatio` at `totalSteps`. */
export function learningRate(c: OptimizerConfig, step: number, totalSteps: number): number {
  if (c.warmupSteps > 0 && step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  const span = Math.max(1, totalSteps - c.warmupSteps);
  const progress = Math.min(1, (step - c.warmupSteps) / span);
  const min = c.lr * c.minLrRatio;
  return min + 0.5 * (c.lr - min) * (1 + Math.cos(Math.PI * progress));
}

function decays(name: string, v: tf.Variable): boolean {
  return v.rank >= 2 && !name.startsWith('embed.') && !name.startsWith('pos_embed.');
}

/** AdamW (decoupled weight decay) whose moments are variables, so they can be checkpointed exactly. */
export class AdamW {
  readonly m: Map<string, tf.Variable>;
  readonly v: Map<string, tf.Variable>;
  /** Number of updates applied (bias correction uses it). */
  t = 0;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    readonly config: OptimizerConfig,
  ) {
    this.m = new Map();
    this.v = new Map();
    for (const [n, p] of params) {
      this.m.set(n, tf.variable(tf.zerosLike(p), false));
      this.v.set(n, tf.variable(tf.zerosLike(p), false));
    }
  }

  /** Applies one update with gradients by parameter name (missing names are left unchanged). */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.t += 1;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    tf.tidy(() => {
      for (const [n, p] of this.params) {
        const g = grads[n];
        if (!g) continue;
        const m = this.m.get(n)!;
        const v = this.v.get(n)!;
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        let update = tf.div(tf.mul(m1, lr / c1), tf.add(tf.sqrt(tf.div(v1, c2)), eps));
        if (weightDecay > 0 && decays(n, p)) update = tf.add(update, tf.mul(p, lr * weightDecay));
        p.assign(tf.sub(p, update));
      }
    });
  }

  /** Moments as named tensors (`m/<param>`, `v/<param>`), for checkpoints. */
  stateTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [n, t] of this.m) out[`m/${n}`] = t;
    for (const [n, t] of this.v) out[`v/${n}`] = t;
    return out;
  }

  loadState(t: number, tensors: Record<string, tf.Tensor>): void {
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [n, variable] of map) {
        const src = tensors[`${kind}/${n}`];
        if (!src || !tf.util.arraysEqual(src.shape, variable.shape)) {
          throw new ZooError('CHECKPOINT_MISMATCH', `optimizer state "${kind}/${n}" is ${src ? `[${src.shape}]` : 'missing'}, expected [${variable.shape}]`, {
            field: `optimizer.${kind}/${n}`,
          });
        }
        variable.assign(src);
      }
    }
    this.t = t;
  }

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()]);
  }
}

/** What a loss function returns for one micro-batch: a scalar loss and optional scalar metrics (TRL names). */
export interface LossOutput {
  loss: tf.Scalar;
  metrics?: Record<string, tf.Scalar>;
}

export interface StepInfo {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  metrics: Record<string, number>;
}

export interface TrainerOptions {
  optimizer?: OptimizerConfigInput;
  totalSteps: number;
  /** Seed of the trainer's RNG (data order, dropout); its state is saved in checkpoints. */
  seed?: number;
  /** Gradients are accumulated over this many calls of the loss function per step. */
  microBatches?: number;
  signal?: AbortSignal;
  /** Called after every step (progress bars, metric logs). */
  onStep?: (info: StepInfo) => void;
}

/**
 * The training engine: AdamW with warm-up + cosine schedule, global-norm clipping, micro-batch gradient
 * accumulation, a seeded RNG for data order, a NaN/Inf guard that refuses the update and names the step,
 * and an abort signal. Regimes supply a loss function; the trainer owns the update.
 */
export class Trainer {
  readonly optimizerConfig: OptimizerConfig;
  readonly optimizer: AdamW;
  readonly rng: Rng;
  readonly totalSteps: number;
  readonly microBatches: number;
  step = 0;
  private readonly signal: AbortSignal | undefined;
  private readonly onStep: ((info: StepInfo) => void) | undefined;

  constructor(
    readonly model: Transformer,
    options: TrainerOptions,
  ) {
    const parsed = optimizerConfigSchema.safeParse(options.optimizer ?? {});
    if (!parsed.success) {
      const { field, message } = describeZodError('optimizer', parsed.error);
      throw new ZooError('CONFIG_INVALID', message, { field: `optimizer.${field}`, cause: parsed.error });
    }
    if (!Number.isInteger(options.totalSteps) || options.totalSteps < 1) {
      throw new ZooError('CONFIG_INVALID', `trainer.totalSteps must be a positive integer, got ${options.totalSteps}`, { field: 'totalSteps' });
    }
    const micro = options.microBatches ?? 1;
    if (!Number.isInteger(micro) || micro < 1) {
      throw new ZooError('CONFIG_INVALID', `trainer.microBatches must be a positive integer, got ${micro}`, { field: 'microBatches' });
    }
    if (!model.trainable) throw new ZooError('CONFIG_INVALID', 'the model is frozen (trainable: false); clone it with { trainable: true } to train', { field: 'model' });
    this.optimizerConfig = parsed.data;
    this.optimizer = new AdamW(model.params, parsed.data);
    this.rng = new Rng(options.seed ?? 0);
    this.totalSteps = options.totalSteps;
    this.microBatches = micro;
    this.signal = options.signal;
    this.onStep = options.onStep;
  }

  /**
   * One optimizer step. `lossFn(micro)` is called `microBatches` times inside `tf.tidy` and must return
   * the micro-batch's mean loss; gradients are averaged. Throws `NON_FINITE` (weights untouched) when the
   * loss or a gradient is NaN/Inf, and `ABORTED` when the signal fired.
   */
  trainStep(lossFn: (micro: number) => LossOutput): StepInfo {
    if (this.signal?.aborted) throw new ZooError('ABORTED', `training aborted before step ${this.step}`, { step: this.step, cause: this.signal.reason });
    const vars = this.model.variables();
    const nameOf = new Map([...this.model.params].map(([n, v]) => [v.name, n]));
    const M = this.microBatches;
    const grads: Record<string, tf.Tensor> = {};
    let lossSum: tf.Scalar | undefined;
    const metricSums: Record<string, tf.Scalar> = {};
    const accumulate = (acc: tf.Tensor | undefined, x: tf.Tensor): tf.Tensor => {
      if (!acc) return tf.keep(x);
      const next = tf.keep(tf.add(acc, x));
      acc.dispose();
      return next;
    };
    try {
      for (let i = 0; i < M; i++) {
        tf.tidy(() => {
          let metrics: Record<string, tf.Scalar> | undefined;
          const { value, grads: g } = variableGradsOrExplain(this.step, () => {
            const out = lossFn(i);
            // variableGrads runs this in its own tidy: keep the metrics past it (disposed below).
            metrics = out.metrics;
            for (const m of Object.values(metrics ?? {})) tf.keep(m);
            return out.loss;
          }, vars);
          // Parameters the loss does not touch (e.g. an unused value head) get no gradient and no update.
          for (const [varName, grad] of Object.entries(g)) {
            const n = nameOf.get(varName)!;
            grads[n] = accumulate(grads[n], grad);
          }
          lossSum = accumulate(lossSum, value) as tf.Scalar;
          for (const [k, v] of Object.entries(metrics ?? {})) {
            metricSums[k] = accumulate(metricSums[k], tf.clone(v)) as tf.Scalar;
            v.dispose();
          }
        });
      }
      const clipNorm = this.optimizerConfig.clipNorm;
      const metricNames = Object.keys(metricSums);
      const [lossValue, normValue, ...metricValues] = tf.tidy(() => {
        const sq = Object.values(grads).map((t) => tf.sum(tf.square(t)));
        const norm = sq.length ? tf.div(tf.sqrt(tf.addN(sq)), M) : tf.scalar(0);
        return Array.from(tf.stack([tf.div(lossSum!, M), norm, ...metricNames.map((k) => tf.div(metricSums[k]!, M))]).dataSync());
      });
      const loss = lossValue!;
      const gradNorm = normValue!;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        const what = Number.isFinite(loss) ? `gradient norm is ${gradNorm}` : `loss is ${loss}`;
        throw new ZooError('NON_FINITE', `step ${this.step}: ${what}; the update was not applied, so the weights are those after the previous step. Lower the learning rate or check the data and rewards.`, {
          step: this.step,
          field: Number.isFinite(loss) ? 'gradNorm' : 'loss',
        });
      }
      const scale = (1 / M) * (clipNorm > 0 && gradNorm > clipNorm ? clipNorm / (gradNorm + 1e-6) : 1);
      const lr = learningRate(this.optimizerConfig, this.step, this.totalSteps);
      tf.tidy(() => {
        const scaled: Record<string, tf.Tensor> = {};
        for (const [n, t] of Object.entries(grads)) scaled[n] = scale === 1 ? t : tf.mul(t, scale);
        this.optimizer.apply(scaled, lr);
      });
      const metrics: Record<string, number> = {};
      metricNames.forEach((k, j) => (metrics[k] = metricValues[j]!));
      const info: StepInfo = { step: this.step, totalSteps: this.totalSteps, loss, lr, gradNorm, metrics };
      this.step += 1;
      this.onStep?.(info);
      return info;
    } finally {
      tf.dispose(Object.values(grads));
      tf.dispose(lossSum ?? []);
      tf.dispose(Object.values(metricSums));
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** `tf.variableGrads`, with its "no connection" failure turned into an error that says what to do. */
function variableGradsOrExplain(step: number, f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  try {
    return tf.variableGrads(f, vars);
  } catch (e) {
    if (e instanceof Error && /Cannot find a connection/.test(e.message)) {
      throw new ZooError('CONFIG_INVALID', `step ${step}: the loss does not depend on any model parameter; compute the loss from model.forward(...) of the model being trained`, {
        step,
        field: 'loss',
        cause: e,
      });
    }
    throw e;
  }
}
