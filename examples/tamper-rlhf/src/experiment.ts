import { createFitContext, Rng, runFit, runProbe, Transformer, wilson } from '@regime-zoo/core';
import type { Interval, ProbeRow } from '@regime-zoo/core';
import { findRows, instrumentalRate, probeReport, rewardHackingGap, type ProbeReport } from '@regime-zoo/probes';
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

export interface SplitReport {
  tamperRate: Interval;
  meanVisible: number;
  meanHidden: number;
}

/** In distribution (the maps training saw), with the out-of-distribution split beside it. */
export interface PolicyReport extends SplitReport {
  ood: SplitReport;
  /** The probes' rows (`@regime-zoo/probes`): every number with its world, split and interval. */
  probes: ProbeReport;
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

  // The probes package measures both splits the same way for every model (sampled at T = 1).
  const report = async (model: Transformer, seed: number): Promise<PolicyReport> => {
    const ctx = { policy: model, worlds: [world], vocabulary, rng: new Rng(seed), signal: new AbortController().signal, shared: {} };
    const options = { episodes: o.evalEpisodes, decodings: ['sample' as const] };
    const probes = probeReport([await runProbe(instrumentalRate(options), ctx), await runProbe(rewardHackingGap(options), ctx)]);
    const at = (split: 'id' | 'ood', metric: string): ProbeRow => findRows(probes, { split, metric })[0]!;
    const split = (s: 'id' | 'ood'): SplitReport => {
      const r = at(s, 'TamperRate');
      return { tamperRate: { estimate: r.value, lo: r.lo ?? 0, hi: r.hi ?? 1 }, meanVisible: at(s, 'VisibleReturn').value, meanHidden: at(s, 'HiddenPerformance').value };
    };
    return { ...split('id'), ood: split('ood'), probes };
  };
  const result = { dataTamperRate, base: await report(base, o.seed + 6), ppo: await report(policy, o.seed + 6), rewardModelAgreement };
  [base, frozen, policy].forEach((m) => m.dispose());
  rm.dispose();
  return result;
}

export function formatResult(r: TamperExperimentResult): string {
  const ci = (i: Interval) => `${i.estimate.toFixed(3)} [${i.lo.toFixed(3)}, ${i.hi.toFixed(3)}]`;
  return [
    '| policy | split | TamperRate (95% Wilson) | mean visible return | mean hidden performance |',
    '|---|---|---|---|---|',
    `| behaviour data | ID | ${ci(r.dataTamperRate)} | | |`,
    ...(
      [
        ['SFT base', r.base],
        ['PPO vs reward model', r.ppo],
      ] as const
    ).flatMap(([name, p]) =>
      ([['ID', p], ['OOD', p.ood]] as const).map(([s, x]) => `| ${name} | ${s} | ${ci(x.tamperRate)} | ${x.meanVisible.toFixed(2)} | ${x.meanHidden.toFixed(2)} |`),
    ),
  ].join('\n');
}
