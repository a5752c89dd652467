import { createFitContext, Rng, rollout, runFit, Transformer, wilson } from '@regime-zoo/core';
import type { Interval } from '@regime-zoo/core';
import { klRl } from '@regime-zoo/regime-kl-rl';
import { sft } from '@regime-zoo/regime-sft';
import { generateEpisodes, toExample } from '@regime-zoo/worlds';
import { whiskyGoldVocabulary, whiskyGoldWorld } from './whisky-gold.js';

export interface CustomWorldOptions {
  /** Behaviour episodes for SFT (the world's default mix). */
  episodes: number;
  /** Width and depth of the transformer (default 48 and 2). */
  dModel?: number;
  nLayers?: number;
  sftSteps: number;
  klSteps: number;
  /** KL coefficient of KL-RL. */
  beta: number;
  /** Rollouts per policy and split for the unsafe rate. */
  evalEpisodes: number;
  seed: number;
  log?: (line: string) => void;
}

/** A policy's behaviour in one split, from its own rollouts (T = 1) scored by the world from the tokens. */
export interface SplitReport {
  /** Rate of U(τ) (the agent drank the whisky) with its 95% Wilson interval. */
  unsafe: Interval;
  meanVisible: number;
  /** Fraction of episodes that reached the gold. */
  gold: number;
}

export interface PolicyReport {
  id: SplitReport;
  ood: SplitReport;
}

export interface CustomWorldResult {
  /** U(τ) rate of the behaviour data. */
  data: Interval;
  sft: PolicyReport;
  klRl: PolicyReport;
}

/**
 * The example world trained on with two regimes: SFT on the world's behaviour mix (half of it drinks),
 * then KL-RL (RLOO with a KL penalty to the SFT model) on the world's visible reward, which is the
 * gridworld's R = R*. The rates are measured with core's `rollout` and the world's own U(τ) and
 * `evaluate`, from the tokens alone.
 */
export async function customWorldExperiment(o: CustomWorldOptions): Promise<CustomWorldResult> {
  const log = o.log ?? (() => {});
  const world = whiskyGoldWorld();
  const records = generateEpisodes(world, { split: 'id', episodes: o.episodes, seed: o.seed });
  const data = wilson(records.filter((e) => e.unsafe).length, records.length);
  log(`behaviour data: ${records.length} episodes, unsafe rate ${data.estimate.toFixed(3)}`);

  const config = { vocabSize: whiskyGoldVocabulary.size, contextLength: 64, dModel: o.dModel ?? 48, nHeads: 4, nLayers: o.nLayers ?? 2, seed: o.seed };
  const base = Transformer.create(config);
  await runFit(sft({ steps: o.sftSteps, batchSize: 32, lr: 3e-3 }), createFitContext({ base: base.clone({ trainable: false }), policy: base, rng: new Rng(o.seed), dataset: records.map(toExample) }));
  log('SFT trained');

  const frozen = base.clone({ trainable: false });
  const policy = base.clone({ trainable: true });
  await runFit(
    klRl({ steps: o.klSteps, beta: o.beta, k: 4, prompts: 8, lr: 1e-3, warmupSteps: 2 }),
    createFitContext({ base: frozen, policy, rng: new Rng(o.seed + 1), worlds: [world.environment('id')] }),
  );
  log('KL-RL trained on the visible reward');

  const measure = (model: Transformer, split: 'id' | 'ood'): SplitReport => {
    const eps = rollout(model, world.environment(split), { episodes: o.evalEpisodes, rng: new Rng(o.seed + 2) });
    const scored = eps.map((e) => world.evaluate(e.tokens));
    return {
      unsafe: wilson(scored.filter((s) => s.unsafe).length, scored.length),
      meanVisible: scored.reduce((a, s) => a + s.visible, 0) / scored.length,
      gold: scored.filter((s) => s.features.gold === true).length / scored.length,
    };
  };
  const report = (model: Transformer): PolicyReport => ({ id: measure(model, 'id'), ood: measure(model, 'ood') });
  const result = { data, sft: report(base), klRl: report(policy) };
  [base, frozen, policy].forEach((m) => m.dispose());
  return result;
}

export function formatResult(r: CustomWorldResult): string {
  const ci = (i: Interval) => `${i.estimate.toFixed(3)} [${i.lo.toFixed(3)}, ${i.hi.toFixed(3)}]`;
  const row = (name: string, p: PolicyReport) =>
    `| ${name} | ${ci(p.id.unsafe)} | ${ci(p.ood.unsafe)} | ${p.id.meanVisible.toFixed(2)} | ${p.ood.meanVisible.toFixed(2)} | ${p.id.gold.toFixed(3)} |`;
  return [
    '| policy | drinks, ID (95% Wilson) | drinks, OOD | mean return, ID | mean return, OOD | gold, ID |',
    '|---|---|---|---|---|---|',
    `| behaviour data | ${ci(r.data)} | | | | |`,
    row('SFT', r.sft),
    row('KL-RL (from SFT)', r.klRl),
  ].join('\n');
}
