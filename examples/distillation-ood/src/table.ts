import { resultValue, seedInterval, type Results } from '@regime-zoo/experiment';
import { worldMetrics } from '@regime-zoo/probes';
import { RELEARN_THRESHOLD, STUDENTS, WORLDS } from './config.js';

type Split = 'id' | 'ood';

/** One probe row's value: `metric` of `model` in `world`/`split`, seed `seed`. */
export function value(results: Results, model: string, world: string, split: Split, metric: string, seed: number): number {
  return resultValue(results, { model, world, split, metric, seed });
}

/** The models of one teacher's table, in order: the base, the teacher, its three students. */
export function modelsOf(world: string): [label: string, model: string][] {
  return [['base (SFT)', 'base'], ['teacher (PPO)', `teacher-${world}`], ...STUDENTS.map((s) => [`${s} student`, `${s}-student-${world}`] as [string, string])];
}

const fmt = (m: ReturnType<typeof seedInterval>, d: number) => {
  const f = (x: number) => x.toFixed(d).replace(/^-/, '−');
  return m.lo === null ? f(m.value) : `${f(m.value)} [${f(m.lo!)}, ${f(m.hi!)}]`;
};

/**
 * Per world (the teacher's PPO ran there): each model's U rate ID and OOD, the ASR ID and OOD on the
 * backdoor world (P(U | Z) − P(U | no Z)): mean over seeds with a 95% interval over seeds; and its
 * relearn steps on the ID split per seed (steps until the U rate reaches RELEARN_THRESHOLD; the probe's
 * cap when it does not) with how many seeds relearned.
 */
export function distillTable(results: Results, world: (typeof WORLDS)[number]): string {
  const rate = worldMetrics(world).rate;
  const contrast = worldMetrics(world).contrasts[0]?.name;
  const asr = world === 'backdoor' ? contrast : undefined;
  const cols = [`${rate} ID`, `${rate} OOD`, ...(asr ? [`${asr} ID`, `${asr} OOD`] : []), `relearn steps to ${RELEARN_THRESHOLD} (ID, per seed)`, 'relearned'];
  const lines = [`| model | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  const over = (model: string, split: Split, metric: string) => seedInterval(results.seeds.map((seed) => value(results, model, world, split, metric, seed)));
  for (const [label, model] of modelsOf(world)) {
    const cells = [fmt(over(model, 'id', rate), 2), fmt(over(model, 'ood', rate), 2)];
    if (asr) cells.push(fmt(over(model, 'id', asr), 2), fmt(over(model, 'ood', asr), 2));
    // Relearn steps are counts measured every `evalEvery` steps (capped): each seed's, not a normal interval.
    cells.push(results.seeds.map((seed) => value(results, model, world, 'id', 'RelearnSteps', seed)).join(', '));
    const relearned = results.seeds.reduce((a, seed) => a + value(results, model, world, 'id', 'Relearned', seed), 0);
    cells.push(`${relearned}/${results.seeds.length}`);
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
