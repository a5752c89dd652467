import fs from 'node:fs';
import path from 'node:path';
import { findCheckpoint, summaryFileWriter, type MetricsSink } from '@regime-zoo/core';
import { RUN_FILES, stageDir } from './rundir.js';

/** One line of `metrics.jsonl`: a step's logged metrics with the stage, arm and seed they belong to. */
export interface MetricsLine {
  stage: string;
  arm: string;
  seed: number;
  step: number;
  metrics: Record<string, number | null>;
}

/** The step of the checkpoint `loadCheckpoint(dir)` would resume from (core's `findCheckpoint`), or 0 when there is none. */
export async function checkpointStep(dir: string): Promise<number> {
  const found = await findCheckpoint(dir);
  if (!found) return 0;
  return (JSON.parse(fs.readFileSync(path.join(found.folder, 'model.json'), 'utf8')) as { step?: number }).step ?? 0;
}

/**
 * A metrics sink for one training stage: appends to the stage's `metrics.jsonl` (dropping lines from
 * steps after `resumeStep`, which a killed run logged but did not checkpoint) and writes each scalar to
 * the arm's TensorBoard event files (`tensorboard/<arm>/seed-<s>`).
 */
export function stageMetrics(runDir: string, o: { stageId: string; stage: string; arm: string; seed: number; resumeStep: number }): { log: MetricsSink; close(): void } {
  const file = path.join(stageDir(runDir, o.stageId), 'metrics.jsonl');
  const kept = readMetricsFile(file).filter((l) => l.step < o.resumeStep);
  fs.writeFileSync(file, kept.map((l) => JSON.stringify(l) + '\n').join(''));
  const fd = fs.openSync(file, 'a');
  const tb = summaryFileWriter(path.join(runDir, RUN_FILES.tensorboard, o.arm, `seed-${o.seed}`));
  return {
    log: (step, metrics) => {
      const line: MetricsLine = { stage: o.stage, arm: o.arm, seed: o.seed, step, metrics };
      fs.writeSync(fd, JSON.stringify(line) + '\n');
      if (tb) for (const [k, v] of Object.entries(metrics)) if (Number.isFinite(v)) tb.scalar(k, v, step);
    },
    close: () => {
      fs.closeSync(fd);
      tb?.flush();
    },
  };
}

export function readMetricsFile(file: string): MetricsLine[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as MetricsLine];
      } catch {
        return []; // a line cut by a kill
      }
    });
}
