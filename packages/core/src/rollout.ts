import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { describeZodError } from './config.js';
import { ZooError } from './errors.js';
import type { Transformer } from './model.js';
import { Rng } from './rng.js';
import { sampleToken, type SampleOptions } from './sampling.js';
import { checkSize, describeValue } from './validate.js';

export interface EnvStep<S> {
  state: S;
  /** Tokens the world appends after the action (may be empty; the last step usually ends with EOS). */
  observation: readonly number[];
  /** The visible reward of this step (what a rater or the trainer sees). */
  reward: number;
  done: boolean;
}

/**
 * The environment interface rollouts run against (worlds implement it). The model emits one action
 * token; the environment answers with observation tokens, a visible reward and whether it is done.
 */
export interface Environment<S = unknown> {
  readonly name: string;
  /** Starts an episode: its state and prompt tokens (`BOS map/obs SEP`). */
  reset(rng: Rng): { state: S; tokens: readonly number[] };
  /** Token ids the agent may emit in `state`. */
  legalActions(state: S): readonly number[];
  /** Returns the next state; must not mutate `state` (rollouts may reuse a start state). */
  step(state: S, action: number): EnvStep<S>;
}

export interface Episode {
  /** The whole episode: prompt (with conditioning), actions and observations. */
  tokens: number[];
  /** `true` at positions whose token the policy emitted (actions). */
  actionMask: boolean[];
  /** Visible reward after each action, in order. */
  rewards: number[];
  /** The legal action ids at each action, in order (what the policy was restricted to). */
  legal: number[][];
  /** Sum of `rewards`. */
  return: number;
  /** `false` when the episode was cut at `maxLength` before the world ended it and its last tokens were fed. */
  done: boolean;
}

export interface RolloutOptions extends SampleOptions {
  /** Number of episodes. */
  episodes: number;
  rng: Rng;
  /** Episodes decoded together (default min(episodes, 64)). */
  batchSize?: number;
  /** Cut episodes at this many tokens (default: the model's context length). */
  maxLength?: number;
  /** Use the KV cache (default true); `false` recomputes the whole prefix each step (for benchmarks). */
  kvCache?: boolean;
  /** Conditioning tokens inserted after the first prompt token (BOS), per episode index. */
  conditioning?: readonly number[] | ((episode: number) => readonly number[]);
  /** Token fed to finished rows of a batch (default 0, PAD). */
  padId?: number;
}

interface Row<S> {
  state: S;
  queue: { id: number; action: boolean }[];
  ep: Episode;
  active: boolean;
  ended: boolean;
}

const id = z.number().int().min(0);
/** Sampling options (`SampleOptions`), checked where a rollout or a caller's own decoding loop starts. */
const sampleOptionsShape = {
  temperature: z.number().min(0).optional(),
  topK: z.number().int().min(1).optional(),
  banned: z.array(id).optional(),
};
const rolloutOptionsSchema = z.object({
  ...sampleOptionsShape,
  episodes: z.number().int().min(1),
  rng: z.custom<Rng>((v) => v instanceof Rng, 'must be a core Rng (new Rng(seed))'),
  batchSize: z.number().int().min(1).optional(),
  maxLength: z.number().int().min(1).optional(),
  kvCache: z.boolean().optional(),
  conditioning: z.union([z.array(id), z.custom<(i: number) => readonly number[]>((v) => typeof v === 'function', 'must be token ids or a function of the episode index')]).optional(),
  padId: id.optional(),
});

/** Validates rollout options once, before any work: types, ranges, ids inside the vocabulary and sizes. */
function checkRolloutOptions(model: Transformer, env: Environment<unknown>, o: RolloutOptions): void {
  const r = rolloutOptionsSchema.safeParse(o ?? {});
  if (!r.success) {
    const { field, message } = describeZodError('rollout options', r.error);
    throw new ZooError('OPTION_INVALID', message, { field, cause: r.error });
  }
  if (!env || typeof env.reset !== 'function' || typeof env.step !== 'function' || typeof env.legalActions !== 'function') {
    throw new ZooError('ENV_ERROR', 'rollout: the environment must have reset(rng), legalActions(state) and step(state, action) (a world\'s environment(split))', { field: 'env' });
  }
  const V = model.config.vocabSize;
  const ids: [string, readonly number[] | undefined][] = [
    ['banned', o.banned],
    ['padId', o.padId === undefined ? undefined : [o.padId]],
    ['conditioning', Array.isArray(o.conditioning) ? (o.conditioning as readonly number[]) : undefined],
  ];
  for (const [field, list] of ids) {
    const bad = list?.find((t) => t >= V);
    if (bad !== undefined) throw new ZooError('TOKEN_OUT_OF_RANGE', `rollout options.${field}: id ${bad} is outside the model's vocabulary [0, ${V - 1}]`, { field });
  }
  const batch = o.batchSize ?? Math.min(o.episodes, 64);
  const T = o.maxLength ?? model.config.contextLength;
  checkSize({ where: 'rollout options', field: 'batchSize', elements: batch * T * V, what: `logits [batch ${batch}, time ${T}, vocab ${V}]`, fix: 'lower batchSize' });
  // Each episode keeps its tokens, action mask and legal ids per action in JS arrays (~ 8 bytes per number).
  checkSize({ where: 'rollout options', field: 'episodes', elements: 0, bytes: o.episodes * T * 8 * 3, what: `${o.episodes} episodes of up to ${T} tokens`, fix: 'roll out fewer episodes per call' });
}

/** `world "<name>"`, for messages about an environment. */
const worldName = (env: Environment<unknown>): string => `world "${env.name ?? '(unnamed)'}"`;

/** Checks token ids an environment produced (prompt or observation): integers inside the vocabulary. */
function checkEnvTokens(env: Environment<unknown>, what: string, tokens: unknown, V: number, episode: number, at: number, sequence = true): readonly number[] {
  if (!Array.isArray(tokens)) throw new ZooError('ENV_ERROR', `${worldName(env)} returned ${what} ${describeValue(tokens)}, not an array of token ids (episode ${episode})`, { field: what, position: [episode, at] });
  tokens.forEach((t: unknown, j) => {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= V) {
      const pos = sequence ? at + j : at;
      throw new ZooError('ENV_ERROR', `${worldName(env)} returned ${what} with token ${describeValue(t)} at index ${j} (episode ${episode}, position ${pos}); tokens must be ids in [0, ${V - 1}]`, {
        field: what,
        position: [episode, pos],
      });
    }
  });
  return tokens as readonly number[];
}

/**
 * Batched interactive rollouts: every row feeds its pending tokens (prompt, then its last action and the
 * world's observation) in lock-step; when a row has nothing pending, its next action is sampled from the
 * model's logits at its last token, restricted to the world's legal actions.
 */
export function rollout<S>(model: Transformer, env: Environment<S>, options: RolloutOptions): Episode[] {
  checkRolloutOptions(model, env as Environment<unknown>, options);
  const maxLength = options.maxLength ?? model.config.contextLength;
  if (maxLength > model.config.contextLength) {
    throw new ZooError('SEQUENCE_TOO_LONG', `rollout maxLength ${maxLength} exceeds the model's contextLength ${model.config.contextLength}`, { field: 'maxLength' });
  }
  const batchSize = options.batchSize ?? Math.min(options.episodes, 64);
  const out: Episode[] = [];
  for (let first = 0; first < options.episodes; first += batchSize) {
    const n = Math.min(batchSize, options.episodes - first);
    for (const ep of rolloutBatch(model, env, options, first, n, maxLength)) out.push(ep);
  }
  return out;
}

function rolloutBatch<S>(model: Transformer, env: Environment<S>, o: RolloutOptions, first: number, n: number, maxLength: number): Episode[] {
  const pad = o.padId ?? 0;
  const V = model.config.vocabSize;
  const rows: Row<S>[] = [];
  for (let i = 0; i < n; i++) {
    const start = env.reset(o.rng);
    const tokens = checkEnvTokens(env as Environment<unknown>, 'reset tokens', start?.tokens, V, first + i, 0);
    if (tokens.length === 0) {
      throw new ZooError('ENV_ERROR', `${worldName(env as Environment<unknown>)} returned no tokens from reset (episode ${first + i}); a prompt needs at least BOS`, { field: 'reset', position: [first + i, 0] });
    }
    const state = start.state;
    const cond = typeof o.conditioning === 'function' ? checkConditioning(o.conditioning(first + i), V, first + i) : (o.conditioning ?? []);
    const prompt = [tokens[0]!, ...cond, ...tokens.slice(1)];
    rows.push({
      state,
      queue: prompt.map((id) => ({ id, action: false })),
      ep: { tokens: [], actionMask: [], rewards: [], legal: [], return: 0, done: false },
      active: true,
      ended: false,
    });
  }
  const kv = o.kvCache === false ? undefined : model.newKVCache(n);
  const fed: number[][] = rows.map(() => []);
  try {
    let length = 0;
    while (rows.some((r) => r.active) && length < maxLength) {
      // Feed as many tokens as every active row has pending (at least one), so prompts prefill at once.
      const pending = rows.filter((r) => r.active).map((r) => r.queue.length);
      const k = Math.max(1, Math.min(...pending, maxLength - length));
      const block: number[][] = rows.map((r) => {
        const ids: number[] = [];
        for (let j = 0; j < k; j++) {
          const next = r.active ? r.queue.shift() : undefined;
          if (next) {
            r.ep.tokens.push(next.id);
            r.ep.actionMask.push(next.action);
            ids.push(next.id);
          } else {
            ids.push(pad);
          }
        }
        return ids;
      });
      length += k;
      const needs = rows.map((r) => r.active && r.queue.length === 0 && !r.ended && length < maxLength);
      for (let i = 0; i < n; i++) {
        fed[i]!.push(...block[i]!);
        const r = rows[i]!;
        if (r.active && r.queue.length === 0 && r.ended) {
          r.active = false;
          r.ep.done = true;
        }
      }
      if (!needs.some(Boolean)) {
        if (kv) tf.dispose(Object.values(model.decode(block, kv)));
        continue;
      }
      const last = tf.tidy(() => {
        const logits = kv ? model.decode(block, kv).logits : model.forward(fed).logits;
        const T = logits.shape[1];
        // One new position (KV decoding): the logits are already the last ones, no slice needed.
        return T === 1 ? logits : tf.slice(logits, [0, T - 1, 0], [n, 1, V]);
      });
      const data = last.dataSync();
      last.dispose();
      for (let i = 0; i < n; i++) {
        if (!needs[i]) continue;
        const r = rows[i]!;
        const at = r.ep.tokens.length;
        const legal = checkEnvTokens(env as Environment<unknown>, 'legal actions', env.legalActions(r.state), V, first + i, at, false);
        if (legal.length === 0) {
          throw new ZooError('ENV_ERROR', `${worldName(env as Environment<unknown>)} offers no legal action at position ${at} of episode ${first + i} but did not end the episode (step must return done: true)`, {
            field: 'legalActions',
            position: [first + i, at],
          });
        }
        const action = sampleToken(data.subarray(i * V, (i + 1) * V), o.rng, o, legal);
        const step = env.step(r.state, action);
        if (!step || typeof step !== 'object') {
          throw new ZooError('ENV_ERROR', `${worldName(env as Environment<unknown>)} step returned ${describeValue(step)} for action ${action} at position ${at}; return { state, observation, reward, done }`, {
            field: 'step',
            position: [first + i, at],
          });
        }
        if (typeof step.reward !== 'number' || !Number.isFinite(step.reward)) {
          throw new ZooError('ENV_ERROR', `${worldName(env as Environment<unknown>)} returned reward ${describeValue(step.reward)} for action ${action} at position ${at}; rewards must be finite numbers`, {
            field: 'reward',
            position: [first + i, at],
          });
        }
        checkEnvTokens(env as Environment<unknown>, 'observation', step.observation, V, first + i, at + 1);
        r.state = step.state;
        r.ep.legal.push([...legal]);
        r.ep.rewards.push(step.reward);
        r.ep.return += step.reward;
        r.queue.push({ id: action, action: true }, ...step.observation.map((id) => ({ id, action: false })));
        if (step.done) r.ended = true;
      }
    }
    // Rows cut at maxLength keep what was fed; anything still pending is dropped (done stays false).
    return rows.map((r) => r.ep);
  } finally {
    if (kv) model.disposeKVCache(kv);
  }
}

function checkConditioning(ids: unknown, V: number, episode: number): readonly number[] {
  if (!Array.isArray(ids) || ids.some((t) => !Number.isInteger(t) || t < 0 || t >= V)) {
    throw new ZooError('TOKEN_OUT_OF_RANGE', `rollout options.conditioning(${episode}) returned ${describeValue(ids)}${Array.isArray(ids) ? ` [${ids.join(', ')}]` : ''}; it must return token ids in [0, ${V - 1}]`, {
      field: 'conditioning',
      position: [episode],
    });
  }
  return ids;
}

/**
 * An environment whose resets come in groups of `k` identical starts (the same state and prompt), for
 * leave-one-out baselines over several samples per prompt (RLOO). Each group draws its start from the
 * rng of its first reset.
 */
export function repeatResets<S>(env: Environment<S>, k: number): Environment<S> {
  let count = 0;
  let last: { state: S; tokens: readonly number[] } | undefined;
  return {
    name: env.name,
    reset(rng) {
      if (count % k === 0 || !last) last = env.reset(rng);
      count += 1;
      return last;
    },
    legalActions: (s) => env.legalActions(s),
    step: (s, a) => env.step(s, a),
  };
}
