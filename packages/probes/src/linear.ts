import { defineProbe, type ProbeContext, type ProbeRow } from '@regime-zoo/core';
import { z } from 'zod';
import { collectActivations, featureLabels, hookName, positionBeforeAction, positionHook } from './activations.js';
import { cellSeed, conditioningFor, probeWorlds, runCell, unsupported, worldSplits } from './common.js';
import { probeFeature } from './logistic.js';
import { probeResult } from './report.js';
import { row } from './rates.js';

export const linearProbeOptions = z.strictObject({
  /** A feature the world reports in `evaluate().features` (`supervised`, `p`, `trigger`, …) or `unsafe` ("will take U"). */
  feature: z.string().min(1),
  /** Layers to probe (default every layer). */
  layers: z.array(z.number().int().min(0)).min(1).optional(),
  /** Hook point read in each block (TransformerLens name). */
  hook: positionHook.default('hook_resid_post'),
  /** Episodes per split (sampled at T = 1); the probe reads the position before the first action. */
  episodes: z.number().int().min(4).default(1000),
  testFraction: z.number().gt(0).lt(1).default(0.3),
  /** L2 penalty of the logistic regression. */
  l2: z.number().min(0).default(1e-2),
  steps: z.number().int().min(1).default(200),
  lr: z.number().positive().default(0.05),
  specs: z.array(z.record(z.string(), z.unknown())).min(1).default([{}]),
  worlds: z.array(z.string()).optional(),
  batchSize: z.number().int().min(1).default(64),
});

/**
 * Linear probes (Alain & Bengio; Hewitt & Liang's control tasks): per layer, L2 logistic regression on
 * `blocks.{l}.hook_resid_post` at the position before the first action, predicting a world feature;
 * held-out accuracy (Wilson) and AUROC (Hanley–McNeil), the control task's accuracy (each prompt gets a
 * fixed random label) and selectivity = task − control accuracy.
 */
export const linearProbe = defineProbe({
  name: 'linear-probe',
  options: linearProbeOptions,
  create: (o) => ({
    async run(ctx: ProbeContext) {
      const probe = 'linear-probe';
      const seed = ctx.rng.seed();
      const rows: ProbeRow[] = [];
      const nLayers = ctx.policy.config.nLayers;
      const layers = o.layers ?? Array.from({ length: nLayers }, (_, l) => l);
      for (const world of probeWorlds(probe, ctx, o.worlds)) {
        const bad = layers.find((l) => l >= nLayers);
        if (bad !== undefined) throw unsupported(probe, world.name, `layer ${bad} does not exist: the model has ${nLayers} layers (0…${nLayers - 1})`, 'layers');
        for (const spec of o.specs) {
          const condition = conditioningFor(probe, world.name, ctx, spec);
          for (const split of worldSplits(ctx, world)) {
            const cell = runCell(probe, ctx.policy, world, split, 'sample', condition, { episodes: o.episodes, batchSize: o.batchSize, seed: cellSeed(seed, world.name, split, condition.label, 'linear'), signal: ctx.signal });
            const labels = featureLabels(probe, world, cell, o.feature);
            const positives = labels.filter(Boolean).length;
            if (positives === 0 || positives === labels.length) {
              throw unsupported(probe, world.name, `feature '${o.feature}' is ${positives ? 'true' : 'false'} in all ${labels.length} ${split} episodes; a probe needs both values (more episodes, or another feature)`, 'feature');
            }
            const positions = cell.episodes.map((e) => positionBeforeAction(probe, world.name, e.actionMask));
            const types = cell.episodes.map((e, i) => e.tokens.slice(0, positions[i]! + 1).join(','));
            const names = layers.map((l) => hookName(l, o.hook));
            const acts = collectActivations(
              ctx.policy,
              cell.episodes.map((e) => e.tokens),
              positions,
              names,
              { batchSize: o.batchSize },
            );
            layers.forEach((l, k) => {
              const r = probeFeature(acts[names[k]!]!, labels, types, { testFraction: o.testFraction, l2: o.l2, steps: o.steps, lr: o.lr, seed: cellSeed(seed, split, l) });
              const at = `${o.feature}/layer${l}`;
              rows.push(row(probe, cell, `${at}/accuracy`, r.accuracy, r.nTest));
              if (Number.isFinite(r.auroc.estimate)) rows.push(row(probe, cell, `${at}/auroc`, r.auroc, r.nTest));
              rows.push(row(probe, cell, `${at}/control_accuracy`, r.control, r.nTest));
              rows.push(row(probe, cell, `${at}/selectivity`, { estimate: r.selectivity, lo: Number.NaN, hi: Number.NaN }, r.nTest));
            });
          }
        }
      }
      return probeResult(rows);
    },
  }),
});
