// pnpm --filter @regime-zoo/example-posterior-check start [-- --size tiny] [--seeds 1,2,3] [--regimes sft,dpo]
// Trains every regime against its exact π* on the posterior world and prints the KL table.
import { parseArgs } from 'node:util';
import { BUDGETS, check, REGIMES, type CheckRow, type RegimeName, type Size } from './check.js';
import { checkTable } from './table.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { size: { type: 'string', default: 'default' }, seeds: { type: 'string', default: '1,2,3' }, regimes: { type: 'string', default: REGIMES.join(',') } },
});
if (!(values.size! in BUDGETS)) {
  console.error(`--size must be one of ${Object.keys(BUDGETS).join(', ')}, got "${values.size}"`);
  process.exit(2);
}
const seeds = values.seeds!.split(',').map(Number);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) {
  console.error(`--seeds must be a comma-separated list of non-negative integers, got "${values.seeds}"`);
  process.exit(2);
}
const regimes = values.regimes!.split(',');
const unknown = regimes.filter((r) => !(REGIMES as readonly string[]).includes(r));
if (unknown.length) {
  console.error(`--regimes: unknown ${unknown.join(', ')}; the regimes are ${REGIMES.join(', ')}`);
  process.exit(2);
}
const started = Date.now();
const rows: CheckRow[] = [];
for (const regime of regimes as RegimeName[]) {
  for (const seed of seeds) {
    const out = await check(regime, seed, BUDGETS[values.size as Size]);
    for (const r of out) console.error(`${r.regime} seed ${seed}: ${r.steps} steps, KL ${r.start.toFixed(3)} → ${r.kl.toFixed(4)} (≤ 0.05 at ${r.reachedAt ?? '—'}), ${r.seconds.toFixed(0)} s`);
    rows.push(...out);
  }
}
console.log(`\nwall time ${((Date.now() - started) / 1000).toFixed(0)} s; size ${values.size}; seeds ${seeds.join(', ')}\n`);
console.log(checkTable(rows));
