// Benchmark (not a test): throughput of the queue itself. Starts a redis-server on a free port in a
// temporary folder, enqueues 10,000 no-op jobs, and drains them with 1 and with 4 worker processes.
// Run: pnpm --filter @regime-zoo/experiment bench:queue   (JOBS=10000 by default)
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedis } from '../src/queue/redis-server.js';

const JOBS = Number(process.env.JOBS ?? 10_000);

if (process.argv[2] === 'child') {
  const connection = new Redis(process.argv[3]!, { maxRetriesPerRequest: null });
  const name = process.argv[4]!;
  const w = new Worker(name, async () => null, { connection, concurrency: 1, removeOnComplete: { count: 0 } });
  process.on('message', () => void w.close().then(() => process.exit(0)));
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-bench-queue-'));
  const redis = await startRedis(dir);
  try {
    for (const n of [1, 4]) {
      const name = `bench-${n}`;
      const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
      const queue = new Queue(name, { connection });
      const t0 = performance.now();
      for (let i = 0; i < JOBS; i += 1000) {
        await queue.addBulk(Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } })));
      }
      const enqueued = performance.now();
      const children = Array.from({ length: n }, () => fork(new URL(import.meta.url).pathname, ['child', redis.url, name], { execArgv: process.execArgv }));
      for (;;) {
        const c = await queue.getJobCounts('wait', 'active');
        if ((c.wait ?? 0) + (c.active ?? 0) === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const drained = performance.now();
      children.forEach((c) => c.send('stop'));
      await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
      console.log(`${n} worker(s): enqueue ${JOBS} jobs ${((JOBS / (enqueued - t0)) * 1000).toFixed(0)} jobs/s; drain (incl. worker start) ${((JOBS / (drained - enqueued)) * 1000).toFixed(0)} jobs/s`);
      await queue.close();
      connection.disconnect();
    }
    console.log(`uptime: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (load average 1/5/15 min), ${os.availableParallelism()} cores`);
  } finally {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
