import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ZooError } from '@regime-zoo/core';
import type { z } from 'zod';

/**
 * Writes `rows` as JSON lines to `path` atomically: everything goes to a temporary file beside `path`,
 * which is renamed over `path` only once every row is written and flushed. If anything fails on the way
 * (a row fails `schema`, the iterable throws, the disk fills), the temporary file is removed and `path`
 * is left as it was (absent, or the old file). Returns the number of rows.
 */
export async function writeJsonl<T>(path: string, rows: Iterable<T> | AsyncIterable<T>, schema?: z.ZodType<T>): Promise<number> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const file = await open(tmp, 'wx');
  let n = 0;
  try {
    let chunk = '';
    for await (const row of rows as AsyncIterable<T>) {
      if (schema) {
        const r = schema.safeParse(row);
        if (!r.success) {
          const issue = r.error.issues[0];
          throw new ZooError('BAD_INPUT', `writeJsonl ${path}: row ${n + 1} is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, {
            field: path,
            position: [n + 1],
            cause: r.error,
          });
        }
      }
      chunk += `${JSON.stringify(row)}\n`;
      n++;
      if (chunk.length > 1 << 16) {
        await file.write(chunk);
        chunk = '';
      }
    }
    if (chunk) await file.write(chunk);
    await file.sync();
    await file.close();
  } catch (e) {
    await file.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return n;
}

export interface ReadJsonlOptions<T> {
  /** Further checks of each parsed row; throw a message (a string) and it is reported with file:line. */
  check?: (row: T) => string | undefined;
  /** Accept a file with no rows (default: an empty file fails with `EMPTY_DATASET`). */
  allowEmpty?: boolean;
}

/** Checks every token id list of a row against a vocabulary size; returns a message for the first bad id. */
export function tokensInVocabulary(size: number, lists: (row: never) => [string, readonly number[]][]): (row: unknown) => string | undefined {
  return (row) => {
    for (const [field, tokens] of lists(row as never)) {
      const j = tokens.findIndex((t) => t >= size);
      if (j >= 0) return `${field}[${j}] is token id ${tokens[j]}, outside the vocabulary [0, ${size - 1}] (a dataset written with another vocabulary?)`;
    }
    return undefined;
  };
}

/**
 * Reads JSON lines from `path`, validating each with `schema` (and `options.check`). A UTF-8 byte-order
 * mark is skipped; blank lines are skipped. A line that is not JSON, or does not match, fails with
 * `BAD_JSON` naming the file and the (1-based) line number; a file without rows fails with `EMPTY_DATASET`.
 */
export async function readJsonl<S extends z.ZodType>(path: string, schema: S, options: ReadJsonlOptions<z.output<S>> = {}): Promise<z.output<S>[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ZooError('BAD_INPUT', `readJsonl: cannot read ${path}: ${(e as Error).message}`, { field: path, cause: e });
  }
  // Editors on Windows save UTF-8 with a byte-order mark; JSON.parse would fail on line 1 without a word why.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out: z.output<S>[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new ZooError('BAD_JSON', `${where}: line ${i + 1} is not JSON (${(e as Error).message})`, { field: path, position: [i + 1], cause: e });
    }
    const r = schema.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new ZooError('BAD_JSON', `${where}: line ${i + 1} does not match the schema at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, {
        field: path,
        position: [i + 1],
        cause: r.error,
      });
    }
    const problem = options.check?.(r.data);
    if (problem) throw new ZooError('TOKEN_OUT_OF_RANGE', `${where}: line ${i + 1}: ${problem}`, { field: path, position: [i + 1] });
    out.push(r.data);
  });
  if (out.length === 0 && !options.allowEmpty) {
    throw new ZooError('EMPTY_DATASET', `${path} holds no rows (${text.length === 0 ? 'the file is empty' : 'only blank lines'}); a dataset needs at least one JSON line`, { field: path });
  }
  return out;
}
