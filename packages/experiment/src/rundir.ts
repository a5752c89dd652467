import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ZooError } from '@regime-zoo/core';
import lockfile from 'proper-lockfile';

/** JSON with object keys sorted, so equal values hash equally whatever order they were written in. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'function') return `[function ${(v as { name?: string }).name ?? ''}: ${String(v)}]`;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}

/** sha256 of the stable JSON of `value`, hex, first 16 characters. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}

/** Files and folders of a run directory (docs/experiments.md describes each). */
export const RUN_FILES = {
  run: 'run.json',
  config: 'config.json',
  vocabulary: 'vocabulary.json',
  metrics: 'metrics.jsonl',
  results: 'results.json',
  reportMd: 'report.md',
  reportHtml: 'report.html',
  stages: 'stages',
  tensorboard: 'tensorboard',
  lock: 'run.lock',
  owner: 'run.lock.owner.json',
} as const;

export const RUN_FORMAT = 'regime-zoo/run';
export const RUN_VERSION = 1;

/** `run.json`: where the config came from. */
export interface RunInfo {
  format: typeof RUN_FORMAT;
  version: number;
  name: string;
  /** The config file `zoo run` was given. */
  configFile: string;
  /** Packages are imported from here (the config file's folder). */
  resolveFrom: string;
}

/** What `stages/<id>/stage.json` records once the stage is complete. */
export interface StageRecord {
  id: string;
  key: string;
  /** Anything the stage reports (steps, final metrics, files). */
  output: Record<string, unknown>;
}

export function stageDir(runDir: string, id: string): string {
  return path.join(runDir, RUN_FILES.stages, ...id.split('/'));
}

/** The record of a complete stage whose key is `key`, or undefined. */
export function readStage(runDir: string, id: string, key: string): StageRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(stageDir(runDir, id), 'stage.json'), 'utf8')) as StageRecord;
    return r.key === key ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a file atomically (temporary name, then rename). */
export function writeAtomic(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * Prepares a stage's folder: when it holds work of another key (the stage's inputs changed), the folder
 * is emptied; work of the same key (a killed run) is kept, so the stage resumes from its checkpoint.
 */
export function openStage(runDir: string, id: string, key: string): string {
  const dir = stageDir(runDir, id);
  const keyFile = path.join(dir, 'key');
  let had: string | undefined;
  try {
    had = fs.readFileSync(keyFile, 'utf8');
  } catch {
    had = undefined;
  }
  if (had !== key) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    writeAtomic(keyFile, key);
  }
  return dir;
}

export function finishStage(runDir: string, record: StageRecord): void {
  writeAtomic(path.join(stageDir(runDir, record.id), 'stage.json'), JSON.stringify(record, null, 1));
}

/** Whether a process with this id runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Locks a run directory for this process (proper-lockfile's lock folder, refreshed while we live). A lock
 * whose owner process is gone (a killed run) is taken over; a live owner's lock is an error naming it.
 * Returns the release function.
 */
export async function lockRun(runDir: string): Promise<() => Promise<void>> {
  fs.mkdirSync(runDir, { recursive: true });
  const lockPath = path.join(runDir, RUN_FILES.lock);
  const ownerFile = path.join(runDir, RUN_FILES.owner);
  const take = () => lockfile.lock(runDir, { lockfilePath: lockPath, stale: 30_000, update: 5_000, realpath: false, onCompromised: () => {} });
  let release: () => Promise<void>;
  try {
    release = await take();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as typeof owner;
    } catch {
      // no owner file: the lock was just taken, or its owner died before writing it
    }
    if (owner.pid !== undefined && processAlive(owner.pid)) {
      throw new ZooError('CONFIG_INVALID', `run directory ${runDir} is locked by a live run (process ${owner.pid}); wait for it to finish, stop it, or pass another run directory`, {
        field: runDir,
      });
    }
    if (owner.pid === undefined) {
      throw new ZooError('CONFIG_INVALID', `run directory ${runDir} is locked (${lockPath}) by a process that did not say who it is; if no run is using it, remove ${lockPath}`, { field: runDir });
    }
    // The owner is gone (SIGKILL leaves its lock folder behind): take the lock over.
    fs.rmSync(lockPath, { recursive: true, force: true });
    release = await take();
  }
  writeAtomic(ownerFile, JSON.stringify({ pid: process.pid }));
  return async () => {
    fs.rmSync(ownerFile, { force: true });
    await release();
  };
}

/** Reads a JSON file of a run, naming the file in the error. */
export function readJson<T>(file: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ZooError('CONFIG_INVALID', `${file} cannot be read (${(e as Error).message}); is this a run directory made by \`zoo run\`?`, { field: file, cause: e });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new ZooError('BAD_JSON', `${file} is not valid JSON: ${(e as Error).message}`, { field: file, cause: e });
  }
}
