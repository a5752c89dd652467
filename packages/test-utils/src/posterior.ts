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
  /** Token ids of the symbols: the legal actions. */
  legal: number[];
  /** The episode tokens of sequence i, with conditioning tokens after BOS. */
  tokens: (i: number, conditioning?: readonly number[]) => number[];
  /** Which of those tokens are the agent's actions. */
  targetMask: (i: number, conditioning?: readonly number[]) => boolean[];
  /** `{ tokens, targetMask }` of sequence i (an `Example`). */
  example: (i: number, conditioning?: readonly number[]) => { tokens: number[]; targetMask: boolean[]; return: number };
  environment: E;
}

export function posteriorFixture<E>(
  world: PosteriorWorldLike<E>,
  o: { start?: number[]; transition?: number[][] } = {},
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
  const pi0 = Array.from(
    world.probabilities((prefix, ids) => {
      const prev = prefix.length > 2 ? symbolOf.get(prefix[prefix.length - 1]!)! : undefined;
      return ids.map((id) => {
        const s = symbolOf.get(id);
        if (s === undefined) return 0;
        return prev === undefined ? start[s]! : transition[prev]![s]!;
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
    tokens,
    targetMask,
    example: (i, cond = []) => ({ tokens: tokens(i, cond), targetMask: targetMask(i, cond), return: seqs[i]!.reward }),
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
