import fs from 'node:fs';
import os from 'node:os';
import { experimentSchema } from '@regime-zoo/experiment';
import { describe, expect, it } from 'vitest';
import { benchExperimentStage, DEFAULT_STAGE_EXPERIMENT, formatStageBench } from './bench-stage.js';

const leftovers = (): string[] => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('rz-bench-stage-'));

describe('zoo bench: the end-to-end stage', () => {
  it('should leave every setting but the world, seed, split, PPO arm and probe at the config defaults', () => {
    const config = experimentSchema.parse(DEFAULT_STAGE_EXPERIMENT);
    expect(config.model).toEqual({ dModel: 32, nHeads: 2, nLayers: 1, contextLength: 64, mlpRatio: 4 });
    expect(config.arms.map((a) => [a.name, a.reward])).toEqual([['ppo', 'visible']]);
    expect(config.distill).toEqual([]);
  });

  it('should time each stage of a run in a temporary run directory and remove it', async () => {
    const before = leftovers();
    const r = await benchExperimentStage({
      name: 'tiny-stage',
      seeds: [1],
      worlds: ['tamper'],
      splits: ['id'],
      model: { dModel: 8, nHeads: 1, nLayers: 1 },
      data: { episodes: 40 },
      base: { steps: 3, batchSize: 8 },
      arms: [{ name: 'ppo', regime: { package: 'ppo', options: { steps: 1, episodes: 8 } } }],
      probes: [{ package: 'instrumental-rate', options: { episodes: 10, decodings: ['sample'] } }],
    });
    expect(r.stages.map((s) => s.stage).sort()).toEqual(['arm/ppo/seed-1', 'base/seed-1', 'data/seed-1', 'probe/base/seed-1', 'probe/ppo/seed-1']);
    for (const s of r.stages) expect(s.seconds).toBeGreaterThan(0);
    // Stages run one after another in one process: their times add up to no more than the whole run.
    expect(r.stages.reduce((a, s) => a + s.seconds, 0)).toBeLessThanOrEqual(r.seconds);
    expect(leftovers()).toEqual(before);
    const text = formatStageBench(r);
    expect(text).toMatch(/^arm\/ppo\/seed-1\s+\d+\.\d$/m);
    expect(text).toMatch(/^total\s+\d+\.\d/m);
  });
});
