// pnpm run experiment:distillation-ood [-- --size tiny] [--workers N] [--run-dir DIR]
// Runs the config through `zoo run` (progress, run directory, report.html), then prints one table per world.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runExample } from '@regime-zoo/cli';
import { SIZES, WORLDS } from './config.js';
import { distillTable } from './table.js';

process.exitCode = await runExample({ name: 'distillation-ood', dir: path.join(path.dirname(fileURLToPath(import.meta.url)), '..'), sizes: SIZES, print: (r) => WORLDS.map((world) => `### ${world}\n\n${distillTable(r, world)}\n`).join('\n') });
