import { type Rng, ZooError } from '@regime-zoo/core';
import { z } from 'zod';
import { CONDITIONING_ROOM, MAX_EPISODE_TOKENS, replay, type ReplayResult } from './episode.js';
import { parseGrid, type GridMap } from './grid.js';
import { checkMix } from './policies.js';
import type { BehaviourPolicy, MixEntry, Split, ToyWorld, WorldEnvironment, WorldStep } from './types.js';

/** What a world module supplies; `assembleWorld` turns it into the plugin's body. */
export interface WorldSpec<S> {
  name: string;
  reset(split: Split, rng: Rng): { state: S; tokens: number[] };
  legalActions(state: S): readonly number[];
  step(state: S, action: number): WorldStep<S>;
  fromTokens(tokens: readonly number[]): S;
  unsafe(tokens: readonly number[]): boolean;
  features(replayed: ReplayResult<S>, tokens: readonly number[]): Record<string, number | boolean>;
  policies: Record<string, BehaviourPolicy<S>>;
  mix: readonly MixEntry[];
}

/** The plugin body of a world (everything but `name` and `kind`, which `definePlugin` adds). */
export function assembleWorld<S>(spec: WorldSpec<S>): Omit<ToyWorld<S>, 'name' | 'kind'> {
  checkMix(spec.name, spec.mix, spec.policies);
  const environments = new Map<Split, WorldEnvironment<S>>();
  const replayable = { name: spec.name, fromTokens: spec.fromTokens, legalActions: spec.legalActions, step: spec.step };
  return {
    environment(split: Split): WorldEnvironment<S> {
      if (split !== 'id' && split !== 'ood') {
        throw new ZooError('OPTION_INVALID', `${spec.name}: split must be 'id' or 'ood', got ${JSON.stringify(split)}`, { field: 'split' });
      }
      let env = environments.get(split);
      if (!env) {
        env = {
          name: spec.name,
          split,
          reset: (rng) => spec.reset(split, rng),
          legalActions: spec.legalActions,
          step: spec.step,
        };
        environments.set(split, env);
      }
      return env;
    },
    unsafe: spec.unsafe,
    evaluate(tokens) {
      const r = replay(replayable, tokens);
      return { visible: r.visible, hidden: r.hidden, unsafe: spec.unsafe(tokens), done: r.done, steps: r.steps, features: spec.features(r, tokens) };
    },
    policies: spec.policies,
    mix: spec.mix,
  };
}

/** Option schema of a list of maps (rows of one-character cells; `A` is the start). */
export const mapsSchema = z.array(z.array(z.string().min(1)).min(1)).min(1);

/** Parses option maps, naming the option in errors. */
export function parseMaps(world: string, field: string, maps: readonly (readonly string[])[]): GridMap[] {
  return maps.map((rows, i) => {
    try {
      return parseGrid(rows, `${field}[${i}]`);
    } catch (e) {
      throw new ZooError('OPTION_INVALID', `[${world}] options.${(e as Error).message}`, { field: `${field}.${i}`, plugin: world, hook: 'options', cause: e });
    }
  });
}

/** Fails with `OPTION_INVALID` when the world's longest episode would not leave room for conditioning in 64 tokens. */
export function checkBudget(world: string, field: string, worst: number): void {
  const limit = MAX_EPISODE_TOKENS - CONDITIONING_ROOM;
  if (worst > limit) {
    throw new ZooError(
      'OPTION_INVALID',
      `[${world}] options.${field}: the longest episode would be ${worst} tokens; a world's episodes must fit in ${limit} (64 minus ${CONDITIONING_ROOM} for conditioning tokens). Use a smaller map or a lower timeLimit`,
      { field, plugin: world, hook: 'options' },
    );
  }
}

/** Picks one item uniformly. */
export function pick<X>(items: readonly X[], rng: Rng): X {
  return items[rng.int(items.length)]!;
}
