import type { Environment } from '../rollout.js';

/**
 * A test world: a corridor of 6 cells; start at 0, goal at 3. Tokens: 1 BOS, 2 SEP, 3 EOS, 4 LEFT,
 * 5 RIGHT, 6+i "at cell i". Reward −1 per step, +10 on reaching the goal; at most 8 steps.
 */
export interface CorridorState {
  pos: number;
  steps: number;
}

export const corridor: Environment<CorridorState> = {
  name: 'corridor',
  reset: () => ({ state: { pos: 0, steps: 0 }, tokens: [1, 6, 2] }),
  legalActions: () => [4, 5],
  step(s, action) {
    const pos = Math.max(0, Math.min(5, s.pos + (action === 5 ? 1 : -1)));
    const steps = s.steps + 1;
    const goal = pos === 3;
    const done = goal || steps >= 8;
    return { state: { pos, steps }, observation: done ? [6 + pos, 3] : [6 + pos], reward: goal ? 9 : -1, done };
  },
};
