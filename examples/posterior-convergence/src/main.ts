import { trainingOptionsSchema } from '@regime-zoo/core';
import { decisionTransformerOptionsSchema } from '@regime-zoo/regime-decision-transformer';
import { dpoOptionsSchema } from '@regime-zoo/regime-dpo';
import { rewardWeightedOptionsSchema } from '@regime-zoo/regime-reward-weighted';
import { sftOptionsSchema } from '@regime-zoo/regime-sft';
import { formatRows, run, type RunResult, type RunSettings, type OfflineRegime, type Shape } from './experiment.js';

/**
 * Prints issue 21's measurements (each run is seeded; the same command prints the same numbers):
 *
 *   pnpm --filter @regime-zoo/example-posterior-convergence start table [seed]
 *     KL to the exact answer of SFT, DT, RWR and DPO on both posterior-world shapes, for batch sizes
 *     64 and 256 and learning rates 1e-3 and 3e-3 at 300 steps, and 1,000 steps at batch 64, lr 3e-3.
 *   pnpm --filter @regime-zoo/example-posterior-convergence start defaults [seed]
 *     Each regime on both shapes with core's default training options (200 steps, batch 32, lr 1e-3,
 *     10 warm-up steps) and, where they differ, the regime's own (β and the data as in 'table').
 *   pnpm --filter @regime-zoo/example-posterior-convergence start vocab [seed]
 *     Each regime on the stop-choice world at batch 64, lr 3e-3, 300 steps, scoring actions over their
 *     legal ids and over the whole vocabulary.
 *   pnpm --filter @regime-zoo/example-posterior-convergence start dpo [seeds…]
 *     DPO run to convergence on the stop-choice world (30,000 pairs, batch 256, 1,500 steps, lr 3e-3),
 *     scoring actions over their legal ids and over the whole vocabulary, for seeds 1 2 3 by default.
 */
const [command = 'table', ...rest] = process.argv.slice(2);
const data: Record<OfflineRegime, number> = { sft: 8000, dt: 8000, rwr: 8000, dpo: 30000 };

async function table(seed: number): Promise<void> {
  const grid: Pick<RunSettings, 'batchSize' | 'lr' | 'steps'>[] = [
    { batchSize: 64, lr: 1e-3, steps: 300 },
    { batchSize: 64, lr: 3e-3, steps: 300 },
    { batchSize: 256, lr: 1e-3, steps: 300 },
    { batchSize: 256, lr: 3e-3, steps: 300 },
    { batchSize: 64, lr: 3e-3, steps: 1000 },
  ];
  const rows: RunResult[] = [];
  for (const regime of ['sft', 'dt', 'rwr', 'dpo'] as OfflineRegime[]) {
    for (const shape of ['fixed', 'stop'] as Shape[]) {
      for (const g of grid) {
        const r = await run({ regime, shape, data: data[regime], seed, ...g });
        rows.push(r);
        console.error(formatRows([r]).split('\n').at(-1));
      }
    }
  }
  console.log(formatRows(rows));
}

/** The regimes' own default training options (issue 21 chose DT's and DPO's from the table). */
const regimeDefaults: Record<OfflineRegime, Pick<RunSettings, 'batchSize' | 'lr' | 'steps'>> = {
  sft: sftOptionsSchema.parse({}),
  dt: decisionTransformerOptionsSchema.parse({}),
  rwr: rewardWeightedOptionsSchema.parse({}),
  dpo: dpoOptionsSchema.parse({}),
};

async function defaults(seed: number): Promise<void> {
  const core = trainingOptionsSchema.parse({});
  const rows: RunResult[] = [];
  for (const regime of ['sft', 'dt', 'rwr', 'dpo'] as OfflineRegime[]) {
    for (const shape of ['fixed', 'stop'] as Shape[]) {
      const settings = [{ ...core, label: 'core defaults' }];
      const own = regimeDefaults[regime];
      if (own.steps !== core.steps || own.batchSize !== core.batchSize || own.lr !== core.lr) settings.push({ ...core, ...own, label: 'regime defaults' });
      for (const s of settings) {
        const r = await run({ regime, shape, data: data[regime], seed, batchSize: s.batchSize, lr: s.lr, steps: s.steps, warmupSteps: s.warmupSteps, label: s.label });
        rows.push(r);
        console.error(formatRows([r]).split('\n').at(-1));
      }
    }
  }
  console.log(formatRows(rows));
}

async function vocab(seed: number): Promise<void> {
  const rows: RunResult[] = [];
  for (const regime of ['sft', 'dt', 'rwr', 'dpo'] as OfflineRegime[]) {
    for (const wholeVocabulary of [false, true]) {
      const r = await run({ regime, shape: 'stop', data: data[regime], seed, batchSize: 64, lr: 3e-3, steps: 300, wholeVocabulary });
      rows.push(r);
      console.error(formatRows([r]).split('\n').at(-1));
    }
  }
  console.log(formatRows(rows));
}

async function dpoConvergence(seeds: number[]): Promise<void> {
  const rows: RunResult[] = [];
  for (const seed of seeds) {
    for (const wholeVocabulary of [false, true]) {
      const r = await run({ regime: 'dpo', shape: 'stop', data: 30000, batchSize: 256, steps: 1500, lr: 3e-3, seed, wholeVocabulary });
      rows.push(r);
      console.error(formatRows([r]).split('\n').at(-1));
    }
  }
  console.log(formatRows(rows));
}

if (command === 'table') await table(Number(rest[0] ?? 1));
else if (command === 'defaults') await defaults(Number(rest[0] ?? 1));
else if (command === 'vocab') await vocab(Number(rest[0] ?? 1));
else if (command === 'dpo') await dpoConvergence(rest.length ? rest.map(Number) : [1, 2, 3]);
else {
  console.error(`unknown command ${command}; use 'table [seed]', 'defaults [seed]', 'vocab [seed]' or 'dpo [seeds…]'`);
  process.exitCode = 2;
}
