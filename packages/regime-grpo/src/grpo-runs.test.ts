import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectRollouts, createFitContext, Rng, runFit, tf, Transformer } from '@regime-zoo/core';
import { expectNoTensorLeak, posteriorFixture, thrown } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { afterAll, describe, expect, it } from 'vitest';
import { groupAdvantages } from './advantages.js';
import { grpo, type GrpoOptions } from './grpo.js';
import { grpoLoss } from './loss.js';

const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 1, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const config = { vocabSize: worldVocabulary().size, contextLength: 8, dModel: 16, nHeads: 2, nLayers: 1, seed: 5 };
const weights = async (m: Transformer) => (await Promise.all(m.variables().map((v) => v.data()))).flatMap((d) => Array.from(d as Float32Array));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

async function run(options: GrpoOptions, o: { seed?: number; abortAt?: number; dir?: string; reward?: () => number } = {}) {
  const base = Transformer.create(config, { trainable: false });
  const policy = base.clone({ trainable: true });
  const ac = new AbortController();
  const log: Record<string, number>[] = [];
  const ctx = createFitContext({
    base,
    policy,
    rng: new Rng(o.seed ?? 3),
    worlds: [world.environment],
    signal: ac.signal,
    log: (_s, m) => log.push(m),
    progress: (e) => o.abortAt !== undefined && e.step === o.abortAt && ac.abort(),
    ...(o.dir ? { checkpointDir: o.dir } : {}),
    ...(o.reward ? { reward: o.reward } : {}),
  });
  try {
    const report = await runFit(grpo(options), ctx);
    return { report, w: await weights(policy), log };
  } finally {
    [base, policy].forEach((m) => m.dispose());
  }
}

describe('regime-grpo options', () => {
  it('should fail at the factory on a group of one, a negative β and a clip ≤ 0, naming the option', () => {
    expect(thrown(() => grpo({ numGenerations: 1 }))).toMatchObject({ code: 'OPTION_INVALID', field: 'numGenerations', plugin: 'regime-grpo' });
    expect(thrown(() => grpo({ numGenerations: 1 })).message).toMatch(/\[regime-grpo\] options\.numGenerations: a group needs at least 2 samples/);
    expect(thrown(() => grpo({ beta: -0.1 })).message).toMatch(/\[regime-grpo\] options\.beta: β must be ≥ 0/);
    expect(thrown(() => grpo({ epsilon: 0 })).message).toMatch(/\[regime-grpo\] options\.epsilon: the clip ε must be > 0/);
    expect(thrown(() => grpo({ epsilon: -0.2 })).field).toBe('epsilon');
    expect(thrown(() => grpo({ epsilonHigh: 0 })).field).toBe('epsilonHigh');
    expect(thrown(() => grpo({ scaleRewards: 'std' as never })).field).toBe('scaleRewards');
    expect(thrown(() => grpo({ prompts: 3, microBatches: 2 })).message).toMatch(/prompts must be a multiple of microBatches/);
    expect(thrown(() => grpo({ num_generations: 4 } as never)).message).toMatch(/unknown field\(s\) "num_generations"/);
    // batchSize would be ignored (a step trains on the whole rollout batch): it is not an option.
    expect(thrown(() => grpo({ batchSize: 8 } as never)).message).toMatch(/unknown field\(s\) "batchSize"/);
    expect(grpo({ beta: 0, numGenerations: 2 }).name).toBe('regime-grpo');
  });
});

describe('regime-grpo runs', () => {
  it('should leak no tensors in a loss step and give a constant group zero advantage in the loss', async () => {
    const base = Transformer.create(config, { trainable: false });
    const policy = Transformer.create({ ...config, seed: 6 }); // not the reference: k3 > 0
    const batch = await collectRollouts({ policy, base, env: world.environment, episodes: 8, rng: new Rng(1), plugin: 'test', step: 0 });
    const opts = { beta: 0.1, epsilon: 0.2, epsilonHigh: 0.2, lossType: 'grpo', normalizer: 1 } as const;
    await expectNoTensorLeak(() => tf.tidy(() => grpoLoss(policy, batch, groupAdvantages(batch.scores, 4, 'group').advantages, opts).loss).dispose(), 'grpoLoss');
    // All rewards equal: every advantage is 0 and the loss is the KL term alone, β·(mean k3 over tokens).
    const zero = groupAdvantages(batch.scores.map(() => 1), 4, 'group').advantages;
    expect(zero).toEqual(batch.scores.map(() => 0));
    const [loss, kl] = tf.tidy(() => {
      const out = grpoLoss(policy, batch, zero, { ...opts, lossType: 'bnpo' });
      return [out.loss.dataSync()[0]!, out.metrics.kl!.dataSync()[0]!];
    });
    expect(kl).toBeGreaterThan(0.001); // 0.0042 measured
    expect(loss).toBeCloseTo(0.1 * kl, 6);
    [base, policy].forEach((m) => m.dispose());
  });

  it('should train without NaN on rewards that are constant in every group (frac_reward_zero_std 1)', async () => {
    const { log, w } = await run({ steps: 3, prompts: 2, numGenerations: 4, beta: 0.1, warmupSteps: 0 }, { reward: () => 2 });
    expect(log.map((m) => m['frac_reward_zero_std'])).toEqual([1, 1, 1]);
    expect(log.every((m) => Number.isFinite(m['loss']!))).toBe(true);
    expect(w.every(Number.isFinite)).toBe(true);
  });

  it('should take the same step with whole groups split over micro-batches', async () => {
    for (const lossType of ['grpo', 'dapo'] as const) {
      const one = await run({ steps: 1, prompts: 2, numGenerations: 4, lossType, warmupSteps: 0, lr: 1e-2 });
      const two = await run({ steps: 1, prompts: 2, numGenerations: 4, lossType, warmupSteps: 0, lr: 1e-2, microBatches: 2 });
      const diff = Math.max(...one.w.map((x, i) => Math.abs(x - two.w[i]!)));
      expect(diff).toBeLessThan(1e-5);
      expect(one.log[0]!['reward']).toBe(two.log[0]!['reward']);
    }
  });

  it('should end an aborted and resumed run (several iterations per batch) where an uninterrupted run ends', async () => {
    const opts = { steps: 3, prompts: 2, numGenerations: 4, numIterations: 2, lr: 1e-2, warmupSteps: 1 } satisfies GrpoOptions;
    const straight = await run(opts);
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rz-grpo-')), 'ck');
    dirs.push(path.dirname(dir));
    const first = await run(opts, { abortAt: 3, dir }); // step 3 is inside the second batch
    expect(first.report).toMatchObject({ steps: 3, aborted: true });
    const second = await run(opts, { dir });
    expect(second.report.steps).toBe(6);
    expect(second.w).toEqual(straight.w);
  });

  it('should stop with the regime and step named when the reward is not finite', async () => {
    let calls = 0;
    const reward = () => (++calls > 8 ? Number.NaN : 1);
    await expect(run({ steps: 3, prompts: 2, numGenerations: 4 }, { reward })).rejects.toMatchObject({
      code: 'NON_FINITE',
      plugin: 'regime-grpo',
      step: 1,
      // Wrapped once: plugin, hook and step, then the message.
      message: expect.stringMatching(/^\[plugin regime-grpo, hook fit, step 1\] the reward of episode 0 is NaN/),
    });
  });
});
