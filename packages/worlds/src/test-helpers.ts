import { Rng } from '@regime-zoo/core';

export { rejected, thrown } from '@regime-zoo/test-utils';
import type { Split, ToyWorld } from './types.js';
import { tokenId } from './vocabulary.js';

export interface Played<S> {
  tokens: number[];
  rewards: number[];
  visible: number;
  hidden: number;
  done: boolean;
  state: S;
}

/**
 * Resets `world`'s `split` environment with seeds 0, 1, … until `accept` likes the first state, then
 * plays the named actions (`['down', 'down']`).
 */
export function play<S>(world: ToyWorld<S>, split: Split, accept: (state: S) => boolean, actions: readonly string[]): Played<S> {
  const env = world.environment(split);
  for (let seed = 0; seed < 2000; seed++) {
    const reset = env.reset(new Rng(seed));
    if (!accept(reset.state)) continue;
    const out: Played<S> = { tokens: [...reset.tokens], rewards: [], visible: 0, hidden: 0, done: false, state: reset.state };
    for (const name of actions) {
      const step = env.step(out.state, tokenId(name));
      out.tokens.push(tokenId(name), ...step.observation);
      out.rewards.push(step.reward);
      out.visible += step.reward;
      out.hidden += step.hidden;
      out.done = step.done;
      out.state = step.state;
    }
    return out;
  }
  throw new Error('no seed gave an accepted first state');
}

/** `n` copies of `name`. */
export const times = (n: number, name: string): string[] => Array.from({ length: n }, () => name);
