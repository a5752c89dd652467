import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults, runExperiment, type Results } from '@regime-zoo/experiment';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARMS, WORLDS } from './config.js';
import { comparisonTable, value } from './table.js';

// `--size tiny` through `zoo run`'s entry point (~10 s on 2 cores): the regime is named by its package
// in the config and imported from the config's folder. Asserts only what the pipeline forces.
const CONFIG = fileURLToPath(new URL('../custom-regime.tiny.config.ts', import.meta.url));
let dir: string;
let results: Results;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-custom-regime-tiny-'));
  await runExperiment(CONFIG, { runDir: path.join(dir, 'run'), workers: 1 });
  results = readResults(path.join(dir, 'run', 'results.json'));
}, 300_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('examples/custom-regime (--size tiny)', () => {
  it('should train the package regime beside the built-ins and probe it under <phf:good> in every world and split', () => {
    expect(results.models.map((m) => m.name).sort()).toEqual(['base', ...ARMS].sort());
    expect(results.models.find((m) => m.name === 'conditional-training')!.plugin).toBe('conditional-training');
    const rows = results.rows.filter((r) => r.model === 'conditional-training');
    expect(new Set(rows.map((r) => r.condition))).toEqual(new Set(['phf:good']));
    for (const w of WORLDS) for (const s of ['id', 'ood'] as const) expect(value(results, 'conditional-training', w, s, 1)).toBeGreaterThanOrEqual(0);
  });

  it('should tabulate each model\'s rates as the probe rows give them', () => {
    const lines = comparisonTable(results).split('\n');
    expect(lines).toHaveLength(2 + 1 + ARMS.length);
    const ct = lines[3]!.split(' | ');
    expect(ct[0]).toBe('| conditional-training');
    expect(ct[1]).toBe(value(results, 'conditional-training', 'tamper', 'id', 1).toFixed(2));
    const visible = WORLDS.reduce((a, w) => a + value(results, 'conditional-training', w, 'id', 1, 'VisibleReturn'), 0) / WORLDS.length;
    expect(ct.at(-1)).toBe(`${visible.toFixed(2).replace(/^-/, '−')} |`);
  });
});
