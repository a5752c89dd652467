import { defineProbe, padExamples, tf, type Episode, type ProbeContext, type ProbeRow, type Transformer } from '@regime-zoo/core';
import { z } from 'zod';
import { behaviourOptionsShape, cellSeed, conditioningFor, probeWorlds, runCell, unsupported, worldSplits } from './common.js';
import { probeResult } from './report.js';
import { row } from './rates.js';
import { meanInterval } from './stats.js';

/**
 * Log-probabilities over the legal actions at every action of every episode: `out[e][k]` is the
 * distribution of episode e's k-th action, as a map legal id → log π. `drop` conditioning ids after BOS
 * are removed first (the base is asked without the regime's conditioning).
 */
export function actionLogProbs(model: Transformer, episodes: readonly Episode[], drop = 0, batchSize = 64): Map<number, number>[][] {
  const out: Map<number, number>[][] = [];
  const V = model.config.vocabSize;
  for (let i = 0; i < episodes.length; i += batchSize) {
    const batch = episodes.slice(i, i + batchSize).map((e) => {
      const keep = (t: number) => t === 0 || t > drop;
      return { tokens: e.tokens.filter((_, t) => keep(t)), mask: e.actionMask.filter((_, t) => keep(t)), legal: e.legal };
    });
    const logits = tf.tidy(() => model.forward(padExamples(batch.map((b) => ({ tokens: b.tokens }))).tokens).logits);
    const data = logits.dataSync();
    const T = logits.shape[1];
    logits.dispose();
    batch.forEach((b, r) => {
      const rows: Map<number, number>[] = [];
      let k = 0;
      b.mask.forEach((isAction, t) => {
        if (!isAction || t === 0) return;
        const legal = b.legal[k++];
        if (!legal) return;
        const at = (r * T + t - 1) * V;
        let max = -Infinity;
        for (const id of legal) max = Math.max(max, data[at + id]!);
        let z = 0;
        for (const id of legal) z += Math.exp(data[at + id]! - max);
        const lse = max + Math.log(z);
        rows.push(new Map(legal.map((id) => [id, data[at + id]! - lse])));
      });
      out.push(rows);
    });
  }
  return out;
}

/** Per episode: mean over its actions of exact KL(π ‖ π₀) over the legal actions, and of π's entropy. */
export function episodeKlEntropy(p: readonly Map<number, number>[][], q: readonly Map<number, number>[][]): { kl: number[]; entropy: number[] } {
  const kl: number[] = [];
  const entropy: number[] = [];
  p.forEach((rows, e) => {
    let sk = 0;
    let sh = 0;
    rows.forEach((lp, k) => {
      const lq = q[e]![k]!;
      for (const [id, l] of lp) {
        const w = Math.exp(l);
        sk += w * (l - lq.get(id)!);
        sh -= w * l;
      }
    });
    const n = Math.max(rows.length, 1);
    kl.push(sk / n);
    entropy.push(sh / n);
  });
  return { kl, entropy };
}

export const klToBaseOptions = z.strictObject({
  ...behaviourOptionsShape,
  /** The states are those the policy visits sampling at T = 1 (greedy visits too few to average over). */
  decodings: z.array(z.enum(['sample', 'greedy'])).min(1).default(['sample']),
});

/**
 * KL to base and entropy on held-out prompts of each split: over the states of the policy's own
 * episodes, the per-action exact KL(π ‖ π₀) and entropy of π, both over the world's legal actions
 * (the policy as it acts), averaged per episode; normal interval over episodes. The base is asked
 * without the regime's conditioning tokens.
 */
export const klToBase = defineProbe({
  name: 'kl-to-base',
  options: klToBaseOptions,
  create: (o) => ({
    async run(ctx: ProbeContext) {
      const probe = 'kl-to-base';
      const seed = ctx.rng.seed();
      const rows: ProbeRow[] = [];
      for (const world of probeWorlds(probe, ctx, o.worlds)) {
        if (!ctx.base) throw unsupported(probe, world.name, 'needs ctx.base (the reference the policy was fine-tuned from)', 'base');
        for (const spec of o.specs) {
          const condition = conditioningFor(probe, world.name, ctx, spec);
          for (const decoding of o.decodings) {
            for (const split of worldSplits(ctx, world)) {
              const cell = runCell(probe, ctx.policy, world, split, decoding, condition, { episodes: o.episodes, batchSize: o.batchSize, seed: cellSeed(seed, world.name, split, decoding, condition.label), signal: ctx.signal });
              const p = actionLogProbs(ctx.policy, cell.episodes, 0, o.batchSize);
              const q = actionLogProbs(ctx.base, cell.episodes, condition.ids.length, o.batchSize);
              const { kl, entropy } = episodeKlEntropy(p, q);
              rows.push(row(probe, cell, 'KL', meanInterval(kl), kl.length));
              rows.push(row(probe, cell, 'Entropy', meanInterval(entropy), entropy.length));
            }
          }
        }
      }
      return probeResult(rows);
    },
  }),
});
