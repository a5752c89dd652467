import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { processAlive, writeAtomic } from '../rundir.js';

/** Who a worker is: `--name`, else host and process id. */
export interface WorkerIdentity {
  name: string;
  host: string;
  pid: number;
}

export function workerIdentity(name?: string): WorkerIdentity {
  const host = os.hostname();
  return { name: name ?? `${host}-${process.pid}`, host, pid: process.pid };
}

/** `<runDir>/queue/locks/<stage id with / as __>`: outside the stage folder, which a new key empties. */
function lockPath(runDir: string, stageId: string): string {
  return path.join(runDir, 'queue', 'locks', stageId.replaceAll('/', '__'));
}

/**
 * Takes a stage's lock (proper-lockfile's mkdir lock, refreshed while we hold it) so that a job delivered
 * twice never runs the same stage in two places at once: the second delivery waits, then finds the stage
 * complete and skips it. A lock left by a dead process on this host is taken over at once; one of another
 * host when it goes stale (not refreshed for `staleMs`). Returns the release function.
 */
export async function claimStage(runDir: string, stageId: string, me: WorkerIdentity, o: { signal?: AbortSignal; staleMs?: number; pollMs?: number } = {}): Promise<() => Promise<void>> {
  const file = lockPath(runDir, stageId);
  const ownerFile = `${file}.owner.json`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const staleMs = o.staleMs ?? 30_000;
  for (;;) {
    try {
      const release = await lockfile.lock(file, { lockfilePath: `${file}.lock`, stale: staleMs, update: Math.max(1000, Math.floor(staleMs / 3)), realpath: false, onCompromised: () => {} });
      writeAtomic(ownerFile, JSON.stringify(me));
      return async () => {
        fs.rmSync(ownerFile, { force: true });
        await release().catch(() => {});
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
    }
    let owner: Partial<WorkerIdentity> = {};
    try {
      owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as WorkerIdentity;
    } catch {
      // just taken, owner not written yet
    }
    if (owner.host === me.host && owner.pid !== undefined && !processAlive(owner.pid)) {
      fs.rmSync(`${file}.lock`, { recursive: true, force: true });
      continue;
    }
    if (o.signal?.aborted) throw new Error(`stopped while waiting for stage ${stageId} (held by ${owner.name ?? 'another worker'})`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}

/** One line of `<runDir>/queue/workers/<worker>.jsonl`: what a worker did with a job (one writer per file). */
export interface WorkerEvent {
  time: string;
  worker: string;
  host: string;
  pid: number;
  job: string;
  /** BullMQ's count of times the job was started (a stalled job retried counts again). */
  attempt: number;
  stage?: string;
  event: 'start' | 'ran' | 'skipped' | 'done' | 'failed' | 'refused';
  error?: string;
}

export function recordEvent(runDir: string, me: WorkerIdentity, e: Omit<WorkerEvent, 'time' | 'worker' | 'host' | 'pid'>): void {
  const dir = path.join(runDir, 'queue', 'workers');
  fs.mkdirSync(dir, { recursive: true });
  const line: WorkerEvent = { time: new Date().toISOString(), worker: me.name, host: me.host, pid: me.pid, ...e };
  fs.appendFileSync(path.join(dir, `${me.name.replace(/[^\w.-]/g, '_')}.jsonl`), JSON.stringify(line) + '\n');
}

/** Every worker event of a run, in time order. */
export function readWorkerEvents(runDir: string): WorkerEvent[] {
  const dir = path.join(runDir, 'queue', 'workers');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      fs
        .readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as WorkerEvent),
    )
    .sort((a, b) => a.time.localeCompare(b.time));
}
