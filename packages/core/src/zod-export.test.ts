import { z as zod } from 'zod';
import { describe, expect, it } from 'vitest';
import { defineWorld, z, ZooError } from './index.js';

describe('core re-exports z', () => {
  it('should be the zod that core validates plugin options with, so a plugin needs no zod install of its own', () => {
    expect(z).toBe(zod);
    const world = defineWorld({
      name: 'tiny',
      options: z.strictObject({ size: z.number().int().min(2).default(3) }),
      create: (o) => ({ environment: () => ({ name: 'tiny', reset: () => ({ state: o.size, tokens: [1, 3] }), legalActions: () => [], step: () => ({ state: 0, observation: [2], reward: 0, done: true }) }) }),
    });
    expect(world().environment('id').reset(undefined as never).state).toBe(3);
    let err: unknown;
    try {
      world({ size: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ZooError);
    expect(err).toMatchObject({ code: 'OPTION_INVALID', field: 'size', plugin: 'tiny' });
  });
});
