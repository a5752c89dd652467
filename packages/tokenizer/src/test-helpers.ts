import { expect } from 'vitest';
import { TokenizerError } from './errors.js';

/** Runs `fn`, expects it to throw a `TokenizerError`, and returns that error for further checks. */
export function thrown(fn: () => unknown): TokenizerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    return e as TokenizerError;
  }
  throw new Error('expected a TokenizerError, but nothing was thrown');
}
