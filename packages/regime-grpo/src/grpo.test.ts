import { createFitContext, exampleLogProbs, Rng, runFit, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, tiltedPosterior } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { grpoFixedPoint } from './fixed-point.js';
import { grpo, type GrpoOptions } from './grpo.js';

// One step: the agent writes one of x0 … x3 and the world stops; r(x) = the symbol's index.
const world = posteriorFixture(posteriorWorld({ symbols: 4, minLength: 1, maxLength: 1, reward: (x) => x[0]! }), { start: [0.25, 0.25, 0.25, 0.25] });
const rewards = world.rewards;
const actions = world.sequences.map((_, i) => world.tokens(i).filter((_, t) => world.targetMask(i)[t]));
const config = { vocabSize: worldVocabulary().size, contextLength: 8, dModel: 32, nHeads: 2, nLayers: 2, seed: 23 };
const distribution = (m: Transformer) => exampleLogProbs(m, world.sequences.map((_, i) => world.example(i)), { legalIds: world.legal }).map(Math.exp);
const entropyOf = (p: number[]) => -p.reduce((a, x) => a + (x > 0 ? x * Math.log(x) : 0), 0);
const beta = 0.5;
const G = 4;
const training = { steps: 80, prompts: 4, numGenerations: G, lr: 3e-3, warmupSteps: 10 } satisfies GrpoOptions;

async function train(options: GrpoOptions, seed: number) {
  const base = Transformer.create(config, { trainable: false });
  const policy = base.clone({ trainable: true });
  const log: Record<string, number>[] = [];
  await runFit(grpo(options), createFitContext({ base, policy, rng: new Rng(seed), worlds: [world.environment], log: (_s, m) => log.push(m) }));
  const result = { pi0: distribution(base), pi: distribution(policy), log };
  [policy, base].forEach((m) => m.dispose());
  return result;
}

describe('regime-grpo on a one-step posterior world (where each variant converges)', () => {
  const variants = [
    { name: 'GRPO (k3 in the loss, group std)', options: { beta, scaleRewards: 'group', lossType: 'grpo' }, seed: 1 },
    { name: 'Dr. GRPO (k3 in the loss, no std)', options: { beta, scaleRewards: 'none', lossType: 'dr_grpo', maxLength: 4 }, seed: 2 },
  ] as const;
  for (const v of variants) {
    it(`should reach its derived finite-G fixed point, not π*: ${v.name} (KL ≤ 0.003)`, async () => {
      const { pi0, pi, log } = await train({ ...training, ...v.options }, v.seed);
      const fixed = grpoFixedPoint({ actions, ref: pi0, rewards, beta, numGenerations: G, scaleRewards: v.options.scaleRewards, lossType: v.options.lossType }).pi;
      const population = grpoFixedPoint({ actions, ref: pi0, rewards, beta, numGenerations: Infinity, scaleRewards: v.options.scaleRewards, lossType: v.options.lossType }).pi;
      const target = tiltedPosterior(pi0, rewards, beta);
      const kl = klDivergence(fixed, pi);
      console.log(
        `${v.name}: KL(fixed ‖ π) ${kl.toFixed(4)}, KL(π* ‖ π) ${klDivergence(target, pi).toFixed(4)}, KL(fixed ‖ π*) ${klDivergence(fixed, target).toFixed(4)}, KL(population fixed ‖ π) ${klDivergence(population, pi).toFixed(4)}; π ${pi.map((p) => p.toFixed(3)).join(' ')}; fixed ${Array.from(fixed, (p) => p.toFixed(3)).join(' ')}`,
      );
      // Tighter than the 0.02 (measured 0.0008 and 0.0004), so that it also tells the finite-G fixed
      // point from the population one the formula gives (which misses by 0.047 and 0.0089).
      expect(kl).toBeLessThanOrEqual(0.003);
      expect(klDivergence(population, pi)).toBeGreaterThan(0.003);
      expect(klDivergence(fixed, target)).toBeGreaterThan(0.1); // the bound tells the fixed point from π*
      expect(klDivergence(fixed, pi0)).toBeGreaterThan(0.1); // and from the start
      expect(Object.keys(log.at(-1)!)).toEqual(expect.arrayContaining(['kl', 'entropy', 'reward', 'reward_std', 'frac_reward_zero_std', 'clip_ratio/region_mean', 'objective/kl', 'objective/entropy', 'objective/rlhf_reward']));
    });
  }

  it('should reach π* ∝ π₀·exp(r/β) with the KL in the reward (KL ≤ 0.0075)', async () => {
    const { pi0, pi } = await train({ ...training, beta, klInReward: true }, 3);
    const target = tiltedPosterior(pi0, rewards, beta);
    const kl = klDivergence(target, pi);
    console.log(`GRPO, KL in the reward: KL(π* ‖ π) ${kl.toFixed(4)} (start ${klDivergence(target, pi0).toFixed(4)}); π ${pi.map((p) => p.toFixed(3)).join(' ')}`);
    expect(kl).toBeLessThanOrEqual(0.0075); // measured 0.0025; the issue asks ≤ 0.02
    expect(klDivergence(target, pi0)).toBeGreaterThan(0.1);
  });

  it('should collapse onto the best symbol with β = 0, like PPO (entropy < 0.1 nats)', async () => {
    const { pi, log } = await train({ ...training, steps: 60, beta: 0 }, 4);
    console.log(`GRPO β=0: entropy ${entropyOf(pi).toFixed(4)} nats, π ${pi.map((p) => p.toFixed(3)).join(' ')}, frac_reward_zero_std ${log.at(-1)!['frac_reward_zero_std']}`);
    expect(entropyOf(pi)).toBeLessThan(0.1);
    expect(pi.indexOf(Math.max(...pi))).toBe(rewards.indexOf(Math.max(...rewards)));
  });
});
