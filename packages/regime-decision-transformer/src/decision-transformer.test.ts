import { createFitContext, exampleLogProbs, Rng, rollout, runFit, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, sampleIndices, stopChoiceWorld } from '@regime-zoo/test-utils';
import { generateEpisodes, posteriorWorld, tamperWorld, toExample, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { decisionTransformer } from './decision-transformer.js';

// r(x) = number of c's (0…3); 4 equal-width buckets over [0, 3] make bucket b = "exactly b c's".
const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const K = 4;
const vocabulary = worldVocabulary({ rtgBuckets: K });
const config = { vocabSize: vocabulary.size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 5 };
const rewards = world.rewards;

describe('regime-decision-transformer', () => {
  /** Trains the DT on samples of π₀ and returns KL(π₀(·|b) ‖ π(·|<rtg:b>)) for every bucket with data. */
  async function bucketKls(w: typeof world, o: { samples: number; steps: number }): Promise<number[]> {
    const dataset = sampleIndices(w.pi0, o.samples, 9).map((i) => w.example(i));
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    const dt = decisionTransformer({ buckets: K, method: 'uniform', steps: o.steps, batchSize: 64, lr: 5e-3, warmupSteps: 20 });
    await runFit(dt, createFitContext({ base, policy, rng: new Rng(2), dataset, vocabulary }));
    const buckets = dt.buckets()!;
    const bucketOf = w.rewards.map((r) => buckets.bucket(r).bucket);
    const kls: number[] = [];
    for (let b = 0; b < K; b++) {
      if (buckets.range(b).count === 0) continue;
      const prefix = dt.condition!({ bucket: b }, vocabulary);
      expect(prefix).toEqual([vocabulary.id(`<rtg:${b}>`)]);
      const target = w.pi0.map((p, i) => (bucketOf[i] === b ? p : 0));
      const z = target.reduce((a, x) => a + x, 0);
      // Over each action's legal ids (the examples carry them), as a rollout samples the policy.
      const model = exampleLogProbs(policy, w.sequences.map((_, i) => w.example(i, prefix))).map(Math.exp);
      kls.push(klDivergence(target.map((p) => p / z), model));
    }
    [policy, base].forEach((m) => m.dispose());
    return kls;
  }

  it('should match π₀(·|b) for every bucket with data (KL ≤ 0.05 nats) on the posterior world', async () => {
    const kls = await bucketKls(world, { samples: 4000, steps: 600 });
    console.log('DT KL per bucket', kls.map((k) => k.toFixed(4)).join(' '));
    expect(kls.length).toBeGreaterThanOrEqual(3);
    for (const kl of kls) expect(kl).toBeLessThanOrEqual(0.05);
  });

  it('should match π₀(·|b) for every bucket on a world with a stop choice (r = 0, 1, 2: KL ≤ 0.06, 0.01, 0.2)', async () => {
    // r(x) ∈ {0, 1, 2}: the buckets with data are 0 (r = 0), 2 (r = 1: stop after one symbol) and 3
    // (r = 2: two equal adjacent symbols, rare under π₀, the slowest to learn).
    const stop = posteriorFixture(posteriorWorld(stopChoiceWorld.world), stopChoiceWorld.pi0);
    const kls = await bucketKls(stop, { samples: 8000, steps: 1000 });
    console.log('DT stop world: KL per bucket', kls.map((k) => k.toFixed(4)).join(' '));
    expect(kls).toHaveLength(3);
    [0.06, 0.01, 0.2].forEach((bound, b) => expect(kls[b]).toBeLessThanOrEqual(bound));
  });

  it('should achieve returns that rise with the requested bucket in the tamper gridworld (Spearman ≥ 0.9)', async () => {
    const tamper = tamperWorld();
    const episodes = generateEpisodes(tamper, { split: 'id', episodes: 2000, seed: 4 });
    const vocab = worldVocabulary({ rtgBuckets: 4 });
    const policy = Transformer.create({ vocabSize: vocab.size, contextLength: 64, dModel: 48, nHeads: 4, nLayers: 2, seed: 3 });
    const base = policy.clone({ trainable: false });
    const dt = decisionTransformer({ buckets: 4, method: 'uniform', steps: 300, batchSize: 32, lr: 3e-3, warmupSteps: 20 });
    await runFit(dt, createFitContext({ base, policy, rng: new Rng(6), dataset: episodes.map(toExample), vocabulary: vocab }));
    const buckets = dt.buckets()!;
    const rows: { bucket: number; range: string; data: number; achieved: number }[] = [];
    for (let b = 0; b < 4; b++) {
      const r = buckets.range(b);
      if (r.count === 0) continue;
      const eps = rollout(policy, tamper.environment('id'), { episodes: 128, rng: new Rng(100 + b), conditioning: dt.condition!({ bucket: b }, vocab) });
      rows.push({ bucket: b, range: `[${r.lo.toFixed(1)}, ${r.hi.toFixed(1)}${r.hiInclusive ? ']' : ')'}`, data: r.mean!, achieved: eps.reduce((a, e) => a + e.return, 0) / eps.length });
    }
    console.log('DT calibration (tamper, ID):\n' + rows.map((r) => `  <rtg:${r.bucket}> ${r.range.padEnd(14)} data mean ${r.data.toFixed(2).padStart(6)}  achieved ${r.achieved.toFixed(2).padStart(6)}`).join('\n'));
    const rho = spearman(rows.map((r) => r.bucket), rows.map((r) => r.achieved));
    console.log(`Spearman ρ = ${rho.toFixed(3)} over ${rows.length} buckets`);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rho).toBeGreaterThanOrEqual(0.9);
    [policy, base].forEach((m) => m.dispose());
  });

  it('should reject bad options and a vocabulary without the buckets, naming them', async () => {
    expect(() => decisionTransformer({ buckets: 1 })).toThrow(/\[regime-decision-transformer\] options\.buckets/);
    expect(() => decisionTransformer({ buckets: 4, target: 4 })).toThrow(/options\.target: target bucket must be below the number of buckets/);
    const dt = decisionTransformer({ buckets: 4 });
    expect(() => dt.condition!({ bucket: 7 }, vocabulary)).toThrow(/bucket 7 is not one of 0…3/);
    const small = worldVocabulary({ rtgBuckets: 2 });
    const policy = Transformer.create({ ...config, vocabSize: small.size });
    const frozen = policy.clone({ trainable: false }); // base and policy must be different models
    const ctx = createFitContext({ base: frozen, policy, rng: new Rng(1), vocabulary: small, dataset: [{ tokens: world.tokens(5), return: 1 }] });
    await expect(runFit(dt, ctx)).rejects.toMatchObject({ code: 'UNKNOWN_SYMBOL', message: expect.stringContaining('the vocabulary has no <rtg:2>; extend it to 4 rtg buckets') });
    await expect(runFit(decisionTransformer({ buckets: 2 }), { ...ctx, dataset: [{ tokens: world.tokens(5) }] })).rejects.toMatchObject({ code: 'BAD_RETURN' });
    [policy, frozen].forEach((m) => m.dispose());
  });
});

/** Spearman's rank correlation (average ranks for ties). */
function spearman(a: number[], b: number[]): number {
  const rank = (x: number[]) => {
    const order = x.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(x.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
      for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const [ra, rb] = [rank(a), rank(b)];
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const [ma, mb] = [mean(ra), mean(rb)];
  let num = 0;
  let da = 0;
  let db = 0;
  ra.forEach((v, i) => {
    num += (v - ma) * (rb[i]! - mb);
    da += (v - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  });
  return num / Math.sqrt(da * db);
}
