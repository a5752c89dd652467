import { thrown } from '@regime-zoo/test-utils';
import { describe, expect, it } from 'vitest';
import { groupAdvantages } from './advantages.js';

describe('groupAdvantages', () => {
  it('should divide by the group std (unbiased, + 1e-4) for GRPO and give a constant group 0', () => {
    // Group 1: mean 2.5, unbiased std √(5/3); group 2 is constant.
    const r = groupAdvantages([1, 2, 3, 4, 7, 7, 7, 7], 4, 'group');
    const s = Math.sqrt(5 / 3);
    [-1.5, -0.5, 0.5, 1.5].forEach((d, i) => expect(r.advantages[i]).toBeCloseTo(d / (s + 1e-4), 12));
    expect(r.advantages.slice(4)).toEqual([0, 0, 0, 0]);
    expect(r.rewardStd).toBeCloseTo(s / 2, 12);
    expect(r.fracZeroStd).toBe(0.5);
    expect(r.std).toEqual([s, s, s, s, 0, 0, 0, 0].map((x) => expect.closeTo(x, 12)));
  });

  it('should not divide for Dr. GRPO, and divide by the batch std for "batch"', () => {
    expect(groupAdvantages([1, 2, 3, 4, 7, 7, 7, 7], 4, 'none').advantages).toEqual([-1.5, -0.5, 0.5, 1.5, 0, 0, 0, 0]);
    const rewards = [0, 1, 5, 5];
    const m = 11 / 4;
    const batchStd = Math.sqrt(rewards.reduce((a, x) => a + (x - m) ** 2, 0) / 3);
    expect(groupAdvantages(rewards, 2, 'batch').advantages).toEqual([-0.5, 0.5, 0, 0].map((d) => expect.closeTo(d / (batchStd + 1e-4), 12)));
  });

  it('should give exactly zero advantage, never NaN, when every reward of a group is equal', () => {
    // 0.1·3/3 is not 0.1 in floating point: the mean differs from the rewards in the last bit.
    for (const scale of ['group', 'batch', 'none'] as const) {
      for (const rewards of [[0.1, 0.1, 0.1], [0, 0, 0], [-3, -3, -3]]) {
        const r = groupAdvantages(rewards, 3, scale);
        expect(r.advantages).toEqual([0, 0, 0]);
        expect(r.fracZeroStd).toBe(1);
        expect(r.rewardStd).toBe(0);
      }
    }
  });

  it('should reject a group of one, a partial group and a non-finite reward', () => {
    expect(thrown(() => groupAdvantages([1, 2], 1, 'group'))).toMatchObject({ code: 'OPTION_INVALID', field: 'numGenerations' });
    expect(thrown(() => groupAdvantages([1, 2, 3], 2, 'group')).message).toMatch(/whole groups of numGenerations = 2 samples; got 3 rewards/);
    expect(thrown(() => groupAdvantages([1, Number.NaN], 2, 'none'))).toMatchObject({ code: 'NON_FINITE', position: [1] });
  });
});
