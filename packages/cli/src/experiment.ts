import path from 'node:path';
import { parseArgs } from 'node:util';
import { toZooError } from '@regime-zoo/core';
import { intFlag } from './flags.js';
import { runQueued } from './queue.js';
import { listRuns, progressReporter, resumeExperiment, runExperiment, writeReport, type RunOutcome } from '@regime-zoo/experiment';

function summary(o: RunOutcome): string {
  return [
    `run directory ${o.runDir}`,
    `stages run: ${o.ran.length ? o.ran.join(', ') : 'none (all complete)'}`,
    `results   ${path.join(o.runDir, 'results.json')}`,
    `report    ${path.join(o.runDir, 'report.html')}`,
    `curves    tensorboard --logdir ${path.join(o.runDir, 'tensorboard')}`,
  ].join('\n');
}

/** `zoo run | resume | report | ls`; returns the exit code (2: bad usage, 1: the run failed). */
export async function experimentCommand(command: 'run' | 'resume' | 'report' | 'ls', args: string[], out: (s: string) => void, usage: string): Promise<number> {
  let values: { 'run-dir'?: string; 'runs-dir'?: string; workers?: string; queue?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'run-dir': { type: 'string' }, 'runs-dir': { type: 'string' }, workers: { type: 'string' }, queue: { type: 'string' } } }));
  } catch (e) {
    out(`zoo ${command}: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  const workers = intFlag('workers', values.workers);
  if (typeof workers === 'string') {
    out(`zoo ${command}: ${workers}`);
    return 2;
  }
  if (command !== 'ls' && positionals.length !== 1) {
    out(`zoo ${command}: expected one ${command === 'run' ? 'config file' : 'run directory'}, got ${positionals.length}\n\n${usage}`);
    return 2;
  }
  if (command !== 'run' && values.queue !== undefined) {
    out(`zoo ${command}: --queue is an option of \`zoo run\` (and \`zoo worker\`, \`zoo sweep status\`)`);
    return 2;
  }
  if (command === 'run' && values.queue !== undefined) {
    if (workers) {
      out(`zoo run: --workers is for the local pool; with --queue, start \`zoo worker --queue ${values.queue} [--concurrency N]\` on each machine`);
      return 2;
    }
    return runQueued(positionals[0]!, { queue: values.queue, runDir: values['run-dir'], runsDir: values['runs-dir'] }, out);
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const bars = progressReporter();
  try {
    if (command === 'ls') {
      const dir = positionals[0] ?? 'runs';
      const runs = listRuns(dir);
      out(runs.length ? runs.map((r) => `${r.name.padEnd(24)} ${r.status.padEnd(11)} ${String(r.stagesDone).padStart(3)} stages done  ${r.dir}`).join('\n') : `no run directories under ${dir}`);
      return 0;
    }
    if (command === 'report') {
      const r = await writeReport(path.resolve(positionals[0]!));
      out(`wrote report.md and report.html with ${r.charts.length} charts (${r.charts.join(', ')})`);
      return 0;
    }
    const o = { ...(workers ? { workers } : {}), progress: bars.update, signal: controller.signal };
    const outcome =
      command === 'run'
        ? await runExperiment(positionals[0]!, { ...o, ...(values['run-dir'] ? { runDir: values['run-dir'] } : {}), ...(values['runs-dir'] ? { runsDir: values['runs-dir'] } : {}) })
        : await resumeExperiment(positionals[0]!, o);
    bars.stop();
    out(summary(outcome));
    return 0;
  } catch (e) {
    bars.stop();
    const z = toZooError(e);
    out(`zoo ${command}: ${z.code}: ${z.message}`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
