import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { describeZodError } from './config.js';
import { ZooError } from './errors.js';
import { compileGraph, graphAvailable, GraphBuilder, type CompiledGraph } from './graph.js';
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

/** A tensor as a vector (no kernel for one that already is: every op costs tens of µs on tfjs-node). */
function flat1d(x: tf.Tensor): tf.Tensor1D {
  return (x.rank === 1 ? x : tf.reshape(x, [-1])) as tf.Tensor1D;
}

function decays(name: string, v: tf.Variable): boolean {
  return v.rank >= 2 && !name.startsWith('embed.') && !name.startsWith('pos_embed.');
}

/**
 * AdamW (decoupled weight decay) over all parameters at once: gradients and parameters are flattened
 * into one vector per step, so an update costs about a dozen large ops instead of a dozen per parameter
 * (per-op overhead dominates at these model sizes). The moments `m`, `v` are flat variables, saved in
 * checkpoints for exact resume. Parameters without a gradient in a step are left exactly as they are.
 */
export class AdamW {
  readonly m: tf.Variable;
  readonly v: tf.Variable;
  /** Number of updates applied (bias correction uses it). */
  t = 0;
  private readonly names: string[];
  private readonly sizes: number[];
  private readonly decayMask: tf.Tensor1D;
  private readonly masks = new Map<string, tf.Tensor1D>();
  private readonly presentMasks = new Map<string, tf.Tensor1D>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    readonly config: OptimizerConfig,
  ) {
    this.names = [...params.keys()];
    this.sizes = this.names.map((n) => params.get(n)!.size);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    this.m = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    this.v = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    this.decayMask = tf.keep(this.constant((n) => decays(n, params.get(n)!)));
  }

  /** A flat vector with 1 over the parameters `pick` selects and 0 elsewhere. */
  private constant(pick: (name: string) => boolean): tf.Tensor1D {
    const data = new Float32Array(this.m.size);
    let offset = 0;
    this.names.forEach((n, i) => {
      if (pick(n)) data.fill(1, offset, offset + this.sizes[i]!);
      offset += this.sizes[i]!;
    });
    return tf.tensor1d(data);
  }

  /** Concatenates named tensors in parameter order; missing names become zeros. */
  flatten(named: Record<string, tf.Tensor>): tf.Tensor1D {
    if (graphAvailable() && this.names.every((n) => named[n])) {
      this.graphs ??= this.buildGraphs();
      return this.graphs.flatten.run(this.names.map((n) => named[n]!))[0] as tf.Tensor1D;
    }
    return tf.tidy(() => tf.concat(this.names.map((n, i) => (named[n] ? flat1d(named[n]!) : tf.zeros([this.sizes[i]!])))) as tf.Tensor1D);
  }

  private graphs: { flatten: CompiledGraph; apply: CompiledGraph } | undefined;

  /**
   * The update as two compiled graphs (native backend): `flatten` (gradients -> one vector) and `apply`
   * (moments, bias correction, decoupled decay, the masked update and the split back into parameters),
   * the same arithmetic as the eager path, one call each instead of ~100 kernels.
   */
  private buildGraphs(): { flatten: CompiledGraph; apply: CompiledGraph } {
    const shapes = this.names.map((n) => this.params.get(n)!.shape);
    const flat = (g: GraphBuilder, prefix: string) => {
      const xs = shapes.map((shape, i) => g.placeholder(`${prefix}${i}`, 'float32', shape));
      return g.concat(xs.map((x) => g.reshape(x, [-1])), 0);
    };
    const f = new GraphBuilder();
    const flatten = compileGraph(f, [flat(f, 'g')]);
    const g = new GraphBuilder();
    const grad = g.placeholder('grad', 'float32', [this.m.size]);
    const m = g.placeholder('m', 'float32', [this.m.size]);
    const v = g.placeholder('v', 'float32', [this.m.size]);
    const decay = g.placeholder('decay', 'float32', [this.m.size]);
    const present = g.placeholder('present', 'bool', [this.m.size]);
    const h = g.raw('Unpack', [g.placeholder('hyper', 'float32', [7])], { T: { type: 'float32' }, num: { i: 7 }, axis: { i: 0 } }, 'float32', 7);
    const [lrOverC1, invC2, eps, lrWd, beta1, beta2, one] = h as [typeof grad, typeof grad, typeof grad, typeof grad, typeof grad, typeof grad, typeof grad];
    const p = flat(g, 'p');
    const select = (a: typeof grad, b: typeof grad) => g.raw('SelectV2', [present, a, b], { T: { type: 'float32' } }, 'float32')[0]!;
    const m1 = select(g.add(g.mul(m, beta1), g.mul(grad, g.sub(one, beta1))), m);
    const v1 = select(g.add(g.mul(v, beta2), g.mul(g.square(grad), g.sub(one, beta2))), v);
    let update = g.div(g.mul(m1, lrOverC1), g.add(g.sqrt(g.mul(v1, invC2)), eps));
    update = g.add(update, g.mul(g.mul(p, decay), lrWd));
    const next = g.sub(p, select(update, g.mul(update, 0)));
    const pieces = g.split(next, this.sizes, 0).map((x, i) => (shapes[i]!.length === 1 ? x : g.reshape(x, shapes[i]!)));
    return { flatten, apply: compileGraph(g, [m1, v1, ...pieces]) };
  }

  /**
   * Applies one update from a flat gradient (parameter order). `present` names the parameters that have a
   * gradient this step (default: all); the others, and their moments, are not touched.
   */
  applyFlat(grad: tf.Tensor1D, lr: number, present?: ReadonlySet<string>): void {
    this.t += 1;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    const all = !present || this.names.every((n) => present.has(n));
    if (graphAvailable()) {
      this.graphs ??= this.buildGraphs();
      const key = all ? '*' : this.names.filter((n) => present!.has(n)).join('|');
      if (!this.presentMasks.has(key)) this.presentMasks.set(key, tf.keep(tf.cast(this.constant((n) => all || present!.has(n)), 'bool') as tf.Tensor1D));
      tf.tidy(() => {
        const params = this.names.map((n) => this.params.get(n)!);
        const hyper = tf.tensor1d([lr / c1, 1 / c2, eps, lr * weightDecay, beta1, beta2, 1]);
        const [m1, v1, ...pieces] = this.graphs!.apply.run([grad, this.m, this.v, this.decayMask, this.presentMasks.get(key)!, hyper, ...params]);
        this.m.assign(m1 as tf.Tensor1D);
        this.v.assign(v1 as tf.Tensor1D);
        params.forEach((x, i) => x.assign(pieces[i]!));
      });
      return;
    }
    let mask: tf.Tensor1D | undefined;
    if (!all) {
      const key = this.names.filter((n) => present.has(n)).join('|');
      if (!this.masks.has(key)) this.masks.set(key, tf.keep(this.constant((n) => present.has(n))));
      mask = this.masks.get(key)!;
    }
    tf.tidy(() => {
      const params = this.names.map((n) => this.params.get(n)!);
      const p = tf.concat(params.map(flat1d));
      let m1 = tf.add(tf.mul(this.m, beta1), tf.mul(grad, 1 - beta1));
      let v1 = tf.add(tf.mul(this.v, beta2), tf.mul(tf.square(grad), 1 - beta2));
      if (mask) {
        m1 = tf.where(tf.cast(mask, 'bool'), m1, this.m);
        v1 = tf.where(tf.cast(mask, 'bool'), v1, this.v);
      }
      let update = tf.div(tf.mul(m1, lr / c1), tf.add(tf.sqrt(tf.mul(v1, 1 / c2)), eps));
      if (weightDecay > 0) update = tf.add(update, tf.mul(tf.mul(p, this.decayMask), lr * weightDecay));
      if (mask) update = tf.mul(update, mask);
      this.m.assign(m1);
      this.v.assign(v1);
      const pieces = tf.split(tf.sub(p, update), this.sizes);
      params.forEach((x, i) => x.assign(x.rank === 1 ? pieces[i]! : tf.reshape(pieces[i]!, x.shape)));
    });
  }

  /** Applies one update with gradients by parameter name (missing names are left unchanged). */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    const flat = this.flatten(grads);
    this.applyFlat(flat, lr, new Set(Object.keys(grads)));
    flat.dispose();
  }

  /** Moments as named tensors (`m`, `v`: flat, in parameter order), for checkpoints. */
  stateTensors(): Record<string, tf.Tensor> {
    return { m: this.m, v: this.v };
  }

  loadState(t: number, tensors: Record<string, tf.Tensor>): void {
    for (const [name, variable] of [['m', this.m], ['v', this.v]] as const) {
      const src = tensors[name];
      if (!src || !tf.util.arraysEqual(src.shape, variable.shape)) {
        throw new ZooError('CHECKPOINT_MISMATCH', `optimizer state "${name}" is ${src ? `[${src.shape}]` : 'missing'}, expected [${variable.shape}] (one entry per model parameter)`, {
          field: `optimizer.${name}`,
        });
      }
      variable.assign(src);
    }
    this.t = t;
  }

  dispose(): void {
    tf.dispose([this.m, this.v, this.decayMask, ...this.masks.values(), ...this.presentMasks.values()]);
    this.masks.clear();
    this.presentMasks.clear();
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
      const flat = this.optimizer.flatten(grads);
      const [lossValue, normValue, ...metricValues] = tf.tidy(() => {
        const norm = tf.div(tf.sqrt(tf.sum(tf.square(flat))), M);
        return Array.from(tf.stack([tf.div(lossSum!, M), norm, ...metricNames.map((k) => tf.div(metricSums[k]!, M))]).dataSync());
      });
      const loss = lossValue!;
      const gradNorm = normValue!;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        flat.dispose();
        const what = Number.isFinite(loss) ? `gradient norm is ${gradNorm}` : `loss is ${loss}`;
        throw new ZooError('NON_FINITE', `step ${this.step}: ${what}; the update was not applied, so the weights are those after the previous step. Lower the learning rate or check the data and rewards.`, {
          step: this.step,
          field: Number.isFinite(loss) ? 'gradNorm' : 'loss',
        });
      }
      const scale = (1 / M) * (clipNorm > 0 && gradNorm > clipNorm ? clipNorm / (gradNorm + 1e-6) : 1);
      const lr = learningRate(this.optimizerConfig, this.step, this.totalSteps);
      const scaled = scale === 1 ? flat : tf.tidy(() => tf.mul(flat, scale) as tf.Tensor1D);
      this.optimizer.applyFlat(scaled, lr, new Set(Object.keys(grads)));
      tf.dispose([flat, scaled]);
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
