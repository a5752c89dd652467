import { describe, expect, it } from 'vitest';
import { differenceInterval, wilson } from './stats.js';

describe('intervals', () => {
  it('should match published Wilson intervals', () => {
    // Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662.
    const w = wilson(81, 263);
    expect(w.lo).toBeCloseTo(0.2553, 4);
    expect(w.hi).toBeCloseTo(0.3662, 4);
    // 0/10 keeps a non-zero upper bound (0.2775).
    expect(wilson(0, 10).hi).toBeCloseTo(0.2775, 4);
    // The bound at an observed 0 or n is exactly 0 or 1, so the interval contains a true rate of 0 or 1.
    expect(wilson(0, 50).lo).toBe(0);
    expect(wilson(50, 50).hi).toBe(1);
  });

  it('should match Newcombe method 10 for a difference of proportions', () => {
    // Newcombe (1998), table II example (56/70 − 48/80): 0.0524 to 0.3339.
    const d = differenceInterval(56, 70, 48, 80);
    expect(d.estimate).toBeCloseTo(0.2, 10);
    expect(d.lo).toBeCloseTo(0.0524, 3);
    expect(d.hi).toBeCloseTo(0.3339, 3);
  });
});
