import { ZooError } from '@regime-zoo/core';
import { EOS_ID, type Vocabulary } from '@regime-zoo/tokenizer';
import type { WorldStep } from './types.js';
import { BASE_VOCABULARY, CELL_SYMBOLS, render, WORLD_SYMBOLS } from './vocabulary.js';

/**
 * A small grid: `cells` row-major, one character per cell. `A` marks the agent's start in the map
 * strings; in `cells` the start is `.` and the start index is kept apart.
 */
export interface GridMap {
  readonly width: number;
  readonly height: number;
  readonly cells: readonly string[];
  readonly start: number;
}

/** What every grid world's state holds. */
export interface GridState {
  readonly width: number;
  readonly height: number;
  /** Current cells (a key picked up, a door opened or a removed interruption tile shows as `.`). */
  readonly cells: readonly string[];
  readonly pos: number;
  /** Actions taken. */
  readonly t: number;
  readonly done: boolean;
  /** Visible and hidden return so far. */
  readonly visible: number;
  readonly hidden: number;
}

/** What entering a cell does, beyond the step cost. */
export interface Entered<S> {
  state: S;
  reward?: number;
  hidden?: number;
  done?: boolean;
  /** Observation tokens after the cell's own token (before `<eos>`). */
  extra?: number[];
}

/** A grid world's rules for the shared step function. */
export interface GridRules<S extends GridState> {
  readonly name: string;
  /** Episodes end (with `<eos>`) after this many actions. */
  readonly timeLimit: number;
  /** Visible and hidden reward of every move. */
  readonly stepCost: number;
  /** May the agent enter this cell now? Walls never. */
  passable(state: S, cell: string): boolean;
  /** Effects of entering `cell`; `state` already has the new position and time. */
  enter(state: S, cell: string): Entered<S>;
  /** Extra visible and hidden reward when the episode ends (either way). */
  finish?(state: S): { reward: number; hidden: number };
}

/** A move: its action id and the change of row and column. */
export interface GridMove {
  readonly name: 'up' | 'down' | 'left' | 'right';
  readonly id: number;
  readonly dr: number;
  readonly dc: number;
}

export interface GridKitOptions {
  /** The vocabulary the world writes its episodes in (default `worldVocabulary()`); it must hold `|` and the four moves. */
  vocabulary?: Vocabulary;
  /**
   * One-character cells a map may hold besides the start `A` (default: the built-in cells
   * `. # G P S I B O K D E F X` plus every one-character symbol the vocabulary adds to the built-in ones).
   */
  cells?: readonly string[];
}

/** The grid helpers of one vocabulary: parse maps, write and read them as tokens, moves, legality, the shared step. */
export interface GridKit {
  readonly vocabulary: Vocabulary;
  /** Cells a map may hold (`A`, the start, besides). */
  readonly cells: readonly string[];
  /** The four moves, in the order legal actions are listed (up, down, left, right). */
  readonly moves: readonly GridMove[];
  /** Id of a cell (or `A`); `UNKNOWN_SYMBOL` naming the cells there are. */
  cellId(cell: string): number;
  /** The cell an id shows, or undefined when it is not one of this kit's cells. */
  cellOf(id: number): string | undefined;
  /** Parses map rows (`['.AW..G', '......']`): rectangular, one `A`, known cells; `OPTION_INVALID` naming `where`. */
  parse(rows: readonly string[], where?: string): GridMap;
  /** Parses a world's option maps, naming the world and the option (`options.idMaps[0]: …`) in errors. */
  parseMaps(world: string, field: string, maps: readonly (readonly string[])[]): GridMap[];
  /** Map tokens: the cells row by row, rows separated by `|`, the start as `A`. */
  tokens(map: GridMap): number[];
  /** Inverse of `tokens`; `BAD_SEQUENCE` on a token that is not a cell or a map that does not parse. */
  fromTokens(tokens: readonly number[], world: string): GridMap;
  /** The cell index a move leads to, or undefined off the grid (or for an id that is not a move). */
  neighbour(map: Pick<GridMap, 'width' | 'height'>, pos: number, action: number): number | undefined;
  /** Shortest path length (in moves) over cells where `passable(index)` holds, or Infinity. */
  distance(map: Pick<GridMap, 'width' | 'height'>, from: number, to: number, passable: (pos: number) => boolean): number;
  /** Legal moves: onto the grid, not into a wall `#`, into a cell `rules.passable` allows; none once done. */
  legal<S extends GridState>(rules: GridRules<S>, state: S): number[];
  /** Move, pay the step cost, apply the cell's effect, observe the cell entered (as it was), `<eos>` at the end. */
  step<S extends GridState>(rules: GridRules<S>, state: S, action: number): WorldStep<S>;
  /** A fresh state of `map` plus the world's own fields. */
  start<X extends object>(map: GridMap, extra: X): GridState & X;
  /** Longest episode a grid world can write: prompt + `timeLimit` (action, cell) pairs + `extraObservation` + `<eos>`. */
  worstLength(promptLength: number, timeLimit: number, extraObservation?: number): number;
}

const BUILT_IN_CELLS = CELL_SYMBOLS.filter((c) => c.length === 1 && c !== '|' && c !== 'Z' && c !== 'A');
const BUILT_IN = new Set(WORLD_SYMBOLS);

/** The map's rows as strings, the start shown as `A`. */
export function gridRows(map: Pick<GridMap, 'width' | 'height' | 'cells'>, agent?: number): string[] {
  const rows: string[] = [];
  for (let r = 0; r < map.height; r++) {
    let row = '';
    for (let c = 0; c < map.width; c++) row += agent === r * map.width + c ? 'A' : map.cells[r * map.width + c];
    rows.push(row);
  }
  return rows;
}

/** The map mirrored left–right. */
export function mirrorRows(rows: readonly string[]): string[] {
  return rows.map((row) => [...row].reverse().join(''));
}

/**
 * The grid kit for `vocabulary` (default `worldVocabulary()`). Add cells of your own to the vocabulary
 * first: `createGridKit({ vocabulary: worldVocabulary().extend({ symbols: ['W'] }) })` makes `W` a cell.
 */
export function createGridKit(options: GridKitOptions = {}): GridKit {
  const vocabulary = options.vocabulary ?? BASE_VOCABULARY;
  const need = (symbol: string): number => {
    if (!vocabulary.has(symbol)) {
      throw new ZooError('OPTION_INVALID', `createGridKit: the vocabulary has no '${symbol}'; a grid world's vocabulary holds '|' and the moves up, down, left, right (extend worldVocabulary())`, {
        field: 'vocabulary',
        symbol,
      });
    }
    return vocabulary.id(symbol);
  };
  const ROW = need('|');
  const moves: GridMove[] = [
    { name: 'up', id: need('up'), dr: -1, dc: 0 },
    { name: 'down', id: need('down'), dr: 1, dc: 0 },
    { name: 'left', id: need('left'), dr: 0, dc: -1 },
    { name: 'right', id: need('right'), dr: 0, dc: 1 },
  ];
  const cells = options.cells
    ? [...options.cells]
    : [...BUILT_IN_CELLS.filter((c) => vocabulary.has(c)), ...vocabulary.symbols.filter((s) => [...s].length === 1 && !BUILT_IN.has(s) && s !== 'A')];
  cells.forEach((c, i) => {
    if ([...c].length !== 1 || c === '|' || c === 'A') {
      throw new ZooError('OPTION_INVALID', `createGridKit: cells[${i}] is '${c}'; a cell is one character, not '|' (the row separator) or 'A' (the start)`, { field: `cells[${i}]`, symbol: c });
    }
    if (!vocabulary.has(c)) {
      throw new ZooError('OPTION_INVALID', `createGridKit: cells[${i}] '${c}' is not in the vocabulary; add it first: vocabulary.extend({ symbols: ['${c}'] })`, { field: `cells[${i}]`, symbol: c });
    }
  });
  const ids = new Map<string, number>([...cells, 'A'].filter((c) => vocabulary.has(c)).map((c) => [c, vocabulary.id(c)]));
  const byId = new Map<number, string>([...ids].map(([c, id]) => [id, c]));
  const byMove = new Map(moves.map((m) => [m.id, m]));

  const cellId = (cell: string): number => {
    const id = ids.get(cell);
    if (id === undefined) {
      const hint = vocabulary.has(cell) ? `pass it in createGridKit({ cells })` : `add it to the vocabulary (vocabulary.extend({ symbols: ['${cell}'] })) and pass that vocabulary to createGridKit`;
      throw new ZooError('UNKNOWN_SYMBOL', `unknown grid cell '${cell}': this kit's cells are ${cells.join(' ')} (and A, the start); ${hint}`, { symbol: cell });
    }
    return id;
  };

  const parse = (rows: readonly string[], where = 'map'): GridMap => {
    const height = rows.length;
    const width = rows[0] === undefined ? 0 : [...rows[0]].length;
    if (height === 0 || width === 0) throw new ZooError('OPTION_INVALID', `${where}: a map needs at least one row and one column`, { field: where });
    const out: string[] = [];
    let start = -1;
    rows.forEach((row, r) => {
      const chars = [...row];
      if (chars.length !== width) {
        throw new ZooError('OPTION_INVALID', `${where}: row ${r} ('${row}') has ${chars.length} cells, row 0 has ${width}; a map is rectangular`, { field: `${where}[${r}]` });
      }
      for (const [c, ch] of chars.entries()) {
        if (ch === 'A') {
          if (start >= 0) throw new ZooError('OPTION_INVALID', `${where}: more than one A (agent start) in the map`, { field: `${where}[${r}]` });
          start = r * width + c;
          out.push('.');
        } else if (!ids.has(ch)) {
          throw new ZooError('OPTION_INVALID', `${where}: row ${r} column ${c}: '${ch}' is not a map cell; cells are ${cells.join(' ')} (and A, the start)`, {
            field: `${where}[${r}]`,
            symbol: ch,
            position: [r, c],
          });
        } else {
          out.push(ch);
        }
      }
    });
    if (start < 0) throw new ZooError('OPTION_INVALID', `${where}: no A (agent start) in the map`, { field: where });
    return { width, height, cells: out, start };
  };

  const neighbour = (map: Pick<GridMap, 'width' | 'height'>, pos: number, action: number): number | undefined => {
    const m = byMove.get(action);
    if (!m) return undefined;
    const r = Math.floor(pos / map.width) + m.dr;
    const c = (pos % map.width) + m.dc;
    return r < 0 || c < 0 || r >= map.height || c >= map.width ? undefined : r * map.width + c;
  };

  const legal = <S extends GridState>(rules: GridRules<S>, state: S): number[] => {
    if (state.done) return [];
    const out: number[] = [];
    for (const m of moves) {
      const next = neighbour(state, state.pos, m.id);
      if (next !== undefined && state.cells[next] !== '#' && rules.passable(state, state.cells[next]!)) out.push(m.id);
    }
    return out;
  };

  return {
    vocabulary,
    cells,
    moves,
    cellId,
    cellOf: (id) => byId.get(id),
    parse,
    parseMaps: (world, field, maps) =>
      maps.map((rows, i) => {
        try {
          return parse(rows, `${field}[${i}]`);
        } catch (e) {
          throw new ZooError('OPTION_INVALID', `[${world}] options.${(e as Error).message}`, { field: `${field}.${i}`, plugin: world, hook: 'options', cause: e });
        }
      }),
    tokens(map) {
      const out: number[] = [];
      gridRows(map, map.start).forEach((row, r) => {
        if (r > 0) out.push(ROW);
        for (const ch of row) out.push(cellId(ch));
      });
      return out;
    },
    fromTokens(tokens, world) {
      const rows: string[] = [''];
      for (const id of tokens) {
        if (id === ROW) {
          rows.push('');
          continue;
        }
        const ch = byId.get(id);
        if (ch === undefined) throw new ZooError('BAD_SEQUENCE', `${world}: ${render([id], vocabulary)} is not a map cell`, { symbol: render([id], vocabulary) });
        rows[rows.length - 1] += ch;
      }
      try {
        return parse(rows, `${world} map`);
      } catch (e) {
        throw new ZooError('BAD_SEQUENCE', `${world}: the prompt's map is not a valid map: ${(e as Error).message}`, { cause: e });
      }
    },
    neighbour,
    distance(map, from, to, passable) {
      const dist = new Map<number, number>([[from, 0]]);
      const queue = [from];
      while (queue.length) {
        const pos = queue.shift()!;
        if (pos === to) return dist.get(pos)!;
        for (const m of moves) {
          const next = neighbour(map, pos, m.id);
          if (next === undefined || dist.has(next) || !passable(next)) continue;
          dist.set(next, dist.get(pos)! + 1);
          queue.push(next);
        }
      }
      return Infinity;
    },
    legal,
    step<S extends GridState>(rules: GridRules<S>, state: S, action: number): WorldStep<S> {
      if (state.done) throw new ZooError('ENV_ERROR', `${rules.name}: step after the episode ended`);
      const allowed = legal(rules, state);
      if (!allowed.includes(action)) {
        throw new ZooError('ENV_ERROR', `${rules.name}: action ${render([action], vocabulary)} is not legal here; legal actions are ${render(allowed, vocabulary)}`, {
          symbol: render([action], vocabulary),
        });
      }
      const pos = neighbour(state, state.pos, action)!;
      const cell = state.cells[pos]!;
      const e = rules.enter({ ...state, pos, t: state.t + 1 }, cell);
      let reward = rules.stepCost + (e.reward ?? 0);
      let hidden = rules.stepCost + (e.hidden ?? 0);
      const done = (e.done ?? false) || e.state.t >= rules.timeLimit;
      const observation = [cellId(cell), ...(e.extra ?? [])];
      let next: S = { ...e.state, visible: state.visible + reward, hidden: state.hidden + hidden, done };
      if (done) {
        observation.push(EOS_ID);
        const f = rules.finish?.(next);
        if (f) {
          reward += f.reward;
          hidden += f.hidden;
          next = { ...next, visible: next.visible + f.reward, hidden: next.hidden + f.hidden };
        }
      }
      return { state: next, observation, reward, hidden, done };
    },
    start: (map, extra) => ({ width: map.width, height: map.height, cells: map.cells, pos: map.start, t: 0, done: false, visible: 0, hidden: 0, ...extra }),
    worstLength: (promptLength, timeLimit, extraObservation = 0) => promptLength + 2 * timeLimit + extraObservation + 1,
  };
}

/** The kit of the built-in vocabulary, behind the functions below (which the built-in worlds use). */
const builtIn = createGridKit();

/**
 * Parses map rows (`['.I....A', '.#####.', 'G#####B']`); exactly one `A`, rectangular, known cells.
 * Pass `{ vocabulary, cells }` for cells of your own (or use `createGridKit`).
 */
export function parseGrid(rows: readonly string[], where = 'map', options?: GridKitOptions): GridMap {
  return (options ? createGridKit(options) : builtIn).parse(rows, where);
}

/** Map tokens in the built-in vocabulary (the kit's `tokens` for yours). */
export const gridTokens = (map: GridMap): number[] => builtIn.tokens(map);
/** Inverse of `gridTokens`. */
export const gridFromTokens = (tokens: readonly number[], world: string): GridMap => builtIn.fromTokens(tokens, world);
/** The four moves of the built-in vocabulary, in the order legal actions are listed. */
export const MOVES: readonly GridMove[] = builtIn.moves;
export const neighbour = builtIn.neighbour;
export const gridDistance = builtIn.distance;
export const gridLegal = builtIn.legal;
export const gridStep = builtIn.step;
export const gridStart = builtIn.start;
export const gridWorstLength = builtIn.worstLength;
