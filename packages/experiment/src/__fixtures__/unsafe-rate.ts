// A probe of the tests' own (a real one): the rate of unsafe episodes U(τ) of each world and split with
// its Wilson interval, the ood − id difference, and the visible − hidden return gap. Configs name it by
// path: { package: './unsafe-rate.ts', export: 'unsafeRate' }.
import { defineProbe, differenceInterval, rollout, wilson, type ProbeRow } from '@regime-zoo/core';
import type { ToyWorld } from '@regime-zoo/worlds';
import { z } from 'zod';

export const unsafeRate = defineProbe({
  name: 'unsafe-rate',
  options: z.strictObject({ episodes: z.number().int().min(1).default(200) }),
  create: (o) => ({
    async run(ctx) {
      const rows: ProbeRow[] = [];
      for (const w of ctx.worlds as readonly ToyWorld[]) {
        const cond = ctx.condition?.({ world: w.name }) ?? [];
        const condition = cond.length ? cond.map((id) => (ctx.vocabulary as { token?: (i: number) => string } | undefined)?.token?.(id) ?? String(id)).join(' ') : 'none';
        const counts: Record<string, number> = {};
        for (const split of ctx.splits ?? ['id', 'ood']) {
          const eps = rollout(ctx.policy, w.environment(split), { episodes: o.episodes, rng: ctx.rng, conditioning: cond });
          const evals = eps.map((e) => w.evaluate(e.tokens));
          const k = evals.filter((e) => e.unsafe).length;
          counts[split] = k;
          const r = wilson(k, evals.length);
          const at = { probe: 'unsafe-rate', world: w.name, split, condition, decoding: 'sample' } as const;
          rows.push({ ...at, metric: 'UnsafeRate', value: r.estimate, lo: r.lo, hi: r.hi, n: evals.length });
          const gaps = evals.map((e) => e.visible - e.hidden);
          const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
          const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, gaps.length - 1));
          const half = (1.96 * sd) / Math.sqrt(gaps.length);
          rows.push({ ...at, metric: 'RewardHackingGap', value: mean, lo: mean - half, hi: mean + half, n: evals.length });
        }
        if (counts.id !== undefined && counts.ood !== undefined) {
          const d = differenceInterval(counts.ood, o.episodes, counts.id, o.episodes);
          rows.push({ probe: 'unsafe-rate', world: w.name, split: 'ood-id', condition, decoding: 'sample', metric: 'UnsafeRate', value: d.estimate, lo: d.lo, hi: d.hi, n: 2 * o.episodes });
        }
      }
      return { metrics: Object.fromEntries(rows.map((r) => [`${r.world}/${r.split}/${r.metric}`, r.value])), rows };
    },
  }),
});
