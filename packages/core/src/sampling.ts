import { ZooError } from './errors.js';
import type { Rng } from './rng.js';

export interface SampleOptions {
  /** Softmax temperature; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (after masking). Default: all. */
  topK?: number;
  /** Token ids that may never be sampled (PHF bans its control tokens at sampling time). */
  banned?: readonly number[];
}

/**
 * Samples one token id from a row of logits, restricted to `legal` ids (all when undefined) minus
 * `banned`, with temperature and top-k. Runs in JS on one row so that it is seeded by `rng` and exact.
 */
export function sampleToken(logits: ArrayLike<number>, rng: Rng, options: SampleOptions = {}, legal?: readonly number[]): number {
  const temperature = options.temperature ?? 1;
  const banned = options.banned ? new Set(options.banned) : undefined;
  const candidates: number[] = [];
  if (legal) {
    for (const id of legal) if (!banned?.has(id)) candidates.push(id);
  } else {
    for (let id = 0; id < logits.length; id++) if (!banned?.has(id)) candidates.push(id);
  }
  if (candidates.length === 0) {
    throw new ZooError('ENV_ERROR', `no token may be sampled: legal ids [${legal ?? 'all'}] are all banned ([${options.banned ?? []}])`, { field: 'legal' });
  }
  candidates.sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (temperature === 0) return candidates[0]!;
  const k = Math.min(options.topK ?? candidates.length, candidates.length);
  const top = candidates.slice(0, k);
  const max = logits[top[0]!]!;
  const weights = top.map((id) => Math.exp((logits[id]! - max) / temperature));
  return top[rng.categorical(weights)]!;
}
