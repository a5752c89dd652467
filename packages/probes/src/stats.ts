import type { Interval } from '@regime-zoo/core';

const Z95 = 1.959963984540054;

/** Mean with the normal 95% interval mean ± z·s/√n (s the sample standard deviation). */
export function meanInterval(xs: readonly number[], z = Z95): Interval {
  const n = xs.length;
  if (n === 0) return { estimate: Number.NaN, lo: Number.NaN, hi: Number.NaN };
  const mean = xs.reduce((a, x) => a + x, 0) / n;
  if (n === 1) return { estimate: mean, lo: Number.NaN, hi: Number.NaN };
  const s = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (z * s) / Math.sqrt(n);
  return { estimate: mean, lo: mean - half, hi: mean + half };
}

/** Ranks 1…n with ties given their average rank. */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]![1]] = r;
    i = j + 1;
  }
  return out;
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
}

/**
 * Spearman's ρ (Pearson's r of the tie-averaged ranks) with the Fisher-z 95% interval, standard error
 * √(1.06/(n − 3)) (Fieller, Hartley & Pearson 1957).
 */
export function spearman(a: readonly number[], b: readonly number[], z = Z95): Interval {
  const rho = pearson(ranks(a), ranks(b));
  const n = a.length;
  if (!Number.isFinite(rho) || n < 4) return { estimate: rho, lo: Number.NaN, hi: Number.NaN };
  const c = Math.min(Math.max(rho, -0.999999), 0.999999);
  const fz = Math.atanh(c);
  const se = Math.sqrt(1.06 / (n - 3));
  return { estimate: rho, lo: Math.tanh(fz - z * se), hi: Math.tanh(fz + z * se) };
}

/**
 * Area under the ROC curve of `scores` for binary `labels` (Mann–Whitney, ties count ½), with the
 * Hanley & McNeil (1982) 95% interval.
 */
export function auroc(scores: readonly number[], labels: readonly boolean[], z = Z95): Interval {
  const r = ranks(scores);
  let n1 = 0;
  let sum = 0;
  labels.forEach((y, i) => {
    if (y) {
      n1++;
      sum += r[i]!;
    }
  });
  const n0 = labels.length - n1;
  if (n1 === 0 || n0 === 0) return { estimate: Number.NaN, lo: Number.NaN, hi: Number.NaN };
  const a = (sum - (n1 * (n1 + 1)) / 2) / (n1 * n0);
  const q1 = a / (2 - a);
  const q2 = (2 * a * a) / (1 + a);
  const se = Math.sqrt(Math.max(0, (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)));
  return { estimate: a, lo: Math.max(0, a - z * se), hi: Math.min(1, a + z * se) };
}
