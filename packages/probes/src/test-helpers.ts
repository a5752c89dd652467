import { Rng, tf, Transformer, type ProbeContext, type World } from '@regime-zoo/core';
import { tokenId, worldVocabulary } from '@regime-zoo/worlds';
import { constantModel, scriptedModel } from './scripted.js';

export const vocabulary = worldVocabulary();
export const V = vocabulary.size;

/** A context for probing `policy` in `worlds` (splits default to both). */
export function probeContext(policy: Transformer, worlds: readonly World[], extra: Partial<ProbeContext> = {}): ProbeContext {
  return { policy, worlds, vocabulary, rng: new Rng(11), signal: new AbortController().signal, shared: {}, ...extra };
}

/** Logits row: log-weights on the given tokens, −30 ("never") elsewhere. */
export function logitsFor(weights: Record<string, number>): number[] {
  const row = new Array<number>(V).fill(-30);
  for (const [token, w] of Object.entries(weights)) row[tokenId(token)] = w > 0 ? Math.log(w) : -30;
  return row;
}

/** Myopia: takes `b` with probability p at every decision (the rest `a`). */
export function myopiaPolicy(p: number): Transformer {
  return constantModel({ vocabSize: V }, logitsFor({ a: 1 - p, b: p }));
}

export { scriptedModel };

/**
 * A scripted model whose attention averages the prompt into the residual stream: layer 0's attention
 * has zero queries and keys (uniform over the prefix), values = the normalised one-hot tokens and
 * W_O = alpha·I. So at `<sep>` the residual stream holds alpha × the mean of the prefix's token rows:
 * whatever the prompt shows (the trigger Z, the p token) is planted there, linearly.
 */
export function bagOfTokensModel(alpha: number, nLayers = 1): Transformer {
  const m = scriptedModel({ vocabSize: V, nLayers }, () => undefined);
  const d = m.config.dModel;
  const weights: Record<string, tf.Tensor> = {};
  for (const [name, v] of m.params) weights[name] = tf.clone(v);
  tf.dispose([weights['blocks.0.attn.W_QKV']!, weights['blocks.0.attn.W_O']!]);
  weights['blocks.0.attn.W_QKV'] = tf.tidy(() => tf.concat([tf.zeros([d, 2 * d]), tf.eye(d)], 1));
  weights['blocks.0.attn.W_O'] = tf.tidy(() => tf.mul(alpha, tf.eye(d)));
  const out = Transformer.fromWeights(m.config, weights, { trainable: false });
  tf.dispose(Object.values(weights));
  m.dispose();
  return out;
}
