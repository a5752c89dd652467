// The command line of an example package: `--size`, `--workers`, `--run-dir`, then `zoo run` on the
// config file of that size and a printout of the results. Every example under examples/ that is an
// experiment config (rlhf-flag, zoo, custom-regime, distillation-ood) is this plus its tables.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readResults, type Results } from '@regime-zoo/experiment';
import { main } from './main.js';

export interface ExampleOptions {
  /** The example's name: its configs are `<dir>/<name>.config.ts` (default size) and `<dir>/<name>.<size>.config.ts`. */
  name: string;
  /** The folder holding the config files. */
  dir: string;
  /** The sizes it has, `default` among them. */
  sizes: readonly string[];
  /** What to print after the run: the example's tables. */
  print(results: Results): string;
}

export interface ExampleRun {
  config: string;
  runDir: string;
  workers?: string;
}

/**
 * Reads an example's arguments (pnpm's `--` dropped): the config file for `--size` (default `default`)
 * and the run directory (`--run-dir`, else `runs/<name>` or `runs/<name>-<size>` below `cwd`). A size the
 * example lacks throws an error naming the sizes it has.
 */
export function exampleRun(argv: readonly string[], o: Pick<ExampleOptions, 'name' | 'dir' | 'sizes'>, cwd: string): ExampleRun {
  const { values } = parseArgs({ args: argv.filter((a) => a !== '--'), options: { size: { type: 'string', default: 'default' }, workers: { type: 'string' }, 'run-dir': { type: 'string' } } });
  const size = values.size!;
  if (!o.sizes.includes(size)) throw new Error(`--size must be one of ${o.sizes.join(', ')}, got "${size}"`);
  const base = size === 'default' ? o.name : `${o.name}-${size}`;
  return {
    config: path.join(o.dir, size === 'default' ? `${o.name}.config.ts` : `${o.name}.${size}.config.ts`),
    runDir: path.resolve(cwd, values['run-dir'] ?? path.join('runs', base)),
    ...(values.workers ? { workers: values.workers } : {}),
  };
}

/**
 * Runs an example from its script: `zoo run` with progress into its run directory, then the wall time,
 * the seeds and `print(results)`. Returns the process exit code (2 for bad arguments, `zoo run`'s own otherwise).
 */
export async function runExample(o: ExampleOptions, argv = process.argv.slice(2)): Promise<number> {
  let run: ExampleRun;
  try {
    // pnpm runs scripts in the package folder; runs/ goes where the command was typed (INIT_CWD).
    run = exampleRun(argv, o, process.env.INIT_CWD ?? process.cwd());
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const started = Date.now();
  const code = await main(['run', run.config, '--run-dir', run.runDir, ...(run.workers ? ['--workers', run.workers] : [])]);
  if (code !== 0) return code;
  const results = readResults(path.join(run.runDir, 'results.json'));
  console.log(`\nwall time ${((Date.now() - started) / 1000).toFixed(0)} s; seeds ${results.seeds.join(', ')}\n`);
  console.log(o.print(results));
  return 0;
}
