import { ZooError } from '@regime-zoo/core';
import { STD_EPSILON, type ScaleRewards } from './fixed-point.js';

export interface GroupAdvantages {
  /** One advantage per sample, in the order of the rewards. */
  advantages: number[];
  /** The standard deviation each sample's advantage was divided by (its group's or the batch's, unbiased). */
  std: number[];
  /** Mean over groups of the group's reward std (TRL's `reward_std` with `scale_rewards` "group"). */
  rewardStd: number;
  /** Fraction of groups whose rewards are all equal (TRL's `frac_reward_zero_std`): they teach nothing. */
  fracZeroStd: number;
}

const mean = (x: readonly number[]) => x.reduce((a, v) => a + v, 0) / x.length;
/** Unbiased sample standard deviation (PyTorch's `std()`, which TRL uses). */
const std = (x: readonly number[]) => {
  if (x.every((v) => v === x[0])) return 0; // not the last-bit residue of a mean that is not exactly x[0]
  const m = mean(x);
  return Math.sqrt(x.reduce((a, v) => a + (v - m) ** 2, 0) / Math.max(x.length - 1, 1));
};

/**
 * GRPO's advantages (Shao et al. 2024; TRL's GRPOTrainer): rewards come in consecutive groups of
 * `numGenerations` samples of one prompt; each sample's advantage is its reward minus its group's mean,
 * divided by `std + 1e-4` where std is the group's (`scaleRewards` "group"), the whole batch's ("batch") or
 * not divided at all ("none", Dr. GRPO). A group whose rewards are all equal gets advantage 0 (never NaN).
 */
export function groupAdvantages(rewards: readonly number[], numGenerations: number, scaleRewards: ScaleRewards): GroupAdvantages {
  const G = numGenerations;
  if (!Number.isInteger(G) || G < 2) throw new ZooError('OPTION_INVALID', `numGenerations must be an integer ≥ 2 (a group needs two samples to have a spread); got ${G}`, { field: 'numGenerations' });
  if (rewards.length === 0 || rewards.length % G !== 0) {
    throw new ZooError('SHAPE_MISMATCH', `GRPO needs whole groups of numGenerations = ${G} samples; got ${rewards.length} rewards`, { field: 'numGenerations' });
  }
  rewards.forEach((r, i) => {
    if (!Number.isFinite(r)) throw new ZooError('NON_FINITE', `the reward of sample ${i} is ${r}; rewards must be finite numbers`, { field: 'reward', position: [i] });
  });
  const groups = Array.from({ length: rewards.length / G }, (_, g) => rewards.slice(g * G, (g + 1) * G));
  const batchStd = std(rewards);
  const advantages: number[] = [];
  const stds: number[] = [];
  let zero = 0;
  for (const group of groups) {
    const m = mean(group);
    const s = std(group);
    const constant = group.every((r) => r === group[0]);
    if (constant) zero += 1;
    const by = scaleRewards === 'group' ? s : scaleRewards === 'batch' ? batchStd : 1;
    for (const r of group) {
      // A constant group's mean can differ from its rewards in the last bit (0.1·3/3): its advantage is 0 exactly.
      advantages.push(constant ? 0 : scaleRewards === 'none' ? r - m : (r - m) / (by + STD_EPSILON));
      stds.push(scaleRewards === 'batch' ? batchStd : s);
    }
  }
  return { advantages, std: stds, rewardStd: mean(groups.map(std)), fracZeroStd: zero / groups.length };
}
