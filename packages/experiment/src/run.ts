import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toZooError, ZooError } from '@regime-zoo/core';
import { atField, readConfigFile, validateConfig, type LoadedConfig } from './load.js';
import { planExperiment, type Plan } from './plan.js';
import { runPool } from './pool.js';
import { writeReport } from './report.js';
import { normalizeConfig, resolveExperiment, type ResolvedExperiment } from './resolve.js';
import { buildResults, type Results } from './results.js';
import { lockRun, readJson, RUN_FILES, RUN_FORMAT, RUN_VERSION, stageDir, writeAtomic, type RunInfo } from './rundir.js';
import { runStage, type StageProgress } from './stages.js';
import { readMetricsFile } from './metrics.js';

/** Loads, validates and resolves a config; every error names the field (and the file and line). */
export async function loadExperiment(file: string, resolveFrom?: string): Promise<ResolvedExperiment> {
  const loaded = await readConfigFile(file);
  return resolveLoaded(loaded, resolveFrom ?? path.dirname(loaded.file));
}

/** Reads a config file and resolves it; `loaded` keeps the file's path (and its lines, for errors). */
export async function readExperiment(configFile: string): Promise<{ loaded: LoadedConfig; x: ResolvedExperiment }> {
  const loaded = await readConfigFile(configFile);
  return { loaded, x: await resolveLoaded(loaded, path.dirname(loaded.file)) };
}

async function resolveLoaded(loaded: LoadedConfig, resolveFrom: string): Promise<ResolvedExperiment> {
  const config = validateConfig(loaded);
  try {
    return await resolveExperiment(normalizeConfig(config), resolveFrom);
  } catch (e) {
    const z = toZooError(e);
    throw z.field ? atField(loaded, z) : z;
  }
}

export interface OpenRun {
  runDir: string;
  x: ResolvedExperiment;
  plan: Plan;
}

const opened = new Map<string, Promise<OpenRun>>();

/** Writes a starting run's `run.json`, `config.json` and `vocabulary.json`, and drops any cached `openRun` of it. */
export function prepareRunDir(runDir: string, loaded: LoadedConfig, x: ResolvedExperiment): void {
  const info: RunInfo = { format: RUN_FORMAT, version: RUN_VERSION, name: x.config.name, configFile: loaded.file, resolveFrom: x.resolveFrom };
  writeAtomic(path.join(runDir, RUN_FILES.run), JSON.stringify(info, null, 2));
  writeAtomic(path.join(runDir, RUN_FILES.config), JSON.stringify(x.config, null, 2));
  writeAtomic(path.join(runDir, RUN_FILES.vocabulary), JSON.stringify(x.vocabulary.toJSON(), null, 1));
  opened.delete(runDir);
}

/** The last stage of a run: the stages' metrics gathered into `metrics.jsonl`, then `results.json` and the report. */
export async function aggregateRun(run: OpenRun): Promise<Results> {
  const lines = run.plan.stages.flatMap((s) => readMetricsFile(path.join(stageDir(run.runDir, s.id), 'metrics.jsonl')));
  writeAtomic(path.join(run.runDir, RUN_FILES.metrics), lines.map((l) => JSON.stringify(l) + '\n').join(''));
  const results = buildResults(run);
  writeAtomic(path.join(run.runDir, RUN_FILES.results), JSON.stringify(results, null, 1));
  await writeReport(run.runDir);
  return results;
}

/** A run directory's experiment, from its `run.json` and `config.json` (cached per process). */
export function openRun(runDir: string): Promise<OpenRun> {
  const abs = path.resolve(runDir);
  let p = opened.get(abs);
  if (!p) {
    p = (async () => {
      const info = readJson<RunInfo>(path.join(abs, RUN_FILES.run));
      if (info.format !== RUN_FORMAT || info.version !== RUN_VERSION) {
        throw new ZooError('CONFIG_INVALID', `${path.join(abs, RUN_FILES.run)} is ${info.format} version ${info.version}; this @regime-zoo/experiment reads ${RUN_FORMAT} version ${RUN_VERSION}`, {
          field: 'version',
        });
      }
      const x = await loadExperiment(path.join(abs, RUN_FILES.config), info.resolveFrom);
      return { runDir: abs, x, plan: planExperiment(x) };
    })();
    opened.set(abs, p);
    p.catch(() => opened.delete(abs));
  }
  return p;
}

/** Runs one task's stages in this process; returns the ids of the stages that ran (not skipped). */
export async function executeTask(run: OpenRun, taskId: string, o: { signal: AbortSignal; progress: (p: StageProgress) => void }): Promise<string[]> {
  const task = [...run.plan.preludes, ...run.plan.tasks].find((t) => t.id === taskId);
  if (!task) throw new ZooError('INTERNAL', `no task ${taskId} in the plan of ${run.runDir}`, { field: taskId });
  const ran: string[] = [];
  for (const s of task.stages) {
    if (await runStage({ runDir: run.runDir, x: run.x, signal: o.signal, progress: o.progress }, s)) ran.push(s.id);
  }
  return ran;
}

export interface RunOptions {
  /** Worker processes (default: the config's `run.workers`, else the number of cores); 1 runs in this process. */
  workers?: number;
  progress?: (p: StageProgress) => void;
  signal?: AbortSignal;
}

export interface RunOutcome {
  runDir: string;
  results: Results;
  /** Stages that ran this time (the others were complete already). */
  ran: string[];
}

/**
 * `zoo run`: validates the config, prepares the run directory (`runDir`, default `<runsDir>/<name>`),
 * locks it, and runs every stage not already complete with the same inputs; then writes `metrics.jsonl`,
 * `results.json`, `report.md` and `report.html`.
 */
export async function runExperiment(configFile: string, o: RunOptions & { runDir?: string; runsDir?: string } = {}): Promise<RunOutcome> {
  const { loaded, x } = await readExperiment(configFile);
  const runDir = path.resolve(o.runDir ?? path.join(o.runsDir ?? 'runs', x.config.name));
  const release = await lockRun(runDir);
  try {
    prepareRunDir(runDir, loaded, x);
    return await execute(runDir, o);
  } finally {
    await release();
  }
}

/** `zoo resume`: continues a run directory with the config it was started with. */
export async function resumeExperiment(runDir: string, o: RunOptions = {}): Promise<RunOutcome> {
  const abs = path.resolve(runDir);
  if (!fs.existsSync(path.join(abs, RUN_FILES.run))) {
    throw new ZooError('CONFIG_INVALID', `${abs} is not a run directory (no ${RUN_FILES.run}); start one with \`zoo run <config>\``, { field: abs });
  }
  const release = await lockRun(abs);
  try {
    return await execute(abs, o);
  } finally {
    await release();
  }
}

async function execute(runDir: string, o: RunOptions): Promise<RunOutcome> {
  const run = await openRun(runDir);
  const signal = o.signal ?? new AbortController().signal;
  const progress = o.progress ?? (() => {});
  const size = o.workers ?? run.x.config.run.workers ?? Math.max(1, os.availableParallelism());
  const ran: string[] = [];
  for (const phase of [run.plan.preludes, run.plan.tasks]) {
    const ids = phase.map((t) => t.id);
    if (size <= 1 || ids.length <= 1) {
      for (const id of ids) ran.push(...(await executeTask(run, id, { signal, progress })));
    } else {
      ran.push(...(await runPool({ runDir, taskIds: ids, size, progress, signal })));
    }
  }
  return { runDir, results: await aggregateRun(run), ran: ran.sort() };
}
