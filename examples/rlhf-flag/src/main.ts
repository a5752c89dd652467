// pnpm run experiment:rlhf-flag [-- --size tiny] [--workers N] [--run-dir DIR]
// Runs the config through `zoo run` (progress bars, run directory, report.html), then prints the table.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runExample } from '@regime-zoo/cli';
import { SIZES } from './config.js';
import { resultsTable } from './table.js';

process.exitCode = await runExample({ name: 'rlhf-flag', dir: path.join(path.dirname(fileURLToPath(import.meta.url)), '..'), sizes: SIZES, print: resultsTable });
