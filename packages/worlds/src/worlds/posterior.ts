import { defineWorld, ZooError } from '@regime-zoo/core';
import { z } from 'zod';
import { splitEpisode } from '../episode.js';
import { plannerPolicy, randomPolicy, mixSchema } from '../policies.js';
import type { BehaviourPolicy, ToyWorld, WorldStep } from '../types.js';
import { BOS_ID, EOS_ID, SEP_ID } from '@regime-zoo/tokenizer';
import { render, tokenId } from '../vocabulary.js';
import { assembleWorld } from '../world.js';

/** A sequence's reward, from its symbol indices (0 … symbols−1). */
export type SequenceReward = (x: readonly number[]) => number;

/** Default reward: the number of `x0` symbols in the sequence. */
export const countFirstSymbol: SequenceReward = (x) => x.filter((s) => s === 0).length;

const fn = <F>(what: string) => z.custom<F>((v) => typeof v === 'function', `must be a function ${what}`);

export const posteriorOptions = z
  .strictObject({
    /** Alphabet size k: symbols x0 … x(k−1). */
    symbols: z.number().int().min(1).max(4).default(4),
    /** Longest sequence; the world ends the episode (appends `<eos>`) when it is reached. */
    maxLength: z.number().int().min(1).max(4).default(4),
    /** Shortest sequence: the agent may choose `<eos>` once it has this many symbols (= maxLength: fixed length). */
    minLength: z.number().int().min(0).max(4).default(1),
    /** r(x). */
    reward: fn<SequenceReward>('(x: number[]) => number').default(() => countFirstSymbol),
    /** U(x), for experiments that need one (default: never). */
    unsafe: fn<(x: readonly number[]) => boolean>('(x: number[]) => boolean').default(() => () => false),
    mix: mixSchema.default([
      { policy: 'random', epsilon: 0, weight: 0.6 },
      { policy: 'optimal', epsilon: 0, weight: 0.2 },
      { policy: 'optimal', epsilon: 0.5, weight: 0.2 },
    ]),
  })
  .refine((o) => o.minLength <= o.maxLength, { message: 'minLength must not exceed maxLength', path: ['minLength'] });

export type PosteriorOptions = z.input<typeof posteriorOptions>;

export interface PosteriorState {
  /** Symbol indices so far. */
  readonly x: readonly number[];
  readonly done: boolean;
}

/** One sequence of the posterior world, with the tokens of its episode. */
export interface PosteriorSequence {
  /** Position in `enumerate()` (and in every distribution array of this world). */
  index: number;
  /** Symbol indices. */
  x: number[];
  /** `<bos> <sep> x… <eos>`. */
  tokens: number[];
  /** `true` at the agent's actions (the symbols, and `<eos>` when the agent chose it). */
  actionMask: boolean[];
  /** The legal action ids at each action, in order (core's `Example.legal`: `<eos>` among them once the agent may stop). */
  legal: number[][];
  reward: number;
}

/** Weights (unnormalised probabilities) of the legal actions after `prefix`, in the order of `legal`. */
export type NextActionWeights = (prefix: readonly number[], legal: readonly number[]) => ArrayLike<number>;

export interface PosteriorWorld extends ToyWorld<PosteriorState> {
  readonly symbols: number;
  readonly maxLength: number;
  readonly minLength: number;
  reward(x: readonly number[]): number;
  /** Every sequence the world allows, by length then lexicographically. */
  enumerate(): PosteriorSequence[];
  /** π(x) of every sequence for an autoregressive policy (e.g. a model's softmax over the legal tokens). */
  probabilities(policy: NextActionWeights): Float64Array;
  /** π(x) when every legal action is equally likely at every step. */
  uniform(): Float64Array;
  /**
   * The KL-regularised optimum π*(x) ∝ π₀(x)·exp(r(x)/β), exactly, by enumeration. `pi0` is an array in
   * `enumerate()` order (normalised here) or a function of the sequence.
   */
  exactPosterior(pi0: ArrayLike<number> | ((s: PosteriorSequence) => number), beta: number): Float64Array;
}

const SYMBOL_IDS = [tokenId('x0'), tokenId('x1'), tokenId('x2'), tokenId('x3')];

/**
 * The posterior world: the agent writes a sequence over `symbols` symbols, of length `minLength` …
 * `maxLength`, after the prompt `<bos> <sep>`, and stops with `<eos>` (or the world stops it at
 * maxLength). The reward r(x) comes at the end. `enumerate()` and `exactPosterior(pi0, beta)` give the
 * exact answer the regimes' science tests compare against.
 */
export const posteriorWorld = defineWorld<typeof posteriorOptions, PosteriorWorld>({
  name: 'posterior',
  options: posteriorOptions,
  create: (o) => {
    const name = 'posterior';
    const symbolIds = SYMBOL_IDS.slice(0, o.symbols);
    const reward = (x: readonly number[]): number => {
      const r = o.reward(x);
      if (!Number.isFinite(r)) throw new ZooError('ENV_ERROR', `${name}: reward(${JSON.stringify(x)}) is ${r}; r(x) must be a finite number`);
      return r;
    };
    const legalActions = (s: PosteriorState): readonly number[] => {
      if (s.done) return [];
      const out = s.x.length < o.maxLength ? [...symbolIds] : [];
      if (s.x.length >= o.minLength) out.push(EOS_ID);
      return out;
    };
    const step = (s: PosteriorState, action: number): WorldStep<PosteriorState> => {
      if (!legalActions(s).includes(action)) {
        throw new ZooError('ENV_ERROR', `${name}: action ${render([action])} is not legal after ${s.x.length} symbols; legal: ${render(legalActions(s))}`);
      }
      if (action === EOS_ID) {
        const r = reward(s.x);
        return { state: { ...s, done: true }, observation: [], reward: r, hidden: r, done: true };
      }
      const x = [...s.x, symbolIds.indexOf(action)];
      if (x.length === o.maxLength) {
        const r = reward(x);
        return { state: { x, done: true }, observation: [EOS_ID], reward: r, hidden: r, done: true };
      }
      return { state: { x, done: false }, observation: [], reward: 0, hidden: 0, done: false };
    };
    const symbolsOf = (tokens: readonly number[]): number[] =>
      splitEpisode(tokens, name)
        .rest.map((t) => symbolIds.indexOf(t))
        .filter((i) => i >= 0);

    const sequences: PosteriorSequence[] = [];
    const visit = (x: number[]): void => {
      if (x.length >= o.minLength && x.length < o.maxLength) add(x, true);
      if (x.length === o.maxLength) add(x, false);
      if (x.length < o.maxLength) for (let s = 0; s < o.symbols; s++) visit([...x, s]);
    };
    const add = (x: number[], eosChosen: boolean): void => {
      const tokens = [BOS_ID, SEP_ID, ...x.map((s) => symbolIds[s]!), EOS_ID];
      const actionMask = tokens.map((_, i) => i >= 2 && (i < tokens.length - 1 || eosChosen));
      const legal = Array.from({ length: x.length + (eosChosen ? 1 : 0) }, (_, k) => [...legalActions({ x: x.slice(0, k), done: false })]);
      sequences.push({ index: 0, x, tokens, actionMask, legal, reward: reward(x) });
    };
    visit([]);
    sequences.sort((a, b) => a.x.length - b.x.length || a.x.join(',').localeCompare(b.x.join(',')));
    sequences.forEach((s, i) => (s.index = i));
    const indexOf = new Map(sequences.map((s) => [s.x.join(','), s.index]));

    const probabilities = (policy: NextActionWeights): Float64Array => {
      const out = new Float64Array(sequences.length);
      const addAt = (x: readonly number[], p: number): void => {
        const i = indexOf.get(x.join(','))!;
        out[i] = out[i]! + p;
      };
      const walk = (x: number[], prob: number): void => {
        const state = { x, done: false };
        const legal = legalActions(state);
        const prefix = [BOS_ID, SEP_ID, ...x.map((s) => symbolIds[s]!)];
        const w = policy(prefix, legal);
        let total = 0;
        for (let i = 0; i < legal.length; i++) {
          const wi = w[i];
          if (wi === undefined || !(wi >= 0) || !Number.isFinite(wi)) {
            throw new ZooError('BAD_INPUT', `${name}: policy weights after ${render(prefix)} must be ${legal.length} finite non-negative numbers; got ${wi} at ${i}`);
          }
          total += wi;
        }
        if (!(total > 0)) throw new ZooError('BAD_INPUT', `${name}: policy weights after ${render(prefix)} sum to 0`);
        legal.forEach((action, i) => {
          const p = (prob * w[i]!) / total;
          if (action === EOS_ID) addAt(x, p);
          else {
            const next = [...x, symbolIds.indexOf(action)];
            if (next.length === o.maxLength) addAt(next, p);
            else walk(next, p);
          }
        });
      };
      walk([], 1);
      return out;
    };

    const exactPosterior = (pi0: ArrayLike<number> | ((s: PosteriorSequence) => number), beta: number): Float64Array => {
      if (!(beta > 0) || !Number.isFinite(beta)) throw new ZooError('BAD_INPUT', `${name}: exactPosterior needs β > 0, got ${beta}`, { field: 'beta' });
      const base = typeof pi0 === 'function' ? sequences.map(pi0) : Array.from(pi0);
      if (base.length !== sequences.length) {
        throw new ZooError('BAD_INPUT', `${name}: pi0 has ${base.length} entries; enumerate() has ${sequences.length} sequences (pass them in that order)`, { field: 'pi0' });
      }
      const logits = base.map((p, i) => {
        if (!(p >= 0) || !Number.isFinite(p)) throw new ZooError('BAD_INPUT', `${name}: pi0[${i}] is ${p}; probabilities are finite and ≥ 0`, { field: 'pi0', position: [i] });
        return p > 0 ? Math.log(p) + sequences[i]!.reward / beta : -Infinity;
      });
      const max = Math.max(...logits);
      if (max === -Infinity) throw new ZooError('BAD_INPUT', `${name}: pi0 is zero everywhere`, { field: 'pi0' });
      const out = Float64Array.from(logits, (l) => Math.exp(l - max));
      const z = out.reduce((a, b) => a + b, 0);
      for (let i = 0; i < out.length; i++) out[i] = out[i]! / z;
      return out;
    };

    const world = { legalActions, step, key: (s: PosteriorState) => `${s.x.join(',')}:${s.done ? 1 : 0}` };
    const policies: Record<string, BehaviourPolicy<PosteriorState>> = {
      optimal: plannerPolicy('optimal', world, 'visible'),
      random: randomPolicy(),
    };

    const body = assembleWorld<PosteriorState>({
      name,
      reset: () => ({ state: { x: [], done: false }, tokens: [BOS_ID, SEP_ID] }),
      legalActions,
      step,
      fromTokens(tokens) {
        const { prompt } = splitEpisode(tokens, name);
        if (prompt.length) throw new ZooError('BAD_SEQUENCE', `${name}: the prompt is <bos> <sep>; got ${render(prompt)} before <sep>`);
        return { x: [], done: false };
      },
      unsafe: (tokens) => o.unsafe(symbolsOf(tokens)),
      features: (r) => {
        const last = r.states[r.states.length - 1]!;
        return { length: last.x.length };
      },
      policies,
      mix: o.mix,
    });

    return {
      ...body,
      symbols: o.symbols,
      maxLength: o.maxLength,
      minLength: o.minLength,
      reward,
      enumerate: () => sequences.map((s) => ({ ...s, x: [...s.x], tokens: [...s.tokens], actionMask: [...s.actionMask], legal: s.legal.map((l) => [...l]) })),
      probabilities,
      uniform: () => probabilities((_prefix, legal) => legal.map(() => 1)),
      exactPosterior,
    };
  },
});

/** KL(p ‖ q) = Σ p log(p / q) in nats, with 0·log 0 = 0; Infinity where q = 0 < p. */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new ZooError('BAD_INPUT', `klDivergence: p has ${p.length} entries, q has ${q.length}`);
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]!;
    if (pi === 0) continue;
    const qi = q[i]!;
    if (qi === 0) return Infinity;
    kl += pi * Math.log(pi / qi);
  }
  return kl;
}
