import { createFitContext, exampleLogProbs, Rng, runFit, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, tiltedPosterior } from '@regime-zoo/test-utils';
import { describe, expect, it } from 'vitest';
import { ppo } from './ppo.js';

const world = posteriorFixture();
const rewards = world.sequences.map(world.reward);
const best = rewards.indexOf(Math.max(...rewards));
const config = { vocabSize: 16, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 19 };
const distribution = (m: Transformer) =>
  exampleLogProbs(m, world.sequences.map((x) => ({ tokens: world.tokens(x), targetMask: world.targetMask(x) })), { legalIds: world.legal }).map(Math.exp);
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
});
