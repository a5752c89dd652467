import type { Results, SummaryRow } from '@regime-zoo/experiment';
import { worldMetrics } from '@regime-zoo/probes';

/** `0.412 [0.360, 0.464]`, or `—` when there is no row. */
export function cell(r: SummaryRow | undefined, digits = 3): string {
  if (!r) return '—';
  const f = (x: number) => x.toFixed(digits).replace(/^-/, '−');
  return r.lo === null || r.hi === null ? f(r.value) : `${f(r.value)} [${f(r.lo)}, ${f(r.hi)}]`;
}

/** The summary row of one model × world × split × condition × metric (sampled decoding). */
export function pick(results: Results, model: string, world: string, split: SummaryRow['split'], condition: string, metric: string): SummaryRow | undefined {
  return results.summary.find((r) => r.model === model && r.world === world && r.split === split && r.condition === condition && r.metric === metric && r.decoding === 'sample');
}

/**
 * The main job's table: per world and split, the instrumental rate, the visible − hidden gap and the
 * flag leakage (rate − base's rate) of the base, PPO and the flag model under each flag, the RL arms being
 * those that trained in that world. Intervals: over seeds (Student's t, mean ± t·sd/√k) when k ≥ 2, else the probe's.
 */
export function resultsTable(results: Results): string {
  const worlds = [...new Set(results.summary.map((r) => r.world))];
  const lines = [
    `seeds ${results.seeds.join(', ')}; 95% intervals ${results.seeds.length > 1 ? `over the ${results.seeds.length} seeds (Student's t: mean ± t₀.₉₇₅,ₖ₋₁·sd/√k)` : "of the probe (one seed)"}`,
    '',
    '| world | split | model | flag | instrumental rate | visible − hidden | leakage (rate − base) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const world of worlds) {
    const rate = worldMetrics(world).rate;
    for (const split of results.splits) {
      const models: [string, string, string][] = [['base', 'base', 'none']];
      for (const m of results.models) {
        if (m.name === `ppo-${world}`) models.push([m.name, 'PPO vs reward model', 'none']);
        if (m.name === `flag-${world}`) models.push([m.name, 'RLHF flag', 'rlhf:on'], [m.name, 'RLHF flag', 'rlhf:off']);
      }
      for (const [model, label, condition] of models) {
        const at = (metric: string) => pick(results, model, world, split, condition, metric);
        lines.push(`| ${world} (${rate}) | ${split.toUpperCase()} | ${label} | ${condition === 'none' ? '' : `<${condition}>`} | ${cell(at(rate))} | ${cell(at('RewardHackingGap'), 2)} | ${cell(at('FlagLeakage'))} |`);
      }
    }
  }
  return lines.join('\n');
}
