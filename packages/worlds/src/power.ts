import { Rng, ZooError } from '@regime-zoo/core';
import { z } from 'zod';

/**
 * A finite deterministic MDP: `successors[s]` lists the states one action can reach from `s`. An
 * absorbing (terminal) state lists only itself.
 */
export interface FiniteMdp {
  readonly successors: readonly (readonly number[])[];
}

/** An MDP enumerated from a world's step function, with the states behind each index. */
export interface EnumeratedMdp<S> extends FiniteMdp {
  readonly states: readonly S[];
  readonly keys: readonly string[];
  readonly index: ReadonlyMap<string, number>;
}

/**
 * Enumerates every state reachable from `start` (breadth first; `start` is index 0). States with the
 * same `key` are one state; a state whose step ended the episode is absorbing. Throws past `maxStates`.
 */
export function enumerateMdp<S>(
  start: S,
  world: { legalActions(state: S): readonly number[]; step(state: S, action: number): { state: S; done: boolean }; key(state: S): string; outcomes?: unknown },
  maxStates = 10_000,
): EnumeratedMdp<S> {
  if (world.outcomes !== undefined) {
    // A stochastic world's step reads the dice its state carries: enumerating it would give the MDP of one draw.
    throw new ZooError('OPTION_INVALID', 'enumerateMdp: the world is stochastic (it has outcomes); POWER here is defined for deterministic MDPs', { field: 'world' });
  }
  const states: S[] = [start];
  const keys: string[] = [world.key(start)];
  const index = new Map<string, number>([[keys[0]!, 0]]);
  const terminal: boolean[] = [false];
  const successors: number[][] = [];
  for (let s = 0; s < states.length; s++) {
    if (terminal[s]) {
      successors.push([s]);
      continue;
    }
    const next = new Set<number>();
    for (const action of world.legalActions(states[s]!)) {
      const step = world.step(states[s]!, action);
      const key = world.key(step.state);
      let j = index.get(key);
      if (j === undefined) {
        j = states.length;
        if (j >= maxStates) throw new ZooError('ENV_ERROR', `enumerateMdp: more than ${maxStates} states; POWER is for small MDPs`);
        states.push(step.state);
        keys.push(key);
        index.set(key, j);
        terminal.push(step.done);
      }
      next.add(j);
    }
    successors.push(next.size ? [...next] : [s]);
  }
  return { states, keys, index, successors };
}

export const powerOptions = z.strictObject({
  /** Discount γ in (0, 1). */
  gamma: z.number().gt(0).lt(1).default(0.9),
  /** Reward functions sampled (iid Uniform[0, 1] per state). */
  samples: z.number().int().min(1).max(1_000_000).default(10_000),
  seed: z.number().int().default(0),
});

export type PowerOptions = z.input<typeof powerOptions>;

/**
 * POWER of every state (Turner et al., 2021, "Optimal policies tend to seek power"):
 *
 *   POWER(s) = (1 − γ)/γ · E_R[ V*_R(s) − R(s) ],   R(s') ~ Uniform[0, 1] iid over states,
 *
 * with V*_R(s) = R(s) + γ · max over successors s' of V*_R(s'). Estimated by sampling `samples` reward
 * functions (seeded) and solving each by value iteration; absorbing states are solved in closed form.
 * Under this normalisation an absorbing state has POWER 1/2 and a state whose successors are n absorbing
 * states has POWER E[max of n uniforms] = n/(n + 1), for every γ.
 */
export function computePower(mdp: FiniteMdp, options: PowerOptions = {}): Float64Array {
  const parsed = powerOptions.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ZooError('OPTION_INVALID', `computePower: bad option ${issue?.path.join('.')}: ${issue?.message}`, { field: String(issue?.path[0] ?? ''), cause: parsed.error });
  }
  const { gamma, samples, seed } = parsed.data;
  const n = mdp.successors.length;
  const absorbing = mdp.successors.map((next, s) => next.length === 1 && next[0] === s);
  mdp.successors.forEach((next, s) => {
    if (next.length === 0 || next.some((j) => !(Number.isInteger(j) && j >= 0 && j < n))) {
      throw new ZooError('BAD_INPUT', `computePower: successors[${s}] must list state indices in [0, ${n}); got [${next.join(', ')}]`, { field: `successors[${s}]` });
    }
  });
  const rng = new Rng(seed);
  const R = new Float64Array(n);
  const V = new Float64Array(n);
  const total = new Float64Array(n);
  const tolerance = 1e-9 / (1 - gamma);
  for (let k = 0; k < samples; k++) {
    for (let s = 0; s < n; s++) R[s] = rng.next();
    for (let s = 0; s < n; s++) V[s] = absorbing[s] ? R[s]! / (1 - gamma) : R[s]!;
    for (let iter = 0; iter < 100_000; iter++) {
      let delta = 0;
      for (let s = 0; s < n; s++) {
        if (absorbing[s]) continue;
        let best = -Infinity;
        for (const j of mdp.successors[s]!) if (V[j]! > best) best = V[j]!;
        const v = R[s]! + gamma * best;
        delta = Math.max(delta, Math.abs(v - V[s]!));
        V[s] = v;
      }
      if (delta < tolerance) break;
    }
    for (let s = 0; s < n; s++) total[s] = total[s]! + V[s]! - R[s]!;
  }
  const out = new Float64Array(n);
  for (let s = 0; s < n; s++) out[s] = ((1 - gamma) / gamma) * (total[s]! / samples);
  return out;
}
