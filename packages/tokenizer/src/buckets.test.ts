import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitReturnBuckets, ReturnBuckets } from './buckets.js';
import type { ReturnBucketsOptions } from './buckets.js';
import { thrown } from './test-helpers.js';
import { createVocabulary } from './vocabulary.js';

const finiteArb = fc.double({ noNaN: true, noDefaultInfinity: true });
const counts = (labels: readonly number[], k: number) => labels.reduce((c, b) => ((c[b] = (c[b] ?? 0) + 1), c), new Array<number>(k).fill(0));
const spread = (c: readonly number[]) => Math.max(...c) - Math.min(...c);

describe('quantile buckets', () => {
  it('should default to K=5 equal-frequency buckets with <rtg:b> tokens', () => {
    const returns = Array.from({ length: 10 }, (_, i) => 9 - i); // 9, 8, …, 0
    const { buckets, labels } = fitReturnBuckets(returns);
    expect([buckets.method, buckets.k, buckets.namespace]).toEqual(['quantile', 5, 'rtg']);
    expect(buckets.edges).toEqual([0, 1.5, 3.5, 5.5, 7.5, 9]);
    expect(labels).toEqual([4, 4, 3, 3, 2, 2, 1, 1, 0, 0]);
    expect(buckets.counts).toEqual([2, 2, 2, 2, 2]);
    expect(buckets.bucket(6)).toEqual({ bucket: 3, token: '<rtg:3>', clipped: null });
    // every bucket token is in a default vocabulary
    const vocab = createVocabulary();
    for (let b = 0; b < 5; b++) expect(vocab.has(buckets.token(b))).toBe(true);
  });

  it('should give equal returns one bucket, fill every bucket, and keep higher returns in higher buckets', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 200 }), fc.array(finiteArb, { minLength: 1, maxLength: 200 })),
        fc.integer({ min: 1, max: 12 }),
        (returns, kWanted) => {
          const k = Math.min(kWanted, new Set(returns.map((r) => (Object.is(r, -0) ? 0 : r))).size);
          const { buckets, labels } = fitReturnBuckets(returns, { method: 'quantile', k });
          expect(labels).toHaveLength(returns.length);
          expect(labels).toEqual(returns.map((r) => buckets.bucket(r).bucket));
          expect(counts(labels, k)).toEqual(buckets.counts);
          expect(Math.min(...buckets.counts)).toBeGreaterThan(0);
          returns.forEach((r, i) => returns.forEach((s, j) => r <= s && expect(labels[i]).toBeLessThanOrEqual(labels[j] as number)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('should map distinct returns by value exactly as it labelled them, so value buckets are equal within 1 too', () => {
    fc.assert(
      fc.property(fc.uniqueArray(finiteArb, { minLength: 1, maxLength: 200, comparator: (a, b) => a === b }), fc.integer({ min: 1, max: 12 }), (returns, kWanted) => {
        const k = Math.min(kWanted, returns.length);
        const { buckets, labels } = fitReturnBuckets(returns, { method: 'quantile', k });
        const byValue = returns.map((r) => buckets.bucket(r).bucket);
        expect(byValue).toEqual(labels);
        expect(spread(counts(byValue, k))).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });

  it('should move a cut that falls inside a run of equal returns to the nearest boundary between values', () => {
    const returns = [0, 0, 0, 0, 0, 0, 1, 2]; // k=2: rank 4 falls inside the run of zeros; the boundary is at rank 6
    const { buckets, labels } = fitReturnBuckets(returns, { method: 'quantile', k: 2 });
    expect(labels).toEqual([0, 0, 0, 0, 0, 0, 1, 1]);
    expect(buckets.counts).toEqual([6, 2]);
    expect(buckets.edges).toEqual([0, 0.5, 2]);
    expect(buckets.bucket(0)).toEqual({ bucket: 0, token: '<rtg:0>', clipped: null });
    expect(buckets.range(1)).toMatchObject({ lo: 0.5, hi: 2, hiInclusive: true, count: 2, mean: 1.5 });
    // The nearer boundary wins: ranks 2 (0|1) and 7 (1|2) around target 4 → 2.
    expect(fitReturnBuckets([0, 0, 1, 1, 1, 1, 1, 2], { method: 'quantile', k: 2 }).labels).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
  });

  it('should refuse more quantile buckets than distinct returns, instead of splitting equal returns', () => {
    const e = thrown(() => fitReturnBuckets([3, 3, 3, 3, 3, 3], { method: 'quantile', k: 3 }));
    expect([e.code, e.field]).toEqual(['OPTION_INVALID', 'k']);
    expect(e.message).toBe(
      "fitReturnBuckets: bad option k: the 6 returns take only 1 distinct value, and equal returns must share a bucket, so 3 quantile buckets cannot all be filled; pass k ≤ 1, or method 'threshold' with your own cuts",
    );
    expect(fitReturnBuckets([3, 3, 3], { method: 'quantile', k: 1 }).labels).toEqual([0, 0, 0]);
  });
});

describe('every method', () => {
  const methods: ReturnBucketsOptions[] = [{ method: 'quantile', k: 4 }, { method: 'uniform', k: 4 }, { method: 'threshold', thresholds: [-1, 0, 2.5] }];

  it('should map out-of-range returns to the end buckets and say so', () => {
    for (const options of methods) {
      const { buckets } = fitReturnBuckets([-5, -1, 0, 1, 2, 3, 4, 10], options);
      expect(buckets.k).toBe(4);
      expect(buckets.bucket(-5.0001)).toEqual({ bucket: 0, token: '<rtg:0>', clipped: 'below' });
      expect(buckets.bucket(-Infinity)).toEqual({ bucket: 0, token: '<rtg:0>', clipped: 'below' });
      expect(buckets.bucket(10.5)).toEqual({ bucket: 3, token: '<rtg:3>', clipped: 'above' });
      expect(buckets.bucket(Infinity)).toEqual({ bucket: 3, token: '<rtg:3>', clipped: 'above' });
      expect(buckets.bucket(-5)).toEqual({ bucket: 0, token: '<rtg:0>', clipped: null });
      expect(buckets.bucket(10)).toEqual({ bucket: 3, token: '<rtg:3>', clipped: null });
    }
  });

  it('should put every in-range return in a bucket whose range holds it', () => {
    const optionsArb = fc.oneof(
      fc.record({ method: fc.constantFrom('quantile' as const, 'uniform' as const), k: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ method: fc.constant('threshold' as const), thresholds: fc.uniqueArray(finiteArb, { minLength: 1, maxLength: 5 }).map((t) => t.sort((a, b) => a - b)) }),
    );
    fc.assert(
      fc.property(fc.array(finiteArb, { minLength: 8, maxLength: 50 }), optionsArb, finiteArb, (returns, options, probe) => {
        fc.pre(options.method !== 'threshold' || options.thresholds.every((t, i, a) => i === 0 || t > (a[i - 1] as number)));
        const { buckets, labels } = fitReturnBuckets(returns, options);
        for (const r of [...returns, probe]) {
          const { bucket, clipped } = buckets.bucket(r);
          const range = buckets.range(bucket);
          if (clipped === 'below') expect(r).toBeLessThan(range.lo);
          else if (clipped === 'above') expect(r).toBeGreaterThan(range.hi);
          else {
            expect(r).toBeGreaterThanOrEqual(range.lo);
            if (range.hiInclusive) expect(r).toBeLessThanOrEqual(range.hi);
            else expect(r).toBeLessThan(range.hi);
          }
        }
        if (options.method !== 'quantile') expect(labels).toEqual(returns.map((r) => buckets.bucket(r).bucket));
        expect(buckets.counts.reduce((a, b) => a + b, 0)).toBe(returns.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('uniform and threshold buckets', () => {
  it('should cut [min, max] into k equal widths', () => {
    const { buckets, labels } = fitReturnBuckets([0, 1, 2, 3, 10], { method: 'uniform', k: 5 });
    expect(buckets.edges).toEqual([0, 2, 4, 6, 8, 10]);
    expect(labels).toEqual([0, 0, 1, 1, 4]);
    expect(buckets.counts).toEqual([2, 2, 0, 0, 1]);
    expect(buckets.range(2)).toEqual({ bucket: 2, token: '<rtg:2>', lo: 4, hi: 6, hiInclusive: false, count: 0, mean: null });
    expect(buckets.range(4)).toEqual({ bucket: 4, token: '<rtg:4>', lo: 8, hi: 10, hiInclusive: true, count: 1, mean: 10 });
  });

  it('should split good from bad at a PHF threshold, a return on the threshold counting as good', () => {
    const { buckets, labels } = fitReturnBuckets([-2, -0.5, 0, 0.5, 3], { method: 'threshold', thresholds: [0], namespace: 'good' });
    expect(buckets.edges).toEqual([-2, 0, 3]);
    expect(labels).toEqual([0, 0, 1, 1, 1]);
    expect(buckets.bucket(0).token).toBe('<good:1>');
    expect(buckets.range(0)).toMatchObject({ lo: -2, hi: 0, count: 2, mean: -1.25 });
    // thresholds outside the data widen the end buckets instead of breaking the order of edges
    expect(fitReturnBuckets([1, 2], { method: 'threshold', thresholds: [5] }).buckets.edges).toEqual([1, 5, 5]);
    expect(fitReturnBuckets([1, 2], { method: 'threshold', thresholds: [-5] }).buckets.edges).toEqual([-5, -5, 2]);
  });
});

describe('JSON', () => {
  it('should save and reload a bucketiser that maps every return the same way', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 5, maxLength: 100 }), fc.array(finiteArb, { maxLength: 20 }), (returns, probes) => {
        // The default 5 quantile buckets need 5 distinct returns (fewer is refused, tested above); ties stay in.
        fc.pre(new Set(returns).size >= 5);
        const { buckets } = fitReturnBuckets(returns.map((r) => r / 7));
        const back = ReturnBuckets.fromJSON(JSON.stringify(buckets));
        expect(back.toJSON()).toEqual(buckets.toJSON());
        for (const r of [...returns, ...probes]) expect(back.bucket(r)).toEqual(buckets.bucket(r));
      }),
      { numRuns: 50 },
    );
  });

  it('should fail clearly on JSON that is not a saved bucketiser', () => {
    const good = fitReturnBuckets([1, 2, 3, 4, 5, 6]).buckets.toJSON();
    const cases: [unknown, RegExp][] = [
      ['nope', /not JSON text/],
      [{ ...good, format: 'regime-zoo/vocabulary' }, /format: .*got 'regime-zoo\/vocabulary'/],
      [{ ...good, version: 7 }, /version 7 is newer .* upgrade/],
      [{ ...good, edges: [3, 2, 4, 5, 6, 7] }, /edges: edges must be non-decreasing/],
      [{ ...good, counts: [1, 1] }, /counts: counts and means need one entry per bucket/],
      [{ ...good, method: 'kmeans' }, /method: /],
    ];
    for (const [json, message] of cases) {
      const e = thrown(() => ReturnBuckets.fromJSON(json));
      expect(e.code).toBe('BAD_JSON');
      expect(e.message).toMatch(message);
    }
  });
});

describe('errors', () => {
  it('should refuse empty, non-finite and too-small datasets and bad options at fit time', () => {
    expect(thrown(() => fitReturnBuckets([])).code).toBe('EMPTY_DATASET');
    const nan = thrown(() => fitReturnBuckets([1, 2, NaN, 4, 5, 6]));
    expect([nan.code, nan.field, nan.position, nan.symbol]).toEqual(['BAD_RETURN', 'returns', [2], 'NaN']);
    const inf = thrown(() => fitReturnBuckets([1, Infinity], { method: 'uniform', k: 1 }));
    expect([inf.code, inf.position]).toEqual(['BAD_RETURN', [1]]);
    const few = thrown(() => fitReturnBuckets([1, 2, 3]));
    expect([few.code, few.field]).toEqual(['OPTION_INVALID', 'k']);
    expect(few.message).toMatch(/5 quantile buckets need at least 5 returns, the dataset has 3; pass k ≤ 3/);
    const order = thrown(() => fitReturnBuckets([1, 2], { method: 'threshold', thresholds: [1, 1] }));
    expect([order.code, order.field]).toEqual(['OPTION_INVALID', 'thresholds']);
    expect(order.message).toMatch(/thresholds must be strictly increasing/);
    expect(thrown(() => fitReturnBuckets([1, 2], { method: 'uniform', k: 0 })).field).toBe('k');
    expect(thrown(() => fitReturnBuckets([1, 2], { method: 'kmeans' } as never)).field).toBe('method');
    expect(thrown(() => fitReturnBuckets([1, 2], { method: 'uniform', k: 2, K: 3 } as never)).code).toBe('OPTION_INVALID');
  });

  it('should refuse NaN returns and unknown buckets after fitting', () => {
    const { buckets } = fitReturnBuckets([1, 2, 3, 4, 5]);
    expect(thrown(() => buckets.bucket(NaN)).code).toBe('BAD_RETURN');
    expect(thrown(() => buckets.range(5)).code).toBe('UNKNOWN_BUCKET');
    expect(thrown(() => buckets.token(-1)).code).toBe('UNKNOWN_BUCKET');
  });
});
