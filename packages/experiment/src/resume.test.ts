import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointStep, readMetricsFile } from './metrics.js';
import { runExperiment } from './run.js';
import { lockRun } from './rundir.js';
import { finished, spawnZoo, tempDir, TINY } from './test-helpers.js';

const tmp = tempDir('resume');
afterAll(() => tmp.cleanup());

describe('zoo run → SIGKILL → zoo resume', () => {
  it('should resume a run killed in the middle of a training stage to results.json identical to an uninterrupted run', async () => {
    const reference = await runExperiment(TINY, { runDir: path.join(tmp.dir, 'reference'), workers: 1 });
    const referenceText = fs.readFileSync(path.join(reference.runDir, 'results.json'), 'utf8');

    const runDir = path.join(tmp.dir, 'killed');
    const child = spawnZoo(['run', TINY, '--run-dir', runDir, '--workers', '1']);
    const done = finished(child);
    // Plain progress lines (stderr is not a TTY): kill once the dpo arm is past its step-5 checkpoint.
    let lockedError: unknown;
    await new Promise<void>((resolve) => {
      let buf = '';
      child.stderr!.on('data', async (d: Buffer) => {
        buf += d.toString();
        const past = [...buf.matchAll(/arm\/dpo\/seed-1: (\d+)\/20/g)].some((m) => Number(m[1]) >= 8);
        if (past && !child.killed && lockedError === undefined) {
          // While the child lives, its run directory is locked.
          lockedError = await lockRun(runDir).then(
            () => undefined,
            (e: unknown) => e,
          );
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    expect(String(lockedError)).toContain(`is locked by a live run (process ${child.pid})`);
    const step = await checkpointStep(path.join(runDir, 'stages/arm/dpo/seed-1/checkpoint'));
    expect(step).toBeGreaterThanOrEqual(5);
    expect(step).toBeLessThan(20);
    expect(fs.existsSync(path.join(runDir, 'stages/arm/dpo/seed-1/stage.json'))).toBe(false);
    expect(fs.existsSync(path.join(runDir, 'results.json'))).toBe(false);

    const resumed = await finished(spawnZoo(['resume', runDir, '--workers', '1']));
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    // Finished stages are not redone; the killed stage and those after it are.
    const ran = /stages run: (.*)/.exec(resumed.stdout)![1]!.split(', ');
    expect(ran).toContain('arm/dpo/seed-1');
    expect(ran).not.toContain('data/seed-1');
    expect(ran).not.toContain('base/seed-1');
    expect(ran).not.toContain('reward-model/seed-1');
    // The dpo stage's metrics hold each step once: the steps after the checkpoint were logged again, not twice.
    const steps = readMetricsFile(path.join(runDir, 'stages/arm/dpo/seed-1/metrics.jsonl')).map((l) => l.step);
    expect(steps).toEqual(Array.from({ length: 20 }, (_, i) => i));

    expect(fs.readFileSync(path.join(runDir, 'results.json'), 'utf8')).toBe(referenceText);
  });

  it('should give the same results.json with a pool of two worker processes as one by one', async () => {
    const seq = path.join(tmp.dir, 'reference', 'results.json');
    const pooled = await runExperiment(TINY, { runDir: path.join(tmp.dir, 'pool'), workers: 2 });
    expect(pooled.ran).toContain('arm/ppo/seed-1');
    expect(fs.readFileSync(path.join(pooled.runDir, 'results.json'), 'utf8')).toBe(fs.readFileSync(seq, 'utf8'));
  });
});
