import { ZooError } from '@regime-zoo/core';
import type { z } from 'zod';

// Helpers for the messages of this package's errors. The errors themselves are core's `ZooError`
// (DESIGN §2: one error class across all packages), with a code, a `cause`, and where it went wrong:
// `symbol`, `field` and `position` (`[i]`, the index of the offending item within `field`).

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
 * Parses `input` with `schema`; on failure throws a `ZooError` with `code` (`OPTION_INVALID` or
 * `BAD_JSON`) naming the caller, every failing path, what was given and what is expected; `field` is
 * the first failing path.
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: string,
  code: 'OPTION_INVALID' | 'BAD_JSON' = 'OPTION_INVALID',
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
  const noun = code === 'OPTION_INVALID' ? 'option' : 'field';
  throw new ZooError(code, `${where}: bad ${noun} ${lines.join('; ')}`, {
    cause: r.error,
    ...(first ? { field: formatPath(first.path) } : {}),
  });
}
