import { Rng, tf, wilson, ZooError, type Interval } from '@regime-zoo/core';
import { auroc } from './stats.js';

export interface LogisticOptions {
  /** L2 penalty λ on the weights (not the bias): loss = mean BCE + λ/2·‖w‖². */
  l2?: number;
  /** Full-batch Adam steps. */
  steps?: number;
  lr?: number;
}

export interface LogisticModel {
  /** Weights on standardised features, bias, and the standardisation (training mean and std). */
  w: Float32Array;
  b: number;
  mean: Float32Array;
  std: Float32Array;
  /** The logit wᵀ((x − mean)/std) + b. */
  score(x: ArrayLike<number>): number;
}

/** A trainable variable holding `init`'s value; `init` itself is disposed (a variable keeps its own copy). */
export function variableFrom(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, true);
  init.dispose();
  return v;
}

/** Per-dimension mean and standard deviation (a constant dimension gets std 1). */
export function standardiser(X: readonly ArrayLike<number>[]): { mean: Float32Array; std: Float32Array } {
  const D = X[0]?.length ?? 0;
  const mean = new Float32Array(D);
  const std = new Float32Array(D);
  for (const x of X) for (let d = 0; d < D; d++) mean[d] = mean[d]! + x[d]! / X.length;
  for (const x of X) for (let d = 0; d < D; d++) std[d] = std[d]! + (x[d]! - mean[d]!) ** 2 / X.length;
  for (let d = 0; d < D; d++) std[d] = std[d]! > 1e-12 ? Math.sqrt(std[d]!) : 1;
  return { mean, std };
}

function standardise(X: readonly ArrayLike<number>[], s: { mean: Float32Array; std: Float32Array }): tf.Tensor2D {
  const D = s.mean.length;
  const flat = new Float32Array(X.length * D);
  X.forEach((x, i) => {
    for (let d = 0; d < D; d++) flat[i * D + d] = (x[d]! - s.mean[d]!) / s.std[d]!;
  });
  return tf.tensor2d(flat, [X.length, D]);
}

/**
 * L2-regularised logistic regression on standardised features, trained full-batch with tfjs's Adam
 * (`tf.train.adam`, `minimize` over an explicit variable list) from zero weights, so it is deterministic.
 */
export function fitLogistic(X: readonly ArrayLike<number>[], y: readonly boolean[], o: LogisticOptions = {}): LogisticModel {
  if (X.length === 0 || X.length !== y.length) throw new ZooError('BAD_INPUT', `fitLogistic: ${X.length} rows and ${y.length} labels; need the same, at least one`, { field: 'X' });
  const l2 = o.l2 ?? 1e-2;
  const s = standardiser(X);
  const D = s.mean.length;
  const w = variableFrom(tf.zeros([D, 1]));
  const b = variableFrom(tf.zeros([1]));
  const opt = tf.train.adam(o.lr ?? 0.05);
  const Xt = standardise(X, s);
  const yt = tf.tensor2d(y.map((v) => (v ? 1 : 0)), [y.length, 1]);
  try {
    for (let step = 0; step < (o.steps ?? 200); step++) {
      const loss = opt.minimize(
        () => tf.add(tf.losses.sigmoidCrossEntropy(yt, tf.add(tf.matMul(Xt, w), b)), tf.mul(l2 / 2, tf.sum(tf.square(w)))) as tf.Scalar,
        false,
        [w, b],
      );
      loss?.dispose();
    }
    const wData = w.dataSync().slice() as Float32Array;
    const bData = b.dataSync()[0]!;
    return {
      w: wData,
      b: bData,
      ...s,
      score(x) {
        let z = bData;
        for (let d = 0; d < D; d++) z += (wData[d]! * (x[d]! - s.mean[d]!)) / s.std[d]!;
        return z;
      },
    };
  } finally {
    opt.dispose();
    tf.dispose([w, b, Xt, yt]);
  }
}

export interface FeatureProbeOptions extends LogisticOptions {
  /** Fraction of examples held out for accuracy and AUROC. */
  testFraction?: number;
  seed?: number;
}

export interface FeatureProbeResult {
  /** Held-out accuracy (Wilson interval) and AUROC (Hanley–McNeil). */
  accuracy: Interval;
  auroc: Interval;
  /** Held-out accuracy on the control task: each type gets a fixed random label (Hewitt & Liang 2019). */
  control: Interval;
  /** accuracy − control accuracy. */
  selectivity: number;
  nTest: number;
}

/**
 * A linear probe with its control task: train/test split (seeded), logistic regression on the task
 * labels and on control labels (one random label per `types[i]`, e.g. the prompt), held-out accuracy of
 * each, AUROC of the task probe, and selectivity = task − control accuracy.
 */
export function probeFeature(X: readonly ArrayLike<number>[], labels: readonly boolean[], types: readonly string[], o: FeatureProbeOptions = {}): FeatureProbeResult {
  const rng = new Rng(o.seed ?? 0);
  const order = rng.permutation(X.length);
  const nTest = Math.max(1, Math.round(X.length * (o.testFraction ?? 0.3)));
  if (X.length - nTest < 2) throw new ZooError('BAD_INPUT', `probeFeature: ${X.length} examples leave fewer than 2 to train on; use more episodes`, { field: 'episodes' });
  const test = order.slice(0, nTest);
  const train = order.slice(nTest);
  const typeLabel = new Map<string, boolean>();
  for (const t of types) if (!typeLabel.has(t)) typeLabel.set(t, rng.next() < 0.5);
  const control = types.map((t) => typeLabel.get(t)!);
  const heldOut = (y: readonly boolean[]) => {
    const m = fitLogistic(
      train.map((i) => X[i]!),
      train.map((i) => y[i]!),
      o,
    );
    const scores = test.map((i) => m.score(X[i]!));
    const correct = test.filter((i, k) => scores[k]! > 0 === y[i]).length;
    return { scores, accuracy: wilson(correct, test.length) };
  };
  const task = heldOut(labels);
  const ctl = heldOut(control);
  return {
    accuracy: task.accuracy,
    auroc: auroc(
      task.scores,
      test.map((i) => labels[i]!),
    ),
    control: ctl.accuracy,
    selectivity: task.accuracy.estimate - ctl.accuracy.estimate,
    nTest,
  };
}
