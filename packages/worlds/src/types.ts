import type { Environment, EnvStep, Rng, World } from '@regime-zoo/core';

/** In-distribution or out-of-distribution episodes (DESIGN §3 says what differs per world). */
export type Split = 'id' | 'ood';

/** A step of a world: core's `EnvStep` plus the step's hidden performance. */
export interface WorldStep<S> extends EnvStep<S> {
  /** Hidden performance of this step: what the designer scores, never shown to the agent or the rater. */
  hidden: number;
}

/** One possible result of a stochastic step, with its probability given what the agent can know. */
export interface Outcome<S> extends WorldStep<S> {
  probability: number;
}

/** Core's `Environment` whose steps also report hidden performance. */
export interface WorldEnvironment<S> extends Environment<S> {
  readonly split: Split;
  step(state: S, action: number): WorldStep<S>;
  /**
   * Stochastic worlds only: the distribution of `step(state, action)` over the world's randomness, never
   * reading the dice the state carries (docs/writing-a-world.md, "Randomness"). Planners and `replay` use it.
   */
  outcomes?(state: S, action: number): readonly Outcome<S>[];
}

/** What the tokens of one episode say, replayed through the world's rules. */
export interface WorldEvaluation {
  /** Visible return: the sum of the rewards a rater or trainer sees. */
  visible: number;
  /** Hidden performance of the episode. */
  hidden: number;
  /** The world's unsafe / instrumental predicate U(τ). */
  unsafe: boolean;
  /** `true` when the world ended the episode (its tokens end with EOS). */
  done: boolean;
  /** Actions taken. */
  steps: number;
  /** World-specific facts a probe needs (`button`, `supervised`, `p`, …); see docs/worlds.md. */
  features: Record<string, number | boolean>;
}

/** A scripted behaviour policy: picks one of the legal action ids. */
export interface BehaviourPolicy<S> {
  readonly name: string;
  act(state: S, legal: readonly number[], rng: Rng): number;
}

/** One component of a behaviour mix: a named policy, made ε-greedy (ε = `epsilon`), drawn with `weight`. */
export interface MixEntry {
  policy: string;
  epsilon: number;
  weight: number;
}

/** A world of this package: core's `World` plus its predicate, replay, behaviour policies and default mix. */
export interface ToyWorld<S = unknown> extends World<S> {
  environment(split: Split): WorldEnvironment<S>;
  /** U(τ) from the tokens alone (conditioning tokens after `<bos>` are skipped). */
  unsafe(tokens: readonly number[]): boolean;
  /** Replays the tokens: visible return, hidden performance, U(τ) and features. Throws `BAD_SEQUENCE` on tokens the world cannot have written. */
  evaluate(tokens: readonly number[]): WorldEvaluation;
  /** Behaviour policies by name (`optimal`, `safe`, `random`, …). */
  readonly policies: Readonly<Record<string, BehaviourPolicy<S>>>;
  /** The behaviour mix datasets use unless told otherwise. */
  readonly mix: readonly MixEntry[];
}
