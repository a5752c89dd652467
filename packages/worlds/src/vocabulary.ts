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

/** The built-in vocabulary (`worldVocabulary()`): the default of every helper that takes a vocabulary. */
export const BASE_VOCABULARY: Vocabulary = worldVocabulary();
const base = BASE_VOCABULARY;

/** Id of a world symbol or special token (`tokenId('G')`; `tokenId('W', vocab)` for a symbol you added). */
export function tokenId(symbol: string, vocabulary: Vocabulary = base): number {
  return vocabulary.id(symbol);
}

/** Ids of a space-separated string of tokens: `ids('<bos> A . G <sep> right .')`. For tests and docs. */
export function ids(text: string, vocabulary: Vocabulary = base): number[] {
  return text
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => vocabulary.id(t));
}

/** The tokens of `ids` as a space-separated string (conditioning tokens included; unknown ids as `?id`). */
export function render(tokens: readonly number[], vocabulary: Vocabulary = base): string {
  return tokens.map((id) => vocabulary.tokens[id] ?? `?${id}`).join(' ');
}

/**
 * First id after the built-in world symbols.
 * @deprecated "Is conditioning" is decided by the vocabulary's namespaces, not by an id range: a symbol
 * added with `extend({ symbols })` gets an id past this one and is still a world symbol. Use
 * `isConditioning(id, vocabulary)` or `vocabulary.bannedIds()`.
 */
export const FIRST_CONDITIONING_ID = 4 + WORLD_SYMBOLS.length;

/**
 * Is `id` a conditioning token (`<rtg:3>`, `<rlhf:on>`, …)? Decided by `vocabulary`'s namespaces (the
 * tokenizer's `vocab.isConditioning`), so a symbol added with `extend({ symbols })` is a world symbol.
 * An id past the end of `vocabulary` counts as conditioning: a world writes only symbols of its own
 * vocabulary, so such an id comes from a later extension (a regime's namespace, more `<rtg:k>` buckets).
 */
export function isConditioning(id: number, vocabulary: Vocabulary = base): boolean {
  return id >= vocabulary.size || vocabulary.isConditioning(id);
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

/** Id of a one-character grid cell of the built-in vocabulary (the grid kit's `cellId` takes yours). */
export function cellId(cell: string): number {
  const id = base.has(cell) ? base.id(cell) : undefined;
  if (id === undefined || !(CELL_SYMBOLS as readonly string[]).includes(cell)) {
    throw new ZooError(
      'UNKNOWN_SYMBOL',
      `unknown grid cell '${cell}': the built-in cells are ${CELL_SYMBOLS.filter((c) => c.length === 1).join(' ')}; for a cell of your own, add it to the vocabulary (worldVocabulary().extend({ symbols: ['${cell}'] })) and use createGridKit({ vocabulary })`,
      { symbol: cell },
    );
  }
  return id;
}

/** The one-character cell of an id of the built-in vocabulary, or undefined when the id is not a grid cell. */
export function cellOf(id: number): string | undefined {
  const t = base.tokens[id];
  return t !== undefined && t.length === 1 && (CELL_SYMBOLS as readonly string[]).includes(t) ? t : undefined;
}
