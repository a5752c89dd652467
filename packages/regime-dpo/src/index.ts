export { dpo, dpoOptionsSchema } from './dpo.js';
export type { DpoOptions } from './dpo.js';
