import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ZooError } from './errors.js';
import { describeValue } from './validate.js';
import { padExamples } from './loop.js';
import type { Transformer } from './model.js';
import { entropy, legalLogitMask, maskedMean, nextTokenLogProbs, type KlEstimator } from './ops.js';
import type { Example, FitContext, RewardFn } from './plugin.js';
import type { Rng } from './rng.js';
import { rollout, type Environment } from './rollout.js';

export { legalLogitMask };

/** Options of every online regime's rollouts; spread into a regime's zod schema. */
export const rolloutOptionsShape = {
  /** Sampling temperature of the rollouts. */
  temperature: z.number().positive().default(1),
  /** Episode length limit (default: the model's context). */
  maxLength: z.number().int().positive().optional(),
  /** Index into `ctx.worlds` of the world to roll out in. */
  world: z.number().int().min(0).default(0),
};

/** PPO's hyperparameters with TRL's defaults (`regime-ppo`, and `regime-rlhf-flag` with PPO inside). */
export const ppoOptionsShape = {
  /** Optimizer steps per rollout batch (TRL's `num_ppo_epochs`). */
  ppoEpochs: z.number().int().positive().default(4),
  /** Policy ratio clip ε (TRL's `cliprange`). */
  clip: z.number().positive().default(0.2),
  /** Value clip (TRL's `cliprange_value`). */
  clipValue: z.number().positive().default(0.2),
  /** Value-loss weight (TRL's `vf_coef`). */
  vfCoef: z.number().min(0).default(0.1),
  gamma: z.number().min(0).max(1).default(1),
  lambda: z.number().min(0).max(1).default(0.95),
  /** KL coefficient in the per-token reward; 0 is pure reward maximisation. */
  klCoef: z.number().min(0).default(0),
  /** Whiten advantages over the batch (TRL does). */
  whiten: z.boolean().default(true),
};

/** KL-regularised REINFORCE with a leave-one-out baseline: TRL RLOO's β and samples per prompt. */
export const rlooOptionsShape = {
  /** KL coefficient β of reward − β·KL(π‖π₀) (TRL RLOO's 0.05). */
  beta: z.number().positive().default(0.05),
  /** Samples per prompt for the leave-one-out baseline (TRL's `rloo_k` is 2; more is lower variance). */
  k: z.number().int().min(2).default(4),
};

/** The world a regime rolls out in, with an error naming the regime when there is none at `index`. */
export function worldAt(ctx: Pick<FitContext, 'worlds'>, index: number, plugin: string): Environment {
  const world = ctx.worlds[index];
  if (!world) throw new ZooError('OPTION_INVALID', `[${plugin}] ctx.worlds has no world at index ${index}; pass the world to roll out in`, { field: 'world', plugin });
  return world;
}

/**
 * One batch of online experience, all plain numbers (so it can be saved in a checkpoint and a resumed
 * run continues exactly). Dense rows are aligned with `tokenLogProbs`: entry j of a row is about
 * predicting token j+1; `mask` is 1 where that token is one of the agent's actions.
 */
export interface RolloutBatch {
  examples: Example[];
  /** Legal action ids at each action of each episode: log-probs are taken over these only. */
  legal: number[][][];
  /** Score of each episode: `reward(episode)` or its visible return. */
  scores: number[];
  mask: number[][];
  /** log π_old of each token under the policy that sampled it. */
  logp: number[][];
  /** log π₀ under the frozen reference. */
  refLogp: number[][];
  /** Value-head predictions V(prefix ≤ j), when the policy has a value head. */
  values?: number[][];
}

export interface CollectOptions {
  policy: Transformer;
  base: Transformer;
  env: Environment;
  episodes: number;
  rng: Rng;
  reward?: RewardFn;
  temperature?: number;
  maxLength?: number;
  conditioning?: readonly number[] | ((episode: number) => readonly number[]);
  /** For error messages. */
  plugin: string;
  step: number;
}

function rows(t: tf.Tensor2D): number[][] {
  return t.arraySync();
}

/** Logits of the first T−1 positions with the legal-action mask added (call inside `tf.tidy`). */
export function maskedLogits(logits: tf.Tensor3D, mask: tf.Tensor3D): tf.Tensor3D {
  const [B, T, V] = logits.shape;
  return tf.add(tf.slice(logits, [0, 0, 0], [B, T - 1, V]), mask) as tf.Tensor3D;
}

/** log π of each next token (aligned with `tokenLogProbs`) under the legal-action mask (call inside `tf.tidy`). */
export function legalTokenLogProbs(logits: tf.Tensor3D, tokens: tf.Tensor2D, mask: tf.Tensor3D): tf.Tensor2D {
  return nextTokenLogProbs(logits, tokens, mask);
}

/** Rolls out, scores every episode (a NaN/Inf score stops the run with the step) and records log-probs and values. */
export async function collectRollouts(o: CollectOptions): Promise<RolloutBatch> {
  const episodes = rollout(o.policy, o.env, {
    episodes: o.episodes,
    rng: o.rng,
    temperature: o.temperature ?? 1,
    ...(o.maxLength ? { maxLength: o.maxLength } : {}),
    ...(o.conditioning ? { conditioning: o.conditioning } : {}),
  });
  let scores: number[];
  try {
    if (o.reward?.many) scores = [...(await o.reward.many(episodes))];
    else {
      scores = [];
      for (const e of episodes) scores.push(o.reward ? await o.reward(e) : e.return);
    }
  } catch (err) {
    throw new ZooError('PLUGIN_FAILED', `[${o.plugin}] step ${o.step}: the reward function threw: ${(err as Error).message}`, {
      step: o.step,
      plugin: o.plugin,
      field: 'reward',
      cause: err,
    });
  }
  if (scores.length !== episodes.length) {
    throw new ZooError('SHAPE_MISMATCH', `[${o.plugin}] step ${o.step}: reward.many returned ${scores.length} scores for ${episodes.length} episodes`, { step: o.step, plugin: o.plugin, field: 'reward' });
  }
  scores.forEach((s, i) => {
    if (typeof s !== 'number') {
      throw new ZooError('BAD_RETURN', `[${o.plugin}] step ${o.step}: the reward of episode ${i} is ${describeValue(s)}, not a number; a reward function returns a finite number`, {
        step: o.step,
        plugin: o.plugin,
        field: 'reward',
        position: [i],
      });
    }
    if (!Number.isFinite(s)) {
      throw new ZooError('NON_FINITE', `[${o.plugin}] step ${o.step}: the reward of episode ${i} is ${s}; rewards must be finite numbers`, {
        step: o.step,
        plugin: o.plugin,
        field: 'reward',
      });
    }
  });
  const examples: Example[] = episodes.map((e) => ({ tokens: e.tokens, targetMask: e.actionMask, return: e.return }));
  const legal = episodes.map((e) => e.legal);
  const dense = tf.tidy(() => {
    const { tokens, targets } = padExamples(examples);
    const legalMask = legalLogitMask({ mask: targets.arraySync(), legal }, o.policy.config.vocabSize);
    const out = o.policy.forward(tokens);
    const [B, T] = tokens.shape;
    const values = out.values ? tf.slice(out.values, [0, 0], [B, T - 1]) : undefined;
    return {
      mask: targets,
      logp: legalTokenLogProbs(out.logits, tokens, legalMask),
      refLogp: legalTokenLogProbs(o.base.forward(tokens).logits, tokens, legalMask),
      ...(values ? { values } : {}),
    };
  });
  const batch: RolloutBatch = {
    examples,
    legal,
    scores,
    mask: rows(dense.mask),
    logp: rows(dense.logp),
    refLogp: rows(dense.refLogp),
    ...(dense.values ? { values: rows(dense.values as tf.Tensor2D) } : {}),
  };
  tf.dispose(Object.values(dense));
  return batch;
}

/**
 * Micro-batch `micro` of `count` of a rollout batch: its episodes [⌊micro·B/count⌋, ⌊(micro+1)·B/count⌋),
 * with their dense rows trimmed to the micro-batch's own length, so that `microBatches` split a batch
 * between the loss calls of a step instead of computing the whole batch in each. `start`/`end` index
 * per-episode arrays (advantages, GAE rows) the same way.
 */
export function microBatch(batch: RolloutBatch, micro: number, count: number): { batch: RolloutBatch; start: number; end: number } {
  const B = batch.examples.length;
  if (!Number.isInteger(count) || count < 1 || count > B || !Number.isInteger(micro) || micro < 0 || micro >= count) {
    throw new ZooError('SHAPE_MISMATCH', `micro-batch ${micro} of ${count} does not exist in a batch of ${B} episodes; microBatches must be between 1 and the episodes per batch`, { field: 'microBatches' });
  }
  if (count === 1) return { batch, start: 0, end: B };
  const start = Math.floor((micro * B) / count);
  const end = Math.floor(((micro + 1) * B) / count);
  const examples = batch.examples.slice(start, end);
  const width = Math.max(...examples.map((e) => e.tokens.length)) - 1;
  const rows = (x: number[][]) => x.slice(start, end).map((r) => r.slice(0, width));
  return {
    batch: {
      examples,
      legal: batch.legal.slice(start, end),
      scores: batch.scores.slice(start, end),
      mask: rows(batch.mask),
      logp: rows(batch.logp),
      refLogp: rows(batch.refLogp),
      ...(batch.values ? { values: rows(batch.values) } : {}),
    },
    start,
    end,
  };
}

/** Throws `OPTION_INVALID` naming the plugin when `microBatches` exceeds the episodes of a rollout batch (some micro-batch would be empty). */
export function checkMicroBatches(plugin: string, microBatches: number, episodes: number): void {
  if (microBatches > episodes) {
    throw new ZooError('OPTION_INVALID', `[${plugin}] microBatches (${microBatches}) is more than the ${episodes} episodes of a rollout batch; each micro-batch takes a share of the batch, so use at most ${episodes}`, {
      field: 'microBatches',
      plugin,
    });
  }
}

/** Σ over each episode's actions of the per-token KL estimate (k1: log π − log π₀; k3 never negative). */
export function sequenceKl(batch: RolloutBatch, estimator: KlEstimator): number[] {
  return batch.mask.map((m, b) => {
    let s = 0;
    m.forEach((on, j) => {
      if (!on) return;
      const logr = batch.refLogp[b]![j]! - batch.logp[b]![j]!;
      s += estimator === 'k1' ? -logr : Math.exp(logr) - 1 - logr;
    });
    return s;
  });
}

/**
 * RLOO advantages (Ahmadian et al. 2024; TRL's RLOO): rewards come in consecutive groups of `k` samples
 * of one prompt, and each sample's baseline is the mean reward of the other k − 1.
 */
export function rlooAdvantages(rewards: readonly number[], k: number): number[] {
  if (rewards.length % k !== 0) throw new ZooError('SHAPE_MISMATCH', `RLOO needs groups of k = ${k} samples; got ${rewards.length} rewards`, { field: 'k' });
  return rewards.map((r, i) => {
    const g = Math.floor(i / k) * k;
    let others = 0;
    for (let j = g; j < g + k; j++) if (j !== i) others += rewards[j]!;
    return r - others / (k - 1);
  });
}

/**
 * RLOO advantages of the KL-shaped reward r' = score − β·Σ_t kl_t (k1 by default, TRL's choice), as TRL's
 * RLOO folds the penalty into the reward.
 */
export function klShapedRlooAdvantages(batch: RolloutBatch, beta: number, k: number, estimator: KlEstimator = 'k1'): number[] {
  const kl = sequenceKl(batch, estimator);
  return rlooAdvantages(batch.scores.map((s, i) => s - beta * kl[i]!), k);
}

/** The REINFORCE loss −mean_b A_b · Σ_t log π(a_t) over each episode's actions, with the legal-action entropy (call inside `tf.tidy`). */
export function reinforceLoss(policy: Transformer, batch: RolloutBatch, advantages: readonly number[]): { loss: tf.Scalar; entropy: tf.Scalar } {
  const { tokens, targets } = padExamples(batch.examples);
  const { logits } = policy.forward(tokens);
  const legalMask = legalLogitMask(batch, policy.config.vocabSize);
  const logp = legalTokenLogProbs(logits, tokens, legalMask);
  const seq = tf.sum(tf.mul(logp, targets), 1);
  return {
    loss: tf.neg(tf.mean(tf.mul(seq, tf.tensor1d(advantages as number[])))) as tf.Scalar,
    entropy: maskedMean(entropy(maskedLogits(logits, legalMask)), targets),
  };
}

export interface GaeResult {
  advantages: number[][];
  returns: number[][];
}

/**
 * Generalised advantage estimation (Schulman et al. 2016) over each episode's action positions (the
 * world's observation tokens are transitions, not decisions). The per-action reward is
 * −klCoef·(log π − log π₀) and the episode's score is added at its last action, as TRL's PPO does.
 * Advantages are whitened over all actions of the batch when `whiten` (TRL's default).
 */
export function gae(batch: RolloutBatch, o: { gamma: number; lambda: number; klCoef: number; whiten: boolean }): GaeResult {
  if (!batch.values) throw new ZooError('CONFIG_INVALID', 'GAE needs value predictions: give the policy a value head (model.addValueHead())', { field: 'valueHead' });
  const advantages = batch.mask.map((m) => m.map(() => 0));
  const returns = batch.mask.map((m) => m.map(() => 0));
  batch.mask.forEach((m, b) => {
    const positions = m.flatMap((on, j) => (on ? [j] : []));
    let next = 0;
    let lastGae = 0;
    for (let i = positions.length - 1; i >= 0; i--) {
      const j = positions[i]!;
      let r = -o.klCoef * (batch.logp[b]![j]! - batch.refLogp[b]![j]!);
      if (i === positions.length - 1) r += batch.scores[b]!;
      const v = batch.values![b]![j]!;
      const delta = r + o.gamma * next - v;
      lastGae = delta + o.gamma * o.lambda * lastGae;
      advantages[b]![j] = lastGae;
      returns[b]![j] = lastGae + v;
      next = v;
    }
  });
  if (o.whiten) {
    const all = batch.mask.flatMap((m, b) => m.flatMap((on, j) => (on ? [advantages[b]![j]!] : [])));
    const mean = all.reduce((a, x) => a + x, 0) / Math.max(all.length, 1);
    const std = Math.sqrt(all.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(all.length - 1, 1));
    batch.mask.forEach((m, b) => m.forEach((on, j) => on && (advantages[b]![j] = (advantages[b]![j]! - mean) / (std + 1e-8))));
  }
  return { advantages, returns };
}

export interface PpoLossOptions {
  /** Policy ratio clip ε (TRL's `cliprange` 0.2). */
  clip: number;
  /** Value clip (TRL's `cliprange_value` 0.2). */
  clipValue: number;
  /** Weight of the value loss (TRL's `vf_coef` 0.1). */
  vfCoef: number;
}

/**
 * The clipped PPO objective on a collected batch (call inside `tf.tidy`): policy loss
 * max(−A·ρ, −A·clip(ρ, 1±ε)) and value loss ½·max((V − R)², (clip(V, V_old ± ε_v) − R)²) averaged over
 * action tokens, with TRL's metrics `policy/clipfrac_avg`, `val/clipfrac_avg`, `val/ratio`,
 * `loss/policy_avg`, `loss/value_avg` and `objective/entropy`.
 */
export function ppoLoss(policy: Transformer, batch: RolloutBatch, g: GaeResult, o: PpoLossOptions): { loss: tf.Scalar; metrics: Record<string, tf.Scalar> } {
  const { tokens, targets: mask } = padExamples(batch.examples);
  const out = policy.forward(tokens);
  if (!out.values || !batch.values) throw new ZooError('CONFIG_INVALID', 'PPO needs a value head: call policy.addValueHead() before training', { field: 'valueHead' });
  const [B, T] = tokens.shape;
  const legalMask = legalLogitMask(batch, policy.config.vocabSize);
  const logp = legalTokenLogProbs(out.logits, tokens, legalMask);
  const values = tf.slice(out.values, [0, 0], [B, T - 1]);
  const dense = (x: number[][]) => tf.tensor2d(x.map((r) => r.slice(0, T - 1)), [B, T - 1]);
  const adv = dense(g.advantages);
  const ret = dense(g.returns);
  const oldLogp = dense(batch.logp);
  const oldValues = dense(batch.values);
  const ratio = tf.exp(tf.sub(logp, oldLogp));
  const pg1 = tf.mul(tf.neg(adv), ratio);
  const pg2 = tf.mul(tf.neg(adv), tf.clipByValue(ratio, 1 - o.clip, 1 + o.clip));
  const pgLoss = maskedMean(tf.maximum(pg1, pg2), mask);
  const vClipped = tf.add(oldValues, tf.clipByValue(tf.sub(values, oldValues), -o.clipValue, o.clipValue));
  const vf1 = tf.square(tf.sub(values, ret));
  const vf2 = tf.square(tf.sub(vClipped, ret));
  const vfLoss = tf.mul(0.5, maskedMean(tf.maximum(vf1, vf2), mask));
  const loss = tf.add(pgLoss, tf.mul(o.vfCoef, vfLoss)) as tf.Scalar;
  const ent = maskedMean(entropy(maskedLogits(out.logits, legalMask)), mask);
  return {
    loss,
    metrics: {
      'policy/clipfrac_avg': maskedMean(tf.cast(tf.greater(pg2, pg1), 'float32'), mask),
      'val/clipfrac_avg': maskedMean(tf.cast(tf.greater(vf2, vf1), 'float32'), mask),
      'val/ratio': maskedMean(ratio, mask),
      'loss/policy_avg': pgLoss,
      'loss/value_avg': vfLoss as tf.Scalar,
      'objective/entropy': ent,
    },
  };
}

/** Mean of the per-sequence KL (k3 by default: never negative) and of the scores, for logging. */
export function rolloutSummary(batch: RolloutBatch, klCoef: number, estimator: KlEstimator = 'k3'): { 'objective/kl': number; 'objective/scores': number; 'objective/rlhf_reward': number } {
  const kl = sequenceKl(batch, estimator);
  const k1 = sequenceKl(batch, 'k1');
  const mean = (x: number[]) => x.reduce((a, v) => a + v, 0) / Math.max(x.length, 1);
  const scores = mean(batch.scores);
  return { 'objective/kl': mean(kl), 'objective/scores': scores, 'objective/rlhf_reward': scores - klCoef * mean(k1) };
}

