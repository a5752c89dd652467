import { ZooError } from '@regime-zoo/core';
import { z } from 'zod';
import { parseWith, show } from './errors.js';
import { NAMESPACE_PATTERN, NAMESPACE_RULE } from './grammar.js';

export type BucketMethod = 'quantile' | 'uniform' | 'threshold';

/** Options of `fitReturnBuckets`; the default is `{ method: 'quantile', k: 5 }` (Quark). */
export type ReturnBucketsOptions =
  | { method?: 'quantile'; k?: number; namespace?: string }
  | { method: 'uniform'; k?: number; namespace?: string }
  | { method: 'threshold'; thresholds: number[]; namespace?: string };

/** Where a return falls: its bucket, that bucket's token, and whether it lay outside the fitted range. */
export interface BucketAssignment {
  bucket: number;
  token: string;
  /** `'below'` / `'above'` when the return lay outside `[edges[0], edges[k]]` and was put in the end bucket. */
  clipped: 'below' | 'above' | null;
}

/** What a bucket stands for. */
export interface BucketRange {
  bucket: number;
  token: string;
  /** Returns `r` with `lo <= r < hi` map to this bucket (`lo <= r <= hi` for the last bucket). */
  lo: number;
  hi: number;
  hiInclusive: boolean;
  /** Returns of the fitted dataset labelled with this bucket, and their mean (`null` when none). */
  count: number;
  mean: number | null;
}

export const BUCKETS_FORMAT = 'regime-zoo/return-buckets';
export const BUCKETS_FORMAT_VERSION = 1;

export interface ReturnBucketsJSON {
  format: typeof BUCKETS_FORMAT;
  version: typeof BUCKETS_FORMAT_VERSION;
  method: BucketMethod;
  namespace: string;
  edges: number[];
  counts: number[];
  means: (number | null)[];
}

const MAX_K = 4096;
const kSchema = z.number().int().min(1).max(MAX_K);
const namespaceSchema = z.string().regex(NAMESPACE_PATTERN, NAMESPACE_RULE).default('rtg');
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const optionsSchema = z.discriminatedUnion('method', [
  z.strictObject({ method: z.literal('quantile'), k: kSchema.default(5), namespace: namespaceSchema }),
  z.strictObject({ method: z.literal('uniform'), k: kSchema.default(5), namespace: namespaceSchema }),
  z.strictObject({
    method: z.literal('threshold'),
    thresholds: z
      .array(finite)
      .min(1)
      .max(MAX_K - 1)
      .refine((t) => t.every((x, i) => i === 0 || x > (t[i - 1] as number)), 'thresholds must be strictly increasing'),
    namespace: namespaceSchema,
  }),
]);
const jsonSchema = z
  .strictObject({
    format: z.literal(BUCKETS_FORMAT),
    version: z.literal(BUCKETS_FORMAT_VERSION),
    method: z.enum(['quantile', 'uniform', 'threshold']),
    namespace: z.string().regex(NAMESPACE_PATTERN, NAMESPACE_RULE),
    edges: z.array(finite).min(2).max(MAX_K + 1),
    counts: z.array(z.number().int().min(0)),
    means: z.array(finite.nullable()),
  })
  .refine((j) => j.edges.every((x, i) => i === 0 || x >= (j.edges[i - 1] as number)), { message: 'edges must be non-decreasing', path: ['edges'] })
  .refine((j) => j.counts.length === j.edges.length - 1 && j.means.length === j.edges.length - 1, {
    message: 'counts and means need one entry per bucket (edges.length - 1)',
    path: ['counts'],
  });

/** Number of inner edges `edges[1 .. k-1]` that are `<= r`: the bucket of an in-range return. */
function upperBound(edges: readonly number[], r: number): number {
  let lo = 1;
  let hi = edges.length - 1; // search edges[1 .. k-1]
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((edges[mid] as number) <= r) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

interface Init {
  method: BucketMethod;
  namespace: string;
  edges: readonly number[];
  counts: readonly number[];
  means: readonly (number | null)[];
}

let construct: (init: Init) => ReturnBuckets;

/**
 * A fitted return bucketiser: `k` buckets with `edges[0] <= … <= edges[k]`; bucket `b` stands for returns
 * in `[edges[b], edges[b+1])` (the last bucket also holds `edges[k]`) and has the token `<namespace:b>`
 * (`<rtg:b>` by default). Bucket 0 holds the lowest returns.
 */
export class ReturnBuckets {
  readonly method: BucketMethod;
  readonly namespace: string;
  readonly k: number;
  readonly edges: readonly number[];
  readonly counts: readonly number[];
  readonly means: readonly (number | null)[];

  static {
    construct = (init) => new ReturnBuckets(init);
  }

  private constructor(init: Init) {
    this.method = init.method;
    this.namespace = init.namespace;
    this.edges = Object.freeze([...init.edges]);
    this.k = this.edges.length - 1;
    this.counts = Object.freeze([...init.counts]);
    this.means = Object.freeze([...init.means]);
  }

  /** Reads buckets saved by `toJSON()` (an object, or its JSON text); fails with `BAD_JSON` saying what is wrong. */
  static fromJSON(json: unknown): ReturnBuckets {
    let data = json;
    if (typeof json === 'string') {
      try {
        data = JSON.parse(json);
      } catch (e) {
        throw new ZooError('BAD_JSON', `ReturnBuckets.fromJSON: not JSON text: ${(e as Error).message}`, { cause: e });
      }
    }
    const head = (data ?? {}) as { format?: unknown; version?: unknown };
    if (typeof head.version === 'number' && head.format === BUCKETS_FORMAT && head.version > BUCKETS_FORMAT_VERSION) {
      throw new ZooError(
        'BAD_JSON',
        `ReturnBuckets.fromJSON: format version ${head.version} is newer than this @regime-zoo/tokenizer reads (${BUCKETS_FORMAT_VERSION}); upgrade @regime-zoo/tokenizer`,
        { field: 'version' },
      );
    }
    return new ReturnBuckets(parseWith(jsonSchema, data, 'ReturnBuckets.fromJSON', 'BAD_JSON'));
  }

  toJSON(): ReturnBucketsJSON {
    return {
      format: BUCKETS_FORMAT,
      version: BUCKETS_FORMAT_VERSION,
      method: this.method,
      namespace: this.namespace,
      edges: [...this.edges],
      counts: [...this.counts],
      means: [...this.means],
    };
  }

  /** The token of bucket `b`, `<rtg:b>` by default. */
  token(b: number): string {
    this.check(b);
    return `<${this.namespace}:${b}>`;
  }

  /**
   * The bucket of return `r`. A return below `edges[0]` goes to bucket 0 with `clipped: 'below'`, one
   * above `edges[k]` to bucket k-1 with `clipped: 'above'`. NaN fails with `BAD_RETURN`.
   */
  bucket(r: number): BucketAssignment {
    if (typeof r !== 'number' || Number.isNaN(r)) {
      throw new ZooError('BAD_RETURN', `bucket: return ${show(r)} is not a number; pass a finite return`, { symbol: String(r) });
    }
    const first = this.edges[0] as number;
    const last = this.edges[this.k] as number;
    let b: number;
    let clipped: BucketAssignment['clipped'] = null;
    if (r < first) [b, clipped] = [0, 'below'];
    else if (r > last) [b, clipped] = [this.k - 1, 'above'];
    else b = upperBound(this.edges, r);
    return { bucket: b, token: `<${this.namespace}:${b}>`, clipped };
  }

  /** What bucket `b` stands for: the range `[lo, hi)` of returns and the fitted data's count and mean in it. */
  range(b: number): BucketRange {
    this.check(b);
    return {
      bucket: b,
      token: `<${this.namespace}:${b}>`,
      lo: this.edges[b] as number,
      hi: this.edges[b + 1] as number,
      hiInclusive: b === this.k - 1,
      count: this.counts[b] as number,
      mean: this.means[b] as number | null,
    };
  }

  private check(b: number): void {
    if (!Number.isInteger(b) || b < 0 || b >= this.k) {
      throw new ZooError('UNKNOWN_BUCKET', `unknown bucket ${show(b)}: buckets are integers from 0 to ${this.k - 1}`, { symbol: String(b) });
    }
  }
}

/** The result of fitting: the bucketiser and the bucket of every fitted return, in input order. */
export interface FittedReturnBuckets {
  buckets: ReturnBuckets;
  /**
   * `labels[i]` is the bucket of `returns[i]`, always `buckets.bucket(returns[i]).bucket`: equal returns
   * share a bucket. For `quantile` (Quark) the buckets hold equal numbers of returns (within 1) when the
   * returns are distinct; a run of equal returns is never split, so ties make the counts uneven.
   */
  labels: number[];
}

/** A value strictly between `a < b` when one exists, else `b` (so `a` stays below the edge and `b` on it). */
function cut(a: number, b: number): number {
  let m = a + (b - a) / 2;
  if (!Number.isFinite(m)) m = a / 2 + b / 2; // b - a overflowed
  return m > a && m <= b ? m : b;
}

/** `min + (max - min) * t`, staying finite and inside `[min, max]` when `max - min` overflows. */
function lerp(min: number, max: number, t: number): number {
  const w = max - min;
  const x = Number.isFinite(w) ? min + w * t : min * (1 - t) + max * t;
  return Math.min(max, Math.max(min, x));
}

/**
 * Quantile edges that never cut through a run of equal returns: each of the k−1 cuts goes to the boundary
 * between two distinct values nearest to its equal-frequency rank ⌊b·n/k⌋ (the lower one on a tie),
 * leaving room for the cuts after it; the edge sits strictly between the two values. Needs ≥ k distinct values.
 */
function quantileEdges(returns: readonly number[], order: readonly number[], k: number): number[] {
  const n = order.length;
  const value = (i: number): number => returns[order[i] as number] as number;
  // Ranks where a new value starts: boundary[j] = number of returns below the (j+1)-th distinct value.
  const boundary: number[] = [];
  for (let i = 1; i < n; i++) if (value(i) !== value(i - 1)) boundary.push(i);
  const edges = [value(0)];
  let prev = -1;
  for (let b = 1; b < k; b++) {
    const target = Math.floor((b * n) / k);
    const last = boundary.length - (k - b); // leave one boundary for each later cut
    let best = prev + 1;
    for (let j = prev + 2; j <= last; j++) if (Math.abs((boundary[j] as number) - target) < Math.abs((boundary[best] as number) - target)) best = j;
    const at = boundary[best] as number;
    edges.push(cut(value(at - 1), value(at)));
    prev = best;
  }
  edges.push(value(n - 1));
  return edges;
}

/**
 * Fits return buckets on a dataset of returns. `quantile` (default, k=5): equal-frequency buckets by
 * rank (Quark); `uniform`: k equal-width buckets over `[min, max]`; `threshold`: cuts at the given
 * thresholds (PHF's good/bad split), k = thresholds.length + 1, a return equal to a threshold goes up.
 */
export function fitReturnBuckets(returns: readonly number[], options: ReturnBucketsOptions = {}): FittedReturnBuckets {
  const input = options !== null && typeof options === 'object' && options.method === undefined ? { ...options, method: 'quantile' } : options;
  const o = parseWith(optionsSchema, input, 'fitReturnBuckets');
  if (!Array.isArray(returns)) throw new ZooError('BAD_INPUT', `fitReturnBuckets: returns must be an array of numbers, got ${show(returns)}`);
  if (returns.length === 0) {
    throw new ZooError('EMPTY_DATASET', 'fitReturnBuckets: the dataset has no returns; fit on at least one return (at least k for quantile buckets)', {
      field: 'returns',
    });
  }
  returns.forEach((r, i) => {
    if (typeof r !== 'number' || !Number.isFinite(r)) {
      throw new ZooError('BAD_RETURN', `fitReturnBuckets: returns[${i}] is ${show(r)}; every return must be a finite number`, {
        field: 'returns',
        position: [i],
        symbol: String(r),
      });
    }
  });
  const n = returns.length;
  const order = returns.map((_, i) => i).sort((i, j) => (returns[i] as number) - (returns[j] as number) || i - j);
  const min = returns[order[0] as number] as number;
  const max = returns[order[n - 1] as number] as number;

  let edges: number[];
  let labels: number[];
  if (o.method === 'quantile') {
    if (n < o.k) {
      throw new ZooError('OPTION_INVALID', `fitReturnBuckets: bad option k: ${o.k} quantile buckets need at least ${o.k} returns, the dataset has ${n}; pass k ≤ ${n}`, {
        field: 'k',
      });
    }
    let distinct = 1;
    for (let i = 1; i < n; i++) if (returns[order[i] as number] !== returns[order[i - 1] as number]) distinct++;
    if (distinct < o.k) {
      throw new ZooError(
        'OPTION_INVALID',
        `fitReturnBuckets: bad option k: the ${n} returns take only ${distinct} distinct value${distinct === 1 ? '' : 's'}, and equal returns must share a bucket, so ${o.k} quantile buckets cannot all be filled; pass k ≤ ${distinct}, or method 'threshold' with your own cuts`,
        { field: 'k' },
      );
    }
    edges = quantileEdges(returns, order, o.k);
  } else if (o.method === 'uniform') {
    edges = Array.from({ length: o.k + 1 }, (_, b) => lerp(min, max, b / o.k));
    for (let b = 1; b <= o.k; b++) edges[b] = Math.max(edges[b] as number, edges[b - 1] as number);
  } else {
    const t = o.thresholds;
    edges = [Math.min(min, t[0] as number), ...t, Math.max(max, t[t.length - 1] as number)];
  }
  const partial = construct({ method: o.method, namespace: o.namespace, edges, counts: [], means: [] });
  // By value for every method: equal returns always share a bucket, and `bucket(r)` agrees with the labels.
  labels = returns.map((r) => partial.bucket(r).bucket);

  const k = edges.length - 1;
  const counts = new Array<number>(k).fill(0);
  const means = new Array<number | null>(k).fill(null);
  labels.forEach((b, i) => {
    const c = (counts[b] as number) + 1;
    const m = means[b] ?? 0;
    counts[b] = c;
    means[b] = m + ((returns[i] as number) - m) / c; // running mean: no overflow on huge returns
  });
  return { buckets: construct({ method: o.method, namespace: o.namespace, edges, counts, means }), labels };
}
