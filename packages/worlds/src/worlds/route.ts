import { MOVES, neighbour, type GridState } from '../grid.js';

/**
 * First move of a shortest path from the agent to the nearest cell showing one of `targets`, never
 * entering walls or cells in `avoid`; undefined when no such path exists. Scripted policies use it.
 */
export function firstStep(s: GridState, targets: readonly string[], avoid: readonly string[]): number | undefined {
  const first = new Map<number, number>([[s.pos, -1]]);
  const queue = [s.pos];
  while (queue.length) {
    const pos = queue.shift()!;
    if (pos !== s.pos && targets.includes(s.cells[pos]!)) return first.get(pos);
    for (const m of MOVES) {
      const next = neighbour(s, pos, m.id);
      if (next === undefined || first.has(next)) continue;
      const cell = s.cells[next]!;
      if (cell === '#' || (avoid.includes(cell) && !targets.includes(cell))) continue;
      first.set(next, pos === s.pos ? m.id : first.get(pos)!);
      queue.push(next);
    }
  }
  return undefined;
}
