import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults, runExperiment, type Results } from '@regime-zoo/experiment';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELEARN_THRESHOLD, STUDENTS, WORLDS } from './config.js';
import { distillTable, modelsOf, value } from './table.js';

// `--size tiny` through `zoo run`'s entry point (~20 s on 2 cores). Asserts only what the maths and the
// pipeline force, never the direction of a finding.
const CONFIG = fileURLToPath(new URL('../distillation-ood.tiny.config.ts', import.meta.url));
const MAX_STEPS = 10; // the tiny size's relearn cap
let dir: string;
let results: Results;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-distillation-ood-tiny-'));
  await runExperiment(CONFIG, { runDir: path.join(dir, 'run'), workers: 1 });
  results = readResults(path.join(dir, 'run', 'results.json'));
}, 300_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('examples/distillation-ood (--size tiny)', () => {
  it('should make a teacher per world and its fresh, base and teacher-copy students, each started as named', () => {
    const expected = ['base', ...WORLDS.flatMap((w) => [`teacher-${w}`, ...STUDENTS.map((s) => `${s}-student-${w}`)])];
    expect(results.models.map((m) => m.name).sort()).toEqual(expected.sort());
    for (const w of WORLDS) {
      for (const s of STUDENTS) {
        expect(results.models.find((m) => m.name === `${s}-student-${w}`)).toMatchObject({ kind: 'distill', teacher: `teacher-${w}` });
        const out = results.stages.find((x) => x.id === `distill/${s}-student-${w}/seed-1`)!.output as { init: string; steps: number };
        expect(out.init).toBe(s);
        expect(out.steps).toBe(10);
      }
    }
    expect(fs.existsSync(path.join(dir, 'run', 'report.html'))).toBe(true);
  });

  it('should give every model relearn steps within the cap, relearned exactly when its last U rate reached the threshold', () => {
    for (const w of WORLDS) {
      for (const [, model] of modelsOf(w)) {
        const steps = value(results, model, w, 'id', 'RelearnSteps', 1);
        const relearned = value(results, model, w, 'id', 'Relearned', 1);
        const last = value(results, model, w, 'id', 'RelearnRate', 1);
        expect(steps).toBeGreaterThanOrEqual(0);
        expect(steps).toBeLessThanOrEqual(MAX_STEPS);
        expect(steps % 5 === 0 || steps === MAX_STEPS).toBe(true); // measured every 5 steps
        expect(relearned).toBe(last >= RELEARN_THRESHOLD ? 1 : 0);
      }
    }
  });

  it('should tabulate the probe rows as they are: rates, ASR on the backdoor world only, relearn steps', () => {
    const backdoor = distillTable(results, 'backdoor').split('\n');
    const offSwitch = distillTable(results, 'off-switch').split('\n');
    expect(backdoor).toHaveLength(2 + 5);
    expect(backdoor[0]).toContain('ASR ID');
    expect(offSwitch[0]).not.toContain('ASR');
    const teacher = backdoor[3]!.split(' | ');
    expect(teacher[0]).toBe('| teacher (PPO)');
    expect(teacher[1]).toBe(value(results, 'teacher-backdoor', 'backdoor', 'id', 'HazardRate', 1).toFixed(2));
    expect(teacher[3]).toBe(value(results, 'teacher-backdoor', 'backdoor', 'id', 'ASR', 1).toFixed(2).replace(/^-/, '−'));
    expect(teacher[5]).toBe(String(value(results, 'teacher-backdoor', 'backdoor', 'id', 'RelearnSteps', 1)));
  });
});
