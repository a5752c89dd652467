import type { JobsOptions } from 'bullmq';
import type { Plan, PlannedStage, Task } from '../plan.js';

/** What every job of a sweep carries. */
export interface ZooJobData {
  runDir: string;
  sweep: string;
  /** `stages`: run these stages in order; `seed`: add the seed's tasks and wait for them; `aggregate`: results and report. */
  kind: 'stages' | 'seed' | 'aggregate';
  /** What `zoo sweep status` groups by: `data`, `base`, `reward-model`, an arm, `seed`, `aggregate`. */
  group: string;
  stages?: string[];
  seed?: number;
  /** Progress of a `seed` job (BullMQ's step-job pattern): its tasks were added. */
  added?: boolean;
}

export interface FlowNode {
  name: string;
  queueName: string;
  data: ZooJobData;
  opts: JobsOptions;
  children?: FlowNode[];
}

/**
 * Options of every job: a custom id (so adding it again is a no-op), the parent fails with a child
 * (so `zoo run` learns of it), retries for infrastructure errors (a stage's own error is final), and
 * finished jobs are kept for `zoo sweep status`.
 */
export function jobOptions(jobId: string): JobsOptions {
  return { jobId, failParentOnFailure: true, attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false };
}

/** A job id: the sweep, the job's kind and its stage or task id (BullMQ ids may not contain `:`). */
export function jobId(sweep: string, kind: 'stage' | 'task' | 'seed' | 'aggregate', id = ''): string {
  return [sweep, kind, id].filter(Boolean).join('.');
}

/** The group of a task (`arm/dpo/seed-1` → `dpo`, `base/seed-1` → `base`). */
export function taskGroup(t: Task): string {
  return t.id.startsWith('arm/') ? t.id.split('/')[1]! : 'base';
}

/** The tasks of one seed, as children to add under its `seed` job. */
export function seedTasks(plan: Plan, seed: number): Task[] {
  return plan.tasks.filter((t) => t.stages[0]!.seed === seed);
}

/**
 * The sweep as one BullMQ flow (children run before parents): `aggregate` ← per seed `seed/S` ← the
 * prelude chain `reward-model` ← `base` ← `data`. When a `seed` job runs (its prelude is done) it adds
 * the seed's tasks (each arm with its probes and students, and the base's probes) as its children and
 * waits for them: data → base → arms → probes → aggregate.
 */
export function sweepFlow(plan: Plan, runDir: string, sweep: string, queueName: string): FlowNode {
  const node = (name: string, id: string, data: Omit<ZooJobData, 'runDir' | 'sweep'>, children?: FlowNode[]): FlowNode => ({
    name,
    queueName,
    data: { runDir, sweep, ...data },
    opts: jobOptions(id),
    ...(children?.length ? { children } : {}),
  });
  const chain = (stages: PlannedStage[]): FlowNode[] => {
    if (!stages.length) return [];
    const last = stages[stages.length - 1]!;
    return [node(last.id, jobId(sweep, 'stage', last.id), { kind: 'stages', group: last.kind, stages: [last.id] }, chain(stages.slice(0, -1)))];
  };
  const seeds = plan.preludes.map((p) => {
    const seed = p.stages[0]!.seed;
    return node(`seed-${seed}`, jobId(sweep, 'seed', `seed-${seed}`), { kind: 'seed', group: 'seed', seed }, chain(p.stages));
  });
  return node('aggregate', jobId(sweep, 'aggregate'), { kind: 'aggregate', group: 'aggregate' }, seeds);
}
