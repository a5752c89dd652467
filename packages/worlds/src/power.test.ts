import { describe, expect, it } from 'vitest';
import { computePower, enumerateMdp, type FiniteMdp } from './power.js';
import { thrown } from './test-helpers.js';

/** State 0 chooses among n absorbing states 1 … n. */
const fan = (n: number): FiniteMdp => ({ successors: [Array.from({ length: n }, (_, i) => i + 1), ...Array.from({ length: n }, (_, i) => [i + 1])] });

describe('computePower', () => {
  it('should give a state with n absorbing choices POWER n/(n+1) within 0.01, for any γ', () => {
    for (const gamma of [0.5, 0.9, 0.99]) {
      for (const n of [1, 2, 3, 5, 8]) {
        const power = computePower(fan(n), { gamma, samples: 20_000, seed: n });
        expect(Math.abs(power[0]! - n / (n + 1))).toBeLessThan(0.01);
        for (let s = 1; s <= n; s++) expect(Math.abs(power[s]! - 0.5)).toBeLessThan(0.01);
      }
    }
  });

  it('should rank a hub above a corridor to one terminal, and be deterministic given the seed', () => {
    // 0 -> {1, 2}; 1 -> {3} (a corridor to one terminal); 2 -> {4, 5, 6} (a hub); 3..6 absorbing.
    const mdp: FiniteMdp = { successors: [[1, 2], [3], [4, 5, 6], [3], [4], [5], [6]] };
    const a = computePower(mdp, { samples: 5000, seed: 7 });
    expect(Math.abs(a[1]! - 1 / 2)).toBeLessThan(0.02); // one absorbing choice: 1/(1+1)
    expect(Math.abs(a[2]! - 3 / 4)).toBeLessThan(0.02); // three: 3/4
    expect(computePower(mdp, { samples: 5000, seed: 7 })).toEqual(a);
    expect(computePower(mdp, { samples: 5000, seed: 8 })).not.toEqual(a);
  });

  it('should enumerate a world-like MDP with absorbing terminals', () => {
    // A corridor 0 - 1 - 2 where 2 ends the episode.
    const mdp = enumerateMdp(0, {
      legalActions: (s) => (s === 0 ? [1] : [0, 2]),
      step: (s, a) => ({ state: s === 1 ? (a === 0 ? 0 : 2) : 1, done: s === 1 && a === 2 }),
      key: String,
    });
    expect(mdp.successors).toEqual([[1], [0, 2], [2]]);
  });

  it('should reject bad options and successors', () => {
    expect(thrown(() => computePower(fan(2), { gamma: 1 })).code).toBe('OPTION_INVALID');
    expect(thrown(() => computePower({ successors: [[3]] })).code).toBe('BAD_INPUT');
  });
});
