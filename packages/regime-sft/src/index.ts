export { sft, sftOptionsSchema } from './sft.js';
export type { SftOptions } from './sft.js';
