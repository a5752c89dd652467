/**
 * A small posterior world for science tests (pure numbers; structurally a core `Environment`): the agent
 * emits exactly `length` symbols after `BOS SEP`, then the world appends EOS and pays the visible reward
 * r(x). Every sequence can be enumerated, so π₀, π* ∝ π₀·exp(r/β) and KLs are exact.
 * Tokens: 0 PAD, 1 BOS, 2 EOS, 3 SEP, 4… symbols, then 16 − … free for conditioning tokens.
 */
export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const SEP = 3;
export const FIRST_SYMBOL = 4;

export interface PosteriorFixture {
  symbols: number;
  length: number;
  /** Every sequence of symbol indices, in lexicographic order. */
  sequences: number[][];
  /** π₀ of each sequence (a Markov chain: `start`, then `transition`). */
  pi0: number[];
  reward: (seq: readonly number[]) => number;
  /** Token ids of the symbols: the only legal actions. */
  legal: number[];
  /** The episode tokens of a sequence, with optional conditioning tokens after BOS. */
  tokens: (seq: readonly number[], conditioning?: readonly number[]) => number[];
  /** Target mask of those tokens: the symbols and EOS are not targets except the agent's symbols. */
  targetMask: (seq: readonly number[], conditioning?: readonly number[]) => boolean[];
  /** The sequence of an episode's tokens (its symbols after SEP). */
  decode: (tokens: readonly number[]) => number[];
  environment: {
    name: string;
    reset: (rng: unknown) => { state: number[]; tokens: number[] };
    legalActions: () => number[];
    step: (s: number[], a: number) => { state: number[]; observation: number[]; reward: number; done: boolean };
  };
}

export function posteriorFixture(o: { symbols?: number; length?: number; start?: number[]; transition?: number[][]; reward?: (seq: readonly number[]) => number } = {}): PosteriorFixture {
  const S = o.symbols ?? 3;
  const L = o.length ?? 3;
  const start = o.start ?? [0.5, 0.3, 0.2];
  const transition = o.transition ?? [
    [0.6, 0.3, 0.1],
    [0.2, 0.5, 0.3],
    [0.3, 0.3, 0.4],
  ];
  const reward = o.reward ?? ((seq: readonly number[]) => seq.filter((s) => s === S - 1).length);
  const sequences: number[][] = [];
  const rec = (prefix: number[]) => {
    if (prefix.length === L) return void sequences.push(prefix);
    for (let s = 0; s < S; s++) rec([...prefix, s]);
  };
  rec([]);
  const pi0 = sequences.map((x) => x.reduce((p, s, i) => p * (i === 0 ? start[s]! : transition[x[i - 1]!]![s]!), 1));
  const legal = Array.from({ length: S }, (_, s) => FIRST_SYMBOL + s);
  return {
    symbols: S,
    length: L,
    sequences,
    pi0,
    reward,
    legal,
    tokens: (seq, cond = []) => [BOS, ...cond, SEP, ...seq.map((s) => FIRST_SYMBOL + s), EOS],
    targetMask: (seq, cond = []) => [false, ...cond.map(() => false), false, ...seq.map(() => true), false],
    decode: (tokens) => tokens.slice(tokens.indexOf(SEP) + 1).filter((t) => t >= FIRST_SYMBOL && t < FIRST_SYMBOL + S).map((t) => t - FIRST_SYMBOL),
    environment: {
      name: 'posterior-fixture',
      reset: () => ({ state: [], tokens: [BOS, SEP] }),
      legalActions: () => legal,
      step: (s, a) => {
        const next = [...s, a - FIRST_SYMBOL];
        const done = next.length === L;
        return { state: next, observation: done ? [EOS] : [], reward: done ? reward(next) : 0, done };
      },
    },
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
  let x = seed >>> 0 || 1;
  const u = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  const cum: number[] = [];
  let t = 0;
  for (const pi of p) cum.push((t += pi));
  return Array.from({ length: n }, () => {
    const v = u() * t;
    const i = cum.findIndex((c) => c > v);
    return i < 0 ? p.length - 1 : i;
  });
}
