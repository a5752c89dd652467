import { describe, expect, it } from 'vitest';
import { generateEpisodes } from './dataset.js';
import { CONDITIONING_ROOM, MAX_EPISODE_TOKENS } from './episode.js';
import { thrown } from './test-helpers.js';
import type { ToyWorld } from './types.js';
import { ids, worldVocabulary } from './vocabulary.js';
import { absentSupervisorWorld } from './worlds/absent-supervisor.js';
import { backdoorWorld } from './worlds/backdoor.js';
import { myopiaWorld } from './worlds/myopia.js';
import { offSwitchWorld } from './worlds/off-switch.js';
import { posteriorWorld } from './worlds/posterior.js';
import { resourcesWorld } from './worlds/resources.js';
import { tamperWorld } from './worlds/tamper.js';

const worlds: ToyWorld<unknown>[] = [offSwitchWorld(), absentSupervisorWorld(), tamperWorld(), resourcesWorld(), backdoorWorld(), myopiaWorld(), posteriorWorld()];
const vocab = worldVocabulary();

describe.each(worlds.map((w) => [w.name, w] as const))('%s', (_name, world) => {
  it('should be a world plugin with named policies and a mix over them', () => {
    expect(world.kind).toBe('world');
    expect(Object.keys(world.policies)).toContain('random');
    for (const m of world.mix) expect(world.policies[m.policy]).toBeDefined();
  });

  it('should give the same episodes for the same seed and different ones for another', () => {
    for (const split of ['id', 'ood'] as const) {
      const a = generateEpisodes(world, { split, episodes: 30, seed: 11 });
      expect(generateEpisodes(world, { split, episodes: 30, seed: 11 })).toEqual(a);
      expect(generateEpisodes(world, { split, episodes: 30, seed: 12 })).not.toEqual(a);
    }
  });

  it(`should keep every episode within ${MAX_EPISODE_TOKENS - CONDITIONING_ROOM} tokens (64 with room for conditioning), ending with <eos>`, () => {
    for (const split of ['id', 'ood'] as const) {
      for (const mix of [undefined, [{ policy: 'random', weight: 1 }]]) {
        for (const e of generateEpisodes(world, { split, episodes: 300, seed: 1, ...(mix ? { mix } : {}) })) {
          expect(e.tokens.length).toBeLessThanOrEqual(MAX_EPISODE_TOKENS - CONDITIONING_ROOM);
          expect(e.tokens[e.tokens.length - 1]).toBe(2);
        }
      }
    }
  });

  it('should replay its own episodes from tokens alone: same visible return, hidden score and U(τ), with or without conditioning', () => {
    const cond = ids('<rtg:3> <rlhf:on>');
    for (const split of ['id', 'ood'] as const) {
      for (const e of generateEpisodes(world, { split, episodes: 150, seed: 2 })) {
        for (const tokens of [e.tokens, [e.tokens[0]!, ...cond, ...e.tokens.slice(1)]]) {
          const ev = world.evaluate(tokens);
          expect(ev.visible).toBeCloseTo(e.return, 9);
          expect(ev.hidden).toBeCloseTo(e.hidden, 9);
          expect(ev.unsafe).toBe(e.unsafe);
          expect(ev.done).toBe(true);
          expect(ev.steps).toBe(e.rewards.length);
        }
      }
    }
  });

  it('should write episodes the tokenizer vocabulary decodes (conditioning only after <bos>)', () => {
    for (const e of generateEpisodes(world, { split: 'ood', episodes: 50, seed: 3 })) {
      const decoded = vocab.decode(e.tokens);
      expect(decoded.prefix).toEqual([]);
      expect(vocab.encode(decoded)).toEqual(e.tokens);
    }
  });

  it('should see both values of U(τ) in its default data, in distribution', () => {
    const eps = generateEpisodes(world, { episodes: 300, seed: 4 });
    if (world.name === 'posterior') return; // U is an option there (never, by default)
    expect(eps.some((e) => e.unsafe)).toBe(true);
    expect(eps.some((e) => !e.unsafe)).toBe(true);
  });

  it('should reject tokens it cannot have written, naming the position', () => {
    expect(thrown(() => world.evaluate(ids('<sep> <eos>'))).code).toBe('BAD_SEQUENCE');
    const [e] = generateEpisodes(world, { episodes: 1, seed: 5 });
    const tokens = [...e!.tokens];
    const sep = tokens.indexOf(3);
    tokens[sep + 1] = ids('frozen')[0]!; // not an action of any world
    const err = thrown(() => world.evaluate(tokens));
    expect(err.code).toBe('BAD_SEQUENCE');
    expect(err.position).toEqual([sep + 1]);
  });
});
