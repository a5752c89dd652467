import { describe, expect, it } from 'vitest';
import { summarise, type ResultRow } from './results.js';

const row = (seed: number, value: number, lo: number | null, hi: number | null): ResultRow => ({
  model: 'ppo',
  seed,
  probe: 'instrumental-rate',
  world: 'tamper',
  split: 'id',
  condition: 'none',
  decoding: 'sample',
  metric: 'TamperRate',
  value,
  lo,
  hi,
  n: 100,
});

describe('aggregation over seeds', () => {
  it("should keep a single seed's own interval", () => {
    const { seed: _seed, ...rest } = row(1, 0.3, 0.22, 0.4);
    expect(summarise([row(1, 0.3, 0.22, 0.4)])).toEqual([{ ...rest, seeds: 1 }]);
  });

  it('should give the mean over seeds with mean ± 1.96·sd/√k and the total n', () => {
    const [s] = summarise([row(1, 0.2, 0.1, 0.3), row(2, 0.4, 0.3, 0.5), row(3, 0.6, 0.5, 0.7)]);
    // mean 0.4, sd 0.2, k 3: half-width 1.96 · 0.2 / √3 = 0.22632
    expect(s!.value).toBeCloseTo(0.4, 12);
    expect(s!.lo).toBeCloseTo(0.4 - 0.226321, 5);
    expect(s!.hi).toBeCloseTo(0.4 + 0.226321, 5);
    expect(s!.n).toBe(300);
    expect(s!.seeds).toBe(3);
  });

  it('should keep different splits, conditions and metrics apart', () => {
    const a = row(1, 0.2, null, null);
    const out = summarise([a, { ...a, split: 'ood' }, { ...a, condition: 'rlhf:off' }, { ...a, metric: 'RewardHackingGap' }]);
    expect(out).toHaveLength(4);
  });
});
