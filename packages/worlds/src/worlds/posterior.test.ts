import { Rng } from '@regime-zoo/core';
import { describe, expect, it } from 'vitest';
import { generateEpisodes } from '../dataset.js';
import { thrown } from '../test-helpers.js';
import { ids, render } from '../vocabulary.js';
import { klDivergence, posteriorWorld } from './posterior.js';

describe('posterior world', () => {
  it('should enumerate every sequence of length minLength … maxLength, with its episode tokens', () => {
    expect(posteriorWorld().enumerate()).toHaveLength(4 + 16 + 64 + 256);
    const w = posteriorWorld({ symbols: 3, maxLength: 3, reward: (x) => x.length });
    const all = w.enumerate();
    expect(all).toHaveLength(3 + 9 + 27);
    expect(all.map((s) => s.index)).toEqual(all.map((_, i) => i));
    expect(render(all[0]!.tokens)).toBe('<bos> <sep> x0 <eos>');
    expect(all[0]!.actionMask).toEqual([false, false, true, true]); // the agent chose <eos>
    expect(all[all.length - 1]!.actionMask).toEqual([false, false, true, true, true, false]); // the world ended it
    // Legal ids per action: symbols only before minLength (1), then <eos> too; none after the world ends it.
    expect(all[0]!.legal.map((l) => render(l))).toEqual(['x0 x1 x2', 'x0 x1 x2 <eos>']);
    expect(all[all.length - 1]!.legal.map((l) => render(l))).toEqual(['x0 x1 x2', 'x0 x1 x2 <eos>', 'x0 x1 x2 <eos>']);
    for (const s of all) expect(w.evaluate(s.tokens)).toMatchObject({ visible: s.reward, hidden: s.reward, done: true, steps: s.x.length + (s.x.length < 3 ? 1 : 0) });
    expect(posteriorWorld({ symbols: 2, maxLength: 2, minLength: 0 }).enumerate().map((s) => s.x.join(''))).toEqual(['', '0', '1', '00', '01', '10', '11']);
  });

  it('should compute π*(x) ∝ π₀(x)·exp(r(x)/β) exactly (hand-computed cases)', () => {
    // Fixed length 2 over {x0, x1}, r = number of x0: sequences 00, 01, 10, 11 with r = 2, 1, 1, 0.
    const w = posteriorWorld({ symbols: 2, maxLength: 2, minLength: 2 });
    expect(w.enumerate().map((s) => [s.x.join(''), s.reward])).toEqual([['00', 2], ['01', 1], ['10', 1], ['11', 0]]);
    // Uniform π₀, β = 1: [e², e, e, 1] / (e + 1)².
    const uniform = w.exactPosterior(w.uniform(), 1);
    [0.534446645388523, 0.19661193324148185, 0.19661193324148185, 0.07232948812851327].forEach((p, i) => expect(uniform[i]).toBeCloseTo(p, 12));
    // π₀ = [0.1, 0.2, 0.3, 0.4], β = 0.5: [0.1e⁴, 0.2e², 0.3e², 0.4] normalised.
    const skewed = w.exactPosterior([0.1, 0.2, 0.3, 0.4], 0.5);
    [0.5714484997192916, 0.15467428912929543, 0.23201143369394311, 0.04186577745746985].forEach((p, i) => expect(skewed[i]).toBeCloseTo(p, 12));
    // A function of the sequence, unnormalised, gives the same.
    expect(Array.from(w.exactPosterior((s) => [1, 2, 3, 4][s.index]!, 0.5))).toEqual(Array.from(skewed).map((p) => expect.closeTo(p, 12)));
    // β → ∞ returns π₀; small β concentrates on the best sequence.
    expect(klDivergence(w.exactPosterior([0.1, 0.2, 0.3, 0.4], 1e9), [0.1, 0.2, 0.3, 0.4])).toBeLessThan(1e-12);
    expect(w.exactPosterior(w.uniform(), 0.01)[0]).toBeCloseTo(1, 12);
  });

  it('should give π(x) of an autoregressive policy, matching the environment sampled with that policy', () => {
    const w = posteriorWorld({ symbols: 2, maxLength: 2, minLength: 1 });
    const u = w.uniform();
    expect(w.enumerate().map((s) => s.x.join(''))).toEqual(['0', '1', '00', '01', '10', '11']);
    Array.from(u).forEach((p) => expect(p).toBeCloseTo(1 / 6, 12)); // 1/2 then 1/3 for each of x0, x1, <eos>
    // A policy that prefers x0 two to one and stops with weight 1.
    const policy = (_prefix: readonly number[], legal: readonly number[]) => legal.map((a) => (a === ids('x0')[0] ? 2 : 1));
    const pi = w.probabilities(policy);
    expect(pi.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(pi[0]).toBeCloseTo((2 / 3) * (1 / 4), 12); // x0 then <eos>
    expect(pi[2]).toBeCloseTo((2 / 3) * (2 / 4), 12); // x0 x0
    const env = w.environment('id');
    const rng = new Rng(5);
    const counts = new Float64Array(pi.length);
    const index = new Map(w.enumerate().map((s) => [render(s.tokens), s.index]));
    for (let n = 0; n < 6000; n++) {
      const reset = env.reset(rng);
      let state = reset.state;
      const tokens = [...reset.tokens];
      for (;;) {
        const legal = env.legalActions(state);
        const weights = policy(tokens, legal);
        const a = legal[rng.categorical(weights)]!;
        const step = env.step(state, a);
        tokens.push(a, ...step.observation);
        state = step.state;
        if (step.done) break;
      }
      const i = index.get(render(tokens))!;
      counts[i] = counts[i]! + 1;
    }
    for (let i = 0; i < pi.length; i++) expect(Math.abs(counts[i]! / 6000 - pi[i]!)).toBeLessThan(0.02);
  });

  it('should serialise episodes as <bos> <sep> symbols <eos>, at most 7 tokens', () => {
    const w = posteriorWorld();
    const eps = generateEpisodes(w, { episodes: 300, seed: 1 });
    for (const e of eps) {
      expect(e.tokens.slice(0, 2)).toEqual(ids('<bos> <sep>'));
      expect(e.tokens[e.tokens.length - 1]).toBe(ids('<eos>')[0]);
      expect(e.tokens.length).toBeLessThanOrEqual(7);
      const x = e.tokens.slice(2).filter((t) => t !== ids('<eos>')[0]).map((t) => t - ids('x0')[0]!);
      expect(e.return).toBe(w.reward(x));
    }
  });

  it('should compute U(x) from tokens when given one (never by default)', () => {
    const w = posteriorWorld({ symbols: 4, unsafe: (x) => x.includes(3) });
    expect(w.unsafe(ids('<bos> <rtg:1> <sep> x0 x3 <eos>'))).toBe(true);
    expect(w.unsafe(ids('<bos> <sep> x0 x1 x2 x2 <eos>'))).toBe(false);
    expect(posteriorWorld().unsafe(ids('<bos> <sep> x3 <eos>'))).toBe(false);
  });

  it('should reject bad options and inputs', () => {
    expect(thrown(() => posteriorWorld({ symbols: 5 })).code).toBe('OPTION_INVALID');
    expect(thrown(() => posteriorWorld({ minLength: 3, maxLength: 2 })).message).toMatch(/minLength/);
    expect(thrown(() => posteriorWorld({ reward: 3 as never })).message).toMatch(/reward/);
    const w = posteriorWorld({ symbols: 2, maxLength: 1 });
    expect(thrown(() => w.exactPosterior([0.5, 0.5], 0)).field).toBe('beta');
    expect(thrown(() => w.exactPosterior([1], 1)).message).toMatch(/2 sequences/);
    expect(thrown(() => w.exactPosterior([-1, 1], 1)).position).toEqual([0]);
  });
});
