import { seedInterval } from '@regime-zoo/experiment';
import { REACHED, type CheckRow } from './check.js';

/** A markdown cell: a literal `|` escaped. */
const cell = (x: string) => x.replaceAll('|', '\\|');
const fmt = (m: ReturnType<typeof seedInterval>, d = 4) => (m.lo === null ? m.value.toFixed(d) : `${m.value.toFixed(d)} [${m.lo.toFixed(d)}, ${m.hi!.toFixed(d)}]`);

/**
 * One line per regime (in the order first seen): π*, optimizer steps, KL(π* ‖ π) at the start and the
 * end (mean over seeds with its interval), the step each seed first measured KL ≤ REACHED ("—": not
 * within the run), and the mean seconds per seed.
 */
export function checkTable(rows: readonly CheckRow[]): string {
  const names = [...new Set(rows.map((r) => r.regime))];
  const head = [
    `| regime | π* | steps | KL(π* ‖ π) at start | KL(π* ‖ π) at end | step KL ≤ ${REACHED} (per seed) | seconds |`,
    '|---|---|---|---|---|---|---|',
  ];
  const lines = names.map((name) => {
    const rs = rows.filter((r) => r.regime === name);
    const steps = [...new Set(rs.map((r) => r.steps))].join(', ');
    const reached = rs.map((r) => r.reachedAt ?? '—').join(', ');
    const seconds = rs.reduce((a, r) => a + r.seconds, 0) / rs.length;
    return `| ${cell(name)} | ${cell(rs[0]!.target)} | ${steps} | ${fmt(seedInterval(rs.map((r) => r.start)), 3)} | ${fmt(seedInterval(rs.map((r) => r.kl)))} | ${reached} | ${seconds.toFixed(0)} |`;
  });
  return [...head, ...lines].join('\n');
}
