import { createDistillContext, exampleLogProbs, Rng, runDistill, Transformer } from '@regime-zoo/core';
import { klDivergence, posteriorFixture, sampleIndices } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { logitDistill } from './logit.js';
import { sequenceDistill } from './sequence.js';
import { trainMle } from './test-helpers.js';

const world = posteriorFixture(posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward: (x) => x.filter((s) => s === 2).length }));
const teacherConfig = { vocabSize: worldVocabulary().size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2, seed: 7 };
/** The fresh student: smaller than the teacher, its own seed. */
const studentModel = { dModel: 24, nHeads: 2, nLayers: 1, seed: 101 };
const distribution = (m: Transformer) => exampleLogProbs(m, world.sequences.map((_, i) => world.example(i)), { legalIds: world.legal }).map(Math.exp);

describe('distillation on the posterior world (exact enumeration)', async () => {
  // The teacher: trained by MLE on samples of the world's Markov π₀ (a trained model, far from uniform).
  const teacher = Transformer.create(teacherConfig);
  await trainMle(teacher, sampleIndices(world.pi0, 4000, 3).map((i) => world.example(i)), { steps: 250, batchSize: 64, lr: 3e-3, seed: 1 });
  const pT = distribution(teacher);
  const start = (() => {
    const init = Transformer.create({ ...teacherConfig, ...studentModel });
    const kl = klDivergence(pT, distribution(init));
    init.dispose();
    return kl;
  })();

  it('should bring a fresh student to KL(teacher ‖ student) ≤ 0.01 over all sequences by logit-level distillation', async () => {
    const log: Record<string, number>[] = [];
    const ctx = createDistillContext({ teacher, rng: new Rng(2), worlds: [world.environment], log: (_s, m) => log.push(m) });
    const report = await runDistill(logitDistill({ studentModel, steps: 18, batchSize: 64, lr: 1e-2, episodes: 512 }), ctx);
    const kl = klDivergence(pT, distribution(report.student));
    console.log(`logit-level: KL(teacher ‖ student) ${kl.toFixed(5)} (start ${start.toFixed(4)}), objective/kl ${log.at(-1)!['objective/kl']!.toFixed(4)}`);
    expect(start).toBeGreaterThan(0.1);
    expect(kl).toBeLessThanOrEqual(0.01);
    expect(report).toMatchObject({ steps: 18, init: 'fresh', data: { collected: 512, kept: 512 } });
    expect(report.student.config).toMatchObject({ dModel: 24, nLayers: 1, vocabSize: teacherConfig.vocabSize });
    expect(Object.keys(log[0]!)).toEqual(expect.arrayContaining(['loss', 'objective/kl', 'objective/entropy', 'mean_token_accuracy']));
    // β = 0: the loss is the logged forward KL (both per action token, at T = 1).
    expect(log.at(-1)!.loss).toBeCloseTo(log.at(-1)!['objective/kl']!, 5);
    report.student.dispose();
  });

  it('should bring a fresh student to KL(teacher ‖ student) ≤ 0.03 over all sequences by sequence-level distillation', async () => {
    const log: Record<string, number>[] = [];
    const ctx = createDistillContext({ teacher, rng: new Rng(3), worlds: [world.environment], log: (_s, m) => log.push(m) });
    const report = await runDistill(sequenceDistill({ studentModel, steps: 80, batchSize: 64, lr: 1e-2, episodes: 800 }), ctx);
    const kl = klDivergence(pT, distribution(report.student));
    console.log(`sequence-level: KL(teacher ‖ student) ${kl.toFixed(5)} (start ${start.toFixed(4)}), objective/kl ${log.at(-1)!['objective/kl']!.toFixed(4)}`);
    expect(start).toBeGreaterThan(0.1);
    expect(kl).toBeLessThanOrEqual(0.03);
    expect(report.data).toMatchObject({ collected: 800, kept: 800, droppedUnsafe: 0 });
    report.student.dispose();
  });
});
