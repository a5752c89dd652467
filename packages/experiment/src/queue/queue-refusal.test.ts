import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExperiment } from '../run.js';
import { finished, FIXTURES, spawnZoo, tempDir } from '../test-helpers.js';
import { readWorkerEvents } from './claim.js';
import { QUEUE_NAME } from './connection.js';
import { installationWithout } from './installation.js';
import { startRedis } from './redis-server.js';
import { runOnQueue } from './sweep.js';
import type { ChildProcess } from 'node:child_process';

const tmp = tempDir('queue-refusal');
const children: ChildProcess[] = [];
const stop = new AbortController();
let redis: Awaited<ReturnType<typeof startRedis>>;
beforeAll(async () => {
  fs.mkdirSync(path.join(tmp.dir, 'redis'));
  redis = await startRedis(path.join(tmp.dir, 'redis'));
});
afterAll(async () => {
  stop.abort();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.stop();
  tmp.cleanup();
});

/** Fails (instead of hanging) when `p` does not settle within `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('a zoo worker whose installation lacks a plugin the config names', () => {
  it('should refuse the job with an error naming the package and the job, exit 1, and leave the job for a worker that has it', async () => {
    // The config lives outside the repository, so only an installation with zoo-regime-safe-bc (this
    // one: a devDependency of @regime-zoo/experiment) can load it; the other installation lacks it.
    const config = path.join(tmp.dir, 'config', 'experiment.yaml');
    fs.mkdirSync(path.dirname(config));
    fs.copyFileSync(path.join(FIXTURES, 'tiny-safe-bc.yaml'), config);
    const lacking = installationWithout(path.join(tmp.dir, 'lacking'), 'zoo-regime-safe-bc');
    const reference = await runExperiment(config, { runDir: path.join(tmp.dir, 'reference'), workers: 1 });

    const runDir = path.join(tmp.dir, 'queued');
    const bad = spawnZoo(['worker', '--queue', redis.url, '--name', 'lacking', '--stall-ms', '3000'], { cli: lacking });
    children.push(bad);
    const badExit = finished(bad);
    let badOutput = '';
    bad.stdout!.on('data', (d: Buffer) => (badOutput += d.toString()));
    bad.stderr!.on('data', (d: Buffer) => (badOutput += d.toString()));
    const outcome = runOnQueue(config, { queue: redis.url, runDir, pollMs: 200, signal: stop.signal });
    outcome.catch(() => {}); // awaited below; a failure before then must not be unhandled
    const exit = await within(badExit, 60_000, 'the worker lacking zoo-regime-safe-bc').catch((e: Error) => {
      throw new Error(`${e.message}; its output: ${badOutput.split('\n').filter((l) => !/^(I0000|WARNING)/.test(l)).join('\n')}; events: ${JSON.stringify(readWorkerEvents(runDir))}`);
    });
    expect(exit.code).toBe(1);
    const refused = readWorkerEvents(runDir).filter((e) => e.event === 'refused');
    expect(refused).toHaveLength(1);
    const jobId = refused[0]!.job;
    expect(exit.stdout).toContain('zoo worker: CONFIG_INVALID: worker lacking cannot run jobs of');
    expect(exit.stdout).toContain('package "zoo-regime-safe-bc" is not installed');
    expect(exit.stdout).toContain(`the job ${jobId} went back to the queue for another worker`);
    expect(refused[0]!.error).toContain('arms[0].regime.package: package "zoo-regime-safe-bc" is not installed');
    // Nothing ran, and the job is back on the queue with no attempt counted.
    expect(readWorkerEvents(runDir).filter((e) => e.event !== 'refused')).toEqual([]);
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection });
    try {
      const job = (await queue.getJob(jobId))!;
      expect(['delayed', 'waiting']).toContain(await job.getState());
      expect(job.attemptsMade).toBe(0);
    } finally {
      await queue.close();
      connection.disconnect();
    }

    const good = spawnZoo(['worker', '--queue', redis.url, '--name', 'complete', '--stall-ms', '3000']);
    children.push(good);
    const goodExit = finished(good);
    const out = await within(outcome, 90_000, 'the sweep with a worker that has zoo-regime-safe-bc');
    good.kill('SIGTERM');
    expect((await within(goodExit, 20_000, 'the complete worker stopping')).code).toBe(0);
    expect(fs.readFileSync(path.join(runDir, 'results.json'), 'utf8')).toBe(fs.readFileSync(path.join(reference.runDir, 'results.json'), 'utf8'));
    expect(out.ran).toEqual(reference.ran);
    expect(new Set(Object.values(out.workers))).toEqual(new Set(['complete']));
    // The refused job itself was run by the other worker.
    expect(readWorkerEvents(runDir).some((e) => e.job === jobId && e.worker === 'complete' && e.event === 'done')).toBe(true);
  });
});
