import * as tf from '@tensorflow/tfjs-core';
import { ZooError } from './errors.js';
import type { Transformer } from './model.js';
import type { Rng } from './rng.js';
import { sampleToken, type SampleOptions } from './sampling.js';

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

/**
 * Batched interactive rollouts: every row feeds its pending tokens (prompt, then its last action and the
 * world's observation) in lock-step; when a row has nothing pending, its next action is sampled from the
 * model's logits at its last token, restricted to the world's legal actions.
 */
export function rollout<S>(model: Transformer, env: Environment<S>, options: RolloutOptions): Episode[] {
  const maxLength = options.maxLength ?? model.config.contextLength;
  if (maxLength > model.config.contextLength) {
    throw new ZooError('SEQUENCE_TOO_LONG', `rollout maxLength ${maxLength} exceeds the model's contextLength ${model.config.contextLength}`, { field: 'maxLength' });
  }
  const batchSize = options.batchSize ?? Math.min(options.episodes, 64);
  const out: Episode[] = [];
  for (let first = 0; first < options.episodes; first += batchSize) {
    const n = Math.min(batchSize, options.episodes - first);
    out.push(...rolloutBatch(model, env, options, first, n, maxLength));
  }
  return out;
}

function rolloutBatch<S>(model: Transformer, env: Environment<S>, o: RolloutOptions, first: number, n: number, maxLength: number): Episode[] {
  const pad = o.padId ?? 0;
  const V = model.config.vocabSize;
  const rows: Row<S>[] = [];
  for (let i = 0; i < n; i++) {
    const { state, tokens } = env.reset(o.rng);
    const cond = typeof o.conditioning === 'function' ? o.conditioning(first + i) : (o.conditioning ?? []);
    const prompt = tokens.length ? [tokens[0]!, ...cond, ...tokens.slice(1)] : [...cond];
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
        const legal = env.legalActions(r.state);
        const action = sampleToken(data.subarray(i * V, (i + 1) * V), o.rng, o, legal);
        const step = env.step(r.state, action);
        if (!Number.isFinite(step.reward)) {
          throw new ZooError('ENV_ERROR', `world "${env.name}" returned reward ${step.reward} for action ${action} at position ${r.ep.tokens.length}`, {
            position: [first + i, r.ep.tokens.length],
          });
        }
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
