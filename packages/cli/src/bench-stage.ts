// `zoo bench`'s end-to-end line: one whole experiment at the config schema's defaults (issue 19), so
// that the time a researcher waits is tracked beside the per-step numbers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runExperiment, type ExperimentInput } from '@regime-zoo/experiment';

/**
 * The default experiment stage: the tamper world, one seed, the ID split, an SFT base and a PPO arm,
 * everything else (model size, data, base training, PPO's options, the probe) at its defaults.
 */
export const DEFAULT_STAGE_EXPERIMENT: ExperimentInput = {
  name: 'bench-stage',
  seeds: [1],
  worlds: ['tamper'],
  splits: ['id'],
  arms: [{ name: 'ppo', regime: { package: 'ppo' } }],
  probes: [{ package: 'instrumental-rate' }],
};

export interface StageTiming {
  /** The stage's id in the run directory, e.g. `base/seed-1` or `arm/ppo/seed-1`. */
  stage: string;
  seconds: number;
}

export interface StageBenchResult {
  experiment: ExperimentInput;
  /** Stages in the order they finished. */
  stages: StageTiming[];
  /** Wall clock of the whole run: stages, results and report. */
  seconds: number;
}

/**
 * Runs `experiment` with `zoo run`'s runner in one process (workers: 1, so that stages do not overlap)
 * in a temporary run directory, which it removes, and returns each stage's wall-clock time.
 */
export async function benchExperimentStage(experiment: ExperimentInput = DEFAULT_STAGE_EXPERIMENT, log: (line: string) => void = () => {}): Promise<StageBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-bench-stage-'));
  try {
    const file = path.join(dir, 'experiment.json');
    fs.writeFileSync(file, JSON.stringify(experiment));
    const started = new Map<string, number>();
    const stages: StageTiming[] = [];
    const t0 = performance.now();
    await runExperiment(file, {
      runDir: path.join(dir, 'run'),
      workers: 1,
      progress: (p) => {
        if (p.event === 'start') started.set(p.stage, performance.now());
        if (p.event !== 'done') return;
        const seconds = (performance.now() - (started.get(p.stage) ?? t0)) / 1000;
        stages.push({ stage: p.stage, seconds });
        log(`[bench] stage ${p.stage}: ${seconds.toFixed(1)} s`);
      },
    });
    return { experiment, stages, seconds: (performance.now() - t0) / 1000 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatStageBench(r: StageBenchResult): string {
  const width = Math.max(5, ...r.stages.map((s) => s.stage.length));
  const rows = r.stages.map((s) => `${s.stage.padEnd(width)}  ${s.seconds.toFixed(1).padStart(7)}`);
  return [
    r.experiment === DEFAULT_STAGE_EXPERIMENT
      ? 'end to end: `zoo run` of one experiment at the config defaults (tamper world, seed 1, ID split: data, SFT base, PPO arm, probes), one process'
      : `end to end: \`zoo run\` of experiment "${r.experiment.name}", one process`,
    `${'stage'.padEnd(width)}  ${'seconds'.padStart(7)}`,
    `${'-'.repeat(width)}  -------`,
    ...rows,
    `${'total'.padEnd(width)}  ${r.seconds.toFixed(1).padStart(7)}  (with results and report)`,
  ].join('\n');
}
