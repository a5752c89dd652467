import path from 'node:path';
import { parseArgs } from 'node:util';
import { toZooError } from '@regime-zoo/core';
import { progressReporter, runOnQueue, startWorker, sweepStatus } from '@regime-zoo/experiment';
import { intFlag } from './flags.js';

/** `zoo run <config> --queue …`: enqueue, follow, print where the results are. */
export async function runQueued(config: string, o: { queue: string; runDir?: string | undefined; runsDir?: string | undefined }, out: (s: string) => void): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const r = await runOnQueue(config, {
      queue: o.queue,
      ...(o.runDir ? { runDir: o.runDir } : {}),
      ...(o.runsDir ? { runsDir: o.runsDir } : {}),
      signal: controller.signal,
      log: (l) => process.stderr.write(l + '\n'),
    });
    const byWorker = new Map<string, string[]>();
    for (const [stage, w] of Object.entries(r.workers)) byWorker.set(w, [...(byWorker.get(w) ?? []), stage]);
    out(
      [
        `run directory ${r.runDir}`,
        `sweep     ${r.sweep}`,
        `stages run: ${r.ran.length ? r.ran.join(', ') : 'none (all complete)'}`,
        ...[...byWorker].map(([w, s]) => `worker ${w}: ${s.sort().join(', ')}`),
        `results   ${path.join(r.runDir, 'results.json')}`,
        `report    ${path.join(r.runDir, 'report.html')}`,
      ].join('\n'),
    );
    return 0;
  } catch (e) {
    const z = toZooError(e);
    out(`zoo run: ${z.code}: ${z.message}`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `zoo worker --queue … [--concurrency N] [--name NAME] [--stall-ms MS]`: runs until SIGINT/SIGTERM. */
export async function workerCommand(args: string[], out: (s: string) => void, usage: string): Promise<number> {
  let values: { queue?: string; concurrency?: string; name?: string; 'stall-ms'?: string };
  try {
    ({ values } = parseArgs({ args, options: { queue: { type: 'string' }, concurrency: { type: 'string' }, name: { type: 'string' }, 'stall-ms': { type: 'string' } } }));
  } catch (e) {
    out(`zoo worker: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if (!values.queue) {
    out(`zoo worker: --queue redis://host:port is required\n\n${usage}`);
    return 2;
  }
  const concurrency = intFlag('concurrency', values.concurrency);
  const stallMs = intFlag('stall-ms', values['stall-ms']);
  for (const v of [concurrency, stallMs]) {
    if (typeof v === 'string') {
      out(`zoo worker: ${v}`);
      return 2;
    }
  }
  try {
    const bars = progressReporter();
    const w = await startWorker({
      queue: values.queue,
      ...(concurrency ? { concurrency: concurrency as number } : {}),
      ...(values.name ? { name: values.name } : {}),
      ...(stallMs ? { stallMs: stallMs as number } : {}),
      progress: bars.update,
      log: (l) => process.stderr.write(l + '\n'),
    });
    const stop = () => void w.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const error = await w.stopped;
    bars.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (error) {
      out(`zoo worker: ${error.code}: ${error.message}`);
      return 1;
    }
    return 0;
  } catch (e) {
    const z = toZooError(e);
    out(`zoo worker: ${z.code}: ${z.message}`);
    return 1;
  }
}

/** `zoo sweep status --queue … [--sweep ID]`. */
export async function sweepCommand(args: string[], out: (s: string) => void, usage: string): Promise<number> {
  let values: { queue?: string; sweep?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, options: { queue: { type: 'string' }, sweep: { type: 'string' } } }));
  } catch (e) {
    out(`zoo sweep: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if (positionals[0] !== 'status' || positionals.length !== 1 || !values.queue) {
    out(`zoo sweep: expected \`zoo sweep status --queue redis://host:port [--sweep ID]\`\n\n${usage}`);
    return 2;
  }
  try {
    const rows = await sweepStatus({ queue: values.queue, ...(values.sweep ? { sweep: values.sweep } : {}) });
    if (!rows.length) {
      out(values.sweep ? `no jobs of sweep ${values.sweep} on the queue` : 'no sweeps on the queue');
      return 0;
    }
    const lines: string[] = [];
    let sweep = '';
    for (const r of rows) {
      if (r.sweep !== sweep) {
        sweep = r.sweep;
        lines.push(`sweep ${r.sweep}  (${r.runDir})`, `  ${'group'.padEnd(16)} ${'queued'.padStart(6)} ${'running'.padStart(7)} ${'done'.padStart(5)} ${'failed'.padStart(6)}`);
      }
      lines.push(`  ${r.group.padEnd(16)} ${String(r.queued).padStart(6)} ${String(r.running).padStart(7)} ${String(r.done).padStart(5)} ${String(r.failed).padStart(6)}`);
      for (const e of r.errors) lines.push(`    failed ${e.job}: ${e.error}`);
    }
    out(lines.join('\n'));
    return 0;
  } catch (e) {
    const z = toZooError(e);
    out(`zoo sweep: ${z.code}: ${z.message}`);
    return 1;
  }
}
