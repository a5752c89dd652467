import { ensureBackend, tf } from '@regime-zoo/core';
import { describe, expect, it } from 'vitest';
import { generalizedJsd } from './losses.js';

/** Two rows of next-token distributions over 3 ids, as probabilities. */
const P = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]];
const Q = [[0.3, 0.3, 0.4], [0.25, 0.5, 0.25]];
const kl = (p: number[], q: number[]) => p.reduce((a, x, i) => a + x * Math.log(x / q[i]!), 0);

function jsd(p: number[][], q: number[][], beta: number): number[] {
  return tf.tidy(() => {
    const logp = (x: number[][]) => tf.log(tf.tensor3d([x]));
    return Array.from(generalizedJsd(logp(p) as tf.Tensor3D, logp(q) as tf.Tensor3D, beta).dataSync());
  });
}

ensureBackend();

describe('generalizedJsd (GKD, as TRL)', () => {
  it('should be KL(teacher ‖ student) at β = 0 and KL(student ‖ teacher) at β = 1', () => {
    jsd(P, Q, 0).forEach((v, i) => expect(v).toBeCloseTo(kl(P[i]!, Q[i]!), 5));
    jsd(P, Q, 1).forEach((v, i) => expect(v).toBeCloseTo(kl(Q[i]!, P[i]!), 5));
  });

  it('should be β·KL(P_T ‖ M) + (1 − β)·KL(P_S ‖ M) with M = β·P_T + (1 − β)·P_S in between, and 0 for equal distributions', () => {
    for (const beta of [0.1, 0.5, 0.9]) {
      jsd(P, Q, beta).forEach((v, i) => {
        const m = P[i]!.map((p, j) => beta * p + (1 - beta) * Q[i]![j]!);
        expect(v).toBeCloseTo(beta * kl(P[i]!, m) + (1 - beta) * kl(Q[i]!, m), 5);
      });
      jsd(P, P, beta).forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-6));
    }
  });

  it('should give 0, not NaN, on ids a legal mask removes (log-probabilities near −1e9)', () => {
    const masked = tf.tidy(() => {
      const logits = tf.tensor3d([[[1, 2, -1e9]]]);
      const other = tf.tensor3d([[[0, 3, -1e9]]]);
      return Array.from(generalizedJsd(tf.logSoftmax(logits) as tf.Tensor3D, tf.logSoftmax(other) as tf.Tensor3D, 0.5).dataSync());
    });
    expect(Number.isFinite(masked[0]!)).toBe(true);
    const p = [Math.exp(1) / (Math.exp(1) + Math.exp(2)), Math.exp(2) / (Math.exp(1) + Math.exp(2))];
    const q = [1 / (1 + Math.exp(3)), Math.exp(3) / (1 + Math.exp(3))];
    const m = p.map((x, j) => 0.5 * x + 0.5 * q[j]!);
    expect(masked[0]).toBeCloseTo(0.5 * kl(p, m) + 0.5 * kl(q, m), 5);
  });
});
