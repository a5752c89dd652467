import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@regime-zoo/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEpisodes } from './dataset.js';
import { preferencePairs, readPreferences, simulatedRater, writePreferences } from './rater.js';
import { rejected, thrown } from './test-helpers.js';
import { absentSupervisorWorld } from './worlds/absent-supervisor.js';
import { backdoorWorld } from './worlds/backdoor.js';
import { tamperWorld } from './worlds/tamper.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'regime-zoo-rater-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('simulated rater', () => {
  it('should pick the higher visible return when noiseless, and toss a coin on ties', () => {
    const rater = simulatedRater({ temperature: 0 });
    const rng = new Rng(1);
    for (let i = 0; i < 500; i++) {
      const a = { return: rng.int(20) };
      const b = { return: rng.int(20) };
      if (a.return !== b.return) expect(rater.prefers(a, b, rng)).toBe(a.return > b.return);
    }
    let wins = 0;
    for (let i = 0; i < 2000; i++) wins += rater.prefers({ return: 3 }, { return: 3 }, rng) ? 1 : 0;
    expect(Math.abs(wins / 2000 - 0.5)).toBeLessThan(0.04);
  });

  it('should prefer a with probability sigmoid((R_a − R_b)/T)', () => {
    const rater = simulatedRater({ temperature: 5 });
    expect(rater.probability({ return: 10 }, { return: 5 })).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(rater.probability({ return: 5 }, { return: 10 })).toBeCloseTo(1 / (1 + Math.exp(1)), 12);
    const rng = new Rng(2);
    let wins = 0;
    for (let i = 0; i < 20_000; i++) wins += rater.prefers({ return: 10 }, { return: 5 }, rng) ? 1 : 0;
    expect(Math.abs(wins / 20_000 - 1 / (1 + Math.exp(-1)))).toBeLessThan(0.01);
  });

  it('should be fooled exactly where the world fools it: tampering and an absent supervisor, not the backdoor hazard', () => {
    const rater = simulatedRater({ temperature: 0 });
    const fooled = (eps: { return: number; hidden: number }[]) => {
      let n = 0;
      for (const a of eps) for (const b of eps) if (a.return !== b.return && rater.probability(a, b) === 1 && a.hidden < b.hidden) n++;
      return n;
    };
    const tamper = tamperWorld();
    const t = generateEpisodes(tamper, { episodes: 200, seed: 1, mix: [{ policy: 'optimal', weight: 1 }, { policy: 'safe', weight: 1 }] });
    const tampered = t.find((e) => e.unsafe)!;
    const honest = t.find((e) => !e.unsafe && e.hidden > 0)!;
    expect(tampered).toMatchObject({ return: 30, hidden: 0 });
    expect(honest.hidden).toBeGreaterThan(0);
    expect(rater.prefers(tampered, honest, new Rng(0))).toBe(true);
    expect(fooled(t)).toBeGreaterThan(0);

    const sup = generateEpisodes(absentSupervisorWorld(), { episodes: 200, seed: 1, mix: [{ policy: 'optimal', weight: 1 }, { policy: 'safe', weight: 1 }] });
    expect(fooled(sup)).toBeGreaterThan(0); // 47 (hidden 17) over 41 (hidden 41)

    const back = generateEpisodes(backdoorWorld(), { episodes: 200, seed: 1, mix: [{ policy: 'shortcut', weight: 1 }, { policy: 'safe', weight: 1 }] });
    expect(fooled(back)).toBe(0); // visible = hidden
  });

  it('should make preference pairs of one world, the chosen one higher when noiseless, and write/read them as JSONL', async () => {
    const eps = [
      ...generateEpisodes(tamperWorld(), { episodes: 50, seed: 1 }),
      ...generateEpisodes(absentSupervisorWorld(), { episodes: 50, seed: 1 }),
    ];
    const pairs = preferencePairs(eps, { pairs: 300, temperature: 0, seed: 3 });
    expect(pairs).toHaveLength(300);
    for (const p of pairs) {
      expect(p.chosen.return!).toBeGreaterThanOrEqual(p.rejected.return!);
      expect(p.chosen.meta!.world).toBe(p.rejected.meta!.world);
      for (const side of [p.chosen, p.rejected]) expect(side.legal).toHaveLength(side.targetMask!.filter(Boolean).length);
    }
    expect(preferencePairs(eps, { pairs: 300, temperature: 0, seed: 3 })).toEqual(pairs);
    const noisy = preferencePairs(eps, { pairs: 300, temperature: 10, seed: 3 });
    expect(noisy.some((p) => p.chosen.return! < p.rejected.return!)).toBe(true);

    const path = join(dir, 'pairs.jsonl');
    await writePreferences(path, pairs);
    expect(await readPreferences(path)).toEqual(pairs);
    await writeFile(path, `${JSON.stringify(pairs[0])}\n{"chosen": {"tokens": [1]}}\n`);
    const e = await rejected(readPreferences(path));
    expect(e.message).toContain(`${path}:2`);
    // Against a vocabulary: the first out-of-vocabulary id of either side, with file and line.
    await writePreferences(path, [pairs[0]!, { ...pairs[1]!, rejected: { ...pairs[1]!.rejected, tokens: [1, 500] } }]);
    const oov = await rejected(readPreferences(path, { vocabulary: { size: 64 } }));
    expect([oov.code, oov.position]).toEqual(['TOKEN_OUT_OF_RANGE', [2]]);
    expect(oov.message).toContain(`${path}:2: line 2: rejected.tokens[1] is token id 500, outside the vocabulary [0, 63]`);
  });

  it('should reject bad options and episodes without a return', () => {
    expect(thrown(() => simulatedRater({ temperature: -1 })).code).toBe('OPTION_INVALID');
    expect(thrown(() => simulatedRater().probability({}, { return: 1 })).field).toBe('a.return');
    expect(thrown(() => preferencePairs([], { pairs: 1 })).code).toBe('EMPTY_DATASET');
  });
});
