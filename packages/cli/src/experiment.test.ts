import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from './main.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function capture() {
  const lines: string[] = [];
  return { lines, out: (s: string) => lines.push(s) };
}

describe('zoo run | resume | report | ls', () => {
  it('should reject a missing config or run directory and a bad --workers with exit code 2', async () => {
    const c = capture();
    expect(await main(['run'], c.out)).toBe(2);
    expect(c.lines[0]).toContain('zoo run: expected one config file, got 0');
    expect(await main(['resume', 'a', 'b'], c.out)).toBe(2);
    expect(c.lines[1]).toContain('zoo resume: expected one run directory, got 2');
    expect(await main(['run', 'x.yaml', '--workers', '0'], c.out)).toBe(2);
    expect(c.lines[2]).toContain('--workers must be an integer ≥ 1, got "0"');
  });

  it('should fail with exit code 1 and the reason on a config file that does not exist or a folder that is no run', async () => {
    const c = capture();
    expect(await main(['run', path.join(tmp, 'nope.yaml')], c.out)).toBe(1);
    expect(c.lines[0]).toMatch(/zoo run: CONFIG_INVALID: config file .*nope\.yaml does not exist/);
    expect(await main(['resume', tmp], c.out)).toBe(1);
    expect(c.lines[1]).toContain(`${tmp} is not a run directory (no run.json); start one with \`zoo run <config>\``);
  });

  it('should list run directories with their state', async () => {
    const c = capture();
    expect(await main(['ls', tmp], c.out)).toBe(0);
    expect(c.lines[0]).toBe(`no run directories under ${tmp}`);
    const run = path.join(tmp, 'one');
    fs.mkdirSync(path.join(run, 'stages', 'data', 'seed-1'), { recursive: true });
    fs.writeFileSync(path.join(run, 'run.json'), JSON.stringify({ format: 'regime-zoo/run', version: 1, name: 'one', configFile: 'x', resolveFrom: tmp }));
    fs.writeFileSync(path.join(run, 'stages', 'data', 'seed-1', 'stage.json'), '{}');
    expect(await main(['ls', tmp], c.out)).toBe(0);
    expect(c.lines[1]).toMatch(/^one\s+incomplete\s+1 stages done/);
  });

  it('should refuse to report from a results file of another schema version', async () => {
    const c = capture();
    const run = path.join(tmp, 'old');
    fs.mkdirSync(run, { recursive: true });
    fs.writeFileSync(path.join(run, 'results.json'), JSON.stringify({ format: 'regime-zoo/results', version: 0 }));
    expect(await main(['report', run], c.out)).toBe(1);
    expect(c.lines[0]).toContain('zoo report: BAD_JSON: ');
    expect(c.lines[0]).toContain('results schema version 0, but this @regime-zoo/experiment reads version 1');
  });
});
