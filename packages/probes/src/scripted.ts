import { tf, Transformer, ZooError, parameterShapes, parseModelConfig } from '@regime-zoo/core';

export interface ScriptedModelOptions {
  vocabSize: number;
  contextLength?: number;
  /** Width of the residual stream; at least `vocabSize` (default: vocabSize rounded up to a multiple of 4). */
  dModel?: number;
  nLayers?: number;
}

/**
 * A scripted policy wrapped as a real `Transformer`: its next-token logits depend only on the last token,
 * `logits(lastToken)` (a row of `vocabSize` numbers; undefined means uniform). Rollouts restrict them to
 * the world's legal actions, so the policy is softmax(logits) over the legal ids. Built from weights: a
 * one-hot embedding, blocks whose attention and MLP write nothing (the residual stream is the embedding),
 * and an unembedding that maps each token's normalised one-hot row to its logits. Every hook point,
 * rollouts, KV decoding and `runWithCache` work as on a trained model, so probes can be tested against a
 * policy whose U rate is known exactly (and a uniform policy is `scriptedModel(o, () => undefined)`).
 */
export function scriptedModel(o: ScriptedModelOptions, logits: (lastToken: number) => ArrayLike<number> | undefined): Transformer {
  const V = o.vocabSize;
  const d = o.dModel ?? Math.ceil(V / 4) * 4;
  if (d < V) throw new ZooError('CONFIG_INVALID', `scriptedModel: dModel ${d} must be at least vocabSize ${V} (one-hot embeddings)`, { field: 'dModel' });
  const config = parseModelConfig({ vocabSize: V, contextLength: o.contextLength ?? 64, dModel: d, nHeads: 1, nLayers: o.nLayers ?? 1, tiedEmbeddings: false });
  const table = new Float64Array(V * V);
  for (let t = 0; t < V; t++) {
    const row = logits(t);
    if (row === undefined) continue;
    if (row.length !== V) throw new ZooError('SHAPE_MISMATCH', `scriptedModel: logits(${t}) has ${row.length} entries, expected vocabSize ${V}`, { field: 'logits', position: [t] });
    for (let a = 0; a < V; a++) {
      const x = row[a]!;
      if (!Number.isFinite(x)) throw new ZooError('NON_FINITE', `scriptedModel: logits(${t})[${a}] is ${x}; use a large negative number for "never"`, { field: 'logits', position: [t, a] });
      table[t * V + a] = x;
    }
  }
  // LayerNorm of a one-hot row e_t of width d: (e_t − 1/d)/s with s = √(1/d · (1 − 1/d) + eps). So with
  // W_U[t] = s·L[t] (rows ≥ V zero) the logits are L[t] − (1/d)·Σ_t' L[t'], and b_U adds that mean back.
  const s = Math.sqrt((1 / d) * (1 - 1 / d) + config.layerNormEps);
  const wu = new Float32Array(d * V);
  const bu = new Float32Array(V);
  for (let t = 0; t < V; t++) {
    for (let a = 0; a < V; a++) {
      wu[t * V + a] = s * table[t * V + a]!;
      bu[a] = bu[a]! + table[t * V + a]! / d;
    }
  }
  const weights: Record<string, tf.Tensor> = {};
  for (const [name, shape] of parameterShapes(config)) {
    if (name === 'embed.W_E') weights[name] = tf.tidy(() => tf.concat([tf.eye(V), tf.zeros([V, d - V])], 1));
    else if (name === 'unembed.W_U') weights[name] = tf.tensor2d(wu, [d, V]);
    else if (name === 'unembed.b_U') weights[name] = tf.tensor1d(bu);
    else if (/\.w$/.test(name)) weights[name] = tf.ones(shape);
    else weights[name] = tf.zeros(shape);
  }
  try {
    return Transformer.fromWeights(config, weights, { trainable: false });
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/** A scripted model whose policy is the same at every step: logits `row` whatever came before. */
export function constantModel(o: ScriptedModelOptions, row: ArrayLike<number>): Transformer {
  return scriptedModel(o, () => row);
}
