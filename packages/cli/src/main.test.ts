import { describe, expect, it } from 'vitest';
import { main } from './main.js';

function capture() {
  const lines: string[] = [];
  return { lines, out: (s: string) => lines.push(s) };
}

describe('zoo', () => {
  it('should print the doctor report with the backend and a matmul rate', async () => {
    const c = capture();
    expect(await main(['doctor', '--size', '32'], c.out)).toBe(0);
    expect(c.lines.join('\n')).toMatch(/backend\s+(tensorflow|cpu)/);
    expect(c.lines.join('\n')).toMatch(/matmul 32x32\s+[\d.]+ GFLOP\/s/);
  });

  it('should emit parseable JSON with --json', async () => {
    const c = capture();
    expect(await main(['doctor', '--json', '--size', '16'], c.out)).toBe(0);
    const report = JSON.parse(c.lines[0] ?? '') as { matmulSize: number };
    expect(report.matmulSize).toBe(16);
  });

  it('should reject a bad --size and an unknown command with exit code 2', async () => {
    const c = capture();
    expect(await main(['doctor', '--size', 'big'], c.out)).toBe(2);
    expect(c.lines[0]).toContain('--size must be a positive integer, got "big"');
    expect(await main(['fly'], c.out)).toBe(2);
    expect(c.lines[1]).toContain('unknown command "fly"');
  });
});
