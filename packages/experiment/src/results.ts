import fs from 'node:fs';
import { ZooError } from '@regime-zoo/core';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { z } from 'zod';
import type { OpenRun } from './run.js';
import { readStage } from './rundir.js';
import { readProbeRows } from './stages.js';

export const RESULTS_FORMAT = 'regime-zoo/results';
export const RESULTS_VERSION = 1;

const where = {
  model: z.string(),
  probe: z.string(),
  world: z.string(),
  split: z.enum(['id', 'ood', 'ood-id']),
  condition: z.string(),
  decoding: z.enum(['sample', 'greedy']),
  metric: z.string(),
};

/** One probe number of one seed (a probe's row plus the model and seed). */
export const resultRowSchema = z.strictObject({ ...where, seed: z.number().int(), value: z.number(), lo: z.number().nullable(), hi: z.number().nullable(), n: z.number().int().min(0) });

/**
 * A number aggregated over seeds: the mean; with one seed its probe's own 95% interval, with k ≥ 2 seeds
 * Student's t interval over the seeds (between-seed spread; `seedInterval`).
 */
export const summaryRowSchema = z.strictObject({ ...where, value: z.number(), lo: z.number().nullable(), hi: z.number().nullable(), n: z.number().int().min(0), seeds: z.number().int().min(1) });

export const resultsSchema = z.strictObject({
  format: z.literal(RESULTS_FORMAT),
  version: z.literal(RESULTS_VERSION),
  name: z.string(),
  seeds: z.array(z.number().int()),
  splits: z.array(z.enum(['id', 'ood'])),
  models: z.array(z.strictObject({ name: z.string(), kind: z.enum(['base', 'arm', 'distill']), plugin: z.string(), teacher: z.string().optional() })),
  /** Every stage with the hash of its inputs and what it reported (steps, final training metrics, data counts). */
  stages: z.array(z.strictObject({ id: z.string(), key: z.string(), output: z.record(z.string(), z.unknown()) })),
  rows: z.array(resultRowSchema),
  summary: z.array(summaryRowSchema),
});

export type Results = z.output<typeof resultsSchema>;
export type ResultRow = z.output<typeof resultRowSchema>;
export type SummaryRow = z.output<typeof summaryRowSchema>;

/**
 * The mean of one number over k ≥ 2 seeds with its 95% interval, mean ± t₀.₉₇₅,k−1 · sd/√k (Student's t:
 * with 3 seeds the multiplier is 4.30, not 1.96). With fewer than 2 values the interval is null.
 */
export function seedInterval(xs: readonly number[], level = 0.95): { value: number; lo: number | null; hi: number | null } {
  const k = xs.length;
  const value = xs.reduce((a, x) => a + x, 0) / k;
  if (k < 2) return { value, lo: null, hi: null };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - value) ** 2, 0) / (k - 1));
  const half = (tQuantile(1 - (1 - level) / 2, k - 1) * sd) / Math.sqrt(k);
  return { value, lo: value - half, hi: value + half };
}

/**
 * The value of one probe row of `results`: `metric` of `model` in `world`/`split` for `seed`, under
 * `condition` (any condition when omitted) and `decoding` (default `sample`). Throws naming the row when
 * the results have none.
 */
export function resultValue(results: Pick<Results, 'rows'>, q: { model: string; world: string; split: ResultRow['split']; metric: string; seed: number; condition?: string; decoding?: ResultRow['decoding'] }): number {
  const decoding = q.decoding ?? 'sample';
  const r = results.rows.find((x) => x.model === q.model && x.world === q.world && x.split === q.split && x.metric === q.metric && x.seed === q.seed && x.decoding === decoding && (q.condition === undefined || x.condition === q.condition));
  if (!r) throw new Error(`results have no ${q.metric} of ${q.model}${q.condition === undefined ? '' : ` (${q.condition})`} in ${q.world}/${q.split}, seed ${q.seed}, ${decoding} decoding`);
  return r.value;
}

/** Means over seeds of each (model, probe, world, split, condition, decoding, metric). */
export function summarise(rows: readonly ResultRow[]): SummaryRow[] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const k = [r.model, r.probe, r.world, r.split, r.condition, r.decoding, r.metric].join('\0');
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0]!;
    // One seed keeps its probe's own interval; more get the interval over seeds.
    const { value, lo, hi } = g.length >= 2 ? seedInterval(g.map((r) => r.value)) : first;
    const { seed: _seed, ...rest } = first;
    return { ...rest, value, lo, hi, n: g.reduce((a, r) => a + r.n, 0), seeds: g.length };
  });
}

/** The results of a finished run, from its stage records and probe rows. */
export function buildResults(run: OpenRun): Results {
  const c = run.x.config;
  const stages = run.plan.stages.map((s) => {
    const rec = readStage(run.runDir, s.id, s.key);
    if (!rec) throw new ZooError('INTERNAL', `stage ${s.id} is not complete; \`zoo resume ${run.runDir}\` finishes it`, { field: s.id });
    return { id: rec.id, key: rec.key, output: rec.output };
  });
  const rows = run.plan.stages.filter((s) => s.kind === 'probe').flatMap((s) => readProbeRows(run.runDir, s.id)) as ResultRow[];
  const results: Results = {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    name: c.name,
    seeds: c.seeds,
    splits: c.splits,
    models: [
      { name: 'base', kind: 'base', plugin: 'regime-sft' },
      ...c.arms.map((a) => ({ name: a.name, kind: 'arm' as const, plugin: run.x.regimes.get(a.name)!.name })),
      ...c.distill.map((d) => ({ name: d.name, kind: 'distill' as const, plugin: run.x.distillers.get(d.name)!.name, teacher: d.teacher })),
    ],
    stages,
    rows,
    summary: summarise(rows),
  };
  return resultsSchema.parse(results);
}

/** Reads `results.json`; a file of another format or schema version is an error saying which this reads. */
export function readResults(file: string): Results {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ZooError('BAD_JSON', `${file} cannot be read as JSON (${(e as Error).message}); run \`zoo resume\` on its run directory to write it again`, { field: file, cause: e });
  }
  const head = data as { format?: unknown; version?: unknown };
  if (head?.format !== RESULTS_FORMAT) {
    throw new ZooError('BAD_JSON', `${file}: format is ${JSON.stringify(head?.format)}, expected "${RESULTS_FORMAT}"; this is not a results file of \`zoo run\``, { field: 'format' });
  }
  if (head.version !== RESULTS_VERSION) {
    throw new ZooError('BAD_JSON', `${file}: results schema version ${JSON.stringify(head.version)}, but this @regime-zoo/experiment reads version ${RESULTS_VERSION}; use the version that wrote it, or re-run \`zoo resume\` to rewrite it`, {
      field: 'version',
    });
  }
  const r = resultsSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ZooError('BAD_JSON', `${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`, { field: issue.path.join('.'), cause: r.error });
  }
  return r.data;
}
