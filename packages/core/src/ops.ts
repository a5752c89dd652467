import * as tf from '@tensorflow/tfjs-core';
import { ZooError } from './errors.js';
import { graphAvailable } from './graph-run.js';
import { graphTokenLogProbs } from './logprob-graph.js';

/**
 * Log-probabilities of next tokens: `logits` [B, T, V] predict `tokens[:, 1:]`. Returns [B, T-1] with
 * entry (b, t) = log π(tokens[b, t+1] | tokens[b, ≤t]).
 */
export function tokenLogProbs(logits: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor2D {
  if (logits.rank !== 3 || tokens.rank !== 2 || logits.shape[0] !== tokens.shape[0] || logits.shape[1] !== tokens.shape[1]) {
    throw new ZooError(
      'SHAPE_MISMATCH',
      `tokenLogProbs: logits [${logits.shape}] and tokens [${tokens.shape}] must be [batch, time, vocab] and [batch, time] of the same batch and time; pass the tokens the logits were computed from`,
      { field: 'tokens' },
    );
  }
  if (tokens.shape[1] < 2) throw new ZooError('SHAPE_MISMATCH', `tokenLogProbs: sequences of length ${tokens.shape[1]} have no next token to score; pass at least 2 tokens`, { field: 'tokens' });
  return nextTokenLogProbs(logits, tokens);
}

/**
 * `tokenLogProbs` without the shape checks, optionally with an additive `mask` [B, T-1, V] on the scored
 * logits (`legalTokenLogProbs`): compiled graphs on the native backend (logprob-graph.ts), the same
 * eager ops elsewhere, with the same bits.
 */
export function nextTokenLogProbs(logits: tf.Tensor3D, tokens: tf.Tensor2D, mask?: tf.Tensor3D): tf.Tensor2D {
  if (graphAvailable()) return graphTokenLogProbs(logits, tokens, mask);
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const scored = tf.slice(logits, [0, 0, 0], [B, T - 1, V]);
    const lp = tf.logSoftmax(mask ? tf.add(scored, mask) : scored);
    const targets = tf.slice(tokens, [0, 1], [B, T - 1]);
    return tf.sum(tf.mul(lp, tf.oneHot(tf.cast(targets, 'int32'), V)), -1) as tf.Tensor2D;
  });
}

/**
 * Masked sequence log-probabilities: Σ_t mask[b, t] · log π(tokens[b, t+1] | ≤t). `mask` is [B, T-1]
 * (1 where the token at t+1 is scored, e.g. agent actions or every non-pad token). Returns [B].
 */
export function sequenceLogProbs(logits: tf.Tensor3D, tokens: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(tokenLogProbs(logits, tokens), mask), -1) as tf.Tensor1D);
}

/**
 * Mean negative log-likelihood over target positions: −Σ_t m_t log π(x_{t+1} | x_≤t) / Σ_t m_t, with `targets`
 * [B, T−1] as `padExamples` makes it (0 when there are no targets). The MLE loss of SFT, DT, RWR, ...
 */
export function maskedNll(logits: tf.Tensor3D, tokens: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.div(tf.neg(tf.sum(tf.mul(tokenLogProbs(logits, tokens), targets))), tf.maximum(tf.sum(targets), 1)) as tf.Scalar);
}

/** Entropy of the next-token distribution at every position: [B, T] in nats. */
export function entropy(logits: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const lp = tf.logSoftmax(logits);
    return tf.neg(tf.sum(tf.mul(tf.exp(lp), lp), -1)) as tf.Tensor2D;
  });
}

/** Exact KL(π ‖ π_ref) of the next-token distributions at every position, summed over the vocabulary: [B, T]. */
export function exactKl(logits: tf.Tensor3D, refLogits: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const lp = tf.logSoftmax(logits);
    const lq = tf.logSoftmax(refLogits);
    return tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)), -1) as tf.Tensor2D;
  });
}

export type KlEstimator = 'k1' | 'k3';

/**
 * Per-token sample estimators of KL(π ‖ π_ref) from log-probs of sampled tokens (Schulman, "Approximating
 * KL divergence"; TRL's `kl_estimator`): k1 = log π − log π_ref (unbiased, can be negative);
 * k3 = (r − 1) − log r with r = π_ref/π (unbiased and never negative).
 */
export function klEstimate(logp: tf.Tensor, refLogp: tf.Tensor, estimator: KlEstimator = 'k3'): tf.Tensor {
  return tf.tidy(() => {
    const logr = tf.sub(refLogp, logp);
    if (estimator === 'k1') return tf.neg(logr);
    return tf.sub(tf.sub(tf.exp(logr), 1), logr);
  });
}

/** Mean of `x` over entries where `mask` is 1 (0 if the mask is empty). */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(x, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

/**
 * The two diagnostics every regime logs, averaged over target positions (`mask` [B, T-1], aligned with
 * `tokenLogProbs`): `objective/entropy` of π and exact `objective/kl` KL(π ‖ π_ref) of the next-token
 * distributions (summed over the vocabulary, so never negative).
 */
export function policyDiagnostics(logits: tf.Tensor3D, refLogits: tf.Tensor3D, mask: tf.Tensor2D): { 'objective/entropy': tf.Scalar; 'objective/kl': tf.Scalar } {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const cut = (x: tf.Tensor3D) => tf.slice(x, [0, 0, 0], [B, T - 1, V]) as tf.Tensor3D;
    const p = cut(logits);
    return {
      'objective/entropy': maskedMean(entropy(p), mask),
      'objective/kl': maskedMean(exactKl(p, cut(refLogits)), mask),
    };
  });
}

/**
 * log σ(x) = −softplus(−x), numerically stable. tfjs 4.22's own `tf.logSigmoid` fails in backprop
 * ("Cannot read properties of undefined (reading 'map')"), so losses use this one.
 */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/**
 * Additive mask [B, T−1, V] that restricts each action's next-token distribution to the legal ids it was
 * sampled from (0 where legal, −1e9 elsewhere; non-action positions, and rows without `legal`, are left
 * alone). `mask` rows are aligned with `tokenLogProbs` (1 where token j+1 is an action) and `legal[b]`
 * has one id list per action of row b, in order (`Episode.legal`, `Example.legal`). Policy gradients,
 * likelihoods, KL terms and entropies are then those of the policy as the world lets it act.
 */
export function legalLogitMask(
  batch: { readonly mask: readonly (readonly number[])[]; readonly legal: readonly (readonly (readonly number[])[] | undefined)[] },
  vocabSize: number,
): tf.Tensor3D {
  const B = batch.mask.length;
  const T1 = batch.mask[0]?.length ?? 0;
  const data = new Float32Array(B * T1 * vocabSize);
  batch.mask.forEach((m, b) => {
    let k = 0;
    m.forEach((on, j) => {
      if (!on) return;
      const legal = batch.legal[b]?.[k++];
      if (!legal) return;
      const row = (b * T1 + j) * vocabSize;
      data.fill(-1e9, row, row + vocabSize);
      for (const id of legal) data[row + id] = 0;
    });
  });
  return tf.tensor3d(data, [B, T1, vocabSize]);
}
