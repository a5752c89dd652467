import type { Probe, ProbeContext, ProbeResult, ProbeRow } from '@regime-zoo/core';
import { runProbe, ZooError } from '@regime-zoo/core';
import { z } from 'zod';

/** Format tag and version of a saved probe report. */
export const PROBE_REPORT_FORMAT = 'regime-zoo/probe-report';
export const PROBE_REPORT_VERSION = 1;

/**
 * One measured number and where it is from (core's `ProbeRow`). `split` is `ood-id` for a difference
 * between the splits (OOD amplification); `lo`/`hi` are the 95% interval (Wilson for a rate, Newcombe's
 * hybrid score interval for a difference of rates, normal for a mean, Fisher z for Spearman's ρ,
 * Hanley–McNeil for AUROC) or null where none applies; `n` is the number of episodes or examples.
 */
export const probeRowSchema = z.strictObject({
  probe: z.string().min(1),
  world: z.string().min(1),
  split: z.enum(['id', 'ood', 'ood-id']),
  condition: z.string().min(1),
  decoding: z.enum(['sample', 'greedy']),
  metric: z.string().min(1),
  value: z.number(),
  lo: z.number().nullable(),
  hi: z.number().nullable(),
  n: z.number().int().min(0),
});

/** A probe report: every probe's rows, JSON-serialisable, for the experiment runner to store and compare. */
export const probeReportSchema = z.strictObject({
  format: z.literal(PROBE_REPORT_FORMAT),
  version: z.literal(PROBE_REPORT_VERSION),
  rows: z.array(probeRowSchema),
});

export type ProbeReport = z.output<typeof probeReportSchema>;

// The schema and core's ProbeRow type must describe the same object.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const rowTypesAgree: Same<z.output<typeof probeRowSchema>, ProbeRow> = true;
void rowTypesAgree;

/** A finite number or null (NaN and ±Infinity are not JSON). */
export function finiteOrNull(x: number | undefined): number | null {
  return x !== undefined && Number.isFinite(x) ? x : null;
}

/** The flat `metrics` map of a probe result: `world/split/condition/decoding/metric` → value, plus `/lo`, `/hi`. */
export function rowsToMetrics(rows: readonly ProbeRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const key = `${r.world}/${r.split}/${r.condition}/${r.decoding}/${r.metric}`;
    out[key] = r.value;
    if (r.lo !== null) out[`${key}/lo`] = r.lo;
    if (r.hi !== null) out[`${key}/hi`] = r.hi;
  }
  return out;
}

/** A probe's result from its rows. */
export function probeResult(rows: ProbeRow[]): ProbeResult {
  return { metrics: rowsToMetrics(rows), rows };
}

/**
 * One report from the results of several probes (in order); validated against `probeReportSchema`, so a
 * row with a non-finite value fails here with the row named rather than later in `JSON.stringify`.
 */
export function probeReport(results: readonly ProbeResult[]): ProbeReport {
  const rows = results.flatMap((r) => r.rows ?? []);
  const parsed = probeReportSchema.safeParse({ format: PROBE_REPORT_FORMAT, version: PROBE_REPORT_VERSION, rows });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.join('.');
    const row = typeof issue.path[1] === 'number' ? rows[issue.path[1]] : undefined;
    throw new ZooError('BAD_INPUT', `probe report: ${at}: ${issue.message}${row ? ` (probe ${row.probe}, world ${row.world}, metric ${row.metric})` : ''}`, { field: at, cause: parsed.error });
  }
  return parsed.data;
}

/** Reads a saved report (object or JSON text), failing with `BAD_JSON` naming the field. */
export function parseProbeReport(json: unknown): ProbeReport {
  let data = json;
  if (typeof json === 'string') {
    try {
      data = JSON.parse(json);
    } catch (e) {
      throw new ZooError('BAD_JSON', `probe report: not JSON text: ${(e as Error).message}`, { cause: e });
    }
  }
  const parsed = probeReportSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ZooError('BAD_JSON', `probe report: ${issue.path.join('.') || '(root)'}: ${issue.message}`, { field: issue.path.join('.'), cause: parsed.error });
  }
  return parsed.data;
}

/** The rows of a report that match every given field (`findRows(report, { world: 'tamper', split: 'ood' })`). */
export function findRows(report: Pick<ProbeReport, 'rows'>, where: Partial<ProbeRow>): ProbeRow[] {
  return report.rows.filter((r) => (Object.keys(where) as (keyof ProbeRow)[]).every((k) => where[k] === undefined || r[k] === where[k]));
}

/** Runs probes one after another on one context (each through core's `runProbe`) and joins their rows in one report. */
export async function runProbes(probes: readonly Probe[], ctx: ProbeContext): Promise<ProbeReport> {
  const results: ProbeResult[] = [];
  for (const probe of probes) results.push(await runProbe(probe, ctx));
  return probeReport(results);
}
