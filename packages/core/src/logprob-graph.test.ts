import { maxAbsDiff } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureBackend } from './backend.js';
import { graphAvailable, graphStats, setGraphMode } from './graph-run.js';
import { tokenLogProbs } from './ops.js';
import { legalTokenLogProbs } from './rl.js';

afterEach(() => setGraphMode(undefined));

// Log-probs and their gradient in `logits` (weighted by `w`, so that every position's gradient differs).
function both(f: (logits: tf.Tensor3D) => tf.Tensor2D, logits: tf.Tensor3D, w: tf.Tensor2D, graphs: boolean): [Float32Array, Float32Array] {
  setGraphMode(graphs ? undefined : false);
  return tf.tidy(() => {
    const lp = f(logits);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor3D), w)))(logits);
    return [lp.dataSync() as Float32Array, g.dataSync() as Float32Array];
  });
}

describe('next-token log-probs as compiled graphs (native backend)', () => {
  ensureBackend();
  const [B, T, V] = [3, 6, 7];
  const logits = tf.mul(tf.randomNormal([B, T, V], 0, 1, 'float32', 5), 3) as tf.Tensor3D;
  const tokens = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i * 5 + 2) % V), [B, T], 'int32');
  const w = tf.randomUniform([B, T - 1], 0.5, 2, 'float32', 6) as tf.Tensor2D;
  // Legal ids: the target and one more per position, as legalLogitMask makes it (0 legal, −1e9 not).
  const legal = tf.buffer([B, T - 1, V], 'float32');
  const ids = tokens.arraySync();
  for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) for (let v = 0; v < V; v++) legal.set(v === ids[b]![t + 1] || v === (ids[b]![t + 1]! + 3) % V ? 0 : -1e9, b, t, v);
  const mask = legal.toTensor() as tf.Tensor3D;

  it.skipIf(process.env.REGIME_ZOO_GRAPH === '0')('should give the eager log-probs and gradients bit for bit, with and without a legal-id mask', () => {
    expect(graphAvailable()).toBe(true);
    for (const f of [(x: tf.Tensor3D) => tokenLogProbs(x, tokens), (x: tf.Tensor3D) => legalTokenLogProbs(x, tokens, mask)]) {
      const [lpEager, gEager] = both(f, logits, w, false);
      const [lpGraph, gGraph] = both(f, logits, w, true);
      expect(lpGraph.length).toBe(B * (T - 1));
      // Bit for bit: the graphs do tfjs's own arithmetic (a rounding difference changes training runs).
      expect(maxAbsDiff(lpGraph, lpEager)).toBe(0);
      expect(maxAbsDiff(gGraph, gEager)).toBe(0);
      // The last position predicts nothing: its logits get no gradient.
      for (let b = 0; b < B; b++) for (let v = 0; v < V; v++) expect(Math.abs(gGraph[(b * T + T - 1) * V + v]!)).toBe(0);
    }
    // Under the mask each position is a choice between two ids: log-probs of the pair sum to log 1.
    const other = tf.tidy(() => tf.concat([tf.slice(tokens, [0, 0], [B, 1]), tf.mod(tf.add(tf.slice(tokens, [0, 1], [B, T - 1]), tf.scalar(3, 'int32')), tf.scalar(V, 'int32'))], 1));
    const pair = tf.tidy(() => tf.add(tf.exp(legalTokenLogProbs(logits, tokens, mask)), tf.exp(legalTokenLogProbs(logits, other as tf.Tensor2D, mask))).dataSync());
    for (const p of pair) expect(p).toBeCloseTo(1, 5);
  });

  it.skipIf(process.env.REGIME_ZOO_GRAPH === '0')('should serve every shape and vocabulary from one pair of graphs', () => {
    tokenLogProbs(logits, tokens).dispose();
    const before = graphStats().graphs;
    for (const [b, t, v] of [[1, 2, 3], [4, 9, 11], [2, 64, 70]] as const) {
      tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tokenLogProbs(x as tf.Tensor3D, tf.zeros([b, t], 'int32'))))(tf.zeros([b, t, v])));
    }
    expect(graphStats().graphs).toBe(before);
  });

  it('should accept float32 token ids as the eager path does', () => {
    const lp = tf.tidy(() => maxAbsDiff(tokenLogProbs(logits, tf.cast(tokens, 'float32') as tf.Tensor2D).dataSync(), tokenLogProbs(logits, tokens).dataSync()));
    expect(lp).toBe(0);
  });
});
