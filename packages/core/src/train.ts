import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { describeZodError } from './config.js';
import { ZooError } from './errors.js';
import { GraphBuilder, type GNode } from './graph.js';
import { fusedOpsAvailable } from './fused-ops.js';
import { compileGraph, graphAvailable, type CompiledGraph } from './graph-run.js';
import type { Transformer } from './model.js';
import { Rng } from './rng.js';

/**
 * The one set of training defaults: `Trainer`'s optimizer and the regimes' training options
 * (`trainingOptionsSchema`) both take theirs from here. Warm-up is capped at the run's length.
 */
export const TRAINING_DEFAULTS = { lr: 1e-3, warmupSteps: 10, weightDecay: 0, clipNorm: 1 } as const;

export const optimizerConfigSchema = z
  .object({
    /** Peak learning rate. */
    lr: z.number().positive().default(TRAINING_DEFAULTS.lr),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
    /** Decoupled weight decay (AdamW), applied to matrices only (not biases, gains or embeddings). */
    weightDecay: z.number().min(0).default(TRAINING_DEFAULTS.weightDecay),
    /** Linear warm-up steps from 0 to `lr` (at most the run's length). */
    warmupSteps: z.number().int().min(0).default(TRAINING_DEFAULTS.warmupSteps),
    /** Cosine decay ends at `lr · minLrRatio` at `totalSteps`. */
    minLrRatio: z.number().min(0).max(1).default(0.1),
    /** Global-norm gradient clipping; 0 turns it off. */
    clipNorm: z.number().min(0).default(TRAINING_DEFAULTS.clipNorm),
  })
  .strict();

export type OptimizerConfigInput = z.input<typeof optimizerConfigSchema>;
export type OptimizerConfig = z.output<typeof optimizerConfigSchema>;

/** Learning rate at `step` (0-based): linear warm-up, then cosine decay to `lr · minLrRatio` at `totalSteps`. */
export function learningRate(c: OptimizerConfig, step: number, totalSteps: number): number {
  const warmup = Math.min(c.warmupSteps, totalSteps);
  if (warmup > 0 && step < warmup) return (c.lr * (step + 1)) / warmup;
  const span = Math.max(1, totalSteps - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  const min = c.lr * c.minLrRatio;
  return min + 0.5 * (c.lr - min) * (1 + Math.cos(Math.PI * progress));
}

function decays(name: string, v: tf.Variable): boolean {
  return v.rank >= 2 && !name.startsWith('embed.') && !name.startsWith('pos_embed.');
}

/**
 * AdamW (decoupled weight decay, PyTorch's `torch.optim.AdamW` arithmetic) with moments per parameter.
 * On the native backend the gradient norm and the whole update are one compiled graph call each (graph.ts;
 * per-op overhead dominates at these model sizes); elsewhere they are eager ops. Parameters without a
 * gradient in a step, and their moments, are left exactly as they are.
 */
export class AdamW {
  /** Number of updates applied (bias correction uses it). */
  t = 0;
  private readonly names: string[];
  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  private readonly graphs = new Map<string, CompiledGraph>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    readonly config: OptimizerConfig,
  ) {
    this.names = [...params.keys()];
    for (const [n, p] of params) this.moments.set(n, tf.tidy(() => ({ m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false) })));
  }

  private graph(key: string, build: () => CompiledGraph): CompiledGraph {
    let g = this.graphs.get(key);
    if (!g) this.graphs.set(key, (g = build()));
    return g;
  }

  /** The global L2 norm of `grads` (a scalar tensor; names in parameter order). */
  gradNorm(grads: Record<string, tf.Tensor>): tf.Scalar {
    const names = this.names.filter((n) => grads[n]);
    if (!graphAvailable()) return tf.tidy(() => tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]!))))) as tf.Scalar);
    const g = this.graph(`norm:${names.join('|')}`, () => {
      const b = new GraphBuilder();
      const xs = names.map((n, i) => b.placeholder(`g${i}`, 'float32', grads[n]!.shape));
      return compileGraph(b, [b.sqrt(b.addN(names.map((n, i) => b.sum(b.square(xs[i]!), grads[n]!.shape.map((_, a) => a)))))]);
    });
    return g.run(names.map((n) => grads[n]!))[0] as tf.Scalar;
  }

  /** One update from gradients by parameter name, each multiplied by `scale` first (clipping, averaging). */
  apply(grads: Record<string, tf.Tensor>, lr: number, scale = 1): void {
    this.t += 1;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const names = this.names.filter((n) => grads[n]);
    const decayed = (n: string) => weightDecay > 0 && decays(n, this.params.get(n)!);
    // Step scalars: lr/(1 − β1^t), 1/(1 − β2^t), the clip scale and the decay factor 1 − lr·λ.
    const stepScalars = [lr / (1 - beta1 ** this.t), 1 / (1 - beta2 ** this.t), scale, 1 - lr * weightDecay];
    if (!graphAvailable()) {
      tf.tidy(() => {
        for (const n of names) {
          const p = this.params.get(n)!;
          const { m, v } = this.moments.get(n)!;
          const g = scale === 1 ? grads[n]! : tf.mul(grads[n]!, scale);
          const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
          const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
          const step = tf.div(tf.mul(m1, stepScalars[0]!), tf.add(tf.sqrt(tf.mul(v1, stepScalars[1]!)), eps));
          const kept = decayed(n) ? tf.mul(p, stepScalars[3]!) : p;
          m.assign(m1);
          v.assign(v1);
          p.assign(tf.sub(kept, step));
        }
      });
      return;
    }
    const fused = fusedOpsAvailable();
    const g = this.graph(`apply:${fused}:${names.join('|')}`, () => {
      const b = new GraphBuilder();
      const scalars = b.placeholder('scalars', 'float32', [4]);
      const feeds = names.map((n, i) => ['p', 'g', 'm', 'v'].map((k) => b.placeholder(`${k}${i}`, 'float32', this.params.get(n)!.shape)) as [GNode, GNode, GNode, GNode]);
      if (fused) {
        // One kernel for every parameter, the same arithmetic as the ops below, bit for bit (fused-ops.ts).
        const attrs = { N: { i: names.length }, beta1: { f: beta1 }, one_minus_beta1: { f: 1 - beta1 }, beta2: { f: beta2 }, one_minus_beta2: { f: 1 - beta2 }, eps: { f: eps }, decay: { bools: names.map(decayed) } };
        return compileGraph(b, b.raw('ZooAdamW', [scalars, ...[0, 1, 2, 3].flatMap((k) => feeds.map((f) => f[k]!))], attrs, 'float32', 3 * names.length));
      }
      const [lrC1, invC2, clip, keep] = b.unpack(scalars, 4, 0);
      const outs: GNode[][] = [[], [], []];
      names.forEach((n, i) => {
        const [p, gr, m, v] = feeds[i]!;
        const gs = b.mul(gr, clip!);
        const m1 = b.add(b.mul(m, beta1), b.mul(gs, 1 - beta1));
        const v1 = b.add(b.mul(v, beta2), b.mul(b.square(gs), 1 - beta2));
        const step = b.div(b.mul(m1, lrC1!), b.add(b.sqrt(b.mul(v1, invC2!)), eps));
        outs[0]!.push(b.sub(decayed(n) ? b.mul(p, keep!) : p, step));
        outs[1]!.push(m1);
        outs[2]!.push(v1);
      });
      return compileGraph(b, outs.flat());
    });
    tf.tidy(() => {
      const inputs: tf.Tensor[] = [tf.tensor1d(stepScalars)];
      for (const n of names) inputs.push(this.params.get(n)!, grads[n]!, this.moments.get(n)!.m, this.moments.get(n)!.v);
      const out = g.run(inputs);
      const k = names.length;
      names.forEach((n, i) => {
        this.params.get(n)!.assign(out[i]!);
        this.moments.get(n)!.m.assign(out[k + i]!);
        this.moments.get(n)!.v.assign(out[2 * k + i]!);
      });
    });
  }

  /** Moments as flat vectors in parameter order (`m`, `v`), for checkpoints: new tensors, dispose them. */
  stateTensors(): Record<string, tf.Tensor> {
    return tf.tidy(() => {
      const flat = (k: 'm' | 'v') => tf.concat(this.names.map((n) => tf.reshape(this.moments.get(n)![k], [-1])));
      return { m: flat('m'), v: flat('v') };
    });
  }

  loadState(t: number, tensors: Record<string, tf.Tensor>): void {
    const sizes = this.names.map((n) => this.params.get(n)!.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    for (const key of ['m', 'v'] as const) {
      const src = tensors[key];
      if (!src || !tf.util.arraysEqual(src.shape, [total])) {
        throw new ZooError('CHECKPOINT_MISMATCH', `optimizer state "${key}" is ${src ? `[${src.shape}]` : 'missing'}, expected [${total}] (one entry per model parameter)`, {
          field: `optimizer.${key}`,
        });
      }
      tf.tidy(() => {
        tf.split(src, sizes).forEach((piece, i) => {
          const n = this.names[i]!;
          this.moments.get(n)![key].assign(tf.reshape(piece, this.params.get(n)!.shape));
        });
      });
    }
    this.t = t;
  }

  /** Frees the moments and gives back the optimizer's compiled graphs. */
  dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
    for (const g of this.graphs.values()) g.release();
    this.graphs.clear();
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
        const norm = tf.div(this.optimizer.gradNorm(grads), M);
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
      this.optimizer.apply(grads, lr, scale);
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
