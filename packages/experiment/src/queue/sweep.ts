import path from 'node:path';
import { FlowProducer, Queue, type Job, type JobType } from 'bullmq';
import { ZooError, type ZooErrorCode } from '@regime-zoo/core';
import { planExperiment } from '../plan.js';
import { readResults, type Results } from '../results.js';
import { prepareRunDir, readExperiment } from '../run.js';
import { lockRun, RUN_FILES } from '../rundir.js';
import { checkReachable, connect, parseQueueUrl, QUEUE_NAME } from './connection.js';
import { readWorkerEvents } from './claim.js';
import { jobId, sweepFlow, type ZooJobData } from './jobs.js';

export interface QueueRunOptions {
  /** `redis://host:port[/db]`. */
  queue: string;
  runDir?: string;
  runsDir?: string;
  /** A line whenever the sweep's counts change. */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** How often the sweep is polled (ms, default 500). */
  pollMs?: number;
}

export interface QueueRunOutcome {
  runDir: string;
  sweep: string;
  results: Results;
  /** Stages that ran in this sweep (the others were complete already), and which worker ran each. */
  ran: string[];
  workers: Record<string, string>;
}

const STATES: JobType[] = ['waiting', 'prioritized', 'delayed', 'waiting-children', 'active', 'completed', 'failed'];

function stateGroup(s: string): 'queued' | 'running' | 'done' | 'failed' {
  return s === 'active' ? 'running' : s === 'completed' ? 'done' : s === 'failed' ? 'failed' : 'queued';
}

export interface SweepStatusRow {
  sweep: string;
  runDir: string;
  /** `data`, `base`, `reward-model`, an arm, `seed`, `aggregate`. */
  group: string;
  queued: number;
  running: number;
  done: number;
  failed: number;
  /** Failed jobs and their error. */
  errors: { job: string; error: string }[];
}

async function sweepJobs(queue: Queue<ZooJobData>, sweep?: string): Promise<{ job: Job<ZooJobData>; state: string }[]> {
  const out: { job: Job<ZooJobData>; state: string }[] = [];
  for (const state of STATES) {
    for (const job of await queue.getJobs([state], 0, -1)) {
      if (job && (!sweep || job.data.sweep === sweep)) out.push({ job, state });
    }
  }
  return out;
}

function tabulate(jobs: { job: Job<ZooJobData>; state: string }[]): SweepStatusRow[] {
  const rows = new Map<string, SweepStatusRow>();
  for (const { job, state } of jobs) {
    const key = `${job.data.sweep}\0${job.data.group}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { sweep: job.data.sweep, runDir: job.data.runDir, group: job.data.group, queued: 0, running: 0, done: 0, failed: 0, errors: [] }));
    r[stateGroup(state)]++;
    if (state === 'failed') r.errors.push({ job: job.id!, error: job.failedReason });
  }
  return [...rows.values()].sort((a, b) => a.sweep.localeCompare(b.sweep) || a.group.localeCompare(b.group));
}

/** `zoo sweep status`: queued / running / done / failed per sweep and arm, failed jobs with their error. */
export async function sweepStatus(o: { queue: string; sweep?: string }): Promise<SweepStatusRow[]> {
  const address = parseQueueUrl(o.queue);
  await checkReachable(address);
  const connection = connect(address);
  const queue = new Queue<ZooJobData>(QUEUE_NAME, { connection });
  try {
    return tabulate(await sweepJobs(queue, o.sweep));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/**
 * `zoo run <config> --queue redis://…`: validates the config, prepares and locks the run directory
 * (which every worker must see at the same path), adds the sweep as one BullMQ flow (see `sweepFlow`),
 * follows it until its `aggregate` job has written `results.json` and the report, and returns them. The
 * work is done by `zoo worker`s. Run it again after a failure: complete stages are skipped.
 */
export async function runOnQueue(configFile: string, o: QueueRunOptions): Promise<QueueRunOutcome> {
  const address = parseQueueUrl(o.queue);
  const { loaded, x } = await readExperiment(configFile);
  await checkReachable(address);
  const runDir = path.resolve(o.runDir ?? path.join(o.runsDir ?? 'runs', x.config.name));
  const release = await lockRun(runDir);
  const connection = connect(address);
  const queue = new Queue<ZooJobData>(QUEUE_NAME, { connection });
  const flows = new FlowProducer({ connection });
  const log = o.log ?? (() => {});
  try {
    prepareRunDir(runDir, loaded, x);
    const plan = planExperiment(x);
    const sweep = `${x.config.name}-${Date.now().toString(36)}`;
    await flows.add(sweepFlow(plan, runDir, sweep, QUEUE_NAME));
    log(`sweep ${sweep}: ${plan.stages.length} stages enqueued on ${address.display}; start workers with \`zoo worker --queue ${o.queue}\``);
    const rootId = jobId(sweep, 'aggregate');
    let last = '';
    for (;;) {
      if (o.signal?.aborted) {
        throw new ZooError('ABORTED', `stopped following sweep ${sweep}; its jobs stay on the queue for the workers (\`zoo sweep status --queue ${o.queue}\`)`);
      }
      const jobs = await sweepJobs(queue, sweep);
      const counts = { queued: 0, running: 0, done: 0, failed: 0 };
      for (const j of jobs) counts[stateGroup(j.state)]++;
      const line = `sweep ${sweep}: ${counts.queued} queued, ${counts.running} running, ${counts.done} done, ${counts.failed} failed`;
      if (line !== last) log((last = line));
      const root = jobs.find((j) => j.job.id === rootId);
      if (root?.state === 'completed') {
        // From the run directory's worker records (one line per stage a worker ran in this sweep).
        const ids = new Set(jobs.map((j) => j.job.id));
        const ran: string[] = [];
        const workers: Record<string, string> = {};
        for (const e of readWorkerEvents(runDir)) {
          if (e.event === 'ran' && e.stage && e.stage !== 'aggregate' && ids.has(e.job)) {
            ran.push(e.stage);
            workers[e.stage] = e.worker;
          }
        }
        return { runDir, sweep, results: readResults(path.join(runDir, RUN_FILES.results)), ran: ran.sort(), workers };
      }
      const failed = jobs.filter((j) => j.state === 'failed' && j.job.data.kind === 'stages');
      if (root?.state === 'failed' || failed.length) {
        const first = failed[0]?.job ?? root!.job;
        const m = /^([A-Z_]+): ([\s\S]*)$/.exec(first.failedReason ?? '');
        throw new ZooError((m?.[1] as ZooErrorCode | undefined) ?? 'INTERNAL', `sweep ${sweep}: job ${first.id} failed: ${m?.[2] ?? first.failedReason}; fix it and run \`zoo run\` again (complete stages are kept)`, {
          field: first.data.stages?.[0] ?? first.name,
        });
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
    }
  } finally {
    await flows.close();
    await queue.close();
    connection.disconnect();
    await release();
  }
}
