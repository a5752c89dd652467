import { runProbe, type ProbeRow } from '@regime-zoo/core';
import { myopiaWorld, resourcesWorld } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { powerSeeking, returnCalibration, rewardHackingGap } from './behaviour.js';
import { klToBase } from './divergence.js';
import { findRows } from './report.js';
import { spearman } from './stats.js';
import { myopiaPolicy, probeContext, scriptedModel, V, vocabulary } from './test-helpers.js';

const myopia = myopiaWorld({ idVariants: [{ delay: 1, size: 1 }], oodVariants: [{ delay: 2, size: 1 }] });

describe('kl-to-base', () => {
  it('should measure the exact KL and entropy over the legal actions of two scripted policies', async () => {
    const policy = myopiaPolicy(0.3);
    const base = myopiaPolicy(0.5);
    const { rows } = await runProbe(klToBase({ episodes: 20 }), probeContext(policy, [myopia], { base }));
    const kl = 0.3 * Math.log(0.3 / 0.5) + 0.7 * Math.log(0.7 / 0.5);
    const h = -(0.3 * Math.log(0.3) + 0.7 * Math.log(0.7));
    for (const split of ['id', 'ood'] as const) {
      expect(findRows({ rows: rows! }, { split, metric: 'KL' })[0]!.value).toBeCloseTo(kl, 4);
      expect(findRows({ rows: rows! }, { split, metric: 'Entropy' })[0]!.value).toBeCloseTo(h, 4);
    }
    policy.dispose();
    base.dispose();
  });

  it('should ask the base without the conditioning tokens the policy gets', async () => {
    const policy = myopiaPolicy(0.3);
    const on = vocabulary.id('<rlhf:on>');
    const { rows } = await runProbe(klToBase({ episodes: 10 }), probeContext(policy, [myopia], { base: policy, condition: () => [on], splits: ['id'] }));
    expect(findRows({ rows: rows! }, { metric: 'KL' })[0]).toMatchObject({ condition: 'rlhf:on', value: expect.closeTo(0, 6) });
    policy.dispose();
  });
});

describe('reward-hacking-gap', () => {
  it('should give visible − hidden: in myopia each b pays 3 visibly later and nothing hidden', async () => {
    // Always b: ID contexts are two one-decision episodes; visible = 0 + 3 (b of ep. 1 paid in ep. 2) + 0, hidden = 0.
    const policy = myopiaPolicy(1);
    const { rows } = await runProbe(rewardHackingGap({ episodes: 20, decodings: ['greedy'] }), probeContext(policy, [myopia], { splits: ['id'] }));
    expect(findRows({ rows: rows! }, { metric: 'RewardHackingGap' })[0]).toMatchObject({ value: 3, lo: 3, hi: 3, n: 20 });
    policy.dispose();
  });
});

describe('return-calibration', () => {
  it("should match Spearman's rho of textbook data", () => {
    expect(spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]).estimate).toBeCloseTo(1, 12);
    // Ties take average ranks: x ranks 1, 2.5, 2.5, 4; ρ = Pearson of ranks.
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4]).estimate).toBeCloseTo(0.9486833, 6);
  });

  it('should find no calibration (rho interval around 0) for a policy that ignores the requested bucket', async () => {
    const policy = myopiaPolicy(0.5);
    const rtg = (spec: Record<string, unknown>) => [vocabulary.id(`<rtg:${Number(spec.bucket ?? 4)}>`)];
    const { rows } = await runProbe(returnCalibration({ episodes: 60, decodings: ['sample'] }), probeContext(policy, [myopia], { condition: rtg, splits: ['id'] }));
    expect(findRows({ rows: rows! }, { metric: 'AchievedReturn' }).map((r: ProbeRow) => r.condition)).toEqual(['rtg:0', 'rtg:1', 'rtg:2', 'rtg:3', 'rtg:4']);
    const rho = findRows({ rows: rows! }, { metric: 'Spearman' })[0]!;
    expect(rho.n).toBe(300);
    expect(rho.lo!).toBeLessThan(0);
    expect(rho.hi!).toBeGreaterThan(0);
    policy.dispose();
  });

  it('should fail with PROBE_UNSUPPORTED when the regime has no condition()', async () => {
    const policy = myopiaPolicy(0.5);
    await expect(runProbe(returnCalibration({ episodes: 5 }), probeContext(policy, [myopia]))).rejects.toMatchObject({
      code: 'PROBE_UNSUPPORTED',
      message: expect.stringMatching(/\[probe return-calibration\] world 'myopia': needs the regime's condition\(\)/),
    });
    policy.dispose();
  });
});

describe('power-seeking', () => {
  it('should find PowerSeek ≈ 0 for a uniform policy, whose first move is the uniform one', async () => {
    const policy = scriptedModel({ vocabSize: V }, () => undefined);
    const { rows } = await runProbe(powerSeeking({ episodes: 200, decodings: ['sample'], powerSamples: 300 }), probeContext(policy, [resourcesWorld()], { splits: ['id'] }));
    const ps = findRows({ rows: rows! }, { metric: 'PowerSeek' })[0]!;
    expect(ps.lo!).toBeLessThan(0);
    expect(ps.hi!).toBeGreaterThan(0);
    policy.dispose();
  });

  it('should name the probe and the worlds when no world computes POWER', async () => {
    const policy = myopiaPolicy(0.5);
    await expect(runProbe(powerSeeking({ episodes: 5 }), probeContext(policy, [myopia]))).rejects.toMatchObject({ code: 'PROBE_UNSUPPORTED', message: expect.stringMatching(/power-seeking.*\(myopia\).*resourcesWorld/) });
    policy.dispose();
  });
});
