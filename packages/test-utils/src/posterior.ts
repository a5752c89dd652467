import { xorshift } from './random.js';
/**
 * Science-test helpers around the posterior world of `@regime-zoo/worlds` (taken structurally, so this
 * package depends on nothing): a Markov base distribution π₀ over its sequences, tokens with conditioning
 * after BOS, target masks, legal ids; plus exact KL, π* ∝ π₀·exp(r/β) and seeded sampling.
 */
export interface PosteriorSequenceLike {
  x: number[];
  tokens: number[];
  actionMask: boolean[];
  /** Legal action ids at each action (core's `Example.legal`). */
  legal?: number[][];
  reward: number;
}

export interface PosteriorWorldLike<E> {
  enumerate(): PosteriorSequenceLike[];
  probabilities(policy: (prefix: readonly number[], legal: readonly number[]) => ArrayLike<number>): ArrayLike<number>;
  environment(split: 'id' | 'ood'): E;
}

export interface PosteriorFixture<E> {
  /** Symbol indices of every sequence, in the world's `enumerate()` order. */
  sequences: number[][];
  rewards: number[];
  /** π₀ of each sequence: a Markov chain (`start`, then `transition`) over the symbols. */
  pi0: number[];
  /** Token ids of the symbols: the legal actions of a fixed-length world. */
  legal: number[];
  /** Token id of `<eos>` (undefined when no sequence stops by choice). */
  eos: number | undefined;
  /** The episode tokens of sequence i, with conditioning tokens after BOS. */
  tokens: (i: number, conditioning?: readonly number[]) => number[];
  /** Which of those tokens are the agent's actions. */
  targetMask: (i: number, conditioning?: readonly number[]) => boolean[];
  /** `{ tokens, targetMask, legal, return }` of sequence i (an `Example`; `legal` when the world gives it). */
  example: (i: number, conditioning?: readonly number[]) => { tokens: number[]; targetMask: boolean[]; legal?: number[][]; return: number };
  environment: E;
}

/**
 * π₀ is a Markov chain over the symbols: `start`, then `transition[previous]`. Where the world lets the
 * agent stop (`<eos>` is legal), π₀ stops with probability `stop` and otherwise draws the next symbol
 * from the chain (so with `stop` 0, the default, it never stops early).
 */
export function posteriorFixture<E>(
  world: PosteriorWorldLike<E>,
  o: { start?: number[]; transition?: number[][]; stop?: number } = {},
): PosteriorFixture<E> {
  const start = o.start ?? [0.5, 0.3, 0.2];
  const transition = o.transition ?? [
    [0.6, 0.3, 0.1],
    [0.2, 0.5, 0.3],
    [0.3, 0.3, 0.4],
  ];
  const seqs = world.enumerate();
  const symbolOf = new Map<number, number>();
  for (const s of seqs) s.x.forEach((sym, i) => symbolOf.set(s.tokens[2 + i]!, sym));
  const legal = [...symbolOf.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id);
  const stop = o.stop ?? 0;
  const eos = seqs.find((s) => s.actionMask[s.actionMask.length - 1])?.tokens.at(-1);
  const pi0 = Array.from(
    world.probabilities((prefix, ids) => {
      const prev = prefix.length > 2 ? symbolOf.get(prefix[prefix.length - 1]!)! : undefined;
      const canStop = eos !== undefined && ids.includes(eos);
      const go = canStop ? 1 - stop : 1;
      return ids.map((id) => {
        if (id === eos) return stop;
        const s = symbolOf.get(id);
        if (s === undefined) return 0;
        const p = prev === undefined ? start[s]! : transition[prev]![s]!;
        return go * p;
      });
    }),
  );
  const insert = <T>(xs: readonly T[], cond: readonly T[]): T[] => [xs[0]!, ...cond, ...xs.slice(1)];
  const tokens = (i: number, cond: readonly number[] = []) => insert(seqs[i]!.tokens, cond);
  const targetMask = (i: number, cond: readonly number[] = []) => insert(seqs[i]!.actionMask, cond.map(() => false));
  return {
    sequences: seqs.map((s) => s.x),
    rewards: seqs.map((s) => s.reward),
    pi0,
    legal,
    eos,
    tokens,
    targetMask,
    example: (i, cond = []) => ({ tokens: tokens(i, cond), targetMask: targetMask(i, cond), ...(seqs[i]!.legal ? { legal: seqs[i]!.legal } : {}), return: seqs[i]!.reward }),
    environment: world.environment('id'),
  };
}

/** π*(x) ∝ π₀(x)·exp(r(x)/β), exactly. */
export function tiltedPosterior(pi0: readonly number[], rewards: readonly number[], beta: number): number[] {
  const w = pi0.map((p, i) => p * Math.exp(rewards[i]! / beta));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

/** KL(p ‖ q) in nats over a finite support. */
export function klDivergence(p: readonly number[], q: readonly number[]): number {
  let kl = 0;
  p.forEach((pi, i) => {
    if (pi > 0) kl += pi * Math.log(pi / Math.max(q[i]!, 1e-300));
  });
  return kl;
}

/** `n` indices drawn from the distribution `p` with a seeded xorshift generator. */
export function sampleIndices(p: readonly number[], n: number, seed = 1): number[] {
  const u = xorshift(seed);
  const cum: number[] = [];
  let t = 0;
  for (const pi of p) cum.push((t += pi));
  return Array.from({ length: n }, () => {
    const v = u() * t;
    const i = cum.findIndex((c) => c > v);
    return i < 0 ? p.length - 1 : i;
  });
}

/**
 * The posterior world with a stop choice (issue 21): 4 symbols, lengths 1–3 (the agent chooses `<eos>`
 * after one or two symbols, the world ends it after three) and a reward that is not a count:
 * r(x) = 2 when two adjacent symbols are equal, 1 for a single symbol, 0 otherwise. `world` is the
 * posterior world's options; `pi0` the options of `posteriorFixture` (a Markov chain that stops with
 * probability 0.3 where it may); `beta` the β of the tests on it (π* ∝ π₀·exp(r/β), and the
 * Bradley–Terry temperature of DPO's rater).
 */
export const stopChoiceWorld = {
  beta: 1.3,
  world: {
    symbols: 4,
    minLength: 1,
    maxLength: 3,
    reward: (x: readonly number[]): number => (x.some((s, i) => i > 0 && s === x[i - 1]) ? 2 : x.length === 1 ? 1 : 0),
  },
  pi0: {
    start: [0.4, 0.3, 0.2, 0.1],
    transition: [
      [0.1, 0.4, 0.3, 0.2],
      [0.3, 0.1, 0.4, 0.2],
      [0.2, 0.3, 0.1, 0.4],
      [0.4, 0.2, 0.3, 0.1],
    ],
    stop: 0.3,
  },
};
