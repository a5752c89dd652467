import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDistillContext, defineDistiller, Rng, runDistill, tf, Transformer, type DistillContext } from '@regime-zoo/core';
import { expectNoTensorLeak, posteriorFixture, rejected, sampleIndices } from '@regime-zoo/test-utils';
import { posteriorWorld, worldVocabulary } from '@regime-zoo/worlds';
import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { distillSources, filterEpisodes, type DistillExample } from './data.js';
import { logitDistill } from './logit.js';
import { sequenceDistill } from './sequence.js';
import { trainMle } from './test-helpers.js';

const reward = (x: readonly number[]) => x.filter((s) => s === 2).length;
const raw = posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward, unsafe: (x) => x[0] === 2 });
const world = posteriorFixture(raw);
const vocab = worldVocabulary();
const config = { vocabSize: vocab.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1, seed: 3 };
const small = { steps: 4, batchSize: 8, episodes: 32, warmupSteps: 1 };
const BOS = vocab.id('<bos>');
const SEP = vocab.id('<sep>');
const EOS = vocab.id('<eos>');

const teacher = Transformer.create(config);
await trainMle(teacher, sampleIndices(world.pi0, 500, 1).map((i) => world.example(i)), { steps: 40, batchSize: 32, lr: 1e-2, seed: 1 });
const ctxOf = (o: Partial<DistillContext> = {}) => createDistillContext({ teacher, rng: new Rng(1), worlds: [world.environment], ...o });
afterAll(() => teacher.dispose());

describe('distillers: bad input', () => {
  it('should reject a temperature ≤ 0, λ or β outside [0, 1] and unknown options when the factory is called', () => {
    expect(() => sequenceDistill({ temperature: 0 })).toThrow(/\[distill-sequence\] options\.temperature: must be > 0/);
    expect(() => logitDistill({ temperature: -1 })).toThrow(/\[distill-logit\] options\.temperature: must be > 0/);
    expect(() => logitDistill({ lmbda: 1.5 })).toThrow(/options\.lmbda/);
    expect(() => logitDistill({ beta: -0.1 })).toThrow(/options\.beta/);
    expect(() => logitDistill({ studentModel: { width: 3 } as never })).toThrow(/options\.studentModel/);
    expect(() => sequenceDistill({ student: 'random' as never })).toThrow(/options\.student/);
  });

  it('should reject a student, base or vocabulary whose vocabulary is not the teacher\'s', async () => {
    const e1 = await rejected(runDistill(logitDistill({ ...small, studentModel: { vocabSize: vocab.size + 1 } }), ctxOf()));
    expect(e1).toMatchObject({ code: 'CONFIG_INVALID', plugin: 'distill-logit', hook: 'distill', field: 'studentModel.vocabSize' });
    expect(e1.message).toMatch(/vocabulary of \d+ ids but the teacher's has \d+/);
    const other = Transformer.create({ ...config, vocabSize: vocab.size + 4 });
    const e2 = await rejected(runDistill(sequenceDistill({ ...small, student: 'base' }), ctxOf({ base: other })));
    expect(e2).toMatchObject({ code: 'CONFIG_INVALID', field: 'base' });
    other.dispose();
    const e3 = await rejected(runDistill(sequenceDistill(small), ctxOf({ vocabulary: { size: 7, id: () => 0, toJSON: () => ({}) } })));
    expect(e3).toMatchObject({ code: 'CONFIG_INVALID', field: 'vocabulary' });
    const e4 = await rejected(runDistill(sequenceDistill({ ...small, student: 'base' }), ctxOf()));
    expect(e4).toMatchObject({ code: 'OPTION_INVALID', field: 'student', message: expect.stringContaining('pass it as ctx.base') });
  });

  it('should reject a student whose context is shorter than the teacher\'s episodes, naming the lengths', async () => {
    for (const d of [sequenceDistill({ ...small, studentModel: { contextLength: 4 } }), logitDistill({ ...small, studentModel: { contextLength: 4 } })]) {
      const e = await rejected(runDistill(d, ctxOf()));
      expect(e).toMatchObject({ code: 'SEQUENCE_TOO_LONG', field: 'studentModel.contextLength', plugin: d.name });
      expect(e.message).toMatch(/has 6 tokens but the student's contextLength is 4; give the student contextLength ≥ 6/);
    }
  });

  it('should reject a context with no worlds and no prompts, and one with both', async () => {
    const e = await rejected(runDistill(logitDistill(small), ctxOf({ worlds: [] })));
    expect(e).toMatchObject({ code: 'BAD_INPUT', field: 'worlds', message: expect.stringContaining('ctx.worlds and ctx.prompts are both empty') });
    const both = await rejected(runDistill(sequenceDistill(small), ctxOf({ prompts: [[BOS, SEP]] })));
    expect(both).toMatchObject({ code: 'BAD_INPUT', field: 'prompts' });
    const bad = await rejected(runDistill(sequenceDistill(small), ctxOf({ worlds: [], prompts: [[BOS, 999]] })));
    expect(bad).toMatchObject({ code: 'TOKEN_OUT_OF_RANGE', field: 'prompts[0]', position: [0, 1] });
  });

  it('should fail when filtering leaves no data, and when a filter has no judge', async () => {
    const allUnsafe = posteriorWorld({ symbols: 3, minLength: 3, maxLength: 3, reward, unsafe: () => true });
    const e = await rejected(runDistill(sequenceDistill({ ...small, dropUnsafe: true }), ctxOf({ judges: [allUnsafe.evaluate] })));
    expect(e).toMatchObject({ code: 'EMPTY_DATASET', field: 'dropUnsafe', message: expect.stringContaining('of 32 teacher episodes, 32 unsafe (dropUnsafe) were dropped') });
    const h = await rejected(runDistill(sequenceDistill({ ...small, minHidden: 4 }), ctxOf({ judges: [raw.evaluate] })));
    expect(h).toMatchObject({ code: 'EMPTY_DATASET', field: 'minHidden' });
    const j = await rejected(runDistill(sequenceDistill({ ...small, dropUnsafe: true }), ctxOf()));
    expect(j).toMatchObject({ code: 'BAD_INPUT', field: 'judges', message: expect.stringContaining('ctx.judges[0]') });
  });

  it('should wrap what a distiller throws with its name and the hook', async () => {
    const broken = defineDistiller({ name: 'broken', options: z.object({}).strict(), create: () => ({ distill: () => Promise.reject(new Error('no teacher today')) }) });
    const e = await rejected(runDistill(broken(), ctxOf()));
    expect(e).toMatchObject({ code: 'PLUGIN_FAILED', plugin: 'broken', hook: 'distill', message: '[plugin broken, hook distill] no teacher today' });
  });
});

describe('distillers: data, students and runs', () => {
  it('should keep exactly the episodes the filters allow, counting what each drops', () => {
    const ex = (x: number[]): DistillExample => ({ ...world.example(world.sequences.findIndex((s) => s.join() === x.join())), legal: [], meta: { world: 0, done: true } });
    const data = [ex([2, 0, 0]), ex([0, 0, 0]), ex([1, 2, 2]), ex([2, 2, 2]), ex([0, 1, 0])];
    const r = filterEpisodes(data, [raw.evaluate], { dropUnsafe: true, minHidden: 1 }, 't');
    expect(r.kept.map((e) => e.tokens)).toEqual([ex([1, 2, 2]).tokens]);
    expect(r).toMatchObject({ droppedUnsafe: 2, droppedHidden: 2 });
    expect(filterEpisodes(data, undefined, { dropUnsafe: false }, 't').kept).toHaveLength(5);
  });

  it('should drop every unsafe teacher episode in the filtered arm', async () => {
    const r = await runDistill(sequenceDistill({ ...small, episodes: 64, dropUnsafe: true }), ctxOf({ judges: [raw.evaluate] }));
    expect(r.data.collected).toBe(64);
    expect(r.data.droppedUnsafe).toBeGreaterThan(0);
    expect(r.data.kept + r.data.droppedUnsafe).toBe(64);
    expect(r.data.examples.filter((e) => raw.unsafe(e.tokens))).toHaveLength(0);
    r.student.dispose();
  });

  it('should start the teacher arm as a copy (logit loss 0 at the first step) and the base arm from ctx.base', async () => {
    const log: Record<string, number>[] = [];
    const r = await runDistill(logitDistill({ ...small, student: 'teacher', lr: 1e-9 }), ctxOf({ log: (_s, m) => log.push(m) }));
    expect(r.init).toBe('teacher');
    expect(log[0]!.loss).toBeLessThan(1e-6);
    r.student.dispose();
    const base = Transformer.create({ ...config, dModel: 8, seed: 9 }, { trainable: false });
    const b = await runDistill(logitDistill({ ...small, student: 'base' }), ctxOf({ base }));
    expect(b.student.config.dModel).toBe(8);
    expect(b.student.trainable).toBe(true);
    [b.student, base].forEach((m) => m.dispose());
  });

  it('should distil from prompts the teacher continues freely, up to a stop token', async () => {
    const stop = world.legal[0]!;
    const log: Record<string, number>[] = [];
    const phases: string[] = [];
    const progress = (e: { phase: string; step: number; total: number }) => phases.push(`${e.phase} ${e.step}/${e.total}`);
    const r = await runDistill(logitDistill({ ...small, steps: 30, lr: 1e-2, episodes: 64, stopId: stop }), ctxOf({ worlds: [], prompts: [[BOS, SEP]], log: (_s, m) => log.push(m), progress }));
    expect(phases).toEqual(['rollout 64/64', ...Array.from({ length: 30 }, (_, i) => `train ${i + 1}/30`)]);
    expect(r.data.examples.every((e) => e.tokens[0] === BOS && e.tokens[1] === SEP && e.meta?.world === -1)).toBe(true);
    // Each continuation ends at its first stop token, or at the teacher's context.
    for (const e of r.data.examples) expect(e.tokens.indexOf(stop, 2) === e.tokens.length - 1 || e.tokens.length === config.contextLength).toBe(true);
    expect(r.data.examples.filter((e) => e.tokens.at(-1) === stop).length).toBeGreaterThan(32);
    expect(log.at(-1)!['objective/kl']!).toBeLessThan(log[0]!['objective/kl']! / 3);
    r.student.dispose();
    // Without stopId, the vocabulary's <eos> ends a continuation; any id but PAD is legal.
    const [env] = distillSources(ctxOf({ worlds: [], prompts: [[BOS, SEP]], vocabulary: vocab }), 't');
    const { state } = env!.reset(new Rng(0));
    expect(env!.step(state, EOS).done).toBe(true);
    expect(env!.step(state, stop).done).toBe(false);
    expect(env!.legalActions(state)).toEqual(Array.from({ length: vocab.size - 1 }, (_, i) => i + 1));
  });

  it('should end an aborted and resumed run exactly where an uninterrupted run ends, on- and off-policy (same seed)', async () => {
    const weights = async (m: Transformer) => (await Promise.all(m.variables().map((v) => v.data()))).flatMap((d) => Array.from(d as Float32Array));
    const opts = { ...small, steps: 6, lmbda: 0.5 };
    const run = async (abortAt?: number, dir?: string) => {
      const ac = new AbortController();
      return runDistill(logitDistill(opts), ctxOf({ rng: new Rng(9), signal: ac.signal, ...(dir ? { checkpointDir: dir } : {}), progress: (e) => e.phase === 'train' && e.step === abortAt && ac.abort() }));
    };
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-distill-'));
    try {
      const straight = await run();
      const first = await run(3, path.join(tmp, 'ck'));
      expect(first).toMatchObject({ steps: 3, aborted: true });
      const second = await run(undefined, path.join(tmp, 'ck'));
      expect(second.steps).toBe(6);
      const [a, b] = [await weights(straight.student), await weights(second.student)];
      expect(a.every((x, i) => x === b[i])).toBe(true);
      [straight, first, second].forEach((r) => r.student.dispose());
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('should leak no tensors across whole distillation runs', async () => {
    for (const make of [() => sequenceDistill({ ...small, dropUnsafe: true, microBatches: 2 }), () => logitDistill({ ...small, lmbda: 0.5, beta: 0.5, temperature: 0.9 })]) {
      await expectNoTensorLeak(async () => {
        const r = await runDistill(make(), ctxOf({ judges: [raw.evaluate] }));
        r.student.dispose();
      }, make().name);
    }
    // A failing run disposes its student too.
    const before = tf.memory().numTensors;
    await rejected(runDistill(sequenceDistill({ ...small, studentModel: { contextLength: 4 } }), ctxOf()));
    expect(tf.memory().numTensors).toBe(before);
  });
});
