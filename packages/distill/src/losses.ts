import { legalLogitMask, maskedMean, padExamples, tf, type Transformer } from '@regime-zoo/core';
import type { DistillExample } from './data.js';

/**
 * The generalized Jensen–Shannon divergence of GKD (Agarwal et al. 2024), per position and summed over the
 * vocabulary, from log-probabilities [B, T, V] of teacher (P_T) and student (P_S), as TRL's
 * `generalized_jsd_loss`: with M = β·P_T + (1 − β)·P_S,
 * JSD_β = β·KL(P_T ‖ M) + (1 − β)·KL(P_S ‖ M) for 0 < β < 1; β = 0 is the forward KL(P_T ‖ P_S) and β = 1
 * the reverse KL(P_S ‖ P_T). Call inside `tf.tidy`.
 */
export function generalizedJsd(teacherLogp: tf.Tensor3D, studentLogp: tf.Tensor3D, beta: number): tf.Tensor2D {
  const kl = (lp: tf.Tensor, lq: tf.Tensor) => tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)), -1) as tf.Tensor2D;
  if (beta === 0) return kl(teacherLogp, studentLogp);
  if (beta === 1) return kl(studentLogp, teacherLogp);
  // log M by the max trick: log(β·e^a + (1−β)·e^b) = m + log(β·e^(a−m) + (1−β)·e^(b−m)), m = max(a, b).
  const a = tf.add(teacherLogp, Math.log(beta));
  const b = tf.add(studentLogp, Math.log(1 - beta));
  const m = tf.maximum(a, b);
  const logM = tf.add(m, tf.log(tf.add(tf.exp(tf.sub(a, m)), tf.exp(tf.sub(b, m)))));
  return tf.add(tf.mul(beta, kl(teacherLogp, logM)), tf.mul(1 - beta, kl(studentLogp, logM))) as tf.Tensor2D;
}

/**
 * A batch ready for a loss: padded tokens [B, T], targets [B, T−1] (the actions), the legal-action mask
 * [B, T−1, V] and the teacher's logits at those positions with the mask added [B, T−1, V]. Made outside
 * the gradient tape (the teacher is only read) and disposed by the caller.
 */
export interface PreparedBatch {
  tokens: tf.Tensor2D;
  targets: tf.Tensor2D;
  legalMask: tf.Tensor3D;
  teacherLogits: tf.Tensor3D;
}

/** The first T−1 positions' logits (those that predict tokens 1..T−1) with the legal mask added. */
export function legalLogits(logits: tf.Tensor3D, legalMask: tf.Tensor3D): tf.Tensor3D {
  const [B, T, V] = logits.shape;
  return tf.add(tf.slice(logits, [0, 0, 0], [B, T - 1, V]), legalMask) as tf.Tensor3D;
}

export function prepareBatch(teacher: Transformer, examples: readonly DistillExample[]): PreparedBatch {
  return tf.tidy(() => {
    const { tokens, targets } = padExamples(examples);
    const legalMask = legalLogitMask({ mask: targets.arraySync(), legal: examples.map((e) => e.legal) }, teacher.config.vocabSize);
    return { tokens, targets, legalMask, teacherLogits: legalLogits(teacher.forward(tokens).logits, legalMask) };
  });
}

export function disposeBatch(b: PreparedBatch | undefined): void {
  if (b) tf.dispose([b.tokens, b.targets, b.legalMask, b.teacherLogits]);
}

/**
 * The diagnostics both distillers log, averaged over action positions, at temperature 1 and over the
 * legal actions: `objective/kl` = KL(teacher ‖ student) per token (exact, the divergence distillation
 * minimises), `objective/entropy` of the student, and SFTTrainer's `mean_token_accuracy` (the student's
 * most likely action is the one taken). `studentLogits` are `legalLogits` of the student. Call inside `tf.tidy`.
 */
export function distillDiagnostics(studentLogits: tf.Tensor3D, b: PreparedBatch): Record<string, tf.Scalar> {
  const ls = tf.logSoftmax(studentLogits);
  const lt = tf.logSoftmax(b.teacherLogits);
  const [B, T1] = b.targets.shape;
  const next = tf.slice(b.tokens, [0, 1], [B, T1]);
  return {
    'objective/kl': maskedMean(tf.sum(tf.mul(tf.exp(lt), tf.sub(lt, ls)), -1), b.targets),
    'objective/entropy': maskedMean(tf.neg(tf.sum(tf.mul(tf.exp(ls), ls), -1)), b.targets),
    mean_token_accuracy: maskedMean(tf.cast(tf.equal(tf.argMax(studentLogits, -1), tf.cast(next, 'int32')), 'float32'), b.targets),
  };
}

/** log π_S of each taken token [B, T−1] from the student's legal logits. Call inside `tf.tidy`. */
export function takenLogProbs(studentLogits: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor2D {
  const [B, T1, V] = studentLogits.shape;
  const next = tf.slice(tokens, [0, 1], [B, T1]);
  return tf.sum(tf.mul(tf.logSoftmax(studentLogits), tf.oneHot(tf.cast(next, 'int32'), V)), -1) as tf.Tensor2D;
}
