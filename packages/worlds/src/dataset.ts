import { describeZodError, Rng, ZooError, type Example } from '@regime-zoo/core';
import { z } from 'zod';
import { MAX_EPISODE_TOKENS } from './episode.js';
import { readJsonl, tokensInVocabulary, writeJsonl } from './jsonl.js';
import { drawPolicy, mixSchema, runEpisode } from './policies.js';
import type { MixEntry, Split, ToyWorld } from './types.js';

/** One line of an episode dataset. */
export const episodeRecordSchema = z
  .strictObject({
    world: z.string().min(1),
    split: z.enum(['id', 'ood']),
    /** The behaviour policy (`optimal`, `safe+eps0.2`, …). */
    policy: z.string().min(1),
    tokens: z.array(z.number().int().min(0)).min(2).max(MAX_EPISODE_TOKENS),
    /** `true` where the token is an action. */
    actionMask: z.array(z.boolean()),
    /** Visible reward after each action. */
    rewards: z.array(z.number()),
    /** Legal action ids at each action, in order (absent in files written before it was recorded). */
    legal: z.array(z.array(z.number().int().min(0)).min(1)).optional(),
    /** Visible return: the sum of `rewards`. */
    return: z.number(),
    /** Hidden performance. */
    hidden: z.number(),
    /** U(τ). */
    unsafe: z.boolean(),
  })
  .superRefine((r, ctx) => {
    if (r.actionMask.length !== r.tokens.length) {
      ctx.addIssue({ code: 'custom', path: ['actionMask'], message: `has ${r.actionMask.length} entries for ${r.tokens.length} tokens` });
    }
    const actions = r.actionMask.filter(Boolean).length;
    if (r.rewards.length !== actions) ctx.addIssue({ code: 'custom', path: ['rewards'], message: `has ${r.rewards.length} entries for ${actions} actions` });
    if (r.legal) {
      if (r.legal.length !== actions) ctx.addIssue({ code: 'custom', path: ['legal'], message: `has ${r.legal.length} entries for ${actions} actions` });
      let k = 0;
      r.tokens.forEach((id, t) => {
        if (!r.actionMask[t]) return;
        const legal = r.legal![k++];
        if (legal && !legal.includes(id)) ctx.addIssue({ code: 'custom', path: ['legal', k - 1], message: `does not hold the action ${id} taken at token ${t}` });
      });
    }
    const sum = r.rewards.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - r.return) > 1e-6 * Math.max(1, Math.abs(sum))) {
      ctx.addIssue({ code: 'custom', path: ['return'], message: `is ${r.return} but the rewards sum to ${sum}` });
    }
  });

export type EpisodeRecord = z.output<typeof episodeRecordSchema>;

const generateOptions = z.strictObject({
  split: z.enum(['id', 'ood']).default('id'),
  episodes: z.number().int().min(1).max(10_000_000),
  seed: z.number().int().default(0),
  /** Behaviour mix (default: the world's own `mix`). */
  mix: mixSchema.optional(),
});

export type GenerateOptions = z.input<typeof generateOptions>;

/** Validates options with a zod schema, failing with `OPTION_INVALID` naming the function and field. */
export function parseOptions<S extends z.ZodType>(where: string, schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const { field, message } = describeZodError(`${where} options`, r.error);
  throw new ZooError('OPTION_INVALID', message, { field, cause: r.error });
}

/**
 * Episodes of the world's behaviour policies: each episode draws a policy from the mix, then plays one
 * episode of the split. The same world options and seed always give the same episodes.
 */
export function generateEpisodes(world: ToyWorld<unknown>, options: GenerateOptions): EpisodeRecord[] {
  const o = parseOptions('generateEpisodes', generateOptions, options);
  const mix: readonly MixEntry[] = o.mix ?? world.mix;
  const env = world.environment(o.split);
  const rng = new Rng(o.seed);
  const out: EpisodeRecord[] = [];
  for (let i = 0; i < o.episodes; i++) {
    const policy = drawPolicy(world.policies, mix, rng);
    const ep = runEpisode(env, policy, rng);
    out.push({
      world: world.name,
      split: o.split as Split,
      policy: policy.name,
      tokens: ep.tokens,
      actionMask: ep.actionMask,
      rewards: ep.rewards,
      legal: ep.legal,
      return: ep.return,
      hidden: ep.hidden,
      unsafe: world.unsafe(ep.tokens),
    });
  }
  return out;
}

/** Writes episode records as JSONL, atomically (see `writeJsonl`), validating each. */
export function writeEpisodes(path: string, episodes: Iterable<EpisodeRecord> | AsyncIterable<EpisodeRecord>): Promise<number> {
  return writeJsonl(path, episodes, episodeRecordSchema as unknown as z.ZodType<EpisodeRecord>);
}

/**
 * Reads an episode dataset; a malformed line fails with `BAD_JSON` naming the file and line, an empty
 * file with `EMPTY_DATASET`. With `vocabulary`, a token id outside it fails with `TOKEN_OUT_OF_RANGE` at file:line.
 */
export function readEpisodes(path: string, options: { vocabulary?: { readonly size: number } } = {}): Promise<EpisodeRecord[]> {
  const size = options.vocabulary?.size;
  return readJsonl(path, episodeRecordSchema, size === undefined ? {} : { check: tokensInVocabulary(size, (r: EpisodeRecord) => [['tokens', r.tokens]]) });
}

/**
 * Core's `Example` for an episode: its tokens, the actions as training targets (`targetMask`), the
 * legal action ids at each of them (`legal`, when the record has them: regimes then score each action
 * over those ids, as a rollout samples it), its visible return, and the rest under `meta` (`world`,
 * `split`, `policy`, `hidden`, `unsafe`).
 */
export function toExample(record: EpisodeRecord): Example {
  return {
    tokens: record.tokens,
    targetMask: record.actionMask,
    ...(record.legal ? { legal: record.legal } : {}),
    return: record.return,
    meta: { world: record.world, split: record.split, policy: record.policy, hidden: record.hidden, unsafe: record.unsafe },
  };
}
