import { padExamples, tf, ZooError, type HookFn, type Transformer } from '@regime-zoo/core';
import type { ToyWorld } from '@regime-zoo/worlds';
import { z } from 'zod';
import type { Cell } from './common.js';
import { unsupported } from './common.js';

/** Hook points with one d_model vector per position (what a linear probe reads). */
export const RESIDUAL_HOOKS = ['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post', 'hook_attn_out', 'hook_mlp_out'] as const;
export const residualHook = z.enum(RESIDUAL_HOOKS);

/** `blocks.{l}.{hook}` for each layer. */
export function hookName(layer: number, hook: (typeof RESIDUAL_HOOKS)[number]): string {
  return `blocks.${layer}.${hook}`;
}

/**
 * Activations of `names` (TransformerLens hook points of shape [batch, time, d_model]) at one position
 * per sequence, through `forward` with a cache (what `runWithCache` does), in batches. `hooks` may edit
 * activations on the way (to plant a feature). Returns, per name, one row of d_model numbers per sequence.
 */
export function collectActivations(
  model: Transformer,
  sequences: readonly (readonly number[])[],
  positions: readonly number[],
  names: readonly string[],
  o: { batchSize?: number; hooks?: Record<string, HookFn> } = {},
): Record<string, Float32Array[]> {
  const batchSize = o.batchSize ?? 64;
  const out: Record<string, Float32Array[]> = Object.fromEntries(names.map((n) => [n, []]));
  const D = model.config.dModel;
  for (let i = 0; i < sequences.length; i += batchSize) {
    const seqs = sequences.slice(i, i + batchSize).map((s, j) => {
      const pos = positions[i + j]!;
      if (!(pos >= 0 && pos < s.length)) throw new ZooError('BAD_INPUT', `collectActivations: position ${pos} is outside sequence ${i + j} of length ${s.length}`, { position: [i + j, pos] });
      return s.slice(0, pos + 1);
    });
    const cache: Record<string, tf.Tensor> = {};
    try {
      const { tokens, targets } = padExamples(seqs.map((tokens) => ({ tokens: tokens.length > 1 ? tokens : [...tokens, 0] })));
      targets.dispose();
      const res = model.forward(tokens, { cacheFilter: (n) => names.includes(n), cache, ...(o.hooks ? { hooks: o.hooks } : {}) });
      tf.dispose([tokens, res.logits, ...(res.values ? [res.values] : [])]);
      for (const name of names) {
        const act = cache[name];
        if (!act || act.rank !== 3 || act.shape[2] !== D) {
          throw new ZooError('BAD_INPUT', `collectActivations: hook point "${name}" ${act ? `has shape [${act.shape}]` : 'is not one of the model\'s'}; a linear probe reads [batch, time, ${D}] points (${RESIDUAL_HOOKS.join(', ')})`, { field: name });
        }
        const [B, T] = act.shape as [number, number, number];
        const rows = tf.tidy(() => tf.gather(tf.reshape(act, [B * T, D]), seqs.map((s, b) => b * T + s.length - 1)));
        const data = rows.dataSync() as Float32Array;
        rows.dispose();
        for (let b = 0; b < B; b++) out[name]!.push(data.slice(b * D, (b + 1) * D));
      }
    } finally {
      tf.dispose(Object.values(cache));
    }
  }
  return out;
}

/** The position whose output is the first action's distribution (the last prompt token), per episode. */
export function positionBeforeAction(probe: string, world: string, actionMask: readonly boolean[]): number {
  const first = actionMask.indexOf(true);
  if (first < 1) throw unsupported(probe, world, 'an episode has no action to probe before (was it cut at maxLength before the first action?)', 'episodes');
  return first - 1;
}

/** A binary label per episode from a world feature (`unsafe` is "will take U"); numbers are "above the smallest value seen". */
export function featureLabels(probe: string, world: ToyWorld, cell: Cell, feature: string): boolean[] {
  if (feature === 'unsafe') return cell.evals.map((e) => e.unsafe);
  const first = cell.evals[0];
  if (!first || !(feature in first.features)) {
    const have = first ? ['unsafe', ...Object.keys(first.features)].join(', ') : 'none';
    throw unsupported(probe, world.name, `has no feature '${feature}' (its features are ${have})`, 'feature');
  }
  const values = cell.evals.map((e) => e.features[feature]!);
  if (typeof values[0] === 'boolean') return values.map(Boolean);
  const nums = values.map(Number);
  const min = Math.min(...nums);
  return nums.map((x) => x > min);
}
