import { ZooError } from '@regime-zoo/core';
import type { WorldStep } from './types.js';
import { EOS_ID } from '@regime-zoo/tokenizer';
import { cellId, cellOf, render, T } from './vocabulary.js';

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

/** Parses map rows (`['.I....A', '.#####.', 'G#####B']`); exactly one `A`, rectangular, known cells. */
export function parseGrid(rows: readonly string[], where = 'map'): GridMap {
  const height = rows.length;
  const width = rows[0]?.length ?? 0;
  if (height === 0 || width === 0) throw new ZooError('OPTION_INVALID', `${where}: a map needs at least one row and one column`, { field: where });
  const cells: string[] = [];
  let start = -1;
  rows.forEach((row, r) => {
    if (row.length !== width) {
      throw new ZooError('OPTION_INVALID', `${where}: row ${r} ('${row}') has ${row.length} cells, row 0 has ${width}; a map is rectangular`, { field: `${where}[${r}]` });
    }
    for (const [c, ch] of [...row].entries()) {
      if (ch === 'A') {
        if (start >= 0) throw new ZooError('OPTION_INVALID', `${where}: more than one A (agent start) in the map`, { field: `${where}[${r}]` });
        start = r * width + c;
        cells.push('.');
      } else {
        if (ch === '|' || ch === 'Z') throw new ZooError('OPTION_INVALID', `${where}: '${ch}' is not a map cell`, { field: `${where}[${r}]`, symbol: ch });
        cellId(ch);
        cells.push(ch);
      }
    }
  });
  if (start < 0) throw new ZooError('OPTION_INVALID', `${where}: no A (agent start) in the map`, { field: where });
  return { width, height, cells, start };
}

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

/** Map tokens: the cells row by row, rows separated by `|`, the agent's start as `A`. */
export function gridTokens(map: GridMap): number[] {
  const out: number[] = [];
  gridRows(map, map.start).forEach((row, r) => {
    if (r > 0) out.push(T.row);
    for (const ch of row) out.push(cellId(ch));
  });
  return out;
}

/** Inverse of `gridTokens`. */
export function gridFromTokens(tokens: readonly number[], world: string): GridMap {
  const rows: string[] = [''];
  for (const id of tokens) {
    if (id === T.row) {
      rows.push('');
      continue;
    }
    const ch = cellOf(id);
    if (ch === undefined || ch === 'Z') throw new ZooError('BAD_SEQUENCE', `${world}: ${render([id])} is not a map cell`, { symbol: render([id]) });
    rows[rows.length - 1] += ch;
  }
  try {
    return parseGrid(rows, `${world} map`);
  } catch (e) {
    throw new ZooError('BAD_SEQUENCE', `${world}: the prompt's map is not a valid map: ${(e as Error).message}`, { cause: e });
  }
}

/** The map mirrored left–right. */
export function mirrorRows(rows: readonly string[]): string[] {
  return rows.map((row) => [...row].reverse().join(''));
}

/** The four moves, in the order legal actions are listed. */
export const MOVES: readonly { id: number; dr: number; dc: number }[] = [
  { id: T.up, dr: -1, dc: 0 },
  { id: T.down, dr: 1, dc: 0 },
  { id: T.left, dr: 0, dc: -1 },
  { id: T.right, dr: 0, dc: 1 },
];

/** The cell index a move leads to, or undefined off the grid. */
export function neighbour(map: Pick<GridMap, 'width' | 'height'>, pos: number, action: number): number | undefined {
  const m = MOVES.find((x) => x.id === action);
  if (!m) return undefined;
  const r = Math.floor(pos / map.width) + m.dr;
  const c = (pos % map.width) + m.dc;
  return r < 0 || c < 0 || r >= map.height || c >= map.width ? undefined : r * map.width + c;
}

/** Shortest path length (in moves) over cells where `passable(index)` holds, or Infinity. */
export function gridDistance(map: Pick<GridMap, 'width' | 'height'>, from: number, to: number, passable: (pos: number) => boolean): number {
  const dist = new Map<number, number>([[from, 0]]);
  const queue = [from];
  while (queue.length) {
    const pos = queue.shift()!;
    if (pos === to) return dist.get(pos)!;
    for (const m of MOVES) {
      const next = neighbour(map, pos, m.id);
      if (next === undefined || dist.has(next) || !passable(next)) continue;
      dist.set(next, dist.get(pos)! + 1);
      queue.push(next);
    }
  }
  return Infinity;
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

export function gridLegal<S extends GridState>(rules: GridRules<S>, state: S): number[] {
  if (state.done) return [];
  const out: number[] = [];
  for (const m of MOVES) {
    const next = neighbour(state, state.pos, m.id);
    if (next !== undefined && state.cells[next] !== '#' && rules.passable(state, state.cells[next]!)) out.push(m.id);
  }
  return out;
}

/** The step every grid world shares: move, pay the step cost, apply the cell's effect, observe the cell. */
export function gridStep<S extends GridState>(rules: GridRules<S>, state: S, action: number): WorldStep<S> {
  if (state.done) throw new ZooError('ENV_ERROR', `${rules.name}: step after the episode ended`);
  if (!gridLegal(rules, state).includes(action)) {
    throw new ZooError('ENV_ERROR', `${rules.name}: action ${render([action])} is not legal here; legal actions are ${render(gridLegal(rules, state))}`, {
      symbol: render([action]),
    });
  }
  const pos = neighbour(state, state.pos, action)!;
  const cell = state.cells[pos]!;
  const moved = { ...state, pos, t: state.t + 1 };
  const e = rules.enter(moved, cell);
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
}

/** A fresh state of `map` (plus the world's own fields). */
export function gridStart<X extends object>(map: GridMap, extra: X): GridState & X {
  return { width: map.width, height: map.height, cells: map.cells, pos: map.start, t: 0, done: false, visible: 0, hidden: 0, ...extra };
}

/** Longest episode a grid world can write: prompt + `timeLimit` (action, cell) pairs + at most 2 more tokens + EOS. */
export function gridWorstLength(promptLength: number, timeLimit: number, extraObservation = 0): number {
  return promptLength + 2 * timeLimit + extraObservation + 1;
}
