// pnpm run experiment:custom-regime [-- --size tiny] [--workers N] [--run-dir DIR]
// Runs the config through `zoo run` (progress, run directory, report.html), then prints the comparison table.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runExample } from '@regime-zoo/cli';
import { SIZES } from './config.js';
import { comparisonTable } from './table.js';

process.exitCode = await runExample({ name: 'custom-regime', dir: path.join(path.dirname(fileURLToPath(import.meta.url)), '..'), sizes: SIZES, print: comparisonTable });
