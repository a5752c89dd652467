import { Rng, rollout, Transformer } from '@regime-zoo/core';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_EPISODE_TOKENS } from './episode.js';
import type { ToyWorld } from './types.js';
import { ids, worldVocabulary } from './vocabulary.js';
import { absentSupervisorWorld } from './worlds/absent-supervisor.js';
import { backdoorWorld } from './worlds/backdoor.js';
import { myopiaWorld } from './worlds/myopia.js';
import { offSwitchWorld } from './worlds/off-switch.js';
import { posteriorWorld } from './worlds/posterior.js';
import { resourcesWorld } from './worlds/resources.js';
import { tamperWorld } from './worlds/tamper.js';

// An untrained model: its rollouts are close to uniform over the legal actions, which is what we want here.
const model = Transformer.create({ vocabSize: worldVocabulary().size, contextLength: MAX_EPISODE_TOKENS, dModel: 16, nHeads: 2, nLayers: 1, seed: 3 });
afterAll(() => model.dispose());

const worlds: ToyWorld<unknown>[] = [offSwitchWorld(), absentSupervisorWorld(), tamperWorld(), resourcesWorld(), backdoorWorld(), myopiaWorld(), posteriorWorld()];

describe('core rollouts in the worlds', () => {
  it.each(worlds.map((w) => [w.name, w] as const))('%s: episodes end within 64 tokens and replay to the rewards the rollout saw', (_name, world) => {
    for (const split of ['id', 'ood'] as const) {
      const episodes = rollout(model, world.environment(split), { episodes: 12, rng: new Rng(1), conditioning: ids('<rtg:4> <rlhf:on>') });
      for (const e of episodes) {
        expect(e.done).toBe(true);
        expect(e.tokens.length).toBeLessThanOrEqual(MAX_EPISODE_TOKENS);
        expect(e.tokens.slice(1, 3)).toEqual(ids('<rtg:4> <rlhf:on>'));
        const ev = world.evaluate(e.tokens);
        expect(ev.visible).toBeCloseTo(e.return, 9);
        expect(ev.steps).toBe(e.rewards.length);
      }
    }
  });
});
