import { hookNames, padExamples, tf, ZooError, type HookFn, type Transformer } from '@regime-zoo/core';
import type { ToyWorld } from '@regime-zoo/worlds';
import { z } from 'zod';
import type { Cell } from './common.js';
import { unsupported } from './common.js';

/** Block hook points with a vector per position ([batch, time, …], flattened after time): every one but the attention scores and pattern. */
export const POSITION_HOOKS = hookNames(1)
  .filter((n) => n.startsWith('blocks.0.') && !/attn\.hook_(pattern|attn_scores)$/.test(n))
  .map((n) => n.slice('blocks.0.'.length));
/** A probe's `hook` option: the hook point's name inside a block (`hook_resid_post`, `mlp.hook_post`, `attn.hook_z`, …). */
export const positionHook = z.string().refine((h) => POSITION_HOOKS.includes(h), { message: `must be a block hook point with a vector per position: ${POSITION_HOOKS.join(', ')}` });

/** `blocks.{l}.{hook}` for each layer. */
export function hookName(layer: number, hook: string): string {
  return `blocks.${layer}.${hook}`;
}

/**
 * Activations of `names` (TransformerLens hook points of shape [batch, time, …]) at one position per
 * sequence, through `runWithCache` (or `forward` with a cache when `hooks` edit activations on the way,
 * to plant a feature), in batches. Returns, per name, one row per sequence (flattened after time: d_model
 * numbers for the residual stream, heads × d_head for `attn.hook_z`).
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
      const res = o.hooks ? model.forward(tokens, { cacheFilter: (n) => names.includes(n), cache, hooks: o.hooks }) : model.runWithCache(tokens, { namesFilter: names });
      if ('cache' in res) Object.assign(cache, res.cache);
      const T = tokens.shape[1];
      tf.dispose([tokens, res.logits, ...(res.values ? [res.values] : [])]);
      for (const name of names) {
        const act = cache[name];
        const B = seqs.length;
        if (!act || act.rank < 3 || act.shape[0] !== B || act.shape[1] !== T || /attn\.hook_(pattern|attn_scores)$/.test(name)) {
          throw new ZooError('BAD_INPUT', `collectActivations: hook point "${name}" ${act ? `has shape [${act.shape}]` : 'is not one of the model\'s'}; a probe reads [batch, time, …] points (blocks.{l}.${POSITION_HOOKS.join(', ')})`, { field: name });
        }
        const width = act.size / (B * T);
        const rows = tf.tidy(() => tf.gather(tf.reshape(act, [B * T, width]), seqs.map((s, b) => b * T + s.length - 1)));
        const data = rows.dataSync() as Float32Array;
        rows.dispose();
        for (let b = 0; b < B; b++) out[name]!.push(data.slice(b * width, (b + 1) * width));
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
