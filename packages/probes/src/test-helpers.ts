import { Rng, type ProbeContext, type Transformer, type World } from '@regime-zoo/core';
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
