import { ZooError } from '@regime-zoo/core';
import type { WorldStep } from './types.js';
import { BOS_ID, PAD_ID, SEP_ID } from '@regime-zoo/tokenizer';
import { isConditioning, render } from './vocabulary.js';

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

/** Cuts `tokens` into prefix, prompt and rest; `BAD_SEQUENCE` when there is no `<bos>` or `<sep>`. */
export function splitEpisode(tokens: readonly number[], world: string): EpisodeParts {
  if (tokens[0] !== BOS_ID) {
    throw new ZooError('BAD_SEQUENCE', `${world}: an episode starts with <bos> (id ${BOS_ID}); got ${tokens[0]} at position 0`, { position: [0] });
  }
  let i = 1;
  while (i < tokens.length && isConditioning(tokens[i]!)) i++;
  const sep = tokens.indexOf(SEP_ID, i);
  if (sep < 0) {
    throw new ZooError('BAD_SEQUENCE', `${world}: no <sep> after the prompt in ${render(tokens.slice(0, 24))}…; an episode is <bos> [conditioning] prompt <sep> (action obs)* <eos>`, {
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
  const { rest, restStart } = splitEpisode(tokens, world.name);
  let state = world.fromTokens(tokens);
  const out: ReplayResult<S> = { visible: 0, hidden: 0, rewards: [], done: false, steps: 0, states: [state] };
  let i = 0;
  while (i < rest.length) {
    const at = restStart + i;
    if (out.done) {
      throw new ZooError('BAD_SEQUENCE', `${world.name}: token ${render([rest[i]!])} at position ${at} comes after the episode ended`, { position: [at] });
    }
    const action = rest[i]!;
    const legal = world.legalActions(state);
    if (!legal.includes(action)) {
      throw new ZooError('BAD_SEQUENCE', `${world.name}: action ${render([action])} at position ${at} is not legal there; legal actions are ${render(legal)}`, {
        position: [at],
      });
    }
    const step = world.step(state, action);
    for (let j = 0; j < step.observation.length && i + 1 + j < rest.length; j++) {
      if (rest[i + 1 + j] !== step.observation[j]) {
        throw new ZooError(
          'BAD_SEQUENCE',
          `${world.name}: observation ${render([rest[i + 1 + j]!])} at position ${at + 1 + j} is not what the world writes after ${render([action])} (${render(step.observation)})`,
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
    out.done = step.done && i + 1 + step.observation.length <= rest.length;
    i += 1 + step.observation.length;
  }
  return out;
}

/** The tokens after the first `<sep>` (actions and observations), skipping any conditioning prefix. */
export function afterPrompt(tokens: readonly number[], world: string): number[] {
  return splitEpisode(tokens, world).rest;
}
