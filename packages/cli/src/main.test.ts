import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { findTorchReference, main } from './main.js';

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

  it('should print one line and exit 2 for an unknown option or a missing value, never a stack', async () => {
    const c = capture();
    expect(await main(['doctor', '--sise', '32'], c.out)).toBe(2);
    expect(await main(['bench', '--steps'], c.out)).toBe(2);
    expect(c.lines).toHaveLength(2);
    expect(c.lines[0]).toMatch(/^zoo doctor: Unknown option '--sise'.* \(see zoo help\)$/);
    expect(c.lines[1]).toMatch(/^zoo bench: Option '--steps <value>' argument missing \(see zoo help\)$/);
    for (const l of c.lines) expect(l).not.toMatch(/\n|    at /);
  });

  it('should send errors to the error stream (stderr in cli.ts) and accept --verbose anywhere', async () => {
    const out = capture();
    const err = capture();
    expect(await main(['bench', '--configs', 'XL', '--verbose'], out.out, err.out)).toBe(2);
    expect(out.lines).toEqual([]);
    expect(err.lines).toEqual(['zoo bench: --configs takes a comma-separated list of S, M, L, got "XL" (see zoo help)']);
    expect(await main(['--verbose', 'help'], out.out, err.out)).toBe(0);
    expect(out.lines[0]).toContain('--verbose');
  });
});

describe('zoo bench', () => {
  it('should print training tokens/s and the KV-cache speed-up for config S', async () => {
    const c = capture();
    expect(await main(['bench', '--steps', '1', '--warmup', '1', '--rollout-repeats', '1', '--configs', 'S', '--no-torch', '--no-stage'], c.out)).toBe(0);
    const text = c.lines.join('\n');
    const header = text.split('\n').find((l) => l.startsWith('config') && l.includes('tokens/s'));
    const row = text.split('\n').find((l) => l.startsWith('S (d64 L2 H4)'));
    expect(header).toBeDefined();
    expect(row).toBeDefined();
    // The tokens/s column of the S row holds a positive number.
    const cols = header!.split(/\s{2,}/);
    const cells = row!.split(/\s{2,}/);
    expect(Number(cells[cols.indexOf('tokens/s')])).toBeGreaterThan(0);
    expect(text).toMatch(/KV speed-up/);
    expect(text).toMatch(/^S\s+\d+\s+\d+\s+[\d.]+×/m);
    expect(text).toContain('PyTorch reference skipped: --no-torch');
  });

  it('should reject a bad --configs or --steps with exit code 2', async () => {
    const c = capture();
    expect(await main(['bench', '--configs', 'S,XL'], c.out)).toBe(2);
    expect(c.lines[0]).toContain('--configs takes a comma-separated list of S, M, L, got "S,XL"');
    expect(await main(['bench', '--steps', '0'], c.out)).toBe(2);
    expect(c.lines[1]).toContain('--steps must be an integer ≥ 1, got "0"');
  });

  it('should find the PyTorch reference in the repository and nowhere else', () => {
    expect(findTorchReference()).toMatch(/bench[\\/]torch_reference\.py$/);
    expect(findTorchReference(os.tmpdir())).toBeUndefined();
  });
});
