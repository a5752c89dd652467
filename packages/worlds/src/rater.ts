import { Rng, ZooError, type PreferencePair } from '@regime-zoo/core';
import { z } from 'zod';
import { parseOptions, toExample, type EpisodeRecord } from './dataset.js';
import { MAX_EPISODE_TOKENS } from './episode.js';
import { readJsonl, tokensInVocabulary, writeJsonl } from './jsonl.js';

/** Anything with a visible return: a dataset record, core's `Episode`, or an `Example` that has one. */
export interface Rated {
  return?: number;
}

const raterOptions = z.strictObject({
  /** Bradley–Terry temperature: P(a ≻ b) = sigmoid((R_a − R_b) / temperature); 0 is a noiseless rater. */
  temperature: z.number().min(0).default(1),
});

export type RaterOptions = z.input<typeof raterOptions>;

/** A simulated human rater that sees only visible returns (so it is fooled wherever the world fools it). */
export interface SimulatedRater {
  readonly temperature: number;
  /** P(a ≻ b) = sigmoid((R_a − R_b) / temperature); with temperature 0: 1, 0, or 1/2 on a tie. */
  probability(a: Rated, b: Rated): number;
  /** Draws the rater's judgement: `true` when it prefers `a`. Takes one number from `rng` either way. */
  prefers(a: Rated, b: Rated, rng: Rng): boolean;
}

function visible(x: Rated, which: string): number {
  const r = x.return;
  if (typeof r !== 'number' || !Number.isFinite(r)) {
    throw new ZooError('BAD_INPUT', `simulated rater: episode ${which} has no finite visible return (return: ${String(r)})`, { field: `${which}.return` });
  }
  return r;
}

/** A Bradley–Terry rater on visible returns (`temperature` 0: always the higher return, ties at random). */
export function simulatedRater(options: RaterOptions = {}): SimulatedRater {
  const { temperature } = parseOptions('simulatedRater', raterOptions, options);
  const probability = (a: Rated, b: Rated): number => {
    const d = visible(a, 'a') - visible(b, 'b');
    if (temperature === 0) return d > 0 ? 1 : d < 0 ? 0 : 0.5;
    return 1 / (1 + Math.exp(-d / temperature));
  };
  return { temperature, probability, prefers: (a, b, rng) => rng.next() < probability(a, b) };
}

const pairsOptions = z.strictObject({
  pairs: z.number().int().min(1).max(10_000_000),
  temperature: z.number().min(0).default(1),
  seed: z.number().int().default(0),
  /** Pair episodes only with episodes of the same world (and split) — default true. */
  sameWorld: z.boolean().default(true),
});

export type PreferencePairsOptions = z.input<typeof pairsOptions>;

/**
 * Preference pairs from a dataset: `pairs` times, two different episodes are drawn (of the same world
 * and split unless `sameWorld` is false) and the simulated rater picks one. Each side is core's
 * `Example` with its visible `return` and `meta` (world, split, policy, hidden, unsafe).
 */
export function preferencePairs(episodes: readonly EpisodeRecord[], options: PreferencePairsOptions): PreferencePair[] {
  const o = parseOptions('preferencePairs', pairsOptions, options);
  const rater = simulatedRater({ temperature: o.temperature });
  const groups = new Map<string, number[]>();
  episodes.forEach((e, i) => {
    const key = o.sameWorld ? `${e.world}/${e.split}` : '';
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const usable = [...groups.values()].filter((g) => g.length >= 2);
  if (usable.length === 0) {
    throw new ZooError('EMPTY_DATASET', `preferencePairs: need at least two episodes${o.sameWorld ? ' of one world and split' : ''}; got ${episodes.length}`, { field: 'episodes' });
  }
  const weights = usable.map((g) => g.length);
  const rng = new Rng(o.seed);
  const out: PreferencePair[] = [];
  for (let k = 0; k < o.pairs; k++) {
    const g = usable[rng.categorical(weights)]!;
    const i = rng.int(g.length);
    let j = rng.int(g.length - 1);
    if (j >= i) j++;
    const a = episodes[g[i]!]!;
    const b = episodes[g[j]!]!;
    const aWins = rater.prefers(a, b, rng);
    out.push({ chosen: toExample(aWins ? a : b), rejected: toExample(aWins ? b : a) });
  }
  return out;
}

const exampleSchema = z.strictObject({
  tokens: z.array(z.number().int().min(0)).min(1).max(MAX_EPISODE_TOKENS),
  targetMask: z.array(z.boolean()).optional(),
  /** Legal action ids at each target position (core's `Example.legal`). */
  legal: z.array(z.array(z.number().int().min(0)).min(1)).optional(),
  return: z.number(),
  meta: z.record(z.string(), z.unknown()).optional(),
});

/** One line of a preference dataset: core's `PreferencePair`, both sides with their visible return. */
export const preferencePairSchema = z.strictObject({ chosen: exampleSchema, rejected: exampleSchema });

/** Writes preference pairs as JSONL, atomically. */
export function writePreferences(path: string, pairs: Iterable<PreferencePair> | AsyncIterable<PreferencePair>): Promise<number> {
  return writeJsonl(path, pairs, preferencePairSchema as unknown as z.ZodType<PreferencePair>);
}

/**
 * Reads preference pairs; a malformed line fails with `BAD_JSON` naming the file and line, an empty file
 * with `EMPTY_DATASET`. With `vocabulary`, a token id outside it fails with `TOKEN_OUT_OF_RANGE` at file:line.
 */
export async function readPreferences(path: string, options: { vocabulary?: { readonly size: number } } = {}): Promise<PreferencePair[]> {
  const size = options.vocabulary?.size;
  type Row = z.output<typeof preferencePairSchema>;
  const check = size === undefined ? undefined : tokensInVocabulary(size, (r: Row) => [['chosen.tokens', r.chosen.tokens], ['rejected.tokens', r.rejected.tokens]]);
  return readJsonl(path, preferencePairSchema, check ? { check } : {});
}
