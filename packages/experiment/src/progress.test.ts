import { describe, expect, it } from 'vitest';
import { progressReporter } from './progress.js';

describe('progress', () => {
  it('should print plain lines when not on a terminal: start, each tenth of the steps, skip and done', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const p = progressReporter(stream);
    p.update({ stage: 'data/seed-1', step: 0, total: 0, event: 'skip' });
    p.update({ stage: 'arm/dpo/seed-1', step: 0, total: 0, event: 'start' });
    for (let step = 1; step <= 20; step++) p.update({ stage: 'arm/dpo/seed-1', step, total: 20, event: 'step' });
    p.update({ stage: 'arm/dpo/seed-1', step: 1, total: 1, event: 'done' });
    expect(lines).toEqual([
      'data/seed-1: complete already, skipped\n',
      'arm/dpo/seed-1: started\n',
      ...[1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20].map((s) => `arm/dpo/seed-1: ${s}/20\n`),
      'arm/dpo/seed-1: done\n',
    ]);
  });
});
