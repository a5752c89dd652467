import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ZooError } from '@regime-zoo/core';
import type { StageProgress } from './stages.js';

/** Messages between the pool and its workers. */
export type ToWorker = { type: 'task'; runDir: string; taskId: string };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; progress: StageProgress }
  | { type: 'done'; taskId: string; ran: string[] }
  | { type: 'error'; taskId: string; error: { code: string; message: string; field?: string; plugin?: string; hook?: string } };

/** How to start a worker: this package's built `worker.js`, or from source `worker.ts` through tsx. */
function workerCommand(): { file: string; execArgv: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return { file: fileURLToPath(new URL('./worker.ts', here)), execArgv: ['--import', tsx, '--conditions=@regime-zoo/source'] };
  }
  return { file: fileURLToPath(new URL('./worker.js', here)), execArgv: [] };
}

/**
 * Runs tasks in `size` worker processes (each task's stages one after another in one worker), at most
 * `size` at a time. The first failure stops handing out tasks and is thrown once running ones finish.
 * Returns the stages that ran.
 */
export async function runPool(o: { runDir: string; taskIds: readonly string[]; size: number; progress: (p: StageProgress) => void; signal: AbortSignal }): Promise<string[]> {
  const { file, execArgv } = workerCommand();
  const queue = [...o.taskIds];
  const ran: string[] = [];
  let failure: ZooError | undefined;
  const workers: ChildProcess[] = [];
  const onAbort = () => workers.forEach((w) => w.kill('SIGINT'));
  o.signal.addEventListener('abort', onAbort);
  const lane = async (): Promise<void> => {
    const child = fork(file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env } });
    workers.push(child);
    try {
      while (queue.length && !failure && !o.signal.aborted) {
        const taskId = queue.shift()!;
        await new Promise<void>((resolve) => {
          const onMessage = (m: FromWorker) => {
            if (m.type === 'progress') o.progress(m.progress);
            else if (m.type === 'done' && m.taskId === taskId) {
              ran.push(...m.ran);
              finish();
            } else if (m.type === 'error' && m.taskId === taskId) {
              failure ??= new ZooError(m.error.code as ZooError['code'], m.error.message, {
                ...(m.error.field ? { field: m.error.field } : {}),
                ...(m.error.plugin ? { plugin: m.error.plugin } : {}),
                ...(m.error.hook ? { hook: m.error.hook } : {}),
              });
              finish();
            }
          };
          const onExit = (code: number | null, sig: string | null) => {
            failure ??= new ZooError('INTERNAL', `worker process for task ${taskId} exited (${sig ?? `code ${code}`}) before finishing it`, { field: taskId });
            finish();
          };
          const finish = () => {
            child.off('message', onMessage);
            child.off('exit', onExit);
            resolve();
          };
          child.on('message', onMessage);
          child.on('exit', onExit);
          child.send({ type: 'task', runDir: o.runDir, taskId } satisfies ToWorker);
        });
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.disconnect();
        });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.size, o.taskIds.length) }, lane));
  } finally {
    o.signal.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure;
  if (o.signal.aborted) throw new ZooError('ABORTED', `the run was stopped; \`zoo resume ${o.runDir}\` continues it`);
  return ran;
}
