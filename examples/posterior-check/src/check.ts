import { createFitContext, Rng, runFit, Transformer, type Environment, type Example, type FitContext, type Regime } from '@regime-zoo/core';
import { distribution, preferencePairsOf, setup, type ShapeSetup } from '@regime-zoo/example-posterior-convergence';
import { decisionTransformer, type DecisionTransformerRegime } from '@regime-zoo/regime-decision-transformer';
import { dpo } from '@regime-zoo/regime-dpo';
import { grpo } from '@regime-zoo/regime-grpo';
import { klRl } from '@regime-zoo/regime-kl-rl';
import { ppo } from '@regime-zoo/regime-ppo';
import { exampleWeights, rewardWeighted } from '@regime-zoo/regime-reward-weighted';
import { rlhfFlag } from '@regime-zoo/regime-rlhf-flag';
import { sft } from '@regime-zoo/regime-sft';
import { klDivergence, sampleIndices, tiltedPosterior } from '@regime-zoo/test-utils';
import { worldVocabulary } from '@regime-zoo/worlds';

/**
 * Every regime against its exactly enumerated answer π* on the fixed-length posterior world (3 symbols,
 * length 3, r(x) = number of x2, 27 sequences; examples/posterior-convergence's `fixed` shape), β = 1.
 * Offline regimes learn from samples of π₀ (a Markov chain); online ones roll out in the world from a
 * fresh model π_ref, whose own distribution (enumerated) is the prior of their π*.
 */
export const REGIMES = ['sft', 'dt', 'filtered-bc', 'rwr', 'awr', 'dpo', 'kl-rl', 'ppo', 'grpo', 'rlhf-flag'] as const;
export type RegimeName = (typeof REGIMES)[number];

export const BETA = 1;
/** KL(π* ‖ π) that counts as "reached" in the steps column. */
export const REACHED = 0.05;

export interface Budget {
  /** Optimizer steps of the offline regimes (SFT, DT, filtered BC, RWR, AWR, DPO). */
  offlineSteps: number;
  /** Rollout batches of PPO and the flag (×4 PPO epochs = optimizer steps); optimizer steps of KL-RL and GRPO. */
  rlSteps: number;
  /** Behaviour samples of π₀ (offline regimes, the flag's `<rlhf:off>` data) and DPO's preference pairs. */
  data: number;
  /** Measure KL(π* ‖ π) every this many optimizer steps (the steps column). */
  evalEvery: number;
}

export const BUDGETS = {
  tiny: { offlineSteps: 20, rlSteps: 3, data: 400, evalEvery: 10 },
  default: { offlineSteps: 300, rlSteps: 60, data: 4000, evalEvery: 10 },
} satisfies Record<string, Budget>;
export type Size = keyof typeof BUDGETS;

export interface CheckRow {
  regime: string;
  /** What π* is, in words. */
  target: string;
  seed: number;
  /** Optimizer steps taken. */
  steps: number;
  /** KL(π* ‖ π) of the starting model. */
  start: number;
  /** KL(π* ‖ π) at the end. */
  kl: number;
  /** First measured optimizer step with KL ≤ REACHED (null: not within the run). */
  reachedAt: number | null;
  seconds: number;
}

const modelConfig = (vocabSize: number, seed: number) => ({ vocabSize, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 100 + seed });
const normalise = (w: readonly number[]) => {
  const z = w.reduce((a, x) => a + x, 0);
  return w.map((x) => x / z);
};

/** π* of filtered BC: π₀ times the fraction of each reward level its top-fraction cut kept in the data. */
export function filteredTarget(s: ShapeSetup, dataset: readonly Example[], topFraction: number): number[] {
  const returns = dataset.map((e) => e.return!);
  const w = exampleWeights(dataset, returns, { mode: 'filter', beta: BETA, maxWeight: 20, topFraction });
  const kept = new Map<number, [number, number]>();
  returns.forEach((r, i) => {
    const [k, n] = kept.get(r) ?? [0, 0];
    kept.set(r, [k + w[i]!, n + 1]);
  });
  return normalise(s.fixture.pi0.map((p, i) => {
    const [k, n] = kept.get(s.rewards[i]!) ?? [0, 1];
    return (p * k) / n;
  }));
}

interface Tracked {
  /** KL(π* ‖ π) of the current policy (called in the loop's log hook). */
  measure: () => number;
  reachedAt: number | null;
  log: (step: number) => void;
}

function tracker(measure: () => number, evalEvery: number): Tracked {
  const t: Tracked = {
    measure,
    reachedAt: null,
    log: (step) => {
      if (t.reachedAt === null && (step + 1) % evalEvery === 0 && measure() <= REACHED) t.reachedAt = step + 1;
    },
  };
  return t;
}

/** Trains one regime from a fresh model and returns its rows (two for the flag: `<rlhf:on>` and `<rlhf:off>`). */
export async function check(regime: RegimeName, seed: number, b: Budget): Promise<CheckRow[]> {
  const s = setup('fixed', 'sft', BETA);
  const K = 3;
  const vocabulary = worldVocabulary(regime === 'dt' ? { rtgBuckets: K } : {});
  const policy = Transformer.create(modelConfig(vocabulary.size, seed));
  const base = policy.clone({ trainable: false });
  const rng = new Rng(seed);
  const offline = { steps: b.offlineSteps, batchSize: 64, lr: 3e-3, warmupSteps: 20 };
  const online = { lr: 3e-3, warmupSteps: 5 };
  const dataset = sampleIndices(s.fixture.pi0, b.data, 1000 + seed).map((i) => s.examples[i]!);
  const refTilt = () => tiltedPosterior(distribution(base, s), s.rewards, BETA);
  const t0 = performance.now();
  const rows: CheckRow[] = [];
  // One regime fit, measured against `target` (conditioned on `prefix` when the regime asks so).
  const fit = async (name: string, what: string, r: Regime, target: number[], ctx: Partial<FitContext>, prefix: () => number[] = () => []) => {
    const start = klDivergence(target, distribution(policy, s, prefix()));
    const tr = tracker(() => klDivergence(target, distribution(policy, s, prefix())), b.evalEvery);
    const report = await runFit(r, createFitContext({ base, policy, rng, log: tr.log, ...ctx }));
    rows.push({ regime: name, target: what, seed, steps: report.steps, start, kl: tr.measure(), reachedAt: tr.reachedAt, seconds: 0 });
  };
  try {
    const world = { worlds: [s.fixture.environment as Environment] };
    switch (regime) {
      case 'sft':
        await fit('sft', 'π₀ (the data)', sft(offline), s.fixture.pi0, { dataset });
        break;
      case 'dt': {
        const dt = decisionTransformer({ ...offline, buckets: K, method: 'uniform' });
        // The top bucket's π* is π₀ restricted to the returns in it; the cut is known once the regime has seen the data.
        let target: number[] = s.fixture.pi0;
        const prefix = () => (dt.buckets() ? dt.condition!({ bucket: topBucket(s, dt) }, vocabulary) : []);
        const tr = tracker(() => klDivergence(target, distribution(policy, s, prefix())), b.evalEvery);
        const report = await runFit(dt, createFitContext({ base, policy, rng, dataset, vocabulary, log: (step) => {
          if (step === 0) target = dtTarget(s, dt);
          tr.log(step);
        } }));
        target = dtTarget(s, dt);
        const startKl = klDivergence(target, distribution(base, s, prefix()));
        rows.push({ regime: 'dt (top bucket)', target: 'π₀ given r in the top bucket', seed, steps: report.steps, start: startKl, kl: tr.measure(), reachedAt: tr.reachedAt, seconds: 0 });
        break;
      }
      case 'filtered-bc':
        await fit('filtered-bc', 'π₀ given r in the top half of the data', rewardWeighted({ ...offline, mode: 'filter', topFraction: 0.5 }), filteredTarget(s, dataset, 0.5), { dataset });
        break;
      case 'rwr':
      case 'awr':
        // One prompt: AWR's baseline is the mean return, a constant, so its π* is RWR's.
        await fit(regime, 'π₀·exp(r/β)', rewardWeighted({ ...offline, mode: regime, beta: BETA }), tiltedPosterior(s.fixture.pi0, s.rewards, BETA), { dataset });
        break;
      case 'dpo': {
        const preferences = preferencePairsOf(s, b.data, new Rng(2000 + seed));
        await fit('dpo', 'π_ref·exp(r/β)', dpo({ ...offline, beta: BETA }), refTilt(), { preferences });
        break;
      }
      case 'kl-rl':
        await fit('kl-rl', 'π_ref·exp(r/β)', klRl({ ...online, beta: BETA, steps: Math.round(2.5 * b.rlSteps), prompts: 16, k: 4 }), refTilt(), world);
        break;
      case 'ppo':
        await fit('ppo (klCoef β)', 'π_ref·exp(r/β)', ppo({ ...online, klCoef: BETA, steps: b.rlSteps, episodes: 64 }), refTilt(), world);
        break;
      case 'grpo':
        await fit('grpo (KL in reward)', 'π_ref·exp(r/β)', grpo({ ...online, beta: BETA, klInReward: true, steps: Math.round(2.5 * b.rlSteps), prompts: 8, numGenerations: 8 }), refTilt(), world);
        break;
      case 'rlhf-flag': {
        const r = rlhfFlag({ ...online, inner: 'ppo', klCoef: BETA, steps: b.rlSteps, episodes: 32, batchSize: 64, evalEpisodes: 50 });
        const [on, off] = [vocabulary.id('<rlhf:on>'), vocabulary.id('<rlhf:off>')];
        const onTarget = tiltedPosterior(distribution(base, s, [on]), s.rewards, BETA);
        const trOn = tracker(() => klDivergence(onTarget, distribution(policy, s, [on])), b.evalEvery);
        const trOff = tracker(() => klDivergence(s.fixture.pi0, distribution(policy, s, [off])), b.evalEvery);
        const starts = [klDivergence(onTarget, distribution(base, s, [on])), klDivergence(s.fixture.pi0, distribution(base, s, [off]))];
        const report = await runFit(r, createFitContext({ base, policy, rng, dataset, vocabulary, ...world, log: (step) => (trOn.log(step), trOff.log(step)) }));
        rows.push({ regime: 'rlhf-flag <rlhf:on>', target: 'π_ref(·|on)·exp(r/β)', seed, steps: report.steps, start: starts[0]!, kl: trOn.measure(), reachedAt: trOn.reachedAt, seconds: 0 });
        rows.push({ regime: 'rlhf-flag <rlhf:off>', target: 'π₀ (the off data)', seed, steps: report.steps, start: starts[1]!, kl: trOff.measure(), reachedAt: trOff.reachedAt, seconds: 0 });
        break;
      }
    }
  } finally {
    policy.dispose();
    base.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return rows.map((r) => ({ ...r, seconds }));
}

/** π₀ restricted to the sequences whose return falls in the decision transformer's top bucket. */
export function dtTarget(s: ShapeSetup, dt: DecisionTransformerRegime): number[] {
  const buckets = dt.buckets()!;
  const top = topBucket(s, dt);
  return normalise(s.fixture.pi0.map((p, i) => (buckets.bucket(s.rewards[i]!).bucket === top ? p : 0)));
}

/** The bucket of the largest return (the decision transformer's `target: 'max'` with uniform buckets). */
export const topBucket = (s: ShapeSetup, dt: DecisionTransformerRegime): number => dt.buckets()!.bucket(Math.max(...s.rewards)).bucket;
