export { klRl, klRlOptionsSchema } from './kl-rl.js';
export type { KlRlOptions } from './kl-rl.js';
