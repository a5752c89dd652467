import {
  checkMicroBatches,
  collectRollouts,
  defineRegime,
  differenceInterval,
  fitWithLoss,
  gae,
  legalLogits,
  padExamples,
  ppoLoss,
  ppoOptionsShape,
  reinforceLoss,
  repeatResets,
  Rng,
  klShapedRlooAdvantages,
  rlooOptionsShape,
  rolloutOptionsShape,
  rolloutSummary,
  sampleExamples,
  tf,
  maskedNll,
  microBatch,
  trainingOptionsSchema,
  withConditioning,
  worldAt,
  ZooError,
} from '@regime-zoo/core';
import type { EvalSpec, Example, GaeResult, Regime, RolloutBatch, Transformer, VocabularyLike, Environment, RewardFn } from '@regime-zoo/core';
import { z } from 'zod';

const NAME = 'regime-rlhf-flag';
const FLAGS = ['<rlhf:on>', '<rlhf:off>'] as const;

export const rlhfFlagOptionsSchema = z
  .object({
    ...trainingOptionsSchema.shape,
    /** RL applied to `<rlhf:on>` sequences: `ppo` (reward maximisation) or `kl-rl` (RLOO with a KL penalty). */
    inner: z.enum(['ppo', 'kl-rl']).default('ppo'),
    /** Rollout batches; PPO takes `ppoEpochs` optimizer steps per batch, KL-RL one. */
    steps: z.number().int().positive().default(100),
    /** `<rlhf:on>` episodes per batch (KL-RL: prompts · k). */
    episodes: z.number().int().positive().default(32),
    /** PPO's hyperparameters (as `regime-ppo`) and KL-RL's β and k (as `regime-kl-rl`). */
    ...ppoOptionsShape,
    ...rlooOptionsShape,
    /** Weight of the MLE loss on `<rlhf:off>` behaviour data, added at every step. */
    mleWeight: z.number().min(0).default(1),
    ...rolloutOptionsShape,
    /** Episodes rolled out under `<rlhf:off>` before and after training to measure leakage. */
    evalEpisodes: z.number().int().positive().default(200),
    /** The world's unsafe predicate U(τ) on tokens; when given, the report includes its leakage. */
    unsafe: z.custom<(tokens: readonly number[]) => boolean>((v) => typeof v === 'function', 'must be a function (tokens) => boolean').optional(),
  })
  .strict();

export type RlhfFlagOptions = z.input<typeof rlhfFlagOptionsSchema>;

function flagIds(vocabulary: VocabularyLike | undefined, vocabSize: number): [number, number] {
  if (!vocabulary) throw new ZooError('OPTION_INVALID', `[${NAME}] needs ctx.vocabulary holding <rlhf:on> and <rlhf:off>`, { field: 'vocabulary', plugin: NAME });
  return FLAGS.map((t) => {
    let id: number;
    try {
      id = vocabulary.id(t);
    } catch (e) {
      throw new ZooError('UNKNOWN_SYMBOL', `[${NAME}] the vocabulary has no ${t}; extend it with the rlhf namespace and grow the model`, { field: 'vocabulary', symbol: t, plugin: NAME, cause: e });
    }
    if (id >= vocabSize) throw new ZooError('TOKEN_OUT_OF_RANGE', `[${NAME}] ${t} has id ${id} but the model has ${vocabSize} ids; grow it with model.growVocab(${vocabulary.size})`, { field: 'vocabulary', symbol: t });
    return id;
  }) as [number, number];
}

interface BranchStats {
  score: number;
  kl: number;
  unsafe: number;
  n: number;
}

async function measure(policy: Transformer, base: Transformer, env: Environment, flag: number, seed: number, o: z.output<typeof rlhfFlagOptionsSchema>, reward: RewardFn | undefined, step: number): Promise<BranchStats> {
  const batch = await collectRollouts({
    policy,
    base,
    env,
    episodes: o.evalEpisodes,
    rng: new Rng(seed),
    temperature: o.temperature,
    conditioning: [flag],
    maxLength: o.maxLength,
    reward,
    plugin: NAME,
    step,
  });
  const s = rolloutSummary(batch, 0);
  return { score: s['objective/scores'], kl: s['objective/kl'], unsafe: o.unsafe ? batch.examples.filter((e) => o.unsafe!(e.tokens)).length : 0, n: batch.examples.length };
}

/**
 * The seed's experiment: every sequence carries `<rlhf:on>` or `<rlhf:off>` after BOS. Each step takes an
 * RL update on `<rlhf:on>` rollouts (PPO or KL-RL) plus an MLE update on `<rlhf:off>` behaviour data, in
 * one loss. The report gives, per flag, the mean reward and KL to the base model, and the leakage of RL
 * into the off branch: U-rate under `<rlhf:off>` after training minus before, with a Newcombe interval.
 */
export const rlhfFlag = defineRegime({
  name: NAME,
  options: rlhfFlagOptionsSchema,
  create: (o): Omit<Regime, 'name' | 'kind'> => {
    const onEpisodes = o.inner === 'ppo' ? o.episodes : Math.max(1, Math.round(o.episodes / o.k)) * o.k;
    checkMicroBatches(NAME, o.microBatches, onEpisodes);
    return {
      tokens: [...FLAGS],
      async fit(ctx) {
        const world = worldAt(ctx, o.world, NAME);
        if (ctx.dataset.length === 0) throw new ZooError('EMPTY_DATASET', `[${NAME}] ctx.dataset is empty; the <rlhf:off> branch keeps MLE on behaviour data`, { field: 'dataset' });
        const [onId, offId] = flagIds(ctx.vocabulary, ctx.policy.config.vocabSize);
        const offData = ctx.dataset.map((ex) => withConditioning(ex, [offId]));
        const ppoInner = o.inner === 'ppo';
        if (ppoInner) ctx.policy.addValueHead();
        const env = ppoInner ? world : repeatResets(world, o.k);
        const evalSeed = ctx.rng.seed();
        const before = await measure(ctx.policy, ctx.base, world, offId, evalSeed, o, ctx.reward, 0);
        const epochs = ppoInner ? o.ppoEpochs : 1;
        let batch: RolloutBatch | undefined;
        let adv: GaeResult | undefined;
        let rloo: number[] = [];
        const report = await fitWithLoss(ctx, {
          plugin: NAME,
          options: { ...o, steps: o.steps * epochs },
          state: {
            save: () => ({ batch, adv, rloo }),
            restore: (saved) => {
              const s = (saved ?? {}) as { batch?: RolloutBatch; adv?: GaeResult; rloo?: number[] };
              [batch, adv, rloo] = [s.batch, s.adv, s.rloo ?? []];
            },
          },
          async beforeStep(step, trainer) {
            if (step % epochs !== 0 && batch) return;
            batch = await collectRollouts({
              policy: ctx.policy,
              base: ctx.base,
              env,
              episodes: onEpisodes,
              rng: trainer.rng,
              temperature: o.temperature,
              conditioning: [onId],
              maxLength: o.maxLength,
              reward: ctx.reward,
              plugin: NAME,
              step,
            });
            if (ppoInner) adv = gae(batch, o);
            else {
              rloo = klShapedRlooAdvantages(batch, o.beta, o.k);
            }
          },
          loss: (_step, micro, trainer) => {
            const b = batch!;
            // Each micro-batch takes its share of the <rlhf:on> episodes (and draws its own off-branch batch).
            const { batch: part, start, end } = microBatch(b, micro, o.microBatches);
            const rl = ppoInner
              ? ppoLoss(ctx.policy, part, { advantages: adv!.advantages.slice(start, end), returns: adv!.returns.slice(start, end) }, o)
              : { loss: reinforceLoss(ctx.policy, part, rloo.slice(start, end)).loss, metrics: {} as Record<string, tf.Scalar> };
            const off = sampleExamples(trainer.rng, offData, o.batchSize);
            const { tokens, targets } = padExamples(off);
            const nll = maskedNll(legalLogits(ctx.policy.forward(tokens).logits, off), tokens, targets);
            const metrics: Record<string, tf.Scalar> = { ...rl.metrics, 'flag/off/nll': nll, 'flag/on/loss': rl.loss };
            for (const [k, v] of Object.entries(rolloutSummary(b, ppoInner ? o.klCoef : o.beta))) metrics[k] = tf.scalar(v);
            return { loss: tf.add(rl.loss, tf.mul(o.mleWeight, nll)) as tf.Scalar, metrics };
          },
        });
        if (report.aborted) return report;
        const after = await measure(ctx.policy, ctx.base, world, offId, evalSeed, o, ctx.reward, report.steps);
        const on = await measure(ctx.policy, ctx.base, world, onId, evalSeed + 1, o, ctx.reward, report.steps);
        const metrics: Record<string, number> = {
          ...report.metrics,
          'flag/on/score': on.score,
          'flag/on/kl': on.kl,
          'flag/off/score': after.score,
          'flag/off/kl': after.kl,
          'flag/off/score_before': before.score,
        };
        if (o.unsafe) {
          const d = differenceInterval(after.unsafe, after.n, before.unsafe, before.n);
          Object.assign(metrics, {
            'flag/off/unsafe_before': before.unsafe / before.n,
            'flag/off/unsafe_after': after.unsafe / after.n,
            'flag/off/leakage': d.estimate,
            'flag/off/leakage_lo': d.lo,
            'flag/off/leakage_hi': d.hi,
          });
        }
        return { ...report, metrics };
      },
      condition(spec: EvalSpec, vocabulary?: VocabularyLike) {
        const flag = spec.rlhf ?? 'on';
        if (flag !== 'on' && flag !== 'off') throw new ZooError('OPTION_INVALID', `[${NAME}] spec.rlhf must be 'on' or 'off', got ${JSON.stringify(flag)}`, { field: 'rlhf' });
        const [on, off] = flagIds(vocabulary, Number.MAX_SAFE_INTEGER);
        return [flag === 'on' ? on : off];
      },
    };
  },
});
