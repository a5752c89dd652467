/** A proportion with its 95% interval. */
export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
}

const Z95 = 1.959963984540054;

/** Wilson score interval for k successes in n trials (95% by default). */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (n <= 0) return { estimate: Number.NaN, lo: 0, hi: 1 };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // At k = 0 (k = n) the bound is exactly 0 (1); rounding would otherwise leave ~1e-17 and exclude it.
  return { estimate: p, lo: k === 0 ? 0 : Math.max(0, centre - half), hi: k === n ? 1 : Math.min(1, centre + half) };
}

/**
 * Interval for the difference of two independent proportions p₁ − p₂ (Newcombe 1998, method 10: the
 * hybrid of the two Wilson intervals), e.g. a rate after training minus the rate before.
 */
export function differenceInterval(k1: number, n1: number, k2: number, n2: number, z = Z95): Interval {
  const a = wilson(k1, n1, z);
  const b = wilson(k2, n2, z);
  const d = a.estimate - b.estimate;
  return {
    estimate: d,
    lo: d - Math.sqrt((a.estimate - a.lo) ** 2 + (b.hi - b.estimate) ** 2),
    hi: d + Math.sqrt((a.hi - a.estimate) ** 2 + (b.estimate - b.lo) ** 2),
  };
}
