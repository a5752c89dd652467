import * as tf from '@tensorflow/tfjs-core';
import { xorshift } from './random.js';

export { xorshift };

/**
 * Checks the tfjs way that `fn` leaks no tensors: one warm-up call (kernels may cache tensors the
 * first time), then `tf.memory().numTensors` before and after a second call must be equal.
 * Returns the second call's result.
 */
export async function expectNoTensorLeak<T>(fn: () => T | Promise<T>, label = 'function'): Promise<T> {
  await fn();
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`${label} leaked ${after - before} tensor(s): ${before} before, ${after} after`);
  }
  return result;
}

/** A tiny model config for fast tests (about 10k parameters). */
export const tinyConfig = {
  vocabSize: 16,
  contextLength: 32,
  dModel: 16,
  nHeads: 2,
  nLayers: 2,
  seed: 1,
} as const;

/** Deterministic pseudo-random integer rows in [lo, hi), for fixtures. */
export function fixtureTokens(rows: number, cols: number, seed = 1, lo = 1, hi = 16): number[][] {
  const u = xorshift(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => lo + Math.floor(u() * (hi - lo))));
}

/** The shape of core's `ZooError`, checked structurally (this package depends on nothing). */
export type CodedError = Error & { code: string; field?: string; position?: number[]; step?: number; plugin?: string; hook?: string; symbol?: string };

function asZooError(e: unknown): CodedError {
  if (!(e instanceof Error) || e.name !== 'ZooError') throw new Error(`expected a ZooError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  return e as CodedError;
}

/** Runs `fn`, expects it to throw a `ZooError`, and returns it for further checks. */
export function thrown(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (e) {
    return asZooError(e);
  }
  throw new Error('expected a ZooError, but nothing was thrown');
}

/** Awaits `p` (or calls `fn` and awaits it), expects a `ZooError`, and returns it. */
export async function rejected(p: Promise<unknown> | (() => unknown)): Promise<CodedError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return asZooError(e);
  }
  throw new Error('expected a ZooError, but nothing was thrown');
}

/** Largest absolute elementwise difference of two equally shaped arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
export { posteriorFixture, tiltedPosterior, klDivergence, sampleIndices, stopChoiceWorld } from './posterior.js';
export type { PosteriorFixture, PosteriorWorldLike, PosteriorSequenceLike } from './posterior.js';
