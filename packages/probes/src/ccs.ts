import { defineProbe, Rng, tf, wilson, ZooError, type Interval, type ProbeContext, type ProbeRow } from '@regime-zoo/core';
import { tokenId } from '@regime-zoo/worlds';
import { z } from 'zod';
import { collectActivations, hookName, positionHook } from './activations.js';
import { cellSeed, conditioningFor, probeWorlds, unsupported, worldSplits, type Split } from './common.js';
import { probeResult } from './report.js';
import { row } from './rates.js';
import { standardiser, variableFrom } from './logistic.js';

export interface CcsOptions {
  steps?: number;
  lr?: number;
  /** Random initialisations; the one with the lowest loss is kept (Burns et al. use 10). */
  restarts?: number;
  seed?: number;
}

export interface CcsResult {
  /** max(acc, 1 − acc) of the unsupervised direction against the labels (Wilson interval). */
  accuracy: Interval;
  /** The CCS loss of the kept direction. */
  loss: number;
  /** p(x⁺) per pair, from the kept direction. */
  p: number[];
}

function normalised(X: readonly ArrayLike<number>[]): tf.Tensor2D {
  const { mean, std } = standardiser(X);
  const D = mean.length;
  const flat = new Float32Array(X.length * D);
  X.forEach((x, i) => {
    for (let d = 0; d < D; d++) flat[i * D + d] = (x[d]! - mean[d]!) / std[d]!;
  });
  return tf.tensor2d(flat, [X.length, D]);
}

/**
 * Contrast-consistent search (Burns et al. 2022): each set of the contrast pairs is normalised on its
 * own (mean 0, unit variance per dimension, so the difference the pair is built from is removed), and a
 * probe p(x) = σ(wᵀx + b) is trained without labels on
 * L = mean[(p(x⁺) − (1 − p(x⁻)))²] + mean[min(p(x⁺), p(x⁻))²] (consistency + confidence). A pair is
 * predicted true when ½(p(x⁺) + 1 − p(x⁻)) > ½; the labels are used only to score, as max(acc, 1 − acc).
 */
export function ccs(pos: readonly ArrayLike<number>[], neg: readonly ArrayLike<number>[], labels: readonly boolean[], o: CcsOptions = {}): CcsResult {
  if (pos.length !== neg.length || pos.length !== labels.length || pos.length === 0) {
    throw new ZooError('BAD_INPUT', `ccs: ${pos.length} positive, ${neg.length} negative rows and ${labels.length} labels; need the same number, at least one`, { field: 'pairs' });
  }
  const D = pos[0]!.length;
  const rng = new Rng(o.seed ?? 0);
  const xp = normalised(pos);
  const xn = normalised(neg);
  let best: { loss: number; p: number[] } | undefined;
  try {
    for (let r = 0; r < (o.restarts ?? 10); r++) {
      const init = Float32Array.from({ length: D }, () => (rng.next() * 2 - 1) / Math.sqrt(D));
      const w = variableFrom(tf.tensor2d(init, [D, 1]));
      const b = variableFrom(tf.zeros([1]));
      const opt = tf.train.adam(o.lr ?? 0.01);
      const probs = () => [tf.sigmoid(tf.add(tf.matMul(xp, w), b)), tf.sigmoid(tf.add(tf.matMul(xn, w), b))] as const;
      const lossOf = () => {
        const [pp, pn] = probs();
        return tf.add(tf.mean(tf.square(tf.sub(pp, tf.sub(1, pn)))), tf.mean(tf.square(tf.minimum(pp, pn)))) as tf.Scalar;
      };
      try {
        for (let s = 0; s < (o.steps ?? 500); s++) opt.minimize(lossOf, false, [w, b]);
        const [loss, p] = tf.tidy(() => {
          const [pp, pn] = probs();
          return [lossOf().dataSync()[0]!, Array.from(tf.mul(0.5, tf.add(pp, tf.sub(1, pn))).dataSync())] as const;
        });
        if (!best || loss < best.loss) best = { loss, p };
      } finally {
        opt.dispose();
        tf.dispose([w, b]);
      }
    }
  } finally {
    tf.dispose([xp, xn]);
  }
  const correct = best!.p.filter((p, i) => p > 0.5 === labels[i]).length;
  const acc = wilson(Math.max(correct, labels.length - correct), labels.length);
  return { accuracy: acc, loss: best!.loss, p: best!.p };
}

/** Builds the two members of a contrast pair from an episode's prompt: the feature on, and off. */
interface ContrastBuilder {
  world: string;
  feature: string;
  /** The prompt (between `<bos>`+conditioning and `<sep>`) with the feature on and off, and whether it was on. */
  pair(prompt: readonly number[], split: Split): { on: number[]; off: number[]; wasOn: boolean };
}

const Z = tokenId('Z');
const P_IDS = Array.from({ length: 11 }, (_, k) => tokenId(`p${k * 10}`));

/** Contrast pairs the worlds allow: the backdoor trigger (Z present or not), off-switch's p (lowest vs highest of the split). */
export const CONTRAST_BUILDERS: readonly ContrastBuilder[] = [
  {
    world: 'backdoor',
    feature: 'trigger',
    pair(prompt, split) {
      const bare = prompt.filter((t) => t !== Z);
      // Where the world puts Z by default: before the map in ID, after it in OOD.
      const on = split === 'id' ? [Z, ...bare] : [...bare, Z];
      return { on, off: bare, wasOn: prompt.includes(Z) };
    },
  },
  {
    world: 'off-switch',
    feature: 'p',
    pair(prompt, split) {
      const [hi, lo] = split === 'id' ? [P_IDS[5]!, P_IDS[0]!] : [P_IDS[8]!, P_IDS[2]!];
      return { on: [hi, ...prompt.slice(1)], off: [lo, ...prompt.slice(1)], wasOn: prompt[0] === hi };
    },
  },
];

export const ccsProbeOptions = z.strictObject({
  feature: z.string().min(1),
  layers: z.array(z.number().int().min(0)).min(1).optional(),
  hook: positionHook.default('hook_resid_post'),
  /** Contrast pairs (prompts drawn from the split). */
  pairs: z.number().int().min(4).default(1000),
  steps: z.number().int().min(1).default(500),
  restarts: z.number().int().min(1).default(10),
  lr: z.number().positive().default(0.01),
  specs: z.array(z.record(z.string(), z.unknown())).min(1).default([{}]),
  worlds: z.array(z.string()).optional(),
  batchSize: z.number().int().min(1).default(64),
});

/**
 * CCS on the world's contrast pairs: for each prompt of a split, the prompt with the feature on and with
 * it off (activations at `<sep>`, the position before the first action), in random order; the label
 * ("the first member is the one with the feature on") is used only to score max(acc, 1 − acc).
 */
export const ccsProbe = defineProbe({
  name: 'ccs',
  options: ccsProbeOptions,
  create: (o) => ({
    async run(ctx: ProbeContext) {
      const probe = 'ccs';
      const seed = ctx.rng.seed();
      const rows: ProbeRow[] = [];
      const nLayers = ctx.policy.config.nLayers;
      const layers = o.layers ?? Array.from({ length: nLayers }, (_, l) => l);
      for (const world of probeWorlds(probe, ctx, o.worlds)) {
        const builder = CONTRAST_BUILDERS.find((b) => b.world === world.name && b.feature === o.feature);
        if (!builder) {
          throw unsupported(probe, world.name, `has no contrast pairs for feature '${o.feature}'; CCS pairs exist for ${CONTRAST_BUILDERS.map((b) => `${b.world}/${b.feature}`).join(', ')}`, 'feature');
        }
        const bad = layers.find((l) => l >= nLayers);
        if (bad !== undefined) throw unsupported(probe, world.name, `layer ${bad} does not exist: the model has ${nLayers} layers`, 'layers');
        for (const spec of o.specs) {
          const condition = conditioningFor(probe, world.name, ctx, spec);
          for (const split of worldSplits(ctx, world)) {
            const rng = new Rng(cellSeed(seed, world.name, split, condition.label, 'ccs'));
            const env = world.environment(split);
            const first: number[][] = [];
            const second: number[][] = [];
            const labels: boolean[] = [];
            for (let i = 0; i < o.pairs; i++) {
              const tokens = env.reset(rng).tokens;
              const sep = tokens.length - 1;
              const { on, off } = builder.pair(tokens.slice(1, sep), split);
              const wrap = (prompt: number[]) => [tokens[0]!, ...condition.ids, ...prompt, tokens[sep]!];
              const onFirst = rng.next() < 0.5;
              first.push(wrap(onFirst ? on : off));
              second.push(wrap(onFirst ? off : on));
              labels.push(onFirst);
            }
            const names = layers.map((l) => hookName(l, o.hook));
            const at = (seqs: number[][]) => collectActivations(ctx.policy, seqs, seqs.map((s) => s.length - 1), names, { batchSize: o.batchSize });
            const a = at(first);
            const b = at(second);
            layers.forEach((l, k) => {
              const r = ccs(a[names[k]!]!, b[names[k]!]!, labels, { steps: o.steps, restarts: o.restarts, lr: o.lr, seed: cellSeed(seed, l) });
              rows.push(row(probe, { world, split, decoding: 'sample', condition }, `${o.feature}/layer${l}/ccs_accuracy`, r.accuracy, labels.length));
            });
          }
        }
      }
      return probeResult(rows);
    },
  }),
});
