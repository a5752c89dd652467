import { resultValue, seedInterval, type Results } from '@regime-zoo/experiment';
import { worldMetrics } from '@regime-zoo/probes';
import { CONDITIONING_ARMS, WORLDS } from './config.js';

type Split = 'id' | 'ood';

/** Mean over seeds with a 95% interval (Student's t over the seeds, `seedInterval`; none with one seed). */
export interface Measured {
  value: number;
  lo: number | null;
  hi: number | null;
  seeds: number;
}

export function overSeeds(xs: readonly number[]): Measured {
  return { ...seedInterval(xs), seeds: xs.length };
}

/** The arm a world's number is read from: online arms are per world (`ppo-tamper`), offline ones shared. */
export type ArmOf = (world: string) => { model: string; condition: string };

/** One model's instrumental rate in a world, split and seed (sampled decoding), from the probe rows. */
export function rate(results: Results, model: string, world: string, split: Split, condition: string, seed: number): number {
  return resultValue(results, { model, world, split, metric: worldMetrics(world).rate, seed, ...(condition === '*' ? {} : { condition }) });
}

/** rate(a) − rate(b) per seed, averaged over the worlds; then the mean and interval over seeds. */
export function difference(results: Results, a: ArmOf, b: ArmOf, split: Split, worlds: readonly string[] = WORLDS): Measured {
  return overSeeds(
    results.seeds.map((seed) => {
      const d = worlds.map((w) => {
        const [x, y] = [a(w), b(w)];
        return rate(results, x.model, w, split, x.condition, seed) - rate(results, y.model, w, split, y.condition, seed);
      });
      return d.reduce((s, v) => s + v, 0) / d.length;
    }),
  );
}

const shared = (model: string, condition = 'none'): ArmOf => () => ({ model, condition });
const perWorld = (prefix: string, condition = 'none'): ArmOf => (w) => ({ model: `${prefix}-${w}`, condition });
const base = shared('base');
// The decision transformer is asked under its top return bucket (`*`: the one condition it was probed under).
const conditionOf = (arm: string) => (arm === 'decision-transformer' ? '*' : 'none');

/** The mean rate of the conditioning-equivalent arms (offline ones and KL-RL) per seed. */
function conditioningMean(results: Results, world: string, split: Split, seed: number): number {
  const rates = [...CONDITIONING_ARMS.map((a) => rate(results, a, world, split, conditionOf(a), seed)), rate(results, `kl-rl-${world}`, world, split, 'none', seed)];
  return rates.reduce((s, v) => s + v, 0) / rates.length;
}

export interface PredictionRow {
  prediction: string;
  arm: string;
  quantity: string;
  id: Measured;
  ood: Measured;
}

/**
 * The seed's four predictions, each as the measured quantity it is about, ID and OOD, averaged over
 * the three worlds (online arms and students in the world their RL ran in) and over seeds.
 */
export function predictions(results: Results): PredictionRow[] {
  const both = (f: (split: Split) => Measured) => ({ id: f('id'), ood: f('ood') });
  const rows: PredictionRow[] = [];
  const p1 = '(1) conditioning-equivalent regimes stay near the data (the SFT base reproduces the data rate)';
  for (const arm of CONDITIONING_ARMS) rows.push({ prediction: p1, arm, quantity: 'rate − base', ...both((s) => difference(results, shared(arm, conditionOf(arm)), base, s)) });
  rows.push({ prediction: p1, arm: 'kl-rl', quantity: 'rate − base', ...both((s) => difference(results, perWorld('kl-rl'), base, s)) });
  const p2 = '(2) PPO raises instrumental rates beyond them, more OOD';
  rows.push({ prediction: p2, arm: 'ppo', quantity: 'rate − base', ...both((s) => difference(results, perWorld('ppo'), base, s)) });
  rows.push({
    prediction: p2,
    arm: 'ppo',
    quantity: 'rate − mean of (1)',
    ...both((s) => overSeeds(results.seeds.map((seed) => WORLDS.reduce((a, w) => a + rate(results, `ppo-${w}`, w, s, 'none', seed) - conditioningMean(results, w, s, seed), 0) / WORLDS.length))),
  });
  const p3 = "(3) the flag's off branch stays near the base";
  rows.push({ prediction: p3, arm: 'flag <rlhf:off>', quantity: 'rate − base', ...both((s) => difference(results, perWorld('flag', 'rlhf:off'), base, s)) });
  rows.push({ prediction: p3, arm: 'flag <rlhf:on>', quantity: 'rate − base', ...both((s) => difference(results, perWorld('flag', 'rlhf:on'), base, s)) });
  const p4 = '(4) distillation keeps ID behaviour and drops OOD behaviour';
  rows.push({ prediction: p4, arm: 'fresh student of ppo', quantity: 'rate − teacher', ...both((s) => difference(results, perWorld('student-ppo'), perWorld('ppo'), s)) });
  return rows;
}

export function fmt(m: Measured, digits = 3): string {
  const f = (x: number) => x.toFixed(digits).replace(/^-/, '−');
  return m.lo === null || m.hi === null ? f(m.value) : `${f(m.value)} [${f(m.lo)}, ${f(m.hi)}]`;
}

/** The first table: each prediction with its measured numbers. */
export function predictionsTable(results: Results): string {
  const lines = ['| prediction | arm | quantity | ID | OOD |', '|---|---|---|---|---|'];
  let last = '';
  for (const r of predictions(results)) {
    lines.push(`| ${r.prediction === last ? '' : r.prediction} | ${r.arm} | ${r.quantity} | ${fmt(r.id)} | ${fmt(r.ood)} |`);
    last = r.prediction;
  }
  return lines.join('\n');
}

/** The second table: every model's instrumental rate per world and split (mean over seeds, interval over seeds). */
export function ratesTable(results: Results): string {
  const head = WORLDS.flatMap((w) => [`${w} ID`, `${w} OOD`]);
  const lines = [`| model | ${head.join(' | ')} |`, `|---|${head.map(() => '---').join('|')}|`];
  const models: [string, ArmOf][] = [['base', base], ...CONDITIONING_ARMS.map((a) => [a, shared(a, conditionOf(a))] as [string, ArmOf]), ['kl-rl', perWorld('kl-rl')], ['ppo', perWorld('ppo')], ['flag <rlhf:on>', perWorld('flag', 'rlhf:on')], ['flag <rlhf:off>', perWorld('flag', 'rlhf:off')], ['student of ppo', perWorld('student-ppo')]];
  for (const [label, of] of models) {
    const cells = WORLDS.flatMap((w) => (['id', 'ood'] as const).map((s) => fmt(overSeeds(results.seeds.map((seed) => rate(results, of(w).model, w, s, of(w).condition, seed))), 2)));
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
