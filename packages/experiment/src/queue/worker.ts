import fs from 'node:fs';
import path from 'node:path';
import { DelayedError, Queue, UnrecoverableError, WaitingChildrenError, Worker, type Job } from 'bullmq';
import { toZooError, ZooError } from '@regime-zoo/core';
import { aggregateRun, openRun, type OpenRun } from '../run.js';
import { stageDir, writeAtomic } from '../rundir.js';
import { runStage, type StageProgress } from '../stages.js';
import { claimStage, recordEvent, workerIdentity, type WorkerIdentity } from './claim.js';
import { checkReachable, connect, parseQueueUrl, QUEUE_NAME } from './connection.js';
import { jobId, jobOptions, seedTasks, taskGroup, type ZooJobData } from './jobs.js';

export interface WorkerOptions {
  /** `redis://host:port[/db]`. */
  queue: string;
  /** Jobs run side by side in this process (default 1). */
  concurrency?: number;
  /** How this worker is named in the run directory (default host-pid). */
  name?: string;
  /**
   * BullMQ's lock duration and stalled-check interval in ms (default 30,000): a job whose worker stops
   * renewing its lock for this long is handed to another worker.
   */
  stallMs?: number;
  progress?: (p: StageProgress) => void;
  log?: (line: string) => void;
}

export interface RunningWorker {
  identity: WorkerIdentity;
  /** Stops taking jobs; running stages are stopped at their next step and their jobs go back to the queue. */
  close: () => Promise<void>;
  /** Settles when the worker stops: with the error that stopped it (a run it cannot load), or undefined. */
  stopped: Promise<ZooError | undefined>;
}

/**
 * `zoo worker`: takes jobs of every sweep on the queue and runs them. A run directory it cannot open or
 * whose plugins it cannot load (packages installed differently here) is not its to run: the job goes
 * back to the queue untouched, the error is recorded in the run directory, and the worker stops with it.
 */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const address = parseQueueUrl(o.queue);
  await checkReachable(address);
  const me = workerIdentity(o.name);
  const log = o.log ?? (() => {});
  const progress = o.progress ?? (() => {});
  const stallMs = o.stallMs ?? 30_000;
  const controller = new AbortController();
  const connection = connect(address);
  const queue = new Queue<ZooJobData>(QUEUE_NAME, { connection });
  let refusal: ZooError | undefined;
  let resolveStopped!: (e: ZooError | undefined) => void;
  const stopped = new Promise<ZooError | undefined>((r) => (resolveStopped = r));

  const backToQueue = async (job: Job<ZooJobData>, token: string | undefined, delayMs: number): Promise<never> => {
    await job.moveToDelayed(Date.now() + delayMs, token);
    throw new DelayedError();
  };

  const processJob = async (job: Job<ZooJobData>, token?: string): Promise<unknown> => {
    const d = job.data;
    const attempt = job.attemptsStarted;
    let run: OpenRun;
    try {
      run = await openRun(d.runDir);
    } catch (e) {
      const z = toZooError(e);
      refusal ??= new ZooError(z.code, `worker ${me.name} cannot run jobs of ${d.runDir}: ${z.message}; the job ${job.id} went back to the queue for another worker`, {
        ...(z.field ? { field: z.field } : {}),
        cause: e,
      });
      try {
        recordEvent(d.runDir, me, { job: job.id!, attempt, event: 'refused', error: `${z.code}: ${z.message}` });
      } catch {
        // the run directory is not reachable from here (no shared filesystem): the error says so
      }
      log(`zoo worker: ${refusal.code}: ${refusal.message}`);
      // Closing first, so that once this job is back on the queue BullMQ fetches no next one here.
      void shutdown();
      return backToQueue(job, token, 1000);
    }
    try {
      if (d.kind === 'stages') return await runStages(run, job, attempt);
      if (d.kind === 'seed') return await addSeedTasks(run, job, token);
      return await aggregate(run, job, attempt);
    } catch (e) {
      if (e instanceof WaitingChildrenError || e instanceof DelayedError) throw e;
      const z = toZooError(e);
      if (z.code === 'ABORTED') return backToQueue(job, token, 0); // this worker is stopping: another takes it
      recordEvent(d.runDir, me, { job: job.id!, attempt, event: 'failed', error: `${z.code}: ${z.message}` });
      // A stage's own error (a bad option, a plugin that throws) is the same on every worker: no retry.
      if (z.code !== 'INTERNAL') throw new UnrecoverableError(`${z.code}: ${z.message}`);
      throw e;
    }
  };

  const runStages = async (run: OpenRun, job: Job<ZooJobData>, attempt: number) => {
    const ran: string[] = [];
    recordEvent(run.runDir, me, { job: job.id!, attempt, event: 'start' });
    for (const id of job.data.stages ?? []) {
      const s = run.plan.stages.find((p) => p.id === id);
      if (!s) throw new ZooError('INTERNAL', `job ${job.id}: no stage ${id} in the plan of ${run.runDir}`, { field: id });
      const release = await claimStage(run.runDir, id, me, { signal: controller.signal, staleMs: Math.max(stallMs, 3000) });
      try {
        const didRun = await runStage({ runDir: run.runDir, x: run.x, signal: controller.signal, progress }, s);
        if (didRun) {
          ran.push(id);
          writeAtomic(path.join(stageDir(run.runDir, id), 'worker.json'), JSON.stringify({ ...me, job: job.id, attempt, finished: new Date().toISOString() }, null, 1));
        }
        recordEvent(run.runDir, me, { job: job.id!, attempt, stage: id, event: didRun ? 'ran' : 'skipped' });
      } finally {
        await release();
      }
    }
    recordEvent(run.runDir, me, { job: job.id!, attempt, event: 'done' });
    return { ran, worker: me.name };
  };

  const addSeedTasks = async (run: OpenRun, job: Job<ZooJobData>, token: string | undefined) => {
    const d = job.data;
    if (!d.added) {
      // Custom ids: adding a task a second time (this job retried) is a no-op.
      for (const t of seedTasks(run.plan, d.seed!)) {
        await queue.add(
          t.id,
          { runDir: d.runDir, sweep: d.sweep, kind: 'stages', group: taskGroup(t), stages: t.stages.map((s) => s.id) },
          { ...jobOptions(jobId(d.sweep, 'task', t.id)), parent: { id: job.id!, queue: job.queueQualifiedName } },
        );
      }
      await job.updateData({ ...d, added: true });
    }
    if (await job.moveToWaitingChildren(token!)) throw new WaitingChildrenError();
    return { seed: d.seed };
  };

  const aggregate = async (run: OpenRun, job: Job<ZooJobData>, attempt: number) => {
    const release = await claimStage(run.runDir, `aggregate-${job.data.sweep}`, me, { signal: controller.signal, staleMs: Math.max(stallMs, 3000) });
    try {
      const marker = path.join(run.runDir, 'queue', 'sweeps', `${job.data.sweep}.json`);
      if (fs.existsSync(marker)) {
        recordEvent(run.runDir, me, { job: job.id!, attempt, stage: 'aggregate', event: 'skipped' });
        return { written: false };
      }
      await aggregateRun(run);
      writeAtomic(marker, JSON.stringify({ sweep: job.data.sweep, worker: me.name, finished: new Date().toISOString() }));
      recordEvent(run.runDir, me, { job: job.id!, attempt, stage: 'aggregate', event: 'ran' });
      return { written: true };
    } finally {
      await release();
    }
  };

  const worker = new Worker<ZooJobData>(QUEUE_NAME, processJob, {
    connection,
    concurrency: o.concurrency ?? 1,
    lockDuration: stallMs,
    stalledInterval: stallMs,
    maxStalledCount: 3,
    name: me.name,
  });
  worker.on('error', (e) => log(`zoo worker: queue: ${e.message}`));
  worker.on('failed', (job, e) => job && log(`zoo worker: job ${job.id} failed: ${e.message}`));
  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= (async () => {
      controller.abort();
      await worker.close();
      await queue.close();
      connection.disconnect();
      resolveStopped(refusal);
    })();
    return closing;
  };
  log(`zoo worker ${me.name}: taking jobs from ${address.display} (concurrency ${o.concurrency ?? 1})`);
  return { identity: me, close: shutdown, stopped };
}
