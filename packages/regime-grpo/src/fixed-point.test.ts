import { ensureBackend, tf } from '@regime-zoo/core';
import { klDivergence, sampleIndices, thrown, tiltedPosterior } from '@regime-zoo/test-utils';
import { describe, expect, it } from 'vitest';
import { groupAdvantages } from './advantages.js';
import { grpoFixedPoint } from './fixed-point.js';

const ref = [0.4, 0.3, 0.2, 0.1];
const rewards = [0, 1, 2, 3];
const actions = [[0], [1], [2], [3]];
const meanUnder = (p: ArrayLike<number>, f: readonly number[]) => Array.from(p).reduce((s, x, i) => s + x * f[i]!, 0);

describe('the k3 term (the issue\'s derivation, checked by autodiff)', () => {
  it('should have, on samples from π, the expected gradient of KL(π_ref ‖ π), not of KL(π ‖ π_ref)', () => {
    ensureBackend(); // the native backend registers tfjs's gradients
    const theta = tf.tensor1d([2, -1, 0.5, 0]);
    const lref = tf.log(tf.tensor1d(ref));
    // E_{y∼π}[∇ k3(y)] with π held fixed as the sampling distribution: Σ_y sg(π(y)) ∇k3(y).
    const sampling = tf.softmax(theta); // a constant: the samples come from π, their probabilities are not differentiated
    const k3Grad = tf.grad((t: tf.Tensor) => {
      const d = tf.sub(lref, tf.logSoftmax(t));
      return tf.sum(tf.mul(sampling, tf.sub(tf.sub(tf.exp(d), d), 1)));
    })(theta);
    const reverse = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.exp(lref), tf.sub(lref, tf.logSoftmax(t)))))(theta);
    const forward = tf.grad((t: tf.Tensor) => {
      const lp = tf.logSoftmax(t);
      return tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lref)));
    })(theta);
    const pi = tf.softmax(theta);
    const [g, r, f, p] = [k3Grad, reverse, forward, pi].map((x) => Array.from(x.dataSync()));
    g!.forEach((x, i) => expect(x).toBeCloseTo(r![i]!, 6));
    g!.forEach((x, i) => expect(x).toBeCloseTo(p![i]! - ref[i]!, 6)); // = π − π_ref in logit coordinates
    console.log(`max |∇k3 − ∇KL(π‖π_ref)| = ${Math.max(...g!.map((x, i) => Math.abs(x - f![i]!))).toFixed(3)}`);
    expect(Math.max(...g!.map((x, i) => Math.abs(x - f![i]!)))).toBeGreaterThan(0.1);
    tf.dispose([theta, lref, sampling, k3Grad, reverse, forward, pi]);
  });
});

describe('grpoFixedPoint', () => {
  it('should solve π(y) = π_ref(y) / (1 − (r(y) − E_π r)/β) for Dr. GRPO with population statistics', () => {
    const beta = 1.5;
    const { pi, residual } = grpoFixedPoint({ actions, ref, rewards, beta, numGenerations: Infinity, scaleRewards: 'none' });
    expect(residual).toBeLessThan(1e-9);
    const m = meanUnder(pi, rewards);
    pi.forEach((p, y) => expect(p).toBeCloseTo(ref[y]! / (1 - (rewards[y]! - m) / beta), 8));
    expect(klDivergence(pi, tiltedPosterior(ref, rewards, beta))).toBeGreaterThan(0.01); // not π*
  });

  it('should solve π(y) = π_ref(y) / (1 − z(y)/β) for GRPO, z the z-score of r under π itself', () => {
    const beta = 2;
    const { pi } = grpoFixedPoint({ actions, ref, rewards, beta, numGenerations: Infinity, scaleRewards: 'group' });
    const m = meanUnder(pi, rewards);
    const sd = Math.sqrt(meanUnder(pi, rewards.map((r) => (r - m) ** 2)));
    pi.forEach((p, y) => expect(p).toBeCloseTo(ref[y]! / (1 - (rewards[y]! - m) / (sd + 1e-4) / beta), 8));
  });

  it('should give Dr. GRPO with G samples the population fixed point at β·G/(G − 1)', () => {
    for (const G of [2, 4, 8]) {
      const finite = grpoFixedPoint({ actions, ref, rewards, beta: 1, numGenerations: G, scaleRewards: 'none' });
      const population = grpoFixedPoint({ actions, ref, rewards, beta: G / (G - 1), numGenerations: Infinity, scaleRewards: 'none' });
      finite.pi.forEach((p, y) => expect(p).toBeCloseTo(population.pi[y]!, 8));
      finite.advantage.forEach((a, y) => expect(a).toBeCloseTo(((G - 1) / G) * (rewards[y]! - meanUnder(finite.pi, rewards)), 8));
    }
  });

  it('should give E[A₁ | y₁ = y] of GRPO with G = 4 that sampled groups reproduce', () => {
    const { pi, advantage } = grpoFixedPoint({ actions, ref, rewards, beta: 1, numGenerations: 4, scaleRewards: 'group' });
    const draws = sampleIndices(Array.from(pi), 4 * 60_000, 7);
    const sum = new Float64Array(4);
    const count = new Float64Array(4);
    const { advantages } = groupAdvantages(draws.map((y) => rewards[y]!), 4, 'group');
    draws.forEach((y, i) => {
      sum[y]! += advantages[i]!;
      count[y]! += 1;
    });
    advantage.forEach((a, y) => expect(Math.abs(sum[y]! / count[y]! - a)).toBeLessThan(0.03));
    // The conditional expected advantages are centred under π (the group's advantages sum to 0).
    expect(meanUnder(pi, Array.from(advantage))).toBeCloseTo(0, 10);
  });

  it('should satisfy the per-state condition π(a|s) = π_ref(a|s) / (1 − (Q(s,a) − Q(s))/β) on a two-step tree', () => {
    // Sequences ab over a, b ∈ {0, 1}; π_ref a Markov chain; reward = number of 1s.
    const seqs = [[0, 0], [0, 1], [1, 0], [1, 1]];
    const pref = [0.6 * 0.7, 0.6 * 0.3, 0.4 * 0.5, 0.4 * 0.5];
    const r = seqs.map((s) => s[0]! + s[1]!);
    const beta = 1;
    const { pi, advantage } = grpoFixedPoint({ actions: seqs, ref: pref, rewards: r, beta, numGenerations: 6, scaleRewards: 'group', lossType: 'bnpo' });
    const first = [pi[0]! + pi[1]!, pi[2]! + pi[3]!];
    const firstRef = [pref[0]! + pref[1]!, pref[2]! + pref[3]!];
    const Q = [0, 1].map((a) => (pi[2 * a]! * advantage[2 * a]! + pi[2 * a + 1]! * advantage[2 * a + 1]!) / first[a]!);
    const Qs = first[0]! * Q[0]! + first[1]! * Q[1]!;
    [0, 1].forEach((a) => expect(first[a]).toBeCloseTo(firstRef[a]! / (1 - (Q[a]! - Qs) / beta), 7));
    for (const a of [0, 1]) {
      const cond = [pi[2 * a]! / first[a]!, pi[2 * a + 1]! / first[a]!];
      const condRef = [pref[2 * a]! / firstRef[a]!, pref[2 * a + 1]! / firstRef[a]!];
      const qs = cond[0]! * advantage[2 * a]! + cond[1]! * advantage[2 * a + 1]!;
      [0, 1].forEach((b) => expect(cond[b]).toBeCloseTo(condRef[b]! / (1 - (advantage[2 * a + b]! - qs) / beta), 7));
    }
  });

  it('should reject β ≤ 0, a group of one and sequences that are prefixes of others', () => {
    expect(thrown(() => grpoFixedPoint({ actions, ref, rewards, beta: 0, numGenerations: 8 })).field).toBe('beta');
    expect(thrown(() => grpoFixedPoint({ actions, ref, rewards, beta: 1, numGenerations: 1 })).field).toBe('numGenerations');
    expect(thrown(() => grpoFixedPoint({ actions: [[0], [0, 1]], ref: [0.5, 0.5], rewards: [0, 1], beta: 1, numGenerations: 2 })).message).toMatch(/prefix/);
    expect(thrown(() => grpoFixedPoint({ actions, ref: [1], rewards, beta: 1, numGenerations: 2 })).code).toBe('SHAPE_MISMATCH');
  });
});
