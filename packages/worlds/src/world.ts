import { type Rng, ZooError } from '@regime-zoo/core';
import type { Vocabulary } from '@regime-zoo/tokenizer';
import { z } from 'zod';
import { CONDITIONING_ROOM, MAX_EPISODE_TOKENS, replay, type ReplayResult } from './episode.js';
import { parseGrid, type GridMap } from './grid.js';
import { checkMix } from './policies.js';
import { checkOutcomes, sampleOutcome } from './stochastic.js';
import type { BehaviourPolicy, MixEntry, Outcome, Split, ToyWorld, WorldEnvironment, WorldStep } from './types.js';
import { BASE_VOCABULARY } from './vocabulary.js';

/**
 * What a world supplies; `assembleWorld` turns it into the plugin's body. A deterministic world gives
 * `step`; a stochastic one gives `outcomes` and `draw` instead (docs/writing-a-world.md, "Randomness").
 */
export interface WorldSpec<S> {
  name: string;
  /** The vocabulary the world writes in (default `worldVocabulary()`); give yours when you added symbols. */
  vocabulary?: Vocabulary;
  /** A new episode of `split`: its first state and its prompt tokens (`<bos> … <sep>`). All randomness of the episode is drawn here. */
  reset(split: Split, rng: Rng): { state: S; tokens: number[] };
  legalActions(state: S): readonly number[];
  /** Deterministic worlds: the next state, observation tokens, visible reward, hidden performance, done. Pure. */
  step?(state: S, action: number): WorldStep<S>;
  /** Stochastic worlds: every result of `(state, action)` with its probability; must not read the dice in the state. */
  outcomes?(state: S, action: number): readonly Outcome<S>[];
  /** Stochastic worlds: a uniform number in [0, 1) read from the randomness the state carries (e.g. `chance(state.seed, state.t)`); it picks the outcome. */
  draw?(state: S, action: number): number;
  /** The first state, rebuilt from an episode's tokens (conditioning skipped: use `splitEpisode(tokens, name, vocabulary)`). */
  fromTokens(tokens: readonly number[]): S;
  /** U(τ) from the tokens alone. */
  unsafe(tokens: readonly number[]): boolean;
  /** Facts a probe needs, from the replayed states (default none). */
  features?(replayed: ReplayResult<S>, tokens: readonly number[]): Record<string, number | boolean>;
  policies: Record<string, BehaviourPolicy<S>>;
  mix: readonly MixEntry[];
}

/** The plugin body of a world (everything but `name` and `kind`, which `defineWorld` adds). */
export function assembleWorld<S>(spec: WorldSpec<S>): Omit<ToyWorld<S>, 'name' | 'kind'> {
  checkMix(spec.name, spec.mix, spec.policies);
  const vocabulary = spec.vocabulary ?? BASE_VOCABULARY;
  const { outcomes, draw } = spec;
  const bad = (message: string, field: string) => new ZooError('OPTION_INVALID', `[${spec.name}] assembleWorld: ${message}`, { field, plugin: spec.name });
  if (outcomes && spec.step) throw bad('give step (a deterministic world) or outcomes and draw (a stochastic one), not both', 'step');
  if (!outcomes && !spec.step) throw bad('give step (a deterministic world) or outcomes and draw (a stochastic one)', 'step');
  if (outcomes && !draw) throw bad('a stochastic world needs draw(state, action): a uniform number in [0, 1) read from the randomness its state carries', 'draw');
  const step: (state: S, action: number) => WorldStep<S> = outcomes
    ? (state, action) => {
        const { probability: _p, ...picked } = sampleOutcome(checkOutcomes(spec.name, outcomes(state, action)), draw!(state, action));
        return picked;
      }
    : spec.step!;
  const environments = new Map<Split, WorldEnvironment<S>>();
  const replayable = { name: spec.name, vocabulary, fromTokens: spec.fromTokens, legalActions: spec.legalActions, step, ...(outcomes ? { outcomes } : {}) };
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
          step,
          ...(outcomes ? { outcomes } : {}),
        };
        environments.set(split, env);
      }
      return env;
    },
    unsafe: spec.unsafe,
    evaluate(tokens) {
      const r = replay(replayable, tokens);
      return { visible: r.visible, hidden: r.hidden, unsafe: spec.unsafe(tokens), done: r.done, steps: r.steps, features: spec.features?.(r, tokens) ?? {} };
    },
    policies: spec.policies,
    mix: spec.mix,
  };
}

/** Option schema of a list of maps (rows of one-character cells; `A` is the start). */
export const mapsSchema = z.array(z.array(z.string().min(1)).min(1)).min(1);

/** Parses option maps of the built-in cells, naming the option in errors (the grid kit's `parseMaps` for yours). */
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
