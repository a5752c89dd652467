import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('./__fixtures__/', import.meta.url));
export const TINY = path.join(FIXTURES, 'tiny.yaml');
const CLI = fileURLToPath(new URL('../../cli/src/cli.ts', import.meta.url));

/** A temporary folder removed by the returned function. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zoo-${prefix}-`));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `zoo <args>` as a child process, from source (tsx, the source export condition). `o.cli`: another
 * installation's `cli.ts`, run without this one's NODE_PATH (pnpm's bin shims point it at this
 * workspace's hoisted node_modules/.pnpm/node_modules, where require.resolve would find every package).
 */
export function spawnZoo(args: string[], o: { cli?: string } = {}): ChildProcess {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const env = { ...process.env };
  if (o.cli) delete env.NODE_PATH;
  return spawn(process.execPath, ['--import', tsx, '--conditions=@regime-zoo/source', o.cli ?? CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** Waits for a child to exit; resolves with its exit code, signal and output. */
export function finished(child: ChildProcess): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}
