import { createFitContext, exampleLogProbs, findCheckpoint, Rng, runFit, tf, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, stopChoiceWorld, tiltedPosterior } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { ppo } from './ppo.js';

const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const rewards = world.rewards;
const best = rewards.indexOf(Math.max(...rewards));
const config = { vocabSize: worldVocabulary().size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 19 };
/** π(x) of every enumerated sequence, over each action's legal ids (as rollouts sample it). */
const distribution = (m: Transformer, w = world) => exampleLogProbs(m, w.sequences.map((_, i) => w.example(i))).map(Math.exp);
const entropyOf = (p: number[]) => -p.reduce((a, x) => a + (x > 0 ? x * Math.log(x) : 0), 0);

describe('regime-ppo (Korbak et al.: reward maximisation is not conditioning)', () => {
  it('should collapse onto a maximum-reward sequence with KL coefficient 0 (entropy < 0.1 nats)', async () => {
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    const log: Record<string, number>[] = [];
    await runFit(ppo({ steps: 40, episodes: 32, lr: 3e-3, warmupSteps: 5 }), createFitContext({ base, policy, rng: new Rng(2), worlds: [world.environment], log: (_s, m) => log.push(m) }));
    const p = distribution(policy);
    console.log(`PPO β=0: entropy ${entropyOf(p).toFixed(4)} nats, mode ${world.sequences[p.indexOf(Math.max(...p))]!.join('')}, clipfrac ${log.at(-1)!['policy/clipfrac_avg']!.toFixed(3)}`);
    expect(entropyOf(p)).toBeLessThan(0.1);
    expect(p.indexOf(Math.max(...p))).toBe(best);
    expect(Object.keys(log[0]!)).toEqual(expect.arrayContaining(['objective/kl', 'objective/entropy', 'objective/rlhf_reward', 'policy/clipfrac_avg', 'val/ratio']));
    [policy, base].forEach((m) => m.dispose());
  });

  it('should approach π* ∝ π₀·exp(r/β) with KL coefficient β (KL ≤ 0.1 nats)', async () => {
    const beta = 1;
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    const target = tiltedPosterior(distribution(base), rewards, beta);
    await runFit(ppo({ steps: 60, episodes: 64, klCoef: beta, lr: 3e-3, warmupSteps: 5 }), createFitContext({ base, policy, rng: new Rng(3), worlds: [world.environment] }));
    const kl = klDivergence(target, distribution(policy));
    console.log(`PPO β=${beta}: KL(π*‖π) ${kl.toFixed(4)} (start ${klDivergence(target, distribution(base)).toFixed(4)})`);
    expect(kl).toBeLessThanOrEqual(0.1);
    [policy, base].forEach((m) => m.dispose());
  });

  it('should approach π* with KL coefficient β on a world with a stop choice and a reward that is not a count (KL ≤ 0.025)', async () => {
    const stop = posteriorFixture(posteriorWorld(stopChoiceWorld.world), stopChoiceWorld.pi0);
    const beta = stopChoiceWorld.beta;
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    const target = tiltedPosterior(distribution(base, stop), stop.rewards, beta);
    await runFit(ppo({ steps: 60, episodes: 64, klCoef: beta, lr: 3e-3, warmupSteps: 5 }), createFitContext({ base, policy, rng: new Rng(3), worlds: [stop.environment] }));
    const kl = klDivergence(target, distribution(policy, stop));
    console.log(`PPO stop world β=${beta}: KL(π*‖π) ${kl.toFixed(4)} (start ${klDivergence(target, distribution(base, stop)).toFixed(4)})`);
    expect(kl).toBeLessThanOrEqual(0.025);
    [policy, base].forEach((m) => m.dispose());
  });
});

describe('regime-ppo runs', () => {
  const weights = async (m: Transformer) => (await Promise.all(m.variables().map((v) => v.data()))).flatMap((d) => Array.from(d as Float32Array));

  it('should end an aborted and resumed run exactly where an uninterrupted run ends (same seed)', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const opts = { steps: 3, episodes: 8, ppoEpochs: 2, lr: 3e-3, warmupSteps: 1 };
    const run = async (abortAt?: number, dir?: string) => {
      const base = Transformer.create(config, { trainable: false });
      const policy = base.clone({ trainable: true });
      const ac = new AbortController();
      const ctx = createFitContext({ base, policy, rng: new Rng(9), worlds: [world.environment], signal: ac.signal, ...(dir ? { checkpointDir: dir } : {}), progress: (e) => abortAt !== undefined && e.step === abortAt && ac.abort() });
      const report = await runFit(ppo(opts), ctx);
      return { report, base, policy, ctx };
    };
    const straight = await run();
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rz-ppo-')), 'ck');
    const first = await run(3, dir); // step 3 is in the middle of the second batch (2 epochs per batch)
    expect(first.report).toMatchObject({ steps: 3, aborted: true });
    // A fresh process would rebuild everything: new models, same seed, resume from the folder.
    const second = await run(undefined, dir);
    expect(second.report.steps).toBe(6);
    const [a, b] = [await weights(straight.policy), await weights(second.policy)];
    expect(a.length).toBe(b.length);
    expect(a.every((x, i) => x === b[i])).toBe(true);
    for (const r of [straight, first, second]) [r.base, r.policy].forEach((m) => m.dispose());
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('should stop with the regime and step named when the reward throws or is NaN, keeping the last checkpoint', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rz-ppo-')), 'ck');
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    let calls = 0;
    const reward = () => (++calls > 16 ? Number.NaN : 1);
    const ctx = createFitContext({ base, policy, rng: new Rng(1), worlds: [world.environment], reward, checkpointDir: dir });
    await expect(runFit(ppo({ steps: 3, episodes: 8, ppoEpochs: 1, checkpointEvery: 1 }), ctx)).rejects.toMatchObject({
      code: 'NON_FINITE',
      plugin: 'regime-ppo',
      step: 2,
      // Wrapped once: plugin, hook and step, then the message (no second "[regime-ppo] step 2:").
      message: expect.stringMatching(/^\[plugin regime-ppo, hook fit, step 2\] the reward of episode 0 is NaN/),
    });
    expect(JSON.parse(fs.readFileSync(path.join((await findCheckpoint(dir))!.folder, 'model.json'), 'utf8')).step).toBe(2);
    const throwing = () => {
      throw new Error('reward model offline');
    };
    await expect(runFit(ppo({ steps: 1, episodes: 4 }), { ...ctx, reward: throwing, checkpointDir: undefined })).rejects.toMatchObject({
      plugin: 'regime-ppo',
      message: expect.stringContaining('the reward function threw: reward model offline'),
    });
    expect(() => ppo({ clip: 0 })).toThrow(/\[regime-ppo\] options\.clip/);
    // batchSize would be ignored (a step trains on the whole rollout batch): it is not an option.
    expect(() => ppo({ batchSize: 8 } as never)).toThrow(expect.objectContaining({ code: 'OPTION_INVALID', plugin: 'regime-ppo' }));
    expect(() => ppo({ batchSize: 8 } as never)).toThrow(/batchSize/);
    expect(() => ppo({ episodes: 8, microBatches: 9 })).toThrow(expect.objectContaining({ code: 'OPTION_INVALID', field: 'microBatches' }));
    expect(() => ppo({ lambda: 2 })).toThrow(/options\.lambda/);
    [policy, base].forEach((m) => m.dispose());
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('should split a rollout batch between micro-batches instead of computing it once per micro-batch', async () => {
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    const rows: number[] = [];
    const forward = policy.forward.bind(policy);
    policy.forward = (tokens, options) => {
      rows.push(tokens instanceof tf.Tensor ? tokens.shape[0] : tokens.length);
      return forward(tokens, options);
    };
    await runFit(ppo({ steps: 1, episodes: 8, ppoEpochs: 1, microBatches: 2 }), createFitContext({ base, policy, rng: new Rng(5), worlds: [world.environment] }));
    // The rollout batch's log-probs and values (8 rows), then one loss per micro-batch of 4 episodes.
    expect(rows).toEqual([8, 4, 4]);
    [policy, base].forEach((m) => m.dispose());
  });
});
