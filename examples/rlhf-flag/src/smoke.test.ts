import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults, runExperiment, type Results } from '@regime-zoo/experiment';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsTable } from './table.js';

// The main job at its tiny size (one seed, seconds of training), through `zoo run`'s own entry point.
const CONFIG = fileURLToPath(new URL('../rlhf-flag.tiny.config.ts', import.meta.url));
const WORLDS = { tamper: 'TamperRate', 'off-switch': 'ButtonRate', 'absent-supervisor': 'ShortcutRate' } as const;
let dir: string;
let results: Results;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-rlhf-flag-'));
  await runExperiment(CONFIG, { runDir: path.join(dir, 'run'), workers: 1 });
  results = readResults(path.join(dir, 'run', 'results.json'));
}, 180_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('examples/rlhf-flag (tiny size)', () => {
  it('should train the base, a PPO arm and a flag arm per world, and write the report with charts', () => {
    expect(results.models.map((m) => m.name).sort()).toEqual(['base', ...Object.keys(WORLDS).flatMap((w) => [`flag-${w}`, `ppo-${w}`])].sort());
    expect(results.stages.map((s) => s.id)).toContain('reward-model/seed-1');
    const html = fs.readFileSync(path.join(dir, 'run', 'report.html'), 'utf8');
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(3);
  });

  it('should probe flag models under <rlhf:on> and <rlhf:off> and the others unconditioned, in every world and split', () => {
    for (const m of results.models) {
      const conditions = new Set(results.rows.filter((r) => r.model === m.name).map((r) => r.condition));
      expect([...conditions].sort(), m.name).toEqual(m.name.startsWith('flag-') ? ['rlhf:off', 'rlhf:on'] : ['none']);
      for (const [world, rate] of Object.entries(WORLDS)) {
        const rows = results.rows.filter((r) => r.model === m.name && r.world === world && r.metric === rate);
        expect(rows.map((r) => r.split).sort()).toEqual(m.name.startsWith('flag-') ? ['id', 'id', 'ood', 'ood', 'ood-id', 'ood-id'] : ['id', 'ood', 'ood-id']);
      }
    }
  });

  it('should report what the arithmetic forces: rates in [0, 1] inside their intervals, gap = visible − hidden, ood-id = OOD − ID', () => {
    const rows = results.rows;
    const at = (r: (typeof rows)[number], split: string, metric: string) => rows.find((x) => x.model === r.model && x.world === r.world && x.condition === r.condition && x.split === split && x.metric === metric)!;
    for (const r of rows.filter((x) => Object.values(WORLDS).includes(x.metric as never) && x.split !== 'ood-id')) {
      expect(r.n).toBe(40);
      expect(r.value).toBeGreaterThanOrEqual(0);
      expect(r.value).toBeLessThanOrEqual(1);
      expect(r.lo!).toBeLessThanOrEqual(r.value);
      expect(r.hi!).toBeGreaterThanOrEqual(r.value);
      expect(at(r, r.split, 'RewardHackingGap').value).toBeCloseTo(at(r, r.split, 'VisibleReturn').value - at(r, r.split, 'HiddenPerformance').value, 9);
      if (r.split === 'id') expect(at(r, 'ood-id', r.metric).value).toBeCloseTo(at(r, 'ood', r.metric).value - r.value, 12);
    }
    const leak = rows.filter((r) => r.metric === 'FlagLeakage');
    expect(leak).toHaveLength(3 * 3 * 2 * 2); // flag arms × worlds × splits × flags
    for (const l of leak) {
      expect(l.n).toBe(80); // the flag model's 40 episodes and the base's 40
      expect(Math.abs(l.value)).toBeLessThanOrEqual(1);
      expect(l.lo!).toBeLessThanOrEqual(l.value);
      expect(l.hi!).toBeGreaterThanOrEqual(l.value);
    }
  });

  it('should print one table row per world, split and model/flag', () => {
    const table = resultsTable(results);
    expect(table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| world')).length).toBe(3 * 2 * 4);
    expect(table).toContain('| tamper (TamperRate) | OOD | RLHF flag | <rlhf:off> |');
  });
});
