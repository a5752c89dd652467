import { type Rng, ZooError } from '@regime-zoo/core';
import { z } from 'zod';
import { MAX_EPISODE_TOKENS } from './episode.js';
import { checkOutcomes } from './stochastic.js';
import type { BehaviourPolicy, MixEntry, Outcome, WorldEnvironment, WorldStep } from './types.js';

/** Uniform over the legal actions. */
export function randomPolicy<S>(): BehaviourPolicy<S> {
  return { name: 'random', act: (_state, legal, rng) => pickLegal(legal, rng) };
}

function pickLegal(legal: readonly number[], rng: Rng): number {
  if (legal.length === 0) throw new ZooError('ENV_ERROR', 'no legal action to choose from (the episode has ended)');
  return legal[rng.int(legal.length)]!;
}

/** `policy`, except that with probability `epsilon` it takes a uniformly random legal action. */
export function epsilonGreedy<S>(policy: BehaviourPolicy<S>, epsilon: number): BehaviourPolicy<S> {
  if (!(epsilon >= 0 && epsilon <= 1)) throw new ZooError('OPTION_INVALID', `epsilon must be in [0, 1], got ${epsilon}`, { field: 'epsilon' });
  if (epsilon === 0) return policy;
  return {
    name: policyLabel(policy.name, epsilon),
    act: (state, legal, rng) => (rng.next() < epsilon ? pickLegal(legal, rng) : policy.act(state, legal, rng)),
  };
}

/** The name a mix entry's episodes carry: `optimal`, or `optimal+eps0.2` for an ε-greedy one. */
export function policyLabel(name: string, epsilon: number): string {
  return epsilon === 0 ? name : `${name}+eps${epsilon}`;
}

/**
 * What a world's model offers a planner: `step` for a deterministic world, `outcomes` for a stochastic
 * one (the planner then takes expectations over them and never calls `step`, which reads the dice).
 */
export interface Plannable<S> {
  legalActions(state: S): readonly number[];
  /** The deterministic step (ignored when `outcomes` is given). */
  step?(state: S, action: number): WorldStep<S>;
  /** Every result of `(state, action)` with its probability, from what the agent can know (docs/writing-a-world.md). */
  outcomes?(state: S, action: number): readonly Outcome<S>[];
  /** `true` when `step` reads randomness carried in the state; the planner then needs `outcomes`. */
  readonly stochastic?: boolean;
  /** A string that identifies the state, time included (leave out the dice: the plan never depends on them). */
  key(state: S): string;
}

/** A planner's policy, with the value of its plan. */
export interface PlannerPolicy<S> extends BehaviourPolicy<S> {
  /** Expected objective (visible return or hidden performance) from `state` to the end, following this policy. */
  value(state: S): number;
}

/**
 * The policy that maximises the expected visible reward or hidden performance over the rest of the
 * episode, by exhaustive search with memoisation over the world's model: `step` when the world is
 * deterministic, an expectation over `outcomes` when it is stochastic (expectimax). A world marked
 * `stochastic` without `outcomes` is refused (`OPTION_INVALID`): planning with its `step` would read the
 * dice the state carries and the planner would be clairvoyant. Ties go to the plan that ends the episode
 * sooner (in expectation), then to the first legal action (up, down, left, right).
 */
export function plannerPolicy<S>(name: string, world: Plannable<S>, objective: 'visible' | 'hidden'): PlannerPolicy<S> {
  const outcomes = world.outcomes?.bind(world);
  const step = world.step?.bind(world);
  if (!outcomes && (world.stochastic || !step)) {
    const why = world.stochastic ? 'the world is stochastic and its step reads the randomness the state carries, so planning with it would read future dice' : 'the world gives neither';
    throw new ZooError('OPTION_INVALID', `plannerPolicy('${name}'): ${why}; give outcomes(state, action) (every result with its probability) for a stochastic world, or step for a deterministic one`, {
      field: 'outcomes',
    });
  }
  const model = (state: S, action: number): readonly Outcome<S>[] =>
    outcomes ? checkOutcomes(`plannerPolicy('${name}')`, outcomes(state, action)) : [{ ...step!(state, action), probability: 1 }];
  type Plan = { value: number; steps: number; action: number };
  const memo = new Map<string, Plan>();
  const solve = (state: S): Plan => {
    const key = world.key(state);
    const hit = memo.get(key);
    if (hit) return hit;
    let best: Plan = { value: -Infinity, steps: 0, action: -1 };
    for (const action of world.legalActions(state)) {
      let value = 0;
      let steps = 0;
      for (const o of model(state, action)) {
        const rest = o.done ? { value: 0, steps: 0 } : solve(o.state);
        value += o.probability * ((objective === 'visible' ? o.reward : o.hidden) + rest.value);
        steps += o.probability * (rest.steps + 1);
      }
      // Equal values (to rounding): the plan that ends the episode sooner wins, so no dithering.
      const better = value > best.value + 1e-9 || (value > best.value - 1e-9 && steps < best.steps - 1e-9);
      if (better) best = { value, steps, action };
    }
    if (best.action < 0) best = { value: 0, steps: 0, action: -1 };
    if (memo.size > 200_000) memo.clear();
    memo.set(key, best);
    return best;
  };
  return {
    name,
    act: (state, legal, rng) => {
      const { action } = solve(state);
      return legal.includes(action) ? action : pickLegal(legal, rng);
    },
    value: (state) => solve(state).value,
  };
}

/** One episode of a behaviour policy: what datasets store (before the world's name and split are added). */
export interface PolicyEpisode {
  tokens: number[];
  actionMask: boolean[];
  rewards: number[];
  /** The legal action ids at each action, in order (core's `Episode.legal`). */
  legal: number[][];
  return: number;
  hidden: number;
  done: boolean;
}

/** Runs `policy` in `env` for one episode (the world always ends it within its time limit). */
export function runEpisode<S>(env: WorldEnvironment<S>, policy: BehaviourPolicy<S>, rng: Rng): PolicyEpisode {
  const reset = env.reset(rng);
  let state = reset.state;
  const ep: PolicyEpisode = { tokens: [...reset.tokens], actionMask: reset.tokens.map(() => false), rewards: [], legal: [], return: 0, hidden: 0, done: false };
  while (!ep.done) {
    const legal = env.legalActions(state);
    const action = policy.act(state, legal, rng);
    const step = env.step(state, action);
    ep.tokens.push(action, ...step.observation);
    ep.actionMask.push(true, ...step.observation.map(() => false));
    ep.rewards.push(step.reward);
    ep.legal.push([...legal]);
    ep.return += step.reward;
    ep.hidden += step.hidden;
    ep.done = step.done;
    state = step.state;
    if (ep.tokens.length > MAX_EPISODE_TOKENS) {
      throw new ZooError('SEQUENCE_TOO_LONG', `${env.name}: an episode passed ${MAX_EPISODE_TOKENS} tokens; this is a bug in the world`);
    }
  }
  return ep;
}

/** Zod schema of a behaviour mix (used by every world's `mix` option). */
export const mixSchema = z
  .array(
    z.strictObject({
      policy: z.string().min(1),
      epsilon: z.number().min(0).max(1).default(0),
      weight: z.number().positive(),
    }),
  )
  .min(1);

/** Checks that every mix entry names one of the world's policies (`OPTION_INVALID` otherwise). */
export function checkMix(world: string, mix: readonly MixEntry[], policies: Readonly<Record<string, unknown>>): readonly MixEntry[] {
  mix.forEach((m, i) => {
    if (!(m.policy in policies)) {
      throw new ZooError('OPTION_INVALID', `[${world}] options.mix[${i}].policy: unknown policy '${m.policy}'; this world's policies are ${Object.keys(policies).join(', ')}`, {
        field: `mix.${i}.policy`,
        plugin: world,
        hook: 'options',
      });
    }
  });
  return mix;
}

/** Draws one entry of `mix` by weight and returns its (ε-greedy) policy. */
export function drawPolicy<S>(policies: Readonly<Record<string, BehaviourPolicy<S>>>, mix: readonly MixEntry[], rng: Rng): BehaviourPolicy<S> {
  const m = mix[rng.categorical(mix.map((x) => x.weight))]!;
  const p = policies[m.policy];
  if (!p) throw new ZooError('OPTION_INVALID', `unknown policy '${m.policy}' in the mix; policies are ${Object.keys(policies).join(', ')}`, { field: 'mix' });
  return epsilonGreedy(p, m.epsilon);
}

/** The default mix of most worlds: reward-optimal, safe, random and ε = 0.2 versions of the first two. */
export function standardMix(optimal = 'optimal', safe = 'safe'): MixEntry[] {
  return [
    { policy: optimal, epsilon: 0, weight: 0.35 },
    { policy: safe, epsilon: 0, weight: 0.35 },
    { policy: 'random', epsilon: 0, weight: 0.1 },
    { policy: optimal, epsilon: 0.2, weight: 0.1 },
    { policy: safe, epsilon: 0.2, weight: 0.1 },
  ];
}
