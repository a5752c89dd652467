export { grpo, grpoOptionsSchema } from './grpo.js';
export { groupAdvantages } from './advantages.js';
export { grpoLoss } from './loss.js';
export { grpoFixedPoint, STD_EPSILON } from './fixed-point.js';
export type { GrpoOptions } from './grpo.js';
export type { GroupAdvantages } from './advantages.js';
export type { GrpoLossOptions } from './loss.js';
export type { GrpoFixedPoint, GrpoFixedPointOptions, LossType, ScaleRewards } from './fixed-point.js';
