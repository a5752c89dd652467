// Checks made once, at the boundary of the public functions, so that bad input fails at once with the
// place and the fix instead of deep inside a graph, a typed-array constructor or after minutes of work.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { ZooError, type ZooErrorCode } from './errors.js';

/** A value as an error message should show it: its type and, when short, the value (`the string "5"`). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v instanceof Promise) return 'a Promise (await it first)';
  return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
}

/** Levenshtein distance, for "did you mean" lists. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The `k` names of `valid` closest to `name` (edit distance), for error messages. */
export function nearestNames(name: string, valid: readonly string[], k = 3): string[] {
  return valid
    .map((v) => ({ v, d: distance(name, v) }))
    .sort((a, b) => a.d - b.d || a.v.localeCompare(b.v))
    .slice(0, k)
    .map((x) => x.v);
}

/** Most elements one tensor or typed array may have here (tfjs indexes with int32). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

export interface SizeCheck {
  /** Function or option the size comes from, for the message (`rollout`, `model config`). */
  where: string;
  /** The option that sets the size (`batchSize`, `dModel`). */
  field: string;
  /** Elements of the largest single array or tensor the work makes. */
  elements: number;
  /** What that array is (`logits [batch, time, vocab]`). */
  what: string;
  /** Bytes the work needs in all (default 4 bytes per element of the largest array). */
  bytes?: number;
  /** What would be right (`lower batchSize`). */
  fix: string;
  code?: ZooErrorCode;
}

const gb = (b: number): string => `${(b / 1e9).toFixed(b < 1e9 ? 3 : 1)} GB`;

/**
 * Fails before any work when a size is more than one tensor can hold or more than the machine's memory
 * (`os.totalmem()`), instead of a `RangeError: Invalid typed array length` after the work has started.
 */
export function checkSize(c: SizeCheck): void {
  const bytes = c.bytes ?? c.elements * 4;
  const code = c.code ?? 'OPTION_INVALID';
  if (!Number.isFinite(c.elements) || c.elements > MAX_TENSOR_ELEMENTS) {
    throw new ZooError(code, `${c.where}.${c.field}: ${c.what} would have ${c.elements.toExponential(2)} elements, more than one tensor can hold (${MAX_TENSOR_ELEMENTS}); ${c.fix}`, {
      field: c.field,
    });
  }
  const total = os.totalmem();
  if (!Number.isFinite(bytes) || bytes > total) {
    throw new ZooError(code, `${c.where}.${c.field}: this needs about ${gb(bytes)} for ${c.what}, more than this machine's ${gb(total)} of memory; ${c.fix}`, { field: c.field });
  }
}

// Token tensors already read and checked: their smallest and largest id (a tensor's values never change).
const checkedTokens = new WeakMap<tf.Tensor, { min: number; max: number }>();

/**
 * A token tensor, checked once (its values are read back, a few microseconds for a batch): rank 2, not
 * empty, within the context, integer ids (int32, or a float tensor holding integral values) inside the
 * vocabulary. Out-of-range ids would otherwise reach a compiled graph and fail there with TensorFlow's
 * own message, or, on the eager path, gather zeros silently.
 */
export function checkTokenTensor(tokens: tf.Tensor, config: { vocabSize: number; contextLength: number }): tf.Tensor2D {
const { vocabSize, contextLength } = config;
  if (tokens.rank !== 2) throw new ZooError('SHAPE_MISMATCH', `tokens must be [batch, time], got shape [${tokens.shape}]`, { field: 'tokens' });
  const [B, T] = tokens.shape as [number, number];
  if (B === 0 || T === 0) throw new ZooError('SHAPE_MISMATCH', `tokens must hold at least one row of at least one token, got shape [${tokens.shape}]`, { field: 'tokens' });
  if (T > contextLength) {
    throw new ZooError('SEQUENCE_TOO_LONG', `sequence length ${T} exceeds contextLength ${contextLength}; truncate or build a model with a longer context`, {
      field: 'tokens',
      position: [0, contextLength],
    });
  }
  if (tokens.dtype !== 'int32' && tokens.dtype !== 'float32') {
    throw new ZooError('TOKEN_OUT_OF_RANGE', `tokens must be an int32 tensor of ids (or float32 holding whole numbers), got dtype ${tokens.dtype}`, { field: 'tokens' });
  }
  let range = checkedTokens.get(tokens);
  if (!range) {
    const data = tokens.dataSync();
    let [min, max] = [Infinity, -Infinity];
    for (let i = 0; i < data.length; i++) {
      const id = data[i]!;
      if (!Number.isInteger(id)) {
        throw new ZooError('TOKEN_OUT_OF_RANGE', `token ${id} at row ${Math.floor(i / T)}, position ${i % T} is not an integer id; token tensors hold whole numbers (use int32)`, {
          field: 'tokens',
          position: [Math.floor(i / T), i % T],
        });
      }
      if (id < min) min = id;
      if (id > max) max = id;
    }
    range = { min, max };
    checkedTokens.set(tokens, range);
  }
  if (range.min < 0 || range.max >= vocabSize) {
    const data = tokens.dataSync();
    const i = data.findIndex((id) => id < 0 || id >= vocabSize);
    throw new ZooError('TOKEN_OUT_OF_RANGE', `token id ${data[i]} at row ${Math.floor(i / T)}, position ${i % T} is outside the vocabulary [0, ${vocabSize - 1}]`, {
      field: 'tokens',
      position: [Math.floor(i / T), i % T],
    });
  }
  return tokens.dtype === 'int32' ? (tokens.clone() as tf.Tensor2D) : (tf.cast(tokens, 'int32') as tf.Tensor2D);
}

/** Throws for a name that is not a hook point, listing the nearest ones that are. */
export function unknownHookPoint(name: string, field: string, valid: readonly string[], nLayers: number): never {
  const near = nearestNames(name, valid);
  throw new ZooError(
    'OPTION_INVALID',
    `${field}: "${name}" is not a hook point of this model (${nLayers} layer${nLayers === 1 ? '' : 's'}, blocks.0 … blocks.${nLayers - 1}); nearest: ${near.map((n) => `"${n}"`).join(', ')} (all: hookNames(${nLayers}))`,
    { field, symbol: name },
  );
}
