import type { z } from 'zod';

/** Every error this package raises has one of these codes. */
export type TokenizerErrorCode =
  /** A well-formed token that this vocabulary does not hold (world symbol or conditioning value). */
  | 'UNKNOWN_SYMBOL'
  /** A conditioning token, or a namespace argument, naming a namespace the vocabulary never declared. */
  | 'UNKNOWN_NAMESPACE'
  /** A string that breaks the token grammar (`<foo`, `<rtg:>`, `<rlhf:maybe>` in a closed namespace). */
  | 'MALFORMED_TOKEN'
  /** A known token in the wrong place (a world symbol in the prefix, `<rlhf:on>` in the body, `<pad>` inside). */
  | 'MISPLACED_TOKEN'
  /** An id that is not an integer in `[0, vocab.size)`. */
  | 'UNKNOWN_ID'
  /** An id sequence that does not start with `<bos>`. */
  | 'BAD_SEQUENCE'
  /** An argument of the wrong type (not an array, not an episode). */
  | 'BAD_INPUT'
  /** An option that fails validation when a vocabulary or bucketiser is made or extended. */
  | 'BAD_OPTION'
  /** Saved JSON (vocabulary or buckets) that cannot be read back. */
  | 'BAD_JSON'
  /** A bucketiser fitted on no returns. */
  | 'EMPTY_DATASET'
  /** A return that is NaN (or infinite, in a dataset to fit on). */
  | 'BAD_RETURN'
  /** A bucket index outside `[0, k)`. */
  | 'UNKNOWN_BUCKET';

export interface TokenizerErrorOptions {
  cause?: unknown;
  /** The offending token or namespace, as given. */
  symbol?: string;
  /** Index of the offending item within `field` (`prefix`, `tokens`, `ids`, `returns`, a JSON array). */
  position?: number;
  /** Where: `prefix`, `tokens`, `ids`, `returns`, or an option / JSON path such as `symbols[2]`. */
  field?: string;
}

/**
 * The error class of `@regime-zoo/tokenizer`: a literal-union `code`, a `cause`, and where it went wrong
 * (`symbol`, `position`, `field`). Messages say what was wrong, where, and what would be right.
 */
export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
  readonly code: TokenizerErrorCode;
  readonly symbol: string | undefined;
  readonly position: number | undefined;
  readonly field: string | undefined;

  constructor(code: TokenizerErrorCode, message: string, options: TokenizerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.symbol = options.symbol;
    this.position = options.position;
    this.field = options.field;
  }
}

/** `symbols[2].x` style path for messages and `field`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** Short printable form of a value for messages. */
export function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'undefined';
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Parses `input` with `schema`; on failure throws a `TokenizerError` with `code` (`BAD_OPTION` or
 * `BAD_JSON`) naming the caller, the first failing path, what was given and what is expected.
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: string,
  code: 'BAD_OPTION' | 'BAD_JSON' = 'BAD_OPTION',
): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === 'invalid_key') {
      // a record key failed its schema: say why, and show the key rather than its value
      const why = issue.issues.map((i) => i.message).join('; ');
      return `${path}: bad key: ${why} (got ${show(issue.path[issue.path.length - 1])})`;
    }
    return `${path || '(root)'}: ${issue.message} (got ${show(valueAt(input, issue.path))})`;
  });
  const first = r.error.issues[0];
  const noun = code === 'BAD_OPTION' ? 'option' : 'field';
  throw new TokenizerError(code, `${where}: bad ${noun} ${lines.join('; ')}`, {
    cause: r.error,
    ...(first ? { field: formatPath(first.path) } : {}),
  });
}
