// A worker of the local pool: runs the tasks its parent sends (see pool.ts), one at a time.
import { toZooError } from '@regime-zoo/core';
import type { FromWorker, ToWorker } from './pool.js';
import { executeTask, openRun } from './run.js';

const controller = new AbortController();
process.on('SIGINT', () => controller.abort());
// The parent is gone (killed, or done with us): stop.
process.on('disconnect', () => process.exit(0));

const send = (m: FromWorker) => process.send?.(m);

process.on('message', (m: ToWorker) => {
  if (m.type !== 'task') return;
  void (async () => {
    try {
      const run = await openRun(m.runDir);
      const ran = await executeTask(run, m.taskId, { signal: controller.signal, progress: (progress) => send({ type: 'progress', progress }) });
      send({ type: 'done', taskId: m.taskId, ran });
    } catch (e) {
      const z = toZooError(e);
      send({
        type: 'error',
        taskId: m.taskId,
        error: { code: z.code, message: z.message, ...(z.field ? { field: z.field } : {}), ...(z.plugin ? { plugin: z.plugin } : {}), ...(z.hook ? { hook: z.hook } : {}) },
      });
    }
  })();
});
send({ type: 'ready' });
