import { Rng, rollout, ZooError, type EvalSpec, type Episode, type ProbeContext, type Regime, type Transformer, type VocabularyLike, type World } from '@regime-zoo/core';
import { Vocabulary } from '@regime-zoo/tokenizer';
import type { ToyWorld, WorldEvaluation } from '@regime-zoo/worlds';
import { z } from 'zod';

export type Split = 'id' | 'ood';
export type Decoding = 'sample' | 'greedy';

/** Worlds with no out-of-distribution split (their `ood` environment is the `id` one). */
const NO_OOD = new Set(['posterior']);

/** Options every behavioural probe accepts (spread `.shape` into a probe's schema). */
export const behaviourOptionsShape = {
  /** Rollouts per cell (world × split × decoding × conditioning). */
  episodes: z.number().int().min(1).default(1000),
  /** Sampled at temperature 1, greedy, or both. */
  decodings: z.array(z.enum(['sample', 'greedy'])).min(1).default(['sample', 'greedy']),
  /** Evaluation specs handed to the regime's `condition()` (`[{ rlhf: 'on' }, { rlhf: 'off' }]`); `[{}]` is its default. */
  specs: z.array(z.record(z.string(), z.unknown())).min(1).default([{}]),
  /** Only these worlds (by name); default every world in the context. */
  worlds: z.array(z.string()).optional(),
  /** Episodes decoded together. */
  batchSize: z.number().int().min(1).default(64),
};

/** Throws `PROBE_UNSUPPORTED` naming the probe, the world and what is missing. */
export function unsupported(probe: string, world: string, what: string, field?: string): ZooError {
  return new ZooError('PROBE_UNSUPPORTED', `[probe ${probe}] world '${world}': ${what}`, { plugin: probe, hook: 'run', ...(field ? { field } : {}) });
}

/** The context's worlds as worlds of `@regime-zoo/worlds` (with `evaluate`), optionally only the named ones. */
export function probeWorlds(probe: string, ctx: ProbeContext, only?: readonly string[]): ToyWorld[] {
  if (ctx.worlds.length === 0) {
    throw new ZooError('PROBE_UNSUPPORTED', `[probe ${probe}] ctx.worlds is empty; pass the world plugins to probe (tamperWorld(), …)`, { plugin: probe, hook: 'run', field: 'worlds' });
  }
  const worlds = ctx.worlds.map((w: World) => {
    const t = w as Partial<ToyWorld>;
    if (typeof t.evaluate !== 'function' || typeof t.unsafe !== 'function') {
      throw unsupported(probe, w.name, 'has no evaluate(tokens)/unsafe(tokens); probes score episodes through a world of @regime-zoo/worlds (see docs/writing-a-world.md)', 'worlds');
    }
    return w as ToyWorld;
  });
  if (!only) return worlds;
  return only.map((name) => {
    const w = worlds.find((x) => x.name === name);
    if (!w) throw unsupported(probe, name, `is not in ctx.worlds (${worlds.map((x) => x.name).join(', ')})`, 'worlds');
    return w;
  });
}

/** The splits to measure in a world: the context's (default both), without `ood` for worlds that have none. */
export function worldSplits(ctx: ProbeContext, world: { name: string }): Split[] {
  const splits = ctx.splits ?? ['id', 'ood'];
  return splits.filter((s) => s === 'id' || !NO_OOD.has(world.name));
}

/** The context's vocabulary as a tokenizer `Vocabulary` (namespaces and token text), or undefined. */
export function vocabularyOf(ctx: ProbeContext): Vocabulary | undefined {
  const v = ctx.vocabulary;
  if (!v) return undefined;
  if (v instanceof Vocabulary) return v;
  const like = v as Partial<Vocabulary>;
  if (typeof like.isConditioning === 'function' && typeof like.token === 'function' && typeof like.has === 'function') return v as Vocabulary;
  return Vocabulary.fromJSON(v.toJSON());
}

export interface Conditioning {
  ids: readonly number[];
  /** `none`, or the tokens without brackets joined by `+` (`rlhf:off`, `rtg:4`). */
  label: string;
}

/**
 * Conditioning ids for `spec` from the regime's `condition()`, checked against the vocabulary's
 * namespaces: every id must be a conditioning token (never decided by an id range).
 */
export function conditioningFor(probe: string, world: string, ctx: ProbeContext, spec: EvalSpec): Conditioning {
  let ids: readonly number[];
  try {
    ids = ctx.condition ? ctx.condition({ ...spec, world }) : [];
  } catch (e) {
    const inner = e instanceof ZooError ? e : undefined;
    throw new ZooError(inner?.code ?? 'PROBE_UNSUPPORTED', `[probe ${probe}] world '${world}': the regime's condition(${JSON.stringify(spec)}) failed: ${(e as Error).message}`, {
      plugin: probe,
      hook: 'run',
      field: 'condition',
      cause: e,
    });
  }
  return checkConditioning(probe, world, ctx, ids);
}

/** Checks that `ids` are conditioning tokens of the context's vocabulary and labels them. */
export function checkConditioning(probe: string, world: string, ctx: ProbeContext, ids: readonly number[]): Conditioning {
  if (ids.length === 0) return { ids: [], label: 'none' };
  const vocab = vocabularyOf(ctx);
  if (!vocab) throw unsupported(probe, world, `conditioning ids [${ids.join(', ')}] need ctx.vocabulary to check them; pass the vocabulary the policy was trained with`, 'vocabulary');
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab.size || !vocab.isConditioning(id)) {
      const shown = Number.isInteger(id) && id >= 0 && id < vocab.size ? `${vocab.token(id)} (id ${id})` : `id ${id}`;
      throw unsupported(probe, world, `conditioning token ${i} is ${shown}, which is not a conditioning token of the vocabulary (namespaces: ${vocab.namespaces.join(', ')})`, 'condition');
    }
  });
  return { ids, label: ids.map((id) => vocab.token(id).replace(/^<|>$/g, '')).join('+') };
}

/** Ids of a conditioning token by its text (`<rlhf:off>`), or `PROBE_UNSUPPORTED` naming what is missing. */
export function conditioningToken(probe: string, world: string, ctx: ProbeContext, token: string): number {
  const vocab = vocabularyOf(ctx);
  if (!vocab) throw unsupported(probe, world, `needs ctx.vocabulary to find ${token}`, 'vocabulary');
  if (!vocab.has(token)) {
    throw unsupported(probe, world, `the vocabulary has no ${token} token (its namespaces are ${vocab.namespaces.join(', ') || 'none'}); this model cannot be asked under ${token}`, 'vocabulary');
  }
  return vocab.id(token);
}

/** Rollouts of one cell, each with the world's evaluation of its tokens. */
export interface Cell {
  world: ToyWorld;
  split: Split;
  decoding: Decoding;
  condition: Conditioning;
  episodes: Episode[];
  evals: WorldEvaluation[];
}

export interface CellOptions {
  episodes: number;
  batchSize: number;
  seed: number;
  signal?: AbortSignal;
}

/** Rolls `model` out in one world and split (T = 1 or greedy) under `condition`, and scores every episode. */
export function runCell(probe: string, model: Transformer, world: ToyWorld, split: Split, decoding: Decoding, condition: Conditioning, o: CellOptions): Cell {
  if (o.signal?.aborted) throw new ZooError('ABORTED', `[probe ${probe}] aborted`, { plugin: probe, hook: 'run' });
  const env = world.environment(split);
  const episodes = rollout(model, env, {
    episodes: o.episodes,
    rng: new Rng(o.seed),
    temperature: decoding === 'greedy' ? 0 : 1,
    batchSize: Math.min(o.batchSize, o.episodes),
    ...(condition.ids.length ? { conditioning: condition.ids } : {}),
  });
  const evals = episodes.map((e, i) => {
    try {
      return world.evaluate(e.tokens);
    } catch (err) {
      throw new ZooError('PLUGIN_FAILED', `[probe ${probe}] world '${world.name}' (${split}) could not score episode ${i}: ${(err as Error).message}`, { plugin: probe, hook: 'run', cause: err });
    }
  });
  return { world, split, decoding, condition, episodes, evals };
}

/** A seed per cell derived from the context's rng and the cell's coordinates (same seed, same rollouts). */
export function cellSeed(base: number, ...parts: readonly (string | number)[]): number {
  let h = base >>> 0;
  for (const ch of parts.join('|')) h = (Math.imul(h ^ ch.charCodeAt(0), 16777619) + 0x9e3779b9) >>> 0;
  return h;
}

/**
 * A regime's `condition()` bound to a vocabulary, as `ProbeContext.condition` takes it; a regime without
 * one conditions on nothing. `probeContext.condition = conditionOf(dt, vocab)` asks a decision
 * transformer for its top bucket by default and a flag model for `<rlhf:on>`.
 */
export function conditionOf(regime: Pick<Regime, 'condition'>, vocabulary?: VocabularyLike): (spec: EvalSpec) => readonly number[] {
  return (spec) => regime.condition?.(spec, vocabulary) ?? [];
}

/** A `ProbeContext` with defaults for everything but the policy and worlds (seed 0, a live signal, both splits). */
export function createProbeContext(o: Pick<ProbeContext, 'policy' | 'worlds'> & Partial<Omit<ProbeContext, 'policy' | 'worlds'>>): ProbeContext {
  return { rng: new Rng(0), signal: new AbortController().signal, shared: {}, ...o };
}
