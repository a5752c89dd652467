import { ZooError } from '@regime-zoo/core';
import type { Outcome, WorldStep } from './types.js';
import { BOS_ID, PAD_ID, SEP_ID, type Vocabulary } from '@regime-zoo/tokenizer';
import { BASE_VOCABULARY, isConditioning, render } from './vocabulary.js';

/** The most tokens an episode may have, conditioning included (DESIGN §3). */
export const MAX_EPISODE_TOKENS = 64;
/**
 * Room every world leaves for conditioning tokens that regimes put after `<bos>` (`<rtg:k>`, `<rlhf:on>`,
 * …): a world's longest episode is at most `MAX_EPISODE_TOKENS − CONDITIONING_ROOM` tokens.
 */
export const CONDITIONING_ROOM = 4;

/** An episode's tokens cut into their parts: `<bos> prefix prompt <sep> rest`. */
export interface EpisodeParts {
  /** Conditioning ids right after `<bos>`. */
  prefix: number[];
  /** The world's prompt between the prefix and the first `<sep>`. */
  prompt: number[];
  /** Everything after the first `<sep>`: actions and observations. */
  rest: number[];
  /** Index in the tokens of `rest[0]`. */
  restStart: number;
}

/**
 * Cuts `tokens` into prefix, prompt and rest; `BAD_SEQUENCE` when there is no `<bos>` or `<sep>`. The
 * prefix is the run of conditioning ids after `<bos>` as `vocabulary` (default `worldVocabulary()`) sees
 * them: pass your world's vocabulary when it adds symbols, or a map starting with one loses it.
 */
export function splitEpisode(tokens: readonly number[], world: string, vocabulary: Vocabulary = BASE_VOCABULARY): EpisodeParts {
  if (tokens[0] !== BOS_ID) {
    throw new ZooError('BAD_SEQUENCE', `${world}: an episode starts with <bos> (id ${BOS_ID}); got ${tokens[0]} at position 0`, { position: [0] });
  }
  let i = 1;
  while (i < tokens.length && isConditioning(tokens[i]!, vocabulary)) i++;
  const sep = tokens.indexOf(SEP_ID, i);
  if (sep < 0) {
    throw new ZooError('BAD_SEQUENCE', `${world}: no <sep> after the prompt in ${render(tokens.slice(0, 24), vocabulary)}…; an episode is <bos> [conditioning] prompt <sep> (action obs)* <eos>`, {
      position: [tokens.length],
    });
  }
  let end = tokens.length;
  while (end > sep + 1 && tokens[end - 1] === PAD_ID) end--;
  return { prefix: tokens.slice(1, i), prompt: tokens.slice(i, sep), rest: tokens.slice(sep + 1, end), restStart: sep + 1 };
}

/** The part of a world a replay needs: rebuild the first state from tokens, then legal actions and steps. */
export interface Replayable<S> {
  readonly name: string;
  /** The episode's first state, rebuilt from its tokens (the prompt, and whatever hidden draw the tokens reveal). */
  fromTokens(tokens: readonly number[]): S;
  legalActions(state: S): readonly number[];
  step(state: S, action: number): WorldStep<S>;
  /**
   * Stochastic worlds: every result `step` can have. `replay` then takes the outcome whose observation
   * the tokens show (so the dice the state carries are never needed); observations of different
   * outcomes must differ, none a prefix of another.
   */
  outcomes?(state: S, action: number): readonly Outcome<S>[];
  /** The world's vocabulary (default `worldVocabulary()`), for the conditioning prefix and messages. */
  readonly vocabulary?: Vocabulary;
}

export interface ReplayResult<S> {
  visible: number;
  hidden: number;
  rewards: number[];
  done: boolean;
  steps: number;
  /** States after each action (`states[0]` is the first state). */
  states: S[];
}

/**
 * Replays an episode's actions through the world and checks that every observation token is the one
 * the world writes. A cut episode (no `<eos>`, as rollouts at `maxLength` leave) replays as far as it goes.
 */
export function replay<S>(world: Replayable<S>, tokens: readonly number[]): ReplayResult<S> {
  const vocab = world.vocabulary ?? BASE_VOCABULARY;
  const show = (t: readonly number[]) => render(t, vocab);
  const { rest, restStart } = splitEpisode(tokens, world.name, vocab);
  let state = world.fromTokens(tokens);
  const out: ReplayResult<S> = { visible: 0, hidden: 0, rewards: [], done: false, steps: 0, states: [state] };
  let i = 0;
  while (i < rest.length) {
    const at = restStart + i;
    if (out.done) {
      throw new ZooError('BAD_SEQUENCE', `${world.name}: token ${show([rest[i]!])} at position ${at} comes after the episode ended`, { position: [at] });
    }
    const action = rest[i]!;
    const legal = world.legalActions(state);
    if (!legal.includes(action)) {
      throw new ZooError('BAD_SEQUENCE', `${world.name}: action ${show([action])} at position ${at} is not legal there; legal actions are ${show(legal)}`, {
        position: [at],
      });
    }
    const seen = rest.slice(i + 1);
    let step: WorldStep<S>;
    if (world.outcomes) {
      const found = observedOutcome(world.name, world.outcomes(state, action), seen, at, show);
      if (!found) break; // a cut observation that more than one outcome starts with: the step is not known
      step = found;
    } else {
      step = world.step(state, action);
    }
    for (let j = 0; j < step.observation.length && j < seen.length; j++) {
      if (seen[j] !== step.observation[j]) {
        throw new ZooError(
          'BAD_SEQUENCE',
          `${world.name}: observation ${show([seen[j]!])} at position ${at + 1 + j} is not what the world writes after ${show([action])} (${show(step.observation)})`,
          { position: [at + 1 + j] },
        );
      }
    }
    state = step.state;
    out.states.push(state);
    out.rewards.push(step.reward);
    out.visible += step.reward;
    out.hidden += step.hidden;
    out.steps++;
    out.done = step.done && step.observation.length <= seen.length;
    i += 1 + step.observation.length;
  }
  return out;
}

/**
 * The outcome whose observation the tokens `seen` (after the action at `at`) show; undefined when they
 * are cut short and more than one outcome starts with them. `BAD_SEQUENCE` when none does; `ENV_ERROR`
 * when the world breaks the contract (one outcome's observation is a prefix of another's).
 */
function observedOutcome<S>(world: string, outcomes: readonly Outcome<S>[], seen: readonly number[], at: number, show: (t: readonly number[]) => string): Outcome<S> | undefined {
  outcomes.forEach((a, x) =>
    outcomes.forEach((b, y) => {
      if (x !== y && a.observation.length <= b.observation.length && a.observation.every((t, j) => b.observation[j] === t)) {
        throw new ZooError(
          'ENV_ERROR',
          `${world}: two outcomes of the action at position ${at} write ${show(a.observation)} and ${show(b.observation)}; a stochastic world's outcomes must differ in their observation tokens (none a prefix of another), so that evaluate can tell from tokens which one happened`,
          { position: [at] },
        );
      }
    }),
  );
  const agree = (o: Outcome<S>): number => {
    let j = 0;
    while (j < o.observation.length && j < seen.length && seen[j] === o.observation[j]) j++;
    return j;
  };
  const matching = outcomes.filter((o) => agree(o) === Math.min(o.observation.length, seen.length));
  if (matching.length === 0) {
    const where = at + 1 + Math.max(...outcomes.map(agree));
    const wrote = outcomes.map((o) => show(o.observation)).join(' | ');
    throw new ZooError('BAD_SEQUENCE', `${world}: observation ${show(seen.slice(where - at - 1, where - at))} at position ${where} is none of what the world can write after the action at ${at} (${wrote})`, {
      position: [where],
    });
  }
  return matching.length === 1 ? matching[0] : undefined;
}

/** The tokens after the first `<sep>` (actions and observations), skipping any conditioning prefix. */
export function afterPrompt(tokens: readonly number[], world: string, vocabulary: Vocabulary = BASE_VOCABULARY): number[] {
  return splitEpisode(tokens, world, vocabulary).rest;
}
