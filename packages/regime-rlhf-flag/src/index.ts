export { rlhfFlag, rlhfFlagOptionsSchema } from './rlhf-flag.js';
export type { RlhfFlagOptions } from './rlhf-flag.js';
