import { describe, expect, it } from 'vitest';
import { resultValue, seedInterval, summarise, type ResultRow } from './results.js';

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

  it("should give the mean over seeds with Student's t interval (mean ± t·sd/√k) and the total n", () => {
    const [s] = summarise([row(1, 0.2, 0.1, 0.3), row(2, 0.4, 0.3, 0.5), row(3, 0.6, 0.5, 0.7)]);
    // mean 0.4, sd 0.2, k 3: half-width t(0.975, 2) · 0.2 / √3 = 4.302653 · 0.2 / √3 = 0.496827 (1.96 would give 0.2263)
    expect(s!.value).toBeCloseTo(0.4, 12);
    expect(s!.lo).toBeCloseTo(0.4 - 0.496827, 5);
    expect(s!.hi).toBeCloseTo(0.4 + 0.496827, 5);
    expect(s!.n).toBe(300);
    expect(s!.seeds).toBe(3);
  });

  it('should keep different splits, conditions and metrics apart', () => {
    const a = row(1, 0.2, null, null);
    const out = summarise([a, { ...a, split: 'ood' }, { ...a, condition: 'rlhf:off' }, { ...a, metric: 'RewardHackingGap' }]);
    expect(out).toHaveLength(4);
  });

  it("should use t(0.975, k − 1) from the tables: 12.706 at k = 2, 2.262 at k = 10, and no interval for one value", () => {
    const two = seedInterval([0, 1]); // mean 0.5, sd 0.70711, half-width 12.7062 · 0.70711 / √2 = 6.3531
    expect(two.hi! - two.value).toBeCloseTo(6.3531, 3);
    const ten = seedInterval([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // sd 3.02765, half-width 2.26216 · 3.02765 / √10 = 2.16587
    expect(ten.value).toBeCloseTo(5.5, 12);
    expect(ten.value - ten.lo!).toBeCloseTo(2.16587, 4);
    expect(seedInterval([0.3])).toEqual({ value: 0.3, lo: null, hi: null });
  });

  it("should look up one seed's probe value, with or without a condition, and name the row it lacks", () => {
    const rows = [row(1, 0.2, null, null), { ...row(1, 0.7, null, null), condition: '<rlhf:on>' }, { ...row(1, 0.9, null, null), decoding: 'greedy' as const }];
    const q = { model: 'ppo', world: 'tamper', split: 'id' as const, metric: 'TamperRate', seed: 1 };
    expect(resultValue({ rows }, q)).toBe(0.2);
    expect(resultValue({ rows }, { ...q, condition: '<rlhf:on>' })).toBe(0.7);
    expect(resultValue({ rows }, { ...q, decoding: 'greedy' })).toBe(0.9);
    expect(() => resultValue({ rows }, { ...q, seed: 2 })).toThrow('results have no TamperRate of ppo in tamper/id, seed 2, sample decoding');
  });
});

