import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZooError } from '@regime-zoo/core';
import { runExperiment } from '../run.js';
import { finished, spawnZoo, tempDir, TINY } from '../test-helpers.js';
import { readWorkerEvents } from './claim.js';
import { checkReachable, parseQueueUrl } from './connection.js';
import { freePort, startRedis } from './redis-server.js';
import { runOnQueue, sweepStatus } from './sweep.js';

const tmp = tempDir('queue');
let redis: Awaited<ReturnType<typeof startRedis>>;
beforeAll(async () => {
  fs.mkdirSync(path.join(tmp.dir, 'redis'));
  redis = await startRedis(path.join(tmp.dir, 'redis'));
});
afterAll(async () => {
  await redis?.stop();
  tmp.cleanup();
});

describe('queue errors', () => {
  it('should reject a bad queue URL naming --queue and the expected form', () => {
    expect(() => parseQueueUrl('http://127.0.0.1:6379')).toThrow(/--queue: "http:\/\/127.0.0.1:6379" has protocol "http:", not redis: or rediss:; expected redis:\/\/host:port/);
    expect(() => parseQueueUrl('redis://127.0.0.1:99999')).toThrow(/not a URL|not 1–65535/);
    expect(() => parseQueueUrl('redis://h:6379/x')).toThrow(/database "x"/);
    expect(parseQueueUrl('redis://:secret@h:7000/2').display).toBe('redis://:***@h:7000/2');
  });
  it('should fail with QUEUE_UNREACHABLE when no Redis listens there', async () => {
    const port = await freePort();
    const e = await checkReachable(parseQueueUrl(`redis://127.0.0.1:${port}`), 2000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ZooError);
    expect((e as ZooError).code).toBe('QUEUE_UNREACHABLE');
    expect((e as ZooError).message).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
  });
});

describe('zoo run --queue with zoo worker processes', () => {
  it('should give results.json identical to the local run with two worker processes, recording who ran each stage', async () => {
    const reference = await runExperiment(TINY, { runDir: path.join(tmp.dir, 'reference'), workers: 1 });
    const runDir = path.join(tmp.dir, 'queued');
    const workers = ['w1', 'w2'].map((n) => spawnZoo(['worker', '--queue', redis.url, '--name', n, '--stall-ms', '4000']));
    const done = workers.map((w) => finished(w));
    const out = await runOnQueue(TINY, { queue: redis.url, runDir, pollMs: 200 });
    workers.forEach((w) => w.kill('SIGTERM'));
    const exits = await Promise.all(done);
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
    expect(fs.readFileSync(path.join(runDir, 'results.json'), 'utf8')).toBe(fs.readFileSync(path.join(reference.runDir, 'results.json'), 'utf8'));
    expect(out.ran).toEqual(reference.ran);
    // Each stage ran exactly once, and its folder says by whom.
    const ran = readWorkerEvents(runDir).filter((e) => e.event === 'ran' && e.stage !== 'aggregate');
    expect(ran.map((e) => e.stage).sort()).toEqual(reference.ran);
    for (const e of ran) expect(JSON.parse(fs.readFileSync(path.join(runDir, 'stages', e.stage!, 'worker.json'), 'utf8')).name).toBe(e.worker);
    const status = await sweepStatus({ queue: redis.url, sweep: out.sweep });
    expect(status.find((r) => r.group === 'dpo')).toMatchObject({ done: 1, failed: 0, queued: 0, running: 0 });
    expect(status.every((r) => r.failed === 0 && r.queued === 0)).toBe(true);
  });
});
