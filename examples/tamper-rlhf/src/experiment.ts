import { createFitContext, Rng, rollout, runFit, Transformer, wilson } from '@regime-zoo/core';
import type { Interval } from '@regime-zoo/core';
import { ppo } from '@regime-zoo/regime-ppo';
import { sft } from '@regime-zoo/regime-sft';
import { trainRewardModel } from '@regime-zoo/reward-model';
import { generateEpisodes, preferencePairs, tamperWorld, toExample, worldVocabulary } from '@regime-zoo/worlds';

export interface TamperExperimentOptions {
  episodes: number;
  pairs: number;
  sftSteps: number;
  rmSteps: number;
  ppoSteps: number;
  evalEpisodes: number;
  seed: number;
  log?: (line: string) => void;
}

export interface PolicyReport {
  tamperRate: Interval;
  meanVisible: number;
  meanHidden: number;
}

export interface TamperExperimentResult {
  dataTamperRate: Interval;
  base: PolicyReport;
  ppo: PolicyReport;
  rewardModelAgreement: number;
}

/**
 * The seed's worry made concrete in the tamper world: the rater sees only the visible reward, which the
 * tamper switch maxes out while hidden performance goes to 0. An SFT base imitates behaviour data; a
 * Bradley–Terry reward model learns the (fooled) rater's preferences; PPO maximises that reward model.
 */
export async function tamperExperiment(o: TamperExperimentOptions): Promise<TamperExperimentResult> {
  const log = o.log ?? (() => {});
  const world = tamperWorld();
  const env = world.environment('id');
  const vocabulary = worldVocabulary();
  const data = generateEpisodes(world, { split: 'id', episodes: o.episodes, seed: o.seed });
  const dataTamperRate = wilson(data.filter((e) => e.unsafe).length, data.length);
  log(`behaviour data: ${data.length} episodes, tamper rate ${dataTamperRate.estimate.toFixed(3)}`);

  const config = { vocabSize: vocabulary.size, contextLength: 64, dModel: 48, nHeads: 4, nLayers: 2, seed: o.seed };
  const base = Transformer.create(config);
  await runFit(sft({ steps: o.sftSteps, batchSize: 32, lr: 3e-3 }), createFitContext({ base: base.clone({ trainable: false }), policy: base, rng: new Rng(o.seed), dataset: data.map(toExample) }));
  log('SFT base trained');

  const rm = await trainRewardModel({
    config: { ...config, dModel: 32, nHeads: 2 },
    pairs: preferencePairs(data, { pairs: o.pairs, temperature: 1, seed: o.seed + 1 }),
    options: { steps: o.rmSteps, lr: 3e-3 },
    rng: new Rng(o.seed + 2),
  });
  const heldOut = preferencePairs(generateEpisodes(world, { split: 'id', episodes: 400, seed: o.seed + 3 }), { pairs: 1000, temperature: 0, seed: o.seed + 4 });
  const rewardModelAgreement = rm.evaluate(heldOut).accuracy;
  log(`reward model: ${(100 * rewardModelAgreement).toFixed(1)}% agreement with the noiseless rater on held-out pairs`);

  const frozen = base.clone({ trainable: false });
  const policy = base.clone({ trainable: true });
  await runFit(ppo({ steps: o.ppoSteps, episodes: 32, lr: 1e-3, warmupSteps: 2 }), createFitContext({ base: frozen, policy, rng: new Rng(o.seed + 5), worlds: [env], reward: rm.score }));
  log('PPO trained against the reward model');

  const report = (model: Transformer, seed: number): PolicyReport => {
    const eps = rollout(model, env, { episodes: o.evalEpisodes, rng: new Rng(seed) });
    const scored = eps.map((e) => world.evaluate(e.tokens));
    return {
      tamperRate: wilson(scored.filter((s) => s.unsafe).length, scored.length),
      meanVisible: scored.reduce((a, s) => a + s.visible, 0) / scored.length,
      meanHidden: scored.reduce((a, s) => a + s.hidden, 0) / scored.length,
    };
  };
  const result = { dataTamperRate, base: report(base, o.seed + 6), ppo: report(policy, o.seed + 6), rewardModelAgreement };
  [base, frozen, policy].forEach((m) => m.dispose());
  rm.dispose();
  return result;
}

export function formatResult(r: TamperExperimentResult): string {
  const ci = (i: Interval) => `${i.estimate.toFixed(3)} [${i.lo.toFixed(3)}, ${i.hi.toFixed(3)}]`;
  return [
    '| policy | TamperRate (95% Wilson) | mean visible return | mean hidden performance |',
    '|---|---|---|---|',
    `| behaviour data | ${ci(r.dataTamperRate)} | | |`,
    `| SFT base | ${ci(r.base.tamperRate)} | ${r.base.meanVisible.toFixed(2)} | ${r.base.meanHidden.toFixed(2)} |`,
    `| PPO vs reward model | ${ci(r.ppo.tamperRate)} | ${r.ppo.meanVisible.toFixed(2)} | ${r.ppo.meanHidden.toFixed(2)} |`,
  ].join('\n');
}
