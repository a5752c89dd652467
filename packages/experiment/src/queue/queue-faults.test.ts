import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointStep, readMetricsFile } from '../metrics.js';
import { runExperiment } from '../run.js';
import { finished, spawnZoo, tempDir, TINY } from '../test-helpers.js';
import { readWorkerEvents } from './claim.js';
import { startRedis } from './redis-server.js';
import { runOnQueue } from './sweep.js';

const tmp = tempDir('queue-faults');
let redis: Awaited<ReturnType<typeof startRedis>>;
beforeAll(async () => {
  fs.mkdirSync(path.join(tmp.dir, 'redis'));
  redis = await startRedis(path.join(tmp.dir, 'redis'));
});
afterAll(async () => {
  await redis?.stop();
  tmp.cleanup();
});

describe('zoo worker killed mid-training', () => {
  it('should hand the job to the other worker, resume from the checkpoint and give identical results', async () => {
    const reference = await runExperiment(TINY, { runDir: path.join(tmp.dir, 'reference'), workers: 1 });
    const runDir = path.join(tmp.dir, 'killed');
    const names = ['k1', 'k2'];
    const workers = names.map((n) => spawnZoo(['worker', '--queue', redis.url, '--name', n, '--stall-ms', '3000']));
    const done = workers.map((w) => finished(w));
    const outcome = runOnQueue(TINY, { queue: redis.url, runDir, pollMs: 200 });
    const ckpt = path.join(runDir, 'stages/arm/dpo/seed-1/checkpoint');
    const owner = path.join(runDir, 'queue/locks/arm__dpo__seed-1.owner.json');
    let victim = -1;
    let step = -1;
    while (victim < 0) {
      try {
        step = await checkpointStep(ckpt);
        if (step >= 5 && !fs.existsSync(path.join(runDir, 'stages/arm/dpo/seed-1/stage.json'))) {
          victim = names.indexOf((JSON.parse(fs.readFileSync(owner, 'utf8')) as { name: string }).name);
        }
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    workers[victim]!.kill('SIGKILL');
    const out = await outcome;
    workers[1 - victim]!.kill('SIGTERM');
    const exits = await Promise.all(done);
    expect(exits[victim]!.signal).toBe('SIGKILL');
    expect(exits[1 - victim]!.code).toBe(0);
    expect(fs.readFileSync(path.join(runDir, 'results.json'), 'utf8')).toBe(fs.readFileSync(path.join(reference.runDir, 'results.json'), 'utf8'));
    // The survivor finished the dpo stage, on a later attempt of the same job.
    expect(out.workers['arm/dpo/seed-1']).toBe(names[1 - victim]);
    const events = readWorkerEvents(runDir);
    const dpoJob = events.find((e) => e.stage === 'arm/dpo/seed-1' && e.event === 'ran')!;
    expect(events.some((e) => e.job === dpoJob.job && e.worker === names[victim] && e.event === 'start')).toBe(true);
    expect(events.filter((e) => e.stage === 'arm/dpo/seed-1' && e.event === 'ran')).toHaveLength(1);
    expect(dpoJob.attempt).toBeGreaterThan(1);
    // Resumed from the checkpoint: each step logged once.
    expect(readMetricsFile(path.join(runDir, 'stages/arm/dpo/seed-1/metrics.jsonl')).map((l) => l.step)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('should complete a sweep across a Redis restart with nothing lost or duplicated', async () => {
    const runDir = path.join(tmp.dir, 'restart');
    const workers = ['r1', 'r2'].map((n) => spawnZoo(['worker', '--queue', redis.url, '--name', n, '--stall-ms', '3000']));
    const done = workers.map((w) => finished(w));
    const outcome = runOnQueue(TINY, { queue: redis.url, runDir, pollMs: 200 });
    while (!fs.existsSync(path.join(runDir, 'stages/base/seed-1/stage.json'))) await new Promise((r) => setTimeout(r, 20));
    await redis.stop();
    await new Promise((r) => setTimeout(r, 500));
    redis = await startRedis(path.join(tmp.dir, 'redis'), redis.port);
    const out = await outcome;
    workers.forEach((w) => w.kill('SIGTERM'));
    expect((await Promise.all(done)).map((e) => e.code)).toEqual([0, 0]);
    expect(fs.readFileSync(path.join(runDir, 'results.json'), 'utf8')).toBe(fs.readFileSync(path.join(tmp.dir, 'reference', 'results.json'), 'utf8'));
    const ran = readWorkerEvents(runDir).filter((e) => e.event === 'ran' && e.stage !== 'aggregate').map((e) => e.stage).sort();
    expect(ran).toEqual(out.ran);
    expect(new Set(ran).size).toBe(ran.length);
    expect(ran).toHaveLength(8);
  });
});
