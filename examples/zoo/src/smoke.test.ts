import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults, runExperiment, type Results } from '@regime-zoo/experiment';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONDITIONING_ARMS, ONLINE, WORLDS } from './config.js';
import { predictions, predictionsTable, rate } from './predictions.js';

// `--size small` through `zoo run`'s entry point: every regime, one seed. Asserts only what the maths
// forces, never the direction of a finding.
const CONFIG = fileURLToPath(new URL('../zoo.small.config.ts', import.meta.url));
let dir: string;
let results: Results;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-zoo-small-'));
  await runExperiment(CONFIG, { runDir: path.join(dir, 'run'), workers: 1 });
  results = readResults(path.join(dir, 'run', 'results.json'));
}, 300_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('examples/zoo (--size small)', () => {
  it('should train every regime arm and a student per PPO arm, and probe each in every world and split', () => {
    const expected = ['base', ...CONDITIONING_ARMS, ...WORLDS.flatMap((w) => [...ONLINE.map((r) => `${r}-${w}`), `student-ppo-${w}`])];
    expect(results.models.map((m) => m.name).sort()).toEqual(expected.sort());
    for (const m of expected) for (const w of WORLDS) for (const s of ['id', 'ood'] as const) expect(() => rate(results, m, w, s, m.startsWith('flag-') ? 'rlhf:off' : '*', 1)).not.toThrow();
    expect(fs.existsSync(path.join(dir, 'run', 'report.html'))).toBe(true);
  });

  it('should fill the predictions table with differences the rows force: rate − base is the difference of the two rates', () => {
    const rows = predictions(results);
    expect(rows.map((r) => r.prediction.slice(0, 3))).toEqual([...Array(7).fill('(1)'), '(2)', '(2)', '(3)', '(3)', '(4)']);
    for (const r of rows) for (const m of [r.id, r.ood]) expect(Math.abs(m.value)).toBeLessThanOrEqual(1);
    const ppo = rows.find((r) => r.arm === 'ppo' && r.quantity === 'rate − base')!;
    const byHand = WORLDS.reduce((a, w) => a + rate(results, `ppo-${w}`, w, 'ood', 'none', 1) - rate(results, 'base', w, 'ood', 'none', 1), 0) / WORLDS.length;
    expect(ppo.ood.value).toBeCloseTo(byHand, 12);
    expect(ppo.ood.lo).toBeNull(); // one seed: no interval over seeds
    const student = rows.find((r) => r.prediction.startsWith('(4)'))!;
    const byHand4 = WORLDS.reduce((a, w) => a + rate(results, `student-ppo-${w}`, w, 'id', 'none', 1) - rate(results, `ppo-${w}`, w, 'id', 'none', 1), 0) / WORLDS.length;
    expect(student.id.value).toBeCloseTo(byHand4, 12);
    expect(predictionsTable(results).split('\n')).toHaveLength(2 + rows.length);
  });
});
