import { describe, expect, it } from 'vitest';
import { formatRows, run, setup, wholeVocabulary } from './experiment.js';

describe('posterior convergence runs', () => {
  it('should set up both shapes with legal ids on every example (<eos> legal once the agent may stop)', () => {
    const fixed = setup('fixed', 'sft');
    const stop = setup('stop', 'dpo');
    expect(fixed.examples).toHaveLength(27);
    expect(stop.examples).toHaveLength(4 + 16 + 64);
    expect(stop.beta).toBe(1.3);
    expect(fixed.examples.every((e) => e.legal!.every((l) => l.length === 3))).toBe(true);
    expect(stop.examples[0]!.legal!.map((l) => l.length)).toEqual([4, 5]); // a symbol, then <eos>
    expect(wholeVocabulary(stop.examples[0]!)).not.toHaveProperty('legal');
    expect(stop.fixture.pi0.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('should train a regime briefly, lower its KL to the exact answer, and format the row', async () => {
    const r = await run({ regime: 'sft', shape: 'stop', data: 500, batchSize: 32, steps: 40, lr: 3e-3, seed: 1 });
    expect(r.kl).toBeLessThan(r.start / 2);
    const table = formatRows([r]).split('\n');
    expect(table).toHaveLength(3);
    expect(table[2]).toMatch(/^\| sft \| stop \| legal ids \| 32 \| 0.003 \| 40 \| 1280 \| 0\.3147 \| /);
  });
});
