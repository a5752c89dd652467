/**
 * A whole-number command-line flag: its value, undefined when it is absent, or the error text
 * `--flag must be an integer ≥ min, got "raw"` (the caller prefixes its command and exits with 2).
 */
export function intFlag(flag: string, raw: string | undefined, min = 1): number | string | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n >= min ? n : `--${flag} must be an integer ≥ ${min}, got "${raw}"`;
}
