import { ZooError } from '@regime-zoo/core';

/** The four special tokens and their fixed ids: `<pad>` 0, `<bos>` 1, `<eos>` 2, `<sep>` 3. */
export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<sep>'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const SEP_ID = 3;

/** A world symbol: 1–32 characters, no whitespace, no `<` or `>` (`#`, `.`, `A`, `up`). */
export const SYMBOL_PATTERN = /^[^\s<>]{1,32}$/;
/** A namespace name: a lower-case letter, then up to 31 lower-case letters, digits or `_`. */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;
/** A conditioning value: 1–32 letters, digits, `_`, `.`, `+` or `-` (no `:`). */
export const VALUE_PATTERN = /^[A-Za-z0-9_.+-]{1,32}$/;
/** A value in an `index` namespace (`rtg`): a non-negative integer without leading zeros. */
export const INDEX_VALUE_PATTERN = /^(0|[1-9][0-9]{0,8})$/;

export const SYMBOL_RULE = "a world symbol is 1–32 characters without whitespace, '<' or '>'";
export const NAMESPACE_RULE = "a namespace is a lower-case letter then up to 31 lower-case letters, digits or '_'";
export const VALUE_RULE = "a conditioning value is 1–32 letters, digits, '_', '.', '+' or '-'";
export const INDEX_VALUE_RULE = 'an index value is a non-negative integer without leading zeros';

/** What a token string is, by the grammar alone (whether a vocabulary holds it is another matter). */
export type ParsedToken =
  | { kind: 'special'; token: SpecialToken }
  | { kind: 'symbol'; token: string }
  | { kind: 'conditioning'; token: string; namespace: string; value: string };

const SHAPES = "a token is a world symbol, one of <pad>, <bos>, <eos>, <sep>, or <namespace:value>";

/** Classifies `token` by the grammar; returns the reason instead of throwing when it is malformed. */
export function classifyToken(token: unknown): ParsedToken | { kind: 'malformed'; reason: string } {
  if (typeof token !== 'string') return { kind: 'malformed', reason: `not a string (${typeof token}); ${SHAPES}` };
  if (token === '') return { kind: 'malformed', reason: `empty string; ${SHAPES}` };
  if (token.startsWith('<')) {
    if (!token.endsWith('>') || token.length < 2) {
      return { kind: 'malformed', reason: `it opens '<' but never closes it; write <namespace:value>` };
    }
    const inner = token.slice(1, -1);
    if (/[<>]/.test(inner)) return { kind: 'malformed', reason: `'<' and '>' may only open and close a token` };
    if ((SPECIAL_TOKENS as readonly string[]).includes(token)) return { kind: 'special', token: token as SpecialToken };
    const colon = inner.indexOf(':');
    if (colon < 0) {
      return { kind: 'malformed', reason: `it is not a special token (<pad>, <bos>, <eos>, <sep>) and has no ':'; write <namespace:value>` };
    }
    const namespace = inner.slice(0, colon);
    const value = inner.slice(colon + 1);
    if (!NAMESPACE_PATTERN.test(namespace)) {
      return { kind: 'malformed', reason: `namespace '${namespace}' is not valid: ${NAMESPACE_RULE}` };
    }
    if (value === '') return { kind: 'malformed', reason: `the value is empty; write <${namespace}:VALUE>` };
    if (!VALUE_PATTERN.test(value)) return { kind: 'malformed', reason: `value '${value}' is not valid: ${VALUE_RULE}` };
    return { kind: 'conditioning', token, namespace, value };
  }
  if (!SYMBOL_PATTERN.test(token)) return { kind: 'malformed', reason: `${SYMBOL_RULE}` };
  return { kind: 'symbol', token };
}

/** Parses a token string by the grammar; throws `MALFORMED_TOKEN` if it breaks it. */
export function parseToken(token: string): ParsedToken {
  const c = classifyToken(token);
  if (c.kind === 'malformed') {
    throw new ZooError('MALFORMED_TOKEN', `malformed token ${JSON.stringify(token)}: ${c.reason}`, { symbol: String(token) });
  }
  return c;
}

/** Writes the conditioning token `<namespace:value>` (`conditioningToken('rtg', 3)` is `<rtg:3>`). */
export function conditioningToken(namespace: string, value: string | number): string {
  const token = `<${namespace}:${value}>`;
  const c = parseToken(token);
  if (c.kind !== 'conditioning') {
    throw new ZooError('MALFORMED_TOKEN', `malformed token ${JSON.stringify(token)}: not a conditioning token`, { symbol: token });
  }
  return token;
}
