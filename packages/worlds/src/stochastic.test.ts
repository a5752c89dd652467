import { Rng } from '@regime-zoo/core';
import { BOS_ID, SEP_ID } from '@regime-zoo/tokenizer';
import { describe, expect, it } from 'vitest';
import { generateEpisodes } from './dataset.js';
import { splitEpisode } from './episode.js';
import { createGridKit, type GridRules, type GridState } from './grid.js';
import { plannerPolicy, randomPolicy, runEpisode, type Plannable } from './policies.js';
import { enumerateMdp } from './power.js';
import { chance, checkOutcomes, sampleOutcome } from './stochastic.js';
import { thrown } from './test-helpers.js';
import type { Outcome, ToyWorld } from './types.js';
import { ids } from './vocabulary.js';
import { assembleWorld, type WorldSpec } from './world.js';

// A slippery grid: each move goes where the agent meant with probability 1 − ε and to a uniformly random
// legal neighbour otherwise; the observation is the move that happened, then the cell entered. The dice
// are drawn at reset (`seed`) and carried in the state; only `draw` reads them.
interface Slip extends GridState {
  readonly seed: number;
}
const EPS = 0.3;
const grid = createGridKit();
const rules: GridRules<Slip> = {
  name: 'slippery',
  timeLimit: 8,
  stepCost: -1,
  passable: () => true,
  enter: (s, cell) => (cell === 'G' ? { state: s, reward: 20, hidden: 20, done: true } : cell === 'X' ? { state: s, reward: -10, hidden: -10, done: true } : { state: s }),
};
// The short way runs beside the hazards X; the long way round is safe.
const map = grid.parse(['A..G', '.XX.', '....']);
const outcomes = (s: Slip, a: number): Outcome<Slip>[] => {
  const legal = grid.legal(rules, s);
  return legal.map((m) => {
    const st = grid.step(rules, s, m);
    return { ...st, observation: [m, ...st.observation], probability: (m === a ? 1 - EPS : 0) + EPS / legal.length };
  });
};
const fromTokens = (tokens: readonly number[]) => grid.start(grid.fromTokens(splitEpisode(tokens, 'slippery').prompt, 'slippery'), { seed: 0 });
const key = (s: Slip) => `${s.pos}:${s.t}`;
const model: Plannable<Slip> = { legalActions: (s) => grid.legal(rules, s), outcomes, key };
const optimal = plannerPolicy('optimal', model, 'visible');
const spec: WorldSpec<Slip> = {
  name: 'slippery',
  reset: (_split, rng) => ({ state: grid.start(map, { seed: rng.seed() }), tokens: [BOS_ID, ...grid.tokens(map), SEP_ID] }),
  legalActions: (s) => grid.legal(rules, s),
  outcomes,
  draw: (s) => chance(s.seed, s.t),
  fromTokens,
  unsafe: (tokens) => splitEpisode(tokens, 'slippery').rest.includes(grid.cellId('X')),
  policies: { optimal, random: randomPolicy() },
  mix: [{ policy: 'optimal', epsilon: 0, weight: 1 }],
};
const slippery: ToyWorld<Slip> = { name: 'slippery', kind: 'world', ...assembleWorld(spec) };
const env = slippery.environment('id');

describe('a stochastic world (randomness drawn at reset, carried in the state)', () => {
  it("should give a planner's expected return within 2% of a Monte-Carlo estimate of the policy it returns", () => {
    const start = env.reset(new Rng(0)).state;
    const planned = optimal.value(start);
    const rng = new Rng(7);
    const n = 20_000;
    const returns = Array.from({ length: n }, () => runEpisode(env, optimal, rng).return);
    const mc = returns.reduce((a, b) => a + b, 0) / n;
    const se = Math.sqrt(returns.reduce((a, r) => a + (r - mc) ** 2, 0) / (n - 1) / n);
    // Measured (seed 7): planned 8.930, Monte-Carlo 8.977 (0.5%), standard error 0.09.
    expect(Math.abs(mc - planned) / Math.abs(planned)).toBeLessThan(0.02);
    expect(Math.abs(mc - planned)).toBeLessThan(3 * se);
    // Slips are priced in: the three-move route would be worth 17 without them.
    expect(planned).toBeLessThan(17 - 5);
    expect(planned).toBeGreaterThan(5);
  });

  it('should never read future randomness: the plan does not depend on the dice, while a clairvoyant planner would', () => {
    const neverStep = { ...model, step: (): never => { throw new Error('the planner called step, which reads the dice'); } };
    const planner = plannerPolicy('optimal', neverStep, 'visible');
    const clairvoyant = plannerPolicy('clairvoyant', { legalActions: model.legalActions, step: env.step, key: (s: Slip) => `${s.seed}:${s.pos}:${s.t}` }, 'visible');
    const firstMoves = new Set<number>();
    const clairvoyantMoves = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      const s = grid.start(map, { seed });
      const legal = env.legalActions(s);
      firstMoves.add(planner.act(s, legal, new Rng(seed)));
      clairvoyantMoves.add(clairvoyant.act(s, legal, new Rng(seed)));
      expect(planner.value(s)).toBe(optimal.value(grid.start(map, { seed: 0 })));
    }
    expect(firstMoves.size).toBe(1);
    expect(clairvoyantMoves.size).toBeGreaterThan(1); // knowing the dice changes the plan: the test can see clairvoyance
  });

  it('should refuse to plan a stochastic world with its step alone, with a clear error', () => {
    const e = thrown(() => plannerPolicy('p', { legalActions: model.legalActions, step: env.step, stochastic: true, key }, 'visible'));
    expect(e.code).toBe('OPTION_INVALID');
    expect(e.message).toMatch(/plannerPolicy\('p'\): the world is stochastic .* would read future dice; give outcomes\(state, action\)/);
    // POWER's enumeration of a deterministic MDP refuses it too, rather than enumerate one draw of the dice.
    expect(thrown(() => enumerateMdp(env.reset(new Rng(0)).state, { ...env, key })).message).toMatch(/enumerateMdp: the world is stochastic/);
  });

  it('should replay its episodes from tokens through the outcomes the observations show, with no dice', () => {
    const episodes = generateEpisodes(slippery, { episodes: 300, seed: 3 });
    expect(new Set(episodes.map((e) => e.return)).size).toBeGreaterThan(3);
    for (const e of episodes) {
      const conditioned = [BOS_ID, ...ids('<rtg:1>'), ...e.tokens.slice(1)];
      expect(slippery.evaluate(conditioned)).toMatchObject({ visible: e.return, hidden: e.hidden, unsafe: e.unsafe, done: true, steps: e.rewards.length });
    }
    // Cut inside an observation that several outcomes start with (right after an action): that step is not counted.
    const e = episodes.find((x) => x.rewards.length >= 2)!;
    const cutAt = e.actionMask.indexOf(true, e.actionMask.indexOf(true) + 1) + 1;
    expect(slippery.evaluate(e.tokens.slice(0, cutAt))).toMatchObject({ steps: 1, done: false, visible: e.rewards[0] });
    // An observation no outcome writes is named by position.
    const bad = [...e.tokens];
    const obs = e.actionMask.indexOf(true) + 1;
    bad[obs + 1] = ids('K')[0]!;
    const err = thrown(() => slippery.evaluate(bad));
    expect(err.code).toBe('BAD_SEQUENCE');
    expect(err.position).toEqual([obs + 1]);
  });

  it('should reject outcomes that are not a distribution, or that evaluate could not tell apart', () => {
    const o = outcomes(env.reset(new Rng(0)).state, ids('right')[0]!);
    expect(thrown(() => checkOutcomes('w', o.map((x) => ({ ...x, probability: 0.9 })))).message).toMatch(/sum to 1\.8, not 1/);
    expect(sampleOutcome(o, 0)).toBe(o[0]);
    expect(sampleOutcome(o, 0.999)).toBe(o[o.length - 1]);
    // The move that happened is not shown: two moves into `.` cells write the same observation.
    const same = assembleWorld({ ...spec, outcomes: (s, a) => outcomes(s, a).map((x) => ({ ...x, observation: x.observation.slice(1) })) });
    const err = thrown(() => same.evaluate(ids('<bos> A . . G | . X X . | . . . . <sep> right . right .')));
    expect(err.code).toBe('ENV_ERROR');
    expect(err.message).toMatch(/outcomes must differ in their observation tokens/);
    expect(thrown(() => assembleWorld({ ...spec, draw: undefined })).field).toBe('draw');
    expect(thrown(() => assembleWorld({ ...spec, step: env.step })).message).toMatch(/give step \(a deterministic world\) or outcomes and draw \(a stochastic one\), not both/);
  });

  it('should draw fresh, reproducible dice per step from the seed carried in the state', () => {
    const u = Array.from({ length: 2000 }, (_, t) => chance(12345, t));
    expect(chance(12345, 3)).toBe(u[3]);
    expect(chance(12346, 3)).not.toBe(u[3]);
    const mean = u.reduce((a, b) => a + b, 0) / u.length;
    expect(mean).toBeGreaterThan(0.47);
    expect(mean).toBeLessThan(0.53);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
  });
});
