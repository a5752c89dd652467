// pnpm run experiment:zoo [-- --size small] [--workers N] [--run-dir DIR]
// Runs the config through `zoo run` (progress, run directory, report.html), then prints the predictions table.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runExample } from '@regime-zoo/cli';
import { SIZES } from './config.js';
import { predictionsTable, ratesTable } from './predictions.js';

process.exitCode = await runExample({ name: 'zoo', dir: path.join(path.dirname(fileURLToPath(import.meta.url)), '..'), sizes: SIZES, print: (r) => `${predictionsTable(r)}\n\n${ratesTable(r)}` });
