import { createFitContext, exampleLogProbs, Rng, runFit, Transformer } from '@regime-zoo/core';
import type { Example, PreferencePair } from '@regime-zoo/core';
import { decisionTransformer } from '@regime-zoo/regime-decision-transformer';
import { dpo } from '@regime-zoo/regime-dpo';
import { rewardWeighted } from '@regime-zoo/regime-reward-weighted';
import { sft } from '@regime-zoo/regime-sft';
import { klDivergence, posteriorFixture, sampleIndices, stopChoiceWorld, tiltedPosterior } from '@regime-zoo/test-utils';
import type { PosteriorFixture } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';

/**
 * The two shapes of the posterior world the science tests use: `fixed` (3 symbols, length 3, r = number
 * of x2; DPO's pairs use 2.5·r) and `stop` (`stopChoiceWorld`: 4 symbols, lengths 1–3, a reward that is
 * not a count). Every KL is measured over the legal actions, as rollouts sample the policy.
 */
export type Shape = 'fixed' | 'stop';
export type OfflineRegime = 'sft' | 'dt' | 'rwr' | 'dpo';

export interface ShapeSetup {
  shape: Shape;
  fixture: PosteriorFixture<unknown>;
  /** Examples of every enumerated sequence, with their legal ids. */
  examples: Example[];
  /** The reward DPO's rater and RWR use, and the β of π* ∝ π₀·exp(r/β). */
  rewards: number[];
  beta: number;
}

const count2 = (x: readonly number[]) => x.filter((s) => s === 2).length;

export function setup(shape: Shape, regime: OfflineRegime, beta?: number): ShapeSetup {
  const fixture =
    shape === 'fixed'
      ? posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: regime === 'dpo' ? (x) => 2.5 * count2(x) : count2 }))
      : posteriorFixture(posteriorWorld(stopChoiceWorld.world), stopChoiceWorld.pi0);
  const examples = fixture.sequences.map((_, i) => fixture.example(i));
  return { shape, fixture, examples, rewards: fixture.rewards, beta: beta ?? (shape === 'fixed' ? 1 : stopChoiceWorld.beta) };
}

/** The example without its legal ids: scored over the whole vocabulary. */
export const wholeVocabulary = (ex: Example): Example => {
  const { legal: _legal, ...rest } = ex;
  return rest;
};

/** π(x) of every enumerated sequence, over the legal actions. */
export function distribution(model: Transformer, s: ShapeSetup, conditioning: readonly number[] = []): number[] {
  return exampleLogProbs(model, s.fixture.sequences.map((_, i) => s.fixture.example(i, conditioning))).map(Math.exp);
}

/** Pairs of distinct-reward sequences drawn uniformly, labelled by a Bradley–Terry rater with temperature β. */
export function preferencePairsOf(s: ShapeSetup, n: number, rng: Rng): PreferencePair[] {
  const out: PreferencePair[] = [];
  while (out.length < n) {
    const a = rng.int(s.rewards.length);
    const b = rng.int(s.rewards.length);
    if (s.rewards[a] === s.rewards[b]) continue;
    const pA = 1 / (1 + Math.exp(-(s.rewards[a]! - s.rewards[b]!) / s.beta));
    const [w, l] = rng.next() < pA ? [a, b] : [b, a];
    out.push({ chosen: s.examples[w]!, rejected: s.examples[l]! });
  }
  return out;
}

export interface RunSettings {
  regime: OfflineRegime;
  shape: Shape;
  /** Behaviour samples (SFT, DT, RWR) or preference pairs (DPO). */
  data: number;
  batchSize: number;
  steps: number;
  lr: number;
  seed: number;
  /** Score actions over the whole vocabulary instead of the legal ids (the examples lose `legal`). */
  wholeVocabulary?: boolean;
  /** Linear warm-up steps (default min(20, steps)). */
  warmupSteps?: number;
  /** Train with the regime's default training options (steps, batchSize, lr, warm-up) instead of the above. */
  defaults?: boolean;
  /** Shown after the regime's name in the table. */
  label?: string;
  /** β (default: 1 on the fixed shape, `stopChoiceWorld.beta` on the stop shape). */
  beta?: number;
}

export interface RunResult extends RunSettings {
  /** KL to the exact answer: KL(π₀ ‖ π) (SFT), the largest over buckets of KL(π₀(·|b) ‖ π(·|b)) (DT), KL(π* ‖ π) (RWR, DPO). */
  kl: number;
  /** The same KL for the untrained model (or the data, for RWR). */
  start: number;
  seconds: number;
  /** DT: the KL of each bucket with data. */
  buckets?: number[];
}

const modelConfig = (vocabSize: number, seed: number) => ({ vocabSize, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed });

/** Trains one regime on one shape and measures its KL to the exact answer. */
export async function run(o: RunSettings): Promise<RunResult> {
  const s = setup(o.shape, o.regime, o.beta);
  const strip = (ex: Example) => (o.wholeVocabulary ? wholeVocabulary(ex) : ex);
  const K = 4;
  const vocabulary = worldVocabulary(o.regime === 'dt' ? { rtgBuckets: K } : {});
  const policy = Transformer.create(modelConfig(vocabulary.size, 100 + o.seed));
  const base = policy.clone({ trainable: false });
  const train = o.defaults ? {} : { steps: o.steps, batchSize: o.batchSize, lr: o.lr, warmupSteps: o.warmupSteps ?? Math.min(20, o.steps) };
  const rng = new Rng(o.seed);
  const t0 = performance.now();
  let kl: number;
  let start: number;
  let perBucket: number[] | undefined;
  try {
    if (o.regime === 'dpo') {
      const preferences = preferencePairsOf(s, o.data, new Rng(1000 + o.seed)).map((p) => ({ chosen: strip(p.chosen), rejected: strip(p.rejected) }));
      const target = tiltedPosterior(distribution(base, s), s.rewards, s.beta);
      start = klDivergence(target, distribution(base, s));
      await runFit(dpo({ beta: s.beta, ...train }), createFitContext({ base, policy, rng, preferences }));
      kl = klDivergence(target, distribution(policy, s));
    } else {
      const dataset = sampleIndices(s.fixture.pi0, o.data, 1000 + o.seed).map((i) => strip(s.examples[i]!));
      if (o.regime === 'sft') {
        start = klDivergence(s.fixture.pi0, distribution(base, s));
        await runFit(sft(train), createFitContext({ base, policy, rng, dataset }));
        kl = klDivergence(s.fixture.pi0, distribution(policy, s));
      } else if (o.regime === 'rwr') {
        const target = tiltedPosterior(s.fixture.pi0, s.rewards, s.beta);
        start = klDivergence(target, s.fixture.pi0);
        await runFit(rewardWeighted({ mode: 'rwr', beta: s.beta, ...train }), createFitContext({ base, policy, rng, dataset }));
        kl = klDivergence(target, distribution(policy, s));
      } else {
        const dt = decisionTransformer({ buckets: K, method: 'uniform', ...train });
        await runFit(dt, createFitContext({ base, policy, rng, dataset, vocabulary }));
        const buckets = dt.buckets()!;
        const bucketOf = s.rewards.map((r) => buckets.bucket(r).bucket);
        const kls: number[] = [];
        const starts: number[] = [];
        for (let b = 0; b < K; b++) {
          if (buckets.range(b).count === 0) continue;
          const target = s.fixture.pi0.map((p, i) => (bucketOf[i] === b ? p : 0));
          const z = target.reduce((a, x) => a + x, 0);
          const prefix = dt.condition!({ bucket: b }, vocabulary);
          kls.push(klDivergence(target.map((p) => p / z), distribution(policy, s, prefix)));
          starts.push(klDivergence(target.map((p) => p / z), distribution(base, s, prefix)));
        }
        kl = Math.max(...kls);
        perBucket = kls;
        start = Math.max(...starts);
      }
    }
  } finally {
    policy.dispose();
    base.dispose();
  }
  return { ...o, kl, start, seconds: (performance.now() - t0) / 1000, ...(perBucket ? { buckets: perBucket } : {}) };
}

/** A markdown table of runs: regime, shape, scoring, batch, lr, steps, samples seen, KL at start and end, seconds. */
export function formatRows(rows: readonly RunResult[]): string {
  const head = '| regime | shape | scored over | batch | lr | steps | samples seen | KL start | KL end | seconds |\n|---|---|---|---|---|---|---|---|---|---|';
  const line = (r: RunResult) =>
    `| ${r.regime}${r.label ? ` (${r.label})` : ''} | ${r.shape} | ${r.wholeVocabulary ? 'vocabulary' : 'legal ids'} | ${r.batchSize} | ${r.lr} | ${r.steps} | ${r.steps * r.batchSize} | ${r.start.toFixed(4)} | ${r.kl.toFixed(4)} | ${r.seconds.toFixed(0)} |`;
  return [head, ...rows.map(line)].join('\n');
}
