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
  if (typeof temperature !== 'number' || !(temperature >= 0) || temperature === Infinity) {
    throw new ZooError('OPTION_INVALID', `sampling options.temperature: must be a finite number ≥ 0 (0 is greedy), got ${temperature}`, { field: 'temperature' });
  }
  if (options.topK !== undefined && !(Number.isInteger(options.topK) && options.topK >= 1)) {
    throw new ZooError('OPTION_INVALID', `sampling options.topK: must be an integer ≥ 1, got ${options.topK}`, { field: 'topK' });
  }
  const banned = options.banned?.length ? new Set(options.banned) : undefined;
  let candidates: readonly number[];
  if (legal && !banned) {
    candidates = legal;
  } else {
    const ids = legal ?? Array.from({ length: logits.length }, (_, id) => id);
    candidates = banned ? ids.filter((id) => !banned.has(id)) : ids;
  }
  if (candidates.length === 0) {
    throw new ZooError('ENV_ERROR', `no token may be sampled: legal ids [${legal ?? 'all'}] are all banned ([${options.banned ?? []}])`, { field: 'legal' });
  }
  if (temperature === 0) {
    // Greedy: the most likely candidate, the lowest id among ties.
    let best = candidates[0]!;
    for (const id of candidates) if (logits[id]! > logits[best]! || (logits[id] === logits[best] && id < best)) best = id;
    return best;
  }
  let pool = candidates;
  if (options.topK !== undefined && options.topK < candidates.length) {
    pool = [...candidates].sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, options.topK);
  }
  // Sampling runs once per row and step in a rollout, so no sort unless top-k needs one.
  let max = -Infinity;
  for (const id of pool) if (logits[id]! > max) max = logits[id]!;
  const weights = new Float64Array(pool.length);
  for (let i = 0; i < pool.length; i++) weights[i] = Math.exp((logits[pool[i]!]! - max) / temperature);
  return pool[rng.categorical(weights)]!;
}
