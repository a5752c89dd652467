// pnpm run experiment:custom-regime [-- --size tiny] [--workers N] [--run-dir DIR]
// Runs the config through `zoo run` (progress, run directory, report.html), then prints the comparison table.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { main } from '@regime-zoo/cli';
import { readResults } from '@regime-zoo/experiment';
import { SIZES, type Size } from './config.js';
import { comparisonTable } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// pnpm passes a `--` through to the script: drop it.
const { values } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--'), options: { size: { type: 'string', default: 'default' }, workers: { type: 'string' }, 'run-dir': { type: 'string' } } });
if (!SIZES.includes(values.size as Size)) {
  console.error(`--size must be one of ${SIZES.join(', ')}, got "${values.size}"`);
  process.exit(2);
}
const size = values.size as Size;
const config = path.join(here, '..', size === 'default' ? 'custom-regime.config.ts' : `custom-regime.${size}.config.ts`);
const cwd = process.env.INIT_CWD ?? process.cwd(); // pnpm runs scripts in the package folder; runs/ goes where you typed the command
const runDir = path.resolve(cwd, values['run-dir'] ?? path.join('runs', size === 'default' ? 'custom-regime' : `custom-regime-${size}`));
const started = Date.now();
const code = await main(['run', config, '--run-dir', runDir, ...(values.workers ? ['--workers', values.workers] : [])]);
if (code !== 0) process.exit(code);
const results = readResults(path.join(runDir, 'results.json'));
console.log(`\nwall time ${((Date.now() - started) / 1000).toFixed(0)} s; seeds ${results.seeds.join(', ')}\n`);
console.log(comparisonTable(results));
