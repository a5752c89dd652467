import { Rng, rollout, Transformer } from '@regime-zoo/core';
import { BOS_ID, createVocabulary, SEP_ID } from '@regime-zoo/tokenizer';
import { describe, expect, it } from 'vitest';
import { generateEpisodes } from './dataset.js';
import { splitEpisode } from './episode.js';
import { createGridKit, parseGrid, type GridRules, type GridState } from './grid.js';
import { randomPolicy } from './policies.js';
import { thrown } from './test-helpers.js';
import type { ToyWorld } from './types.js';
import { ids, isConditioning, render, tokenId, worldVocabulary } from './vocabulary.js';
import { assembleWorld } from './world.js';

// A world whose maps start with a symbol the user added to the shared vocabulary: the well `W`.
const vocab = worldVocabulary().extend({ symbols: ['W'] });
const grid = createGridKit({ vocabulary: vocab });
const W = vocab.id('W');
const rules: GridRules<GridState> = {
  name: 'wells',
  timeLimit: 6,
  stepCost: -1,
  passable: () => true,
  enter: (s, cell) => (cell === 'G' ? { state: s, reward: 10, hidden: 10, done: true } : cell === 'W' ? { state: s, reward: 3, hidden: -5 } : { state: s }),
};
const maps = [grid.parse(['W.A.G', '.....']), grid.parse(['W...G', '..A..'])];
const unsafe = (tokens: readonly number[]) => splitEpisode(tokens, 'wells', vocab).rest.includes(W);
const wells: ToyWorld<GridState> = {
  name: 'wells',
  kind: 'world',
  ...assembleWorld<GridState>({
    name: 'wells',
    vocabulary: vocab,
    reset: (_split, rng) => {
      const map = maps[rng.int(maps.length)]!;
      return { state: grid.start(map, {}), tokens: [BOS_ID, ...grid.tokens(map), SEP_ID] };
    },
    legalActions: (s) => grid.legal(rules, s),
    step: (s, a) => grid.step(rules, s, a),
    fromTokens: (tokens) => grid.start(grid.fromTokens(splitEpisode(tokens, 'wells', vocab).prompt, 'wells'), {}),
    unsafe,
    features: (r) => ({ wells: r.rewards.filter((x) => x === 2).length }),
    policies: { random: randomPolicy() },
    mix: [{ policy: 'random', epsilon: 0, weight: 1 }],
  }),
};

describe('a symbol added with extend({ symbols })', () => {
  it('should be a world symbol, not conditioning, for every helper given the vocabulary', () => {
    expect(W).toBe(worldVocabulary().size); // the first id after the built-in conditioning namespaces
    expect(isConditioning(W, vocab)).toBe(false);
    expect(isConditioning(vocab.id('<rtg:2>'), vocab)).toBe(true);
    expect(isConditioning(vocab.size, vocab)).toBe(true); // ids past the vocabulary: a later extension's namespaces
    expect(tokenId('W', vocab)).toBe(W);
    expect(ids('<bos> <rtg:2> W . A <sep>', vocab)).toEqual([BOS_ID, vocab.id('<rtg:2>'), W, tokenId('.'), tokenId('A'), SEP_ID]);
    expect(render([BOS_ID, vocab.id('<rtg:2>'), W, SEP_ID], vocab)).toBe('<bos> <rtg:2> W <sep>');
    const parts = splitEpisode(ids('<bos> <rlhf:on> W . A <sep> left W', vocab), 'wells', vocab);
    expect(parts.prefix).toEqual(ids('<rlhf:on>', vocab));
    expect(parts.prompt).toEqual(ids('W . A', vocab));
  });

  it('should round-trip episodes whose map starts with it through tokens, splitEpisode and evaluate, with or without conditioning', () => {
    const episodes = generateEpisodes(wells, { episodes: 200, seed: 1 });
    expect(episodes.some((e) => e.unsafe) && episodes.some((e) => !e.unsafe)).toBe(true);
    const cond = ids('<rtg:3> <rlhf:on>', vocab);
    for (const e of episodes) {
      expect(e.tokens[1]).toBe(W);
      expect(vocab.encode(vocab.decode(e.tokens))).toEqual(e.tokens);
      for (const tokens of [e.tokens, [BOS_ID, ...cond, ...e.tokens.slice(1)]]) {
        const { prompt } = splitEpisode(tokens, 'wells', vocab);
        expect(prompt[0]).toBe(W);
        const ev = wells.evaluate(tokens);
        expect(ev).toMatchObject({ visible: e.return, hidden: e.hidden, unsafe: e.unsafe, done: true, steps: e.rewards.length });
      }
    }
  });

  it('should replay rollouts of a model sized from the extended vocabulary, conditioned or not', () => {
    const model = Transformer.create({ vocabSize: vocab.size, contextLength: 64, dModel: 16, nHeads: 2, nLayers: 1, seed: 2 });
    const eps = rollout(model, wells.environment('id'), { episodes: 16, rng: new Rng(3), conditioning: ids('<rtg:4>', vocab) });
    for (const e of eps) {
      expect(e.tokens.slice(1, 3)).toEqual([vocab.id('<rtg:4>'), W]);
      expect(wells.evaluate(e.tokens).visible).toBeCloseTo(e.return, 9);
    }
    model.dispose();
  });

  it('should be a grid cell of the kit made for the vocabulary, with errors that say how to add a cell', () => {
    expect(parseGrid(['W.A.G'], 'map', { vocabulary: vocab }).cells).toEqual(['W', '.', '.', '.', 'G']);
    expect(grid.cells).toContain('W');
    const builtIn = thrown(() => parseGrid(['W.A.G']));
    expect(builtIn.code).toBe('OPTION_INVALID');
    expect(builtIn.message).toBe("map: row 0 column 0: 'W' is not a map cell; cells are . # G P S I B O K D E F X (and A, the start)");
    const unknown = thrown(() => createGridKit().cellId('W'));
    expect(unknown.message).toMatch(/add it to the vocabulary \(vocabulary\.extend\(\{ symbols: \['W'\] \}\)\) and pass that vocabulary to createGridKit/);
    // Only the cells asked for; a vocabulary without the moves is refused.
    expect(thrown(() => createGridKit({ vocabulary: vocab, cells: ['.', 'G'] }).parse(['W.A.G'])).message).toMatch(/'W' is not a map cell; cells are \. G/);
    expect(thrown(() => createGridKit({ vocabulary: vocab, cells: ['Q'] })).message).toMatch(/cells\[0\] 'Q' is not in the vocabulary; add it first/);
    const bare = thrown(() => createGridKit({ vocabulary: createVocabulary({ symbols: ['.', '|', 'A'] }) }));
    expect(bare).toMatchObject({ code: 'OPTION_INVALID', symbol: 'up' });
    // A vocabulary of one's own, with other ids: moves and cells are looked up in it.
    const own = createVocabulary({ symbols: ['right', 'left', 'down', 'up', '|', 'A', '.', 'G'] });
    const kit = createGridKit({ vocabulary: own });
    const m = kit.parse(['A.G']);
    expect(render(kit.tokens(m), own)).toBe('A . G');
    const s = kit.start(m, {});
    const r: GridRules<GridState> = { ...rules, name: 'own' };
    expect(kit.legal(r, s)).toEqual([own.id('right')]);
    expect(kit.step(r, s, own.id('right')).observation).toEqual([own.id('.')]);
  });
});
