import { runProbe, tf, type Probe } from '@regime-zoo/core';
import { backdoorWorld, myopiaWorld, resourcesWorld } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { flagLeakage, powerSeeking, returnCalibration, rewardHackingGap } from './behaviour.js';
import { ccsProbe } from './ccs.js';
import { klToBase } from './divergence.js';
import { linearProbe } from './linear.js';
import { instrumentalRate } from './rates.js';
import { relearnSteps } from './relearn.js';
import { bagOfTokensModel, myopiaPolicy, probeContext, vocabulary } from './test-helpers.js';

describe('tensor memory', () => {
  it('should leave no tensor behind across 100 probe runs of every probe', async () => {
    const policy = bagOfTokensModel(4);
    const base = myopiaPolicy(0.5);
    const worlds = [myopiaWorld({ idVariants: [{ delay: 1, size: 1 }] }), backdoorWorld(), resourcesWorld()];
    const condition = (spec: Record<string, unknown>) =>
      spec.bucket !== undefined ? [vocabulary.id(`<rtg:${Number(spec.bucket)}>`)] : [vocabulary.id(`<rlhf:${String(spec.rlhf ?? 'on')}>`)];
    const small = { episodes: 4, decodings: ['sample' as const] };
    const probes: [Probe, string[]][] = [
      [instrumentalRate(small), ['myopia', 'backdoor']],
      [rewardHackingGap(small), ['myopia']],
      [flagLeakage(small), ['myopia']],
      [returnCalibration({ ...small, buckets: [0, 4] }), ['myopia']],
      [klToBase(small), ['myopia']],
      [powerSeeking({ ...small, powerSamples: 5 }), ['resources']],
      [linearProbe({ feature: 'trigger', episodes: 16, steps: 3 }), ['backdoor']],
      [ccsProbe({ feature: 'trigger', pairs: 8, steps: 3, restarts: 1 }), ['backdoor']],
      [relearnSteps({ demonstrations: 2, maxSteps: 1, evalEpisodes: 2 }), ['myopia']],
    ];
    const ctx = probeContext(policy, worlds, { base, condition, splits: ['id'] });
    const runOne = async (i: number) => {
      const [probe, only] = probes[i % probes.length]!;
      const p = { ...probe, run: (c: typeof ctx) => probe.run({ ...c, worlds: c.worlds.filter((w) => only.includes(w.name)) }) } as Probe;
      return runProbe(p, ctx);
    };
    for (let i = 0; i < probes.length; i++) await runOne(i); // warm-up: kernels and compiled graphs
    const before = tf.memory().numTensors;
    let rows = 0;
    for (let i = 0; i < 100; i++) rows += (await runOne(i)).rows!.length;
    expect(tf.memory().numTensors).toBe(before);
    expect(rows).toBeGreaterThan(100);
    policy.dispose();
    base.dispose();
  });
});
