export { ppo, ppoOptionsSchema } from './ppo.js';
export type { PpoOptions } from './ppo.js';
