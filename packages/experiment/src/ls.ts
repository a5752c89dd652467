import fs from 'node:fs';
import path from 'node:path';
import { processAlive, readJson, RUN_FILES, type RunInfo } from './rundir.js';

/** One run directory as `zoo ls` shows it. */
export interface RunListing {
  dir: string;
  name: string;
  /** `complete` (results.json written), `locked` (a live run holds it) or `incomplete` (resume it). */
  status: 'complete' | 'locked' | 'incomplete';
  stagesDone: number;
}

function countDone(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const sub = path.join(dir, e.name);
    if (fs.existsSync(path.join(sub, 'stage.json'))) n++;
    else n += countDone(sub);
  }
  return n;
}

function lockedByLive(dir: string): boolean {
  let pid: number;
  try {
    ({ pid } = readJson<{ pid: number }>(path.join(dir, RUN_FILES.owner)));
  } catch {
    return false;
  }
  return processAlive(pid);
}

/** The run directories under `runsDir` (folders with a run.json), sorted by name. */
export function listRuns(runsDir: string): RunListing[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(runsDir, e.name, RUN_FILES.run)))
    .map((e) => {
      const dir = path.join(runsDir, e.name);
      const info = readJson<RunInfo>(path.join(dir, RUN_FILES.run));
      const status = lockedByLive(dir) ? 'locked' : fs.existsSync(path.join(dir, RUN_FILES.results)) ? 'complete' : 'incomplete';
      return { dir, name: info.name, status, stagesDone: countDone(path.join(dir, RUN_FILES.stages)) } satisfies RunListing;
    })
    .sort((a, b) => a.dir.localeCompare(b.dir));
}
