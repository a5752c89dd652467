import { entropy, legalLogitMask, legalTokenLogProbs, maskedLogits, maskedMean, padExamples, tf } from '@regime-zoo/core';
import type { RolloutBatch, Transformer } from '@regime-zoo/core';
import type { LossType } from './fixed-point.js';

export interface GrpoLossOptions {
  /** Coefficient of the per-token k3 term in the loss (0: none, e.g. when the KL is in the reward). */
  beta: number;
  /** Lower clip ε of the ratio (TRL's `epsilon`). */
  epsilon: number;
  /** Upper clip ε (TRL's `epsilon_high`; DAPO's clip-higher). */
  epsilonHigh: number;
  lossType: LossType;
  /**
   * `dr_grpo`: the constant length each sequence's token sum is divided by (TRL's `max_completion_length`);
   * `dapo`: the number of action tokens in the whole step's batch divided by the number of micro-batches.
   */
  normalizer: number;
}

/**
 * GRPO's loss on a collected batch (call inside `tf.tidy`): per action token
 * ℓ_t = −min(ρ_t A, clip(ρ_t, 1 − ε, 1 + ε_high) A) + β·k3_t, with ρ_t = π/π_old and
 * k3_t = π_ref/π − log(π_ref/π) − 1 (DeepSeekMath's per-token KL), aggregated as TRL's `loss_type` says.
 * Metrics use TRL's names: `kl`, `entropy`, `clip_ratio/low_mean`, `clip_ratio/high_mean`,
 * `clip_ratio/region_mean`, and `objective/entropy`.
 */
export function grpoLoss(policy: Transformer, batch: RolloutBatch, advantages: readonly number[], o: GrpoLossOptions): { loss: tf.Scalar; metrics: Record<string, tf.Scalar> } {
  const { tokens, targets: mask } = padExamples(batch.examples);
  const [B, T] = tokens.shape;
  const { logits } = policy.forward(tokens);
  const legalMask = legalLogitMask(batch, policy.config.vocabSize);
  const logp = legalTokenLogProbs(logits, tokens, legalMask);
  const dense = (x: number[][]) => tf.tensor2d(x.map((r) => r.slice(0, T - 1)), [B, T - 1]);
  const adv = tf.tensor2d(advantages as number[], [B, 1]);
  const logRatio = tf.sub(logp, dense(batch.logp));
  const ratio = tf.exp(logRatio);
  const clipped = tf.clipByValue(ratio, 1 - o.epsilon, 1 + o.epsilonHigh);
  let perToken = tf.neg(tf.minimum(tf.mul(ratio, adv), tf.mul(clipped, adv)));
  const refMinusLogp = tf.sub(dense(batch.refLogp), logp);
  const k3 = tf.sub(tf.sub(tf.exp(refMinusLogp), refMinusLogp), 1);
  if (o.beta > 0) perToken = tf.add(perToken, tf.mul(o.beta, k3));
  const masked = tf.mul(perToken, mask);
  let loss: tf.Tensor;
  if (o.lossType === 'grpo') loss = tf.mean(tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(mask, 1), 1)));
  else if (o.lossType === 'bnpo') loss = tf.div(tf.sum(masked), tf.maximum(tf.sum(mask), 1));
  else if (o.lossType === 'dr_grpo') loss = tf.div(tf.sum(masked), B * o.normalizer);
  else loss = tf.div(tf.sum(masked), Math.max(o.normalizer, 1));
  const low = tf.logicalAnd(tf.less(ratio, 1 - o.epsilon), tf.less(adv, 0));
  const high = tf.logicalAnd(tf.greater(ratio, 1 + o.epsilonHigh), tf.greater(adv, 0));
  const ent = maskedMean(entropy(maskedLogits(logits, legalMask)), mask);
  return {
    loss: loss as tf.Scalar,
    metrics: {
      kl: maskedMean(k3, mask),
      entropy: ent,
      'objective/entropy': tf.clone(ent),
      'clip_ratio/low_mean': maskedMean(tf.cast(low, 'float32'), mask),
      'clip_ratio/high_mean': maskedMean(tf.cast(high, 'float32'), mask),
      'clip_ratio/region_mean': maskedMean(tf.cast(tf.logicalOr(low, high), 'float32'), mask),
    },
  };
}
