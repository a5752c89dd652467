import { setup } from '@regime-zoo/example-posterior-convergence';
import { sampleIndices, tiltedPosterior } from '@regime-zoo/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUDGETS, check, filteredTarget, REGIMES, type CheckRow } from './check.js';
import { checkTable } from './table.js';

// `--size tiny`, seed 1: every regime a few steps against its exact π* (~15 s on 2 cores).
let rows: CheckRow[] = [];
beforeAll(async () => {
  for (const r of REGIMES) rows.push(...(await check(r, 1, BUDGETS.tiny)));
}, 240_000);

describe('examples/posterior-check (--size tiny)', () => {
  it('should train every regime for its budget and move each toward its π* (end KL below 0.75 of the start)', () => {
    const by = (name: string) => rows.find((r) => r.regime === name)!;
    expect(rows.map((r) => r.regime)).toEqual(['sft', 'dt (top bucket)', 'filtered-bc', 'rwr', 'awr', 'dpo', 'kl-rl', 'ppo (klCoef β)', 'grpo (KL in reward)', 'rlhf-flag <rlhf:on>', 'rlhf-flag <rlhf:off>']);
    expect(by('sft').steps).toBe(20);
    expect(by('kl-rl').steps).toBe(8); // round(2.5 · 3) optimizer steps
    expect(by('ppo (klCoef β)').steps).toBe(12); // 3 rollout batches × 4 PPO epochs
    for (const r of rows) {
      expect(r.kl).toBeGreaterThanOrEqual(0);
      expect(r.kl).toBeLessThan(0.75 * r.start);
    }
    // The online regimes start from the same fresh π_ref and share π* ∝ π_ref·exp(r/β): the same start.
    for (const name of ['dpo', 'kl-rl', 'ppo (klCoef β)', 'grpo (KL in reward)']) expect(by(name).start).toBeCloseTo(by('dpo').start, 12);
    // RWR and AWR share π* ∝ π₀·exp(r/β) and the data (one prompt: AWR's baseline is a constant).
    expect(by('awr').start).toBeCloseTo(by('rwr').start, 12);
  });

  it('should give filtered BC the π₀ mass of the kept reward levels only, in π₀ proportions within a level', () => {
    const s = setup('fixed', 'sft', 1);
    const data = sampleIndices(s.fixture.pi0, 400, 1001).map((i) => s.examples[i]!);
    const t = filteredTarget(s, data, 0.5);
    expect(t.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 12);
    const cut = [...data.map((e) => e.return!)].sort((a, b) => b - a)[199]!;
    s.rewards.forEach((r, i) => (r < cut ? expect(t[i]).toBe(0) : expect(t[i]).toBeGreaterThan(0)));
    const above = s.rewards.map((r, i) => [r, i] as const).filter(([r]) => r > cut).map(([, i]) => i);
    const z = above.reduce((a, i) => a + s.fixture.pi0[i]!, 0);
    const zt = above.reduce((a, i) => a + t[i]!, 0);
    for (const i of above) expect(t[i]! / zt).toBeCloseTo(s.fixture.pi0[i]! / z, 12);
    // Keeping everything is SFT's target; the tilt is not a filter.
    filteredTarget(s, data, 1).forEach((p, i) => expect(p).toBeCloseTo(s.fixture.pi0[i]!, 12));
    expect(tiltedPosterior(s.fixture.pi0, s.rewards, 1)).not.toEqual(t);
  });

  it('should tabulate one line per regime, escaping | in cells', () => {
    const lines = checkTable(rows).split('\n');
    expect(lines).toHaveLength(2 + 11);
    expect(lines.at(-2)).toMatch(/^\| rlhf-flag <rlhf:on> \| π_ref\(·\\\|on\)·exp\(r\/β\) \| 12 \| /);
  });
});
