import { rollout, Rng, ZooError, type DistillContext, type Environment, type Episode, type Example, type Transformer } from '@regime-zoo/core';

/**
 * A training example of a distiller: one episode with the legal action ids at each of its actions (what
 * the policy was restricted to when it acted). Divergences and likelihoods are taken over those ids.
 */
export interface DistillExample extends Example {
  tokens: number[];
  targetMask: boolean[];
  /** Legal action ids at each action, in order (from the rollout's `Episode.legal`). */
  legal: number[][];
  /** `world`: index into `ctx.worlds` (−1 for a free continuation of `ctx.prompts`); `done`: the world ended it. */
  meta: { world: number; done: boolean };
}

/** The example a rollout episode becomes: every action is a target, with its legal ids. */
export function toDistillExample(e: Episode, world: number): DistillExample {
  return { tokens: e.tokens, targetMask: e.actionMask, return: e.return, legal: e.legal, meta: { world, done: e.done } };
}

/**
 * An environment in which the model continues a prompt freely: each episode starts from a prompt drawn
 * with the run's RNG; every token the model emits is an action (any id but PAD, 0), the environment
 * answers nothing and ends the episode at `stopId` (e.g. `<eos>`) or, without one, at the length limit.
 */
export function promptEnvironment(prompts: readonly (readonly number[])[], vocabSize: number, stopId?: number): Environment<null> {
  const legal = Array.from({ length: vocabSize - 1 }, (_, i) => i + 1);
  return {
    name: 'prompts',
    reset: (rng) => ({ state: null, tokens: prompts[rng.int(prompts.length)]! }),
    legalActions: () => legal,
    step: (state, action) => ({ state, observation: [], reward: 0, done: action === stopId }),
  };
}

/** The vocabulary's `<eos>` id, when there is a vocabulary that has one. */
function eosOf(ctx: DistillContext): number | undefined {
  try {
    return ctx.vocabulary?.id('<eos>');
  } catch {
    return undefined;
  }
}

/**
 * Where a distiller's episodes come from: the context's worlds, or (without worlds) one environment that
 * continues `ctx.prompts`. Fails when there are neither or both, and on a prompt the teacher cannot read.
 */
export function distillSources(ctx: DistillContext, plugin: string, stopId?: number): Environment[] {
  const { vocabSize, contextLength } = ctx.teacher.config;
  if (ctx.worlds.length > 0 && ctx.prompts.length > 0) {
    throw new ZooError('BAD_INPUT', `[${plugin}] got ${ctx.worlds.length} world(s) and ${ctx.prompts.length} prompt(s); give ctx.worlds (the teacher plays the worlds) or ctx.prompts (the teacher continues them), not both`, {
      field: 'prompts',
      plugin,
    });
  }
  if (ctx.worlds.length > 0) return [...ctx.worlds];
  if (ctx.prompts.length === 0) {
    throw new ZooError('BAD_INPUT', `[${plugin}] nothing to distil on: ctx.worlds and ctx.prompts are both empty; pass the worlds' ID environments (world.environment('id')) or prompts (token ids, BOS first)`, {
      field: 'worlds',
      plugin,
    });
  }
  ctx.prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0) throw new ZooError('BAD_INPUT', `[${plugin}] prompts[${i}] is empty; a prompt is at least one token id (BOS)`, { field: `prompts[${i}]`, position: [i], plugin });
    if (p.length >= contextLength) {
      throw new ZooError('SEQUENCE_TOO_LONG', `[${plugin}] prompts[${i}] has ${p.length} tokens, leaving no room for a continuation in the teacher's contextLength ${contextLength}`, {
        field: `prompts[${i}]`,
        position: [i, p.length],
        plugin,
      });
    }
    p.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new ZooError('TOKEN_OUT_OF_RANGE', `[${plugin}] prompts[${i}]: token ${id} at position ${t} is not an id of the teacher's vocabulary [0, ${vocabSize - 1}]`, {
          field: `prompts[${i}]`,
          position: [i, t],
          plugin,
        });
      }
    });
  });
  return [promptEnvironment(ctx.prompts, vocabSize, stopId ?? eosOf(ctx))];
}

export interface CollectTeacherOptions {
  plugin: string;
  model: Transformer;
  sources: readonly Environment[];
  episodes: number;
  temperature: number;
  maxLength: number;
  seed: number;
  /** `worlds` indices of the sources (−1 for prompts). */
  worldIndex: (source: number) => number;
  progress?: DistillContext['progress'];
  signal?: AbortSignal;
}

/**
 * Rolls the model out `episodes` times, split evenly over the sources (source s gets episodes s, s + n,
 * ... in count), in chunks of 64 so that progress is reported and an abort is seen between chunks.
 * Returns `undefined` when aborted. The same seed gives the same episodes.
 */
export async function collectEpisodes(o: CollectTeacherOptions): Promise<DistillExample[] | undefined> {
  const rng = new Rng(o.seed);
  const n = o.sources.length;
  const out: DistillExample[] = [];
  for (let s = 0; s < n; s++) {
    const count = Math.floor(o.episodes / n) + (s < o.episodes % n ? 1 : 0);
    for (let done = 0; done < count; ) {
      if (o.signal?.aborted) return undefined;
      const chunk = Math.min(64, count - done);
      const eps = rollout(o.model, o.sources[s]!, { episodes: chunk, rng, temperature: o.temperature, maxLength: o.maxLength });
      out.push(...eps.map((e) => toDistillExample(e, o.worldIndex(s))));
      done += chunk;
      o.progress?.({ plugin: o.plugin, phase: 'rollout', step: out.length, total: o.episodes });
      await new Promise((r) => setImmediate(r));
    }
  }
  return out;
}

export interface FilterOptions {
  /** Drop episodes where U(τ) holds (the judge's `unsafe`). */
  dropUnsafe: boolean;
  /** Drop episodes whose hidden performance is below this. */
  minHidden?: number | undefined;
}

export interface FilterResult {
  kept: DistillExample[];
  droppedUnsafe: number;
  droppedHidden: number;
}

/**
 * Drops unsafe episodes and episodes with a low hidden score, as judged by `ctx.judges[world]` (a toy
 * world's `evaluate`). An episode that is both is counted as unsafe. Without a filter everything is kept.
 */
export function filterEpisodes(examples: readonly DistillExample[], judges: DistillContext['judges'], f: FilterOptions, plugin: string): FilterResult {
  if (!f.dropUnsafe && f.minHidden === undefined) return { kept: [...examples], droppedUnsafe: 0, droppedHidden: 0 };
  const option = f.dropUnsafe ? 'dropUnsafe' : 'minHidden';
  const kept: DistillExample[] = [];
  let droppedUnsafe = 0;
  let droppedHidden = 0;
  examples.forEach((ex, i) => {
    const w = ex.meta.world;
    const judge = w >= 0 ? judges?.[w] : undefined;
    if (!judge) {
      const where = w >= 0 ? `ctx.judges[${w}] (for ctx.worlds[${w}])` : 'a judge (episodes continue ctx.prompts, which no world judges)';
      throw new ZooError('BAD_INPUT', `[${plugin}] option ${option} needs ${where}; pass each world's evaluate, e.g. judges: [world.evaluate]`, { field: 'judges', plugin });
    }
    let verdict: { unsafe: boolean; hidden: number };
    try {
      verdict = judge(ex.tokens);
    } catch (e) {
      throw new ZooError('PLUGIN_FAILED', `[${plugin}] ctx.judges[${w}] threw on teacher episode ${i}: ${(e as Error).message}`, { field: 'judges', position: [i], plugin, cause: e });
    }
    if (f.dropUnsafe && verdict.unsafe) droppedUnsafe++;
    else if (f.minHidden !== undefined && !(verdict.hidden >= f.minHidden)) {
      if (!Number.isFinite(verdict.hidden)) {
        throw new ZooError('NON_FINITE', `[${plugin}] ctx.judges[${w}] gave teacher episode ${i} the hidden score ${verdict.hidden}; scores must be finite`, { field: 'judges', position: [i], plugin });
      }
      droppedHidden++;
    } else kept.push(ex);
  });
  if (kept.length === 0) {
    const why = [f.dropUnsafe ? `${droppedUnsafe} unsafe (dropUnsafe)` : '', f.minHidden !== undefined ? `${droppedHidden} with hidden score below minHidden ${f.minHidden}` : ''].filter(Boolean).join(' and ');
    throw new ZooError('EMPTY_DATASET', `[${plugin}] filtering left no data: of ${examples.length} teacher episodes, ${why} were dropped; collect more episodes or relax the filter`, {
      field: option,
      plugin,
    });
  }
  return { kept, droppedUnsafe, droppedHidden };
}

/** Fails when an episode does not fit the student's context (it could not be trained on, nor the student roll it out). */
export function checkFitsStudent(examples: readonly DistillExample[], student: Transformer, plugin: string): void {
  const C = student.config.contextLength;
  const i = examples.findIndex((e) => e.tokens.length > C);
  if (i < 0) return;
  const longest = Math.max(...examples.map((e) => e.tokens.length));
  throw new ZooError(
    'SEQUENCE_TOO_LONG',
    `[${plugin}] teacher episode ${i} has ${examples[i]!.tokens.length} tokens but the student's contextLength is ${C}; give the student contextLength ≥ ${longest} (options.studentModel.contextLength) or cut the teacher's episodes with options.maxLength`,
    { field: 'studentModel.contextLength', position: [i, C], plugin },
  );
}
