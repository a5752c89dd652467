import * as tf from '@tensorflow/tfjs-core';
import { GraphBuilder, type GNode } from './graph.js';
import { compileGraph, type CompiledGraph } from './graph-run.js';

// Next-token log-probs (`tokenLogProbs`, `legalTokenLogProbs`) on the native backend: one compiled graph
// for the log-probs and one for their gradient, instead of ~12 eager ops forward and ~10 backward, each
// a round trip through tfjs (issue 19: the eager loss was 3–4 ms of a 40 ms step at bench size S).
// All shapes are dynamic: one pair of graphs serves every model (and one more with a legal-id mask).

interface LogProbGraphs {
  forward: CompiledGraph;
  backward: CompiledGraph;
}

const graphs = new Map<boolean, LogProbGraphs>();

/**
 * The scored part of a batch: logits of positions 0..T−2 (plus the mask) and the tokens they predict.
 * The graphs slice as the eager ops do: Eigen computes exp and log of an element with its vector or its
 * scalar code depending on the element's place in the tensor, so only equal shapes give equal bits.
 */
function scored(g: GraphBuilder, masked: boolean): { x: GNode; next: GNode; V: GNode } {
  const logits = g.placeholder('logits', 'float32', [-1, -1, -1]);
  const tokens = g.placeholder('tokens', 'int32', [-1, -1]);
  const [, T, V] = g.dims(logits, 3) as [GNode, GNode, GNode];
  const cut = g.sub(T, g.scalar(1, 'int32'));
  const all = g.scalar(-1, 'int32');
  const x = g.slice(logits, g.ints([0, 0, 0]), g.pack([all, cut, all]));
  const next = g.slice(tokens, g.ints([0, 1]), g.pack([all, cut]));
  return { x: masked ? g.add(x, g.placeholder('mask', 'float32', [-1, -1, -1])) : x, next, V };
}

// The arithmetic is tfjs's eager `logSoftmax` and its gradient, op for op, so that both paths give the
// same bits (a changed rounding would send a training run down another path).
function build(masked: boolean): LogProbGraphs {
  const f = new GraphBuilder();
  const { x, next } = scored(f, masked);
  // log_softmax(x) = (x − max) − log Σ exp(x − max); the forward also returns it whole, for the gradient.
  const z = f.sub(x, f.max(x, [2], true));
  const logSoftmax = f.sub(z, f.log(f.sum(f.exp(z), [2], true)));
  const forward = compileGraph(f, [f.gather(logSoftmax, next, 2, 2), logSoftmax]);

  const b = new GraphBuilder();
  const logSoftmaxIn = b.placeholder('log_softmax', 'float32', [-1, -1, -1]);
  const tokens = b.placeholder('tokens', 'int32', [-1, -1]);
  const dy = b.expandDims(b.placeholder('dy', 'float32', [-1, -1]), 2);
  const [, scoredT, V] = b.dims(logSoftmaxIn, 3) as [GNode, GNode, GNode];
  const all = b.scalar(-1, 'int32');
  const nextB = b.slice(tokens, b.ints([0, 1]), b.pack([all, scoredT]));
  // d lp / d x = dy·onehot(next) − dy·exp(log_softmax(x)); the last position predicts nothing (0).
  const dx = b.sub(b.mul(dy, b.oneHot(nextB, V)), b.mul(dy, b.exp(logSoftmaxIn)));
  const backward = compileGraph(b, [b.pad(dx, [[0, 0], [0, 1], [0, 0]])]);
  return { forward, backward };
}

/**
 * [B, T−1] log-probs of `tokens[:, 1:]` under `logits` [B, T, V] (plus an additive `mask` [B, T−1, V]) as
 * compiled graphs, differentiable in `logits`. Call only where `graphAvailable()`; inputs are checked by
 * the callers.
 */
export function graphTokenLogProbs(logits: tf.Tensor3D, tokens: tf.Tensor2D, mask?: tf.Tensor3D): tf.Tensor2D {
  const masked = mask !== undefined;
  let g = graphs.get(masked);
  if (!g) graphs.set(masked, (g = build(masked)));
  const { forward, backward } = g;
  return tf.tidy(() => {
    const inputs = [tokens.dtype === 'int32' ? tokens : tf.cast(tokens, 'int32'), ...(mask ? [mask] : [])];
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const [lp, logSoftmax] = forward.run([x, ...inputs]) as [tf.Tensor, tf.Tensor];
      save([logSoftmax, inputs[0]!]);
      return { value: lp, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backward.run([...saved, dy])[0]! };
    });
    return op(logits) as tf.Tensor2D;
  });
}
