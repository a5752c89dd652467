import { Rng, ZooError } from '@regime-zoo/core';
import type { Outcome } from './types.js';

/** Checks that `outcomes` is a distribution (non-empty, probabilities ≥ 0 summing to 1); `ENV_ERROR` naming `where` otherwise. */
export function checkOutcomes<S>(where: string, outcomes: readonly Outcome<S>[]): readonly Outcome<S>[] {
  if (outcomes.length === 0) throw new ZooError('ENV_ERROR', `${where}: outcomes(state, action) returned no outcome; a legal action has at least one`);
  let total = 0;
  outcomes.forEach((o, i) => {
    if (!(o.probability >= 0) || !Number.isFinite(o.probability)) {
      throw new ZooError('ENV_ERROR', `${where}: outcome ${i} has probability ${o.probability}; probabilities are finite and ≥ 0`, { position: [i] });
    }
    total += o.probability;
  });
  if (Math.abs(total - 1) > 1e-9) throw new ZooError('ENV_ERROR', `${where}: the outcomes' probabilities sum to ${total}, not 1`);
  return outcomes;
}

/** The outcome a uniform draw `u` in [0, 1) picks (by cumulative probability, in the order given). */
export function sampleOutcome<S>(outcomes: readonly Outcome<S>[], u: number): Outcome<S> {
  let acc = 0;
  for (const o of outcomes) {
    acc += o.probability;
    if (u < acc) return o;
  }
  for (let i = outcomes.length - 1; i >= 0; i--) if (outcomes[i]!.probability > 0) return outcomes[i]!;
  return outcomes[outcomes.length - 1]!;
}

/**
 * A uniform number in [0, 1) fixed by an episode's `seed` (drawn at reset, kept in the state) and a
 * step's index `t`: the dice of a stochastic world, read only by its `draw`, so `step` stays a pure
 * function of the state while every step of an episode gets a fresh draw.
 */
export function chance(seed: number, t: number): number {
  return new Rng((Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(t + 1, 0x9e3779b9)) >>> 0).next();
}
