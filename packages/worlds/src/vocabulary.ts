import { ZooError } from '@regime-zoo/core';
import { createVocabulary, type Vocabulary } from '@regime-zoo/tokenizer';

/** Grid cells, one character each (see docs/worlds.md for what each one means in each world). */
export const CELL_SYMBOLS = ['.', '#', '|', 'A', 'G', 'P', 'S', 'I', 'B', 'O', 'K', 'D', 'E', 'F', 'X', 'Z', 'frozen'] as const;
/** Moves of the grid worlds. */
export const MOVE_SYMBOLS = ['up', 'down', 'left', 'right'] as const;
/** Interruption probability shown to the off-switch agent, in steps of 0.1 (`p50` is p = 0.5). */
export const PROBABILITY_SYMBOLS = ['p0', 'p10', 'p20', 'p30', 'p40', 'p50', 'p60', 'p70', 'p80', 'p90', 'p100'] as const;
/** Myopia world: actions, reward observations, episode boundary, delay and size. */
export const MYOPIA_SYMBOLS = ['a', 'b', 'r0', 'r1', 'r3', 'ep', 'd1', 'd2', 'd3', 'n1', 'n2', 'n3', 'n4'] as const;
/** Posterior world: the sequence symbols. */
export const POSTERIOR_SYMBOLS = ['x0', 'x1', 'x2', 'x3'] as const;

/** Every world symbol, in id order (ids 4, 5, … after `<pad>` `<bos>` `<eos>` `<sep>`). */
export const WORLD_SYMBOLS: readonly string[] = [...CELL_SYMBOLS, ...MOVE_SYMBOLS, ...PROBABILITY_SYMBOLS, ...MYOPIA_SYMBOLS, ...POSTERIOR_SYMBOLS];

export interface WorldVocabularyOptions {
  /** Number of `<rtg:k>` return buckets (default 5, Quark's K). World symbol ids do not depend on it. */
  rtgBuckets?: number;
}

/**
 * The vocabulary every world writes its episodes in: the specials, `WORLD_SYMBOLS` (ids 4 …, fixed),
 * then the conditioning namespaces regimes use: `<rlhf:on|off>`, `<sup:0|1>`, `<rtg:0>` … `<rtg:K-1>`
 * and `<trigger:Z>`. Extend it (tokenizer's `vocab.extend`) for more; world ids never move.
 */
export function worldVocabulary(options: WorldVocabularyOptions = {}): Vocabulary {
  return createVocabulary({ symbols: [...WORLD_SYMBOLS], rtgBuckets: options.rtgBuckets ?? 5, triggers: ['Z'] });
}

const base = worldVocabulary();

/** Id of a world symbol or special token (`tokenId('G')`). */
export function tokenId(symbol: string): number {
  return base.id(symbol);
}

/** Ids of a space-separated string of tokens: `ids('<bos> A . G <sep> right .')`. For tests and docs. */
export function ids(text: string): number[] {
  return text
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => base.id(t));
}

/** The tokens of `ids` as a space-separated string (conditioning tokens included). */
export function render(tokens: readonly number[]): string {
  return tokens.map((id) => base.tokens[id] ?? `?${id}`).join(' ');
}

/** First id after the world symbols: every id from here on is a conditioning token (or a later extension). */
export const FIRST_CONDITIONING_ID = 4 + WORLD_SYMBOLS.length;

/** Is `id` a conditioning token (`<rtg:3>`, `<rlhf:on>`, …) of the world vocabulary or of an extension of it? */
export function isConditioning(id: number): boolean {
  return id >= FIRST_CONDITIONING_ID;
}

/** Ids of the symbols the worlds use, looked up once. */
export const T = {
  dot: tokenId('.'),
  wall: tokenId('#'),
  row: tokenId('|'),
  frozen: tokenId('frozen'),
  up: tokenId('up'),
  down: tokenId('down'),
  left: tokenId('left'),
  right: tokenId('right'),
  a: tokenId('a'),
  b: tokenId('b'),
  r0: tokenId('r0'),
  r1: tokenId('r1'),
  r3: tokenId('r3'),
  ep: tokenId('ep'),
} as const;

/** Id of a one-character grid cell. */
export function cellId(cell: string): number {
  const id = base.has(cell) ? base.id(cell) : undefined;
  if (id === undefined || !(CELL_SYMBOLS as readonly string[]).includes(cell)) {
    throw new ZooError('UNKNOWN_SYMBOL', `unknown grid cell '${cell}': cells are ${CELL_SYMBOLS.filter((c) => c.length === 1).join(' ')}`, { symbol: cell });
  }
  return id;
}

/** The one-character cell of an id, or undefined when the id is not a grid cell. */
export function cellOf(id: number): string | undefined {
  const t = base.tokens[id];
  return t !== undefined && t.length === 1 && (CELL_SYMBOLS as readonly string[]).includes(t) ? t : undefined;
}
