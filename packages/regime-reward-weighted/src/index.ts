export { rewardWeighted, rewardWeightedOptionsSchema, exampleWeights } from './reward-weighted.js';
export type { RewardWeightedOptions } from './reward-weighted.js';
