import { ZooError } from '@regime-zoo/core';
import { expect } from 'vitest';

/** Runs `fn`, expects it to throw a `ZooError`, and returns that error for further checks. */
export function thrown(fn: () => unknown): ZooError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ZooError);
    return e as ZooError;
  }
  throw new Error('expected a ZooError, but nothing was thrown');
}
