// The long-sequence table of docs/regimes/regime-grpo.md: each variant trained on posterior worlds of
// three symbols, its distance to π* and to its derived per-state fixed point, by enumeration.
//   npx -y pnpm@12.4.2 --filter @regime-zoo/regime-grpo long-sequences      (seeds fixed below)
import { createFitContext, Rng, runFit, tf, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, tiltedPosterior } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { grpoFixedPoint, grpo, type GrpoOptions } from '../src/index.js';

const betas = [1, 0.25];
const G = 8;
const worlds = [
  { name: 'length 3 (fixed)', world: posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }) },
  { name: 'length 1–3 (stop action)', world: posteriorWorld({ symbols: 3, minLength: 1, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }) },
];
const variants: { name: string; options: GrpoOptions }[] = [
  { name: 'GRPO: k3 in loss, group std, `grpo` loss', options: { scaleRewards: 'group', lossType: 'grpo' } },
  { name: 'Dr. GRPO: k3 in loss, no std, `dr_grpo` loss', options: { scaleRewards: 'none', lossType: 'dr_grpo' } },
  { name: 'GRPO, KL in reward', options: { scaleRewards: 'group', lossType: 'grpo', klInReward: true } },
  { name: 'Dr. GRPO, KL in reward', options: { scaleRewards: 'none', lossType: 'dr_grpo', klInReward: true } },
];
const training = { steps: 200, prompts: 4, numGenerations: G, lr: 3e-3, warmupSteps: 10, maxLength: 6 } satisfies GrpoOptions;

const rows: string[] = [];
for (const [w, { name, world: pw }] of worlds.entries()) {
  const world = posteriorFixture(pw);
  const examples = world.sequences.map((_, i) => world.example(i));
  const actions = examples.map((e) => e.tokens.filter((_, t) => e.targetMask[t]));
  const config = { vocabSize: worldVocabulary().size, contextLength: 8, dModel: 32, nHeads: 2, nLayers: 2, seed: 17 };
  // π(x) with the legal actions of each step (<eos> is one only where the world allows stopping).
  const distribution = (m: Transformer) => {
    const cache = new Map<string, Float32Array>();
    const next = (prefix: readonly number[]) => {
      const key = prefix.join(',');
      if (!cache.has(key)) {
        const last = tf.tidy(() => tf.slice(m.forward([prefix]).logits, [0, prefix.length - 1, 0], [1, 1, m.config.vocabSize]).dataSync() as Float32Array);
        cache.set(key, last);
      }
      return cache.get(key)!;
    };
    return Array.from(
      pw.probabilities((prefix, legal) => {
        const logits = next(prefix);
        const max = Math.max(...legal.map((id) => logits[id]!));
        return legal.map((id) => Math.exp(logits[id]! - max));
      }),
    );
  };
  for (const [b, beta] of betas.entries()) for (const [v, variant] of variants.entries()) {
    const base = Transformer.create(config, { trainable: false });
    const policy = base.clone({ trainable: true });
    const pi0 = distribution(base);
    const target = tiltedPosterior(pi0, world.rewards, beta);
    const o = { ...training, beta, ...variant.options };
    await runFit(grpo(o), createFitContext({ base, policy, rng: new Rng(100 + 100 * w + 10 * b + v), worlds: [world.environment] }));
    const pi = distribution(policy);
    const fixed = o.klInReward ? target : Array.from(grpoFixedPoint({ actions, ref: pi0, rewards: world.rewards, beta, numGenerations: G, scaleRewards: o.scaleRewards, lossType: o.lossType }).pi);
    const row = `| ${name} | ${beta} | ${variant.name} | ${klDivergence(target, pi0).toFixed(3)} | ${klDivergence(fixed, target).toFixed(3)} | ${klDivergence(fixed, pi).toFixed(4)} | ${klDivergence(target, pi).toFixed(4)} |`;
    console.error(row);
    rows.push(row);
    [base, policy].forEach((m) => m.dispose());
  }
}
console.log(`G = ${G}, ${training.steps} steps of ${training.prompts}·${G} episodes, lr ${training.lr}; seeds 17 (model), 100 + 100·world + 10·β index + variant (run)\n`);
console.log('| world | β | variant | KL(π* ‖ π₀) | KL(fixed ‖ π*) | KL(fixed ‖ π) | KL(π* ‖ π) |');
console.log('|---|---|---|---|---|---|---|');
rows.forEach((r) => console.log(r));
