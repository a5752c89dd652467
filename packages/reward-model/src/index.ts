export { trainRewardModel, loadRewardModel, parseRewardModelOptions, rewardModelOptionsSchema, RewardModel, REWARD_MODEL_NAME } from './reward-model.js';
export type { RewardModelOptions, RewardModelOptionsInput, RewardPair, RewardEvaluation, Scorable, TrainRewardModelArgs } from './reward-model.js';
