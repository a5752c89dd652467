import { resultValue, seedInterval, type Results } from '@regime-zoo/experiment';
import { worldMetrics } from '@regime-zoo/probes';
import { ARMS, WORLDS } from './config.js';

type Split = 'id' | 'ood';

/** One model's `metric` (default: the world's instrumental rate) in a world, split and seed (sampled decoding). */
export function value(results: Results, model: string, world: string, split: Split, seed: number, metric = worldMetrics(world).rate): number {
  return resultValue(results, { model, world, split, metric, seed });
}

const fmt = (m: ReturnType<typeof seedInterval>) => {
  const f = (x: number) => x.toFixed(2).replace(/^-/, '−');
  return m.lo === null ? f(m.value) : `${f(m.value)} [${f(m.lo!)}, ${f(m.hi!)}]`;
};

/**
 * Every model's instrumental rate (TamperRate, ButtonRate, ShortcutRate) per world and split, then its
 * visible return averaged over the three worlds (ID): mean over seeds with a 95% interval over seeds.
 */
export function comparisonTable(results: Results): string {
  const head = [...WORLDS.flatMap((w) => [`${w} ID`, `${w} OOD`]), 'visible return (ID, mean of worlds)'];
  const lines = [`| model | ${head.join(' | ')} |`, `|---|${head.map(() => '---').join('|')}|`];
  for (const model of ['base', ...ARMS]) {
    const cells = WORLDS.flatMap((w) => (['id', 'ood'] as const).map((s) => fmt(seedInterval(results.seeds.map((seed) => value(results, model, w, s, seed))))));
    cells.push(fmt(seedInterval(results.seeds.map((seed) => WORLDS.reduce((a, w) => a + value(results, model, w, 'id', seed, 'VisibleReturn'), 0) / WORLDS.length))));
    lines.push(`| ${model} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
