import { describe, expect, it } from 'vitest';
import { classifyToken, conditioningToken, parseToken } from './grammar.js';
import { thrown } from './test-helpers.js';

describe('token grammar', () => {
  it('should tell specials, world symbols and conditioning tokens apart', () => {
    expect(parseToken('<bos>')).toEqual({ kind: 'special', token: '<bos>' });
    expect(parseToken('#')).toEqual({ kind: 'symbol', token: '#' });
    expect(parseToken('up')).toEqual({ kind: 'symbol', token: 'up' });
    expect(parseToken('<rtg:3>')).toEqual({ kind: 'conditioning', token: '<rtg:3>', namespace: 'rtg', value: '3' });
    expect(parseToken('<trigger:Z-2.b>')).toEqual({ kind: 'conditioning', token: '<trigger:Z-2.b>', namespace: 'trigger', value: 'Z-2.b' });
  });

  it('should reject malformed tokens with the reason and the token', () => {
    const cases: [string, RegExp][] = [
      ['<foo', /never closes it/],
      ['<rtg:>', /value is empty; write <rtg:VALUE>/],
      ['<:x>', /namespace '' is not valid/],
      ['<Rtg:1>', /namespace 'Rtg' is not valid/],
      ['<a:b:c>', /value 'b:c' is not valid/],
      ['<BOS>', /not a special token/],
      ['a b', /without whitespace/],
      ['x>', /without whitespace, '<' or '>'/],
      ['', /empty string/],
      ['<a<b:c>', /may only open and close/],
    ];
    for (const [token, reason] of cases) {
      const e = thrown(() => parseToken(token));
      expect(e.code).toBe('MALFORMED_TOKEN');
      expect(e.symbol).toBe(token);
      expect(e.message).toMatch(reason);
    }
    expect(classifyToken(42).kind).toBe('malformed');
  });

  it('should write conditioning tokens and refuse bad parts', () => {
    expect(conditioningToken('rtg', 4)).toBe('<rtg:4>');
    expect(conditioningToken('rlhf', 'on')).toBe('<rlhf:on>');
    expect(thrown(() => conditioningToken('rtg', '')).code).toBe('MALFORMED_TOKEN');
    expect(thrown(() => conditioningToken('RLHF', 'on')).code).toBe('MALFORMED_TOKEN');
  });
});
