import { describe, expect, it } from 'vitest';
import { auroc, meanInterval, ranks, spearman } from './stats.js';

describe('statistics', () => {
  it('should compute AUROC as the Mann–Whitney probability, ties counting one half', () => {
    // scikit-learn's roc_auc_score example: 0.75.
    expect(auroc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]).estimate).toBeCloseTo(0.75, 12);
    expect(auroc([1, 1, 1, 1], [false, true, false, true]).estimate).toBeCloseTo(0.5, 12);
    const perfect = auroc([0, 1, 2, 3, 4, 5], [false, false, false, true, true, true]);
    expect(perfect).toMatchObject({ estimate: 1, hi: 1 });
    expect(Number.isNaN(auroc([1, 2], [true, true]).estimate)).toBe(true);
  });

  it('should give the Hanley–McNeil (1982) standard error, √((A(1−A) + (n₁−1)(Q₁−A²) + (n₀−1)(Q₂−A²))/(n₁n₀))', () => {
    // Their CT example's sizes: 51 abnormal, 58 normal cases, A ≈ 0.893.
    // Scores arranged so the Mann–Whitney A is 2642/2958 = 0.8932 (ranks, not values, matter).
    const labels = [...Array.from({ length: 51 }, () => true), ...Array.from({ length: 58 }, () => false)];
    const wins = 2642;
    // Positive i beats every negative with a lower score: give positives scores spread among negatives.
    const neg = Array.from({ length: 58 }, (_, j) => j);
    let left = wins;
    const pos = Array.from({ length: 51 }, (_, i) => {
      const beat = Math.min(58, Math.round(left / (51 - i)));
      left -= beat;
      return beat - 0.5;
    });
    const a = auroc([...pos, ...neg], labels);
    expect(a.estimate).toBeCloseTo(wins / (51 * 58), 12);
    const A = wins / (51 * 58);
    const q1 = A / (2 - A);
    const q2 = (2 * A * A) / (1 + A);
    const se = Math.sqrt((A * (1 - A) + 50 * (q1 - A * A) + 57 * (q2 - A * A)) / (51 * 58));
    expect(se).toBeCloseTo(0.0325, 4);
    expect((a.hi - a.lo) / (2 * 1.959963984540054)).toBeCloseTo(se, 12);
  });

  it('should rank ties by their average and give normal mean intervals', () => {
    expect(ranks([10, 20, 20, 30])).toEqual([1, 2.5, 2.5, 4]);
    const m = meanInterval([1, 2, 3, 4, 5]);
    expect(m.estimate).toBe(3);
    expect(m.hi - m.estimate).toBeCloseTo((1.959963984540054 * Math.sqrt(2.5)) / Math.sqrt(5), 12);
    expect(spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]).estimate).toBeCloseTo(-1, 12);
  });
});
