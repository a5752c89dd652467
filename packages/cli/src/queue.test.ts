import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from './main.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-cli-queue-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const TINY = fileURLToPath(new URL('../../experiment/src/__fixtures__/tiny.yaml', import.meta.url));

function capture() {
  const lines: string[] = [];
  return { lines, out: (s: string) => lines.push(s) };
}

/** A port nobody listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

describe('zoo run --queue | zoo worker | zoo sweep status with a bad queue', () => {
  it('should fail with exit code 1 naming --queue and the expected form on a bad URL, before writing a run directory', async () => {
    const c = capture();
    const runDir = path.join(tmp, 'bad-url');
    expect(await main(['run', TINY, '--queue', 'http://127.0.0.1:6379', '--run-dir', runDir], c.out)).toBe(1);
    expect(c.lines[0]).toBe(
      'zoo run: CONFIG_INVALID: --queue: "http://127.0.0.1:6379" has protocol "http:", not redis: or rediss:; expected redis://host:port (e.g. redis://127.0.0.1:6379, redis://:password@host:6379/0, or rediss:// for TLS)',
    );
    expect(fs.existsSync(runDir)).toBe(false);
    expect(await main(['worker', '--queue', 'redis://h:6379/x'], c.out)).toBe(1);
    expect(c.lines[1]).toContain('zoo worker: CONFIG_INVALID: --queue: "redis://h:6379/x" has database "x", not an integer ≥ 0');
    expect(await main(['sweep', 'status', '--queue', 'redis//nohost'], c.out)).toBe(1);
    expect(c.lines[2]).toContain('zoo sweep: CONFIG_INVALID: --queue: "redis//nohost" is not a URL');
  });

  it('should fail with exit code 1 and QUEUE_UNREACHABLE naming the address (password hidden) when no Redis listens, before writing a run directory', async () => {
    const port = await freePort();
    const c = capture();
    const runDir = path.join(tmp, 'unreachable');
    expect(await main(['run', TINY, '--queue', `redis://:secret@127.0.0.1:${port}`, '--run-dir', runDir], c.out)).toBe(1);
    expect(c.lines[0]).toMatch(new RegExp(`^zoo run: QUEUE_UNREACHABLE: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); start redis-server there`));
    expect(c.lines[0]).not.toContain('secret');
    expect(fs.existsSync(runDir)).toBe(false);
    expect(await main(['worker', '--queue', `redis://127.0.0.1:${port}`], c.out)).toBe(1);
    expect(c.lines[1]).toContain(`zoo worker: QUEUE_UNREACHABLE: cannot reach Redis at redis://127.0.0.1:${port}`);
    expect(await main(['sweep', 'status', '--queue', `redis://127.0.0.1:${port}`], c.out)).toBe(1);
    expect(c.lines[2]).toContain(`zoo sweep: QUEUE_UNREACHABLE: cannot reach Redis at redis://127.0.0.1:${port}`);
  });
});
