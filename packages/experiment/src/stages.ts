import fs from 'node:fs';
import path from 'node:path';
import {
  createFitContext,
  ensureBackend,
  loadCheckpoint,
  Rng,
  runFit,
  saveCheckpoint,
  toZooError,
  Transformer,
  ZooError,
  runDistill,
  runProbe,
  type DistillContext,
  type Environment,
  type EvalSpec,
  type FitReport,
  type ProbeContext,
  type ProbeResult,
  type ProbeRow,
  type Transformer as Model,
} from '@regime-zoo/core';
import { loadRewardModel, trainRewardModel } from '@regime-zoo/reward-model';
import { sft } from '@regime-zoo/regime-sft';
import { generateEpisodes, preferencePairs, readEpisodes, readPreferences, toExample, writeEpisodes, writePreferences, type EpisodeRecord } from '@regime-zoo/worlds';
import { checkpointStep, stageMetrics } from './metrics.js';
import type { PlannedStage } from './plan.js';
import { usesRewardModel, type ResolvedExperiment } from './resolve.js';

import { finishStage, hashOf, openStage, readStage, stageDir, type StageRecord } from './rundir.js';

/** Progress of one stage, for bars and plain lines. */
export interface StageProgress {
  stage: string;
  step: number;
  total: number;
  /** `start`, `step`, `skip` (already complete) or `done`. */
  event: 'start' | 'step' | 'skip' | 'done';
}

export interface StageEnv {
  runDir: string;
  x: ResolvedExperiment;
  signal: AbortSignal;
  progress: (p: StageProgress) => void;
}

/** A seed for a stage's RNG from the run seed and the stage's id (the same in any process, in any order). */
export function stageSeed(seed: number, id: string): number {
  return parseInt(hashOf({ seed, id }).slice(0, 8), 16) % 2_147_483_647;
}

const MODEL_DIR = 'model';
const CKPT_DIR = 'checkpoint';

function modelOf(runDir: string, x: ResolvedExperiment, name: string, seed: number): string {
  if (name === 'base') return path.join(stageDir(runDir, `base/seed-${seed}`), MODEL_DIR);
  if (x.regimes.has(name)) return path.join(stageDir(runDir, `arm/${name}/seed-${seed}`), MODEL_DIR);
  return path.join(stageDir(runDir, `distill/${name}/seed-${seed}`), MODEL_DIR);
}

async function loadModel(dir: string, trainable = false): Promise<Model> {
  const c = await loadCheckpoint(dir, { trainable });
  c.dispose();
  return c.model;
}

function readData(runDir: string, seed: number): Promise<EpisodeRecord[]> {
  return readEpisodes(path.join(stageDir(runDir, `data/seed-${seed}`), 'episodes.jsonl'));
}

/**
 * Runs one stage unless a complete record of the same key is there; a stage's folder with work of the
 * same key (a killed run) is resumed from its checkpoint. Returns whether it ran.
 */
export async function runStage(env: StageEnv, s: PlannedStage): Promise<boolean> {
  // Before any tensor: a stage that starts by reading a checkpoint would otherwise create its first
  // tensors on tfjs's default pure-JS backend.
  ensureBackend();
  if (readStage(env.runDir, s.id, s.key)) {
    env.progress({ stage: s.id, step: 0, total: 0, event: 'skip' });
    return false;
  }
  const dir = openStage(env.runDir, s.id, s.key);
  env.progress({ stage: s.id, step: 0, total: 0, event: 'start' });
  const output = await STAGES[s.kind](env, s, dir);
  if (env.signal.aborted) throw new ZooError('ABORTED', `stage ${s.id} was stopped; \`zoo resume ${env.runDir}\` continues it`, { field: s.id });
  const record: StageRecord = { id: s.id, key: s.key, output };
  finishStage(env.runDir, record);
  env.progress({ stage: s.id, step: 1, total: 1, event: 'done' });
  return true;
}

type StageFn = (env: StageEnv, s: PlannedStage, dir: string) => Promise<Record<string, unknown>>;

function fitReportOutput(r: FitReport): Record<string, unknown> {
  return { steps: r.steps, metrics: r.metrics, ...(r.aborted ? { aborted: true } : {}) };
}

/** Training context pieces every training stage shares: metrics, progress, checkpoint folder. */
async function trainingHooks(env: StageEnv, s: PlannedStage, dir: string, arm: string) {
  const checkpointDir = path.join(dir, CKPT_DIR);
  const metrics = stageMetrics(env.runDir, { stageId: s.id, stage: s.kind, arm, seed: s.seed, resumeStep: await checkpointStep(checkpointDir) });
  return {
    checkpointDir,
    metrics,
    progress: (e: { step: number; total: number }) => env.progress({ stage: s.id, step: e.step, total: e.total, event: 'step' }),
  };
}

const STAGES: Record<PlannedStage['kind'], StageFn> = {
  async data(env, s, dir) {
    const c = env.x.config;
    const rng = new Rng(stageSeed(s.seed, s.id));
    const episodes = env.x.worlds.flatMap((w) => generateEpisodes(w, { split: 'id', episodes: c.data.episodes, seed: rng.int(2 ** 31 - 1) }));
    await writeEpisodes(path.join(dir, 'episodes.jsonl'), episodes);
    let pairs = 0;
    if (c.data.pairs > 0) pairs = await writePreferences(path.join(dir, 'pairs.jsonl'), preferencePairs(episodes, { pairs: c.data.pairs, temperature: c.data.raterTemperature, seed: rng.int(2 ** 31 - 1) }));
    const unsafe = episodes.filter((e) => e.unsafe).length;
    return { episodes: episodes.length, pairs, unsafeRate: unsafe / episodes.length };
  },

  async base(env, s, dir) {
    const c = env.x.config;
    const data = (await readData(env.runDir, s.seed)).map(toExample);
    const policy = Transformer.create({ ...c.model, vocabSize: env.x.vocabulary.size, seed: s.seed });
    const init = policy.clone({ trainable: false });
    const h = await trainingHooks(env, s, dir, 'base');
    try {
      const regime = sft({ checkpointEvery: c.run.checkpointEvery, ...c.base });
      const report = await runFit(
        regime,
        createFitContext({ base: init, policy, rng: new Rng(stageSeed(s.seed, s.id)), dataset: data, vocabulary: env.x.vocabulary, log: h.metrics.log, progress: h.progress, signal: env.signal, checkpointDir: h.checkpointDir }),
      );
      if (!report.aborted) await saveCheckpoint(path.join(dir, MODEL_DIR), { model: policy, tokenizer: env.x.vocabulary.toJSON(), regime: { name: 'base' } });
      return fitReportOutput(report);
    } finally {
      h.metrics.close();
      policy.dispose();
      init.dispose();
    }
  },

  async 'reward-model'(env, s, dir) {
    const c = env.x.config;
    const base = await loadModel(modelOf(env.runDir, env.x, 'base', s.seed));
    const pairs = await readPreferences(path.join(stageDir(env.runDir, `data/seed-${s.seed}`), 'pairs.jsonl'));
    const h = await trainingHooks(env, s, dir, 'reward-model');
    const conditioningIds = env.x.vocabulary.tokens.flatMap((_, id) => (env.x.vocabulary.isConditioning(id) ? [id] : []));
    try {
      const rm = await trainRewardModel({
        model: base,
        pairs,
        options: { checkpointEvery: c.run.checkpointEvery, ...c.rewardModel!.options },
        rng: new Rng(stageSeed(s.seed, s.id)),
        log: h.metrics.log,
        progress: h.progress,
        signal: env.signal,
        checkpointDir: h.checkpointDir,
        vocabulary: env.x.vocabulary,
        conditioningIds,
      });
      try {
        return fitReportOutput(rm.report!);
      } finally {
        rm.dispose();
      }
    } finally {
      h.metrics.close();
      base.dispose();
    }
  },

  async arm(env, s, dir) {
    const armName = s.name!;
    const arm = env.x.config.arms.find((a) => a.name === armName)!;
    const regime = env.x.regimes.get(armName)!;
    const base = await loadModel(modelOf(env.runDir, env.x, 'base', s.seed));
    const policy = base.clone({ trainable: true });
    const records = await readData(env.runDir, s.seed);
    const pairsFile = path.join(stageDir(env.runDir, `data/seed-${s.seed}`), 'pairs.jsonl');
    const preferences = fs.existsSync(pairsFile) ? await readPreferences(pairsFile) : [];
    const rm = usesRewardModel(arm, regime) ? await loadRewardModel(path.join(stageDir(env.runDir, `reward-model/seed-${s.seed}`), CKPT_DIR)) : undefined;
    const h = await trainingHooks(env, s, dir, armName);
    try {
      const report = await runFit(
        regime,
        createFitContext({
          base,
          policy,
          rng: new Rng(stageSeed(s.seed, s.id)),
          vocabulary: env.x.vocabulary,
          worlds: env.x.worlds.map((w) => w.environment('id') as Environment),
          dataset: records.map(toExample),
          preferences,
          ...(rm ? { reward: rm.score } : {}),
          log: h.metrics.log,
          progress: h.progress,
          signal: env.signal,
          checkpointDir: h.checkpointDir,
        }),
      );
      if (!report.aborted) await saveCheckpoint(path.join(dir, MODEL_DIR), { model: policy, tokenizer: env.x.vocabulary.toJSON(), regime: { name: regime.name, arm: armName } });
      return fitReportOutput(report);
    } finally {
      h.metrics.close();
      rm?.dispose();
      policy.dispose();
      base.dispose();
    }
  },

  async distill(env, s, dir) {
    const d = env.x.config.distill.find((a) => a.name === s.name)!;
    const distiller = env.x.distillers.get(d.name)!;
    const teacher = await loadModel(modelOf(env.runDir, env.x, d.teacher, s.seed));
    const base = await loadModel(modelOf(env.runDir, env.x, 'base', s.seed));
    const h = await trainingHooks(env, s, dir, d.name);
    try {
      const ctx: DistillContext = {
        teacher,
        base,
        worlds: env.x.worlds.map((w) => w.environment('id') as Environment),
        judges: env.x.worlds.map((w) => (tokens: readonly number[]) => w.evaluate(tokens)),
        prompts: [],
        vocabulary: env.x.vocabulary,
        rng: new Rng(stageSeed(s.seed, s.id)),
        log: h.metrics.log,
        progress: h.progress,
        signal: env.signal,
        checkpointDir: h.checkpointDir,
        shared: {},
      };
      const report = await runDistill(distiller, ctx);
      try {
        if (!report.aborted) await saveCheckpoint(path.join(dir, MODEL_DIR), { model: report.student, tokenizer: env.x.vocabulary.toJSON(), regime: { name: distiller.name, teacher: d.teacher } });
      } finally {
        report.student.dispose();
      }
      const { collected, kept, droppedUnsafe, droppedHidden } = report.data;
      return { ...fitReportOutput(report), init: report.init, data: { collected, kept, droppedUnsafe, droppedHidden } };
    } finally {
      h.metrics.close();
      teacher.dispose();
      base.dispose();
    }
  },

  async probe(env, s, dir) {
    const name = s.name!;
    const policy = await loadModel(modelOf(env.runDir, env.x, name, s.seed));
    const base = name === 'base' ? undefined : await loadModel(modelOf(env.runDir, env.x, 'base', s.seed));
    const regime = env.x.regimes.get(name);
    const rows: (ProbeRow & { model: string; seed: number })[] = [];
    const unsupported: { probe: string; reason: string }[] = [];
    try {
      for (const [i, probe] of env.x.probes.entries()) {
        const ctx: ProbeContext = {
          policy,
          ...(base ? { base } : {}),
          worlds: env.x.worlds,
          splits: env.x.config.splits,
          vocabulary: env.x.vocabulary,
          ...(regime?.condition ? { condition: (spec: EvalSpec) => regime.condition!(spec, env.x.vocabulary) } : {}),
          rng: new Rng(stageSeed(s.seed, `${s.id}/${i}`)),
          signal: env.signal,
          shared: {},
        };
        let result: ProbeResult;
        try {
          result = await runProbe(probe, ctx);
        } catch (e) {
          // A probe that does not apply to this model (return calibration of a model without <rtg:k>
          // conditioning, ...) says so with PROBE_UNSUPPORTED: recorded, not fatal.
          const z = toZooError(e);
          if (z.code !== 'PROBE_UNSUPPORTED') throw z;
          unsupported.push({ probe: probe.name, reason: z.message });
          continue;
        }
        const got: ProbeRow[] =
          result.rows ??
          Object.entries(result.metrics).map(([metric, value]) => ({ probe: probe.name, world: 'all', split: 'id' as const, condition: 'none', decoding: 'sample' as const, metric, value, lo: null, hi: null, n: 0 }));
        for (const r of got) {
          if (!Number.isFinite(r.value)) throw new ZooError('NON_FINITE', `[plugin ${probe.name}, hook run] metric ${r.metric} of ${r.world}/${r.split} is ${r.value}; probes must report finite numbers`, { plugin: probe.name, hook: 'run', field: r.metric });
          rows.push({ ...r, model: name, seed: s.seed });
        }
        env.progress({ stage: s.id, step: i + 1, total: env.x.probes.length, event: 'step' });
      }
    } catch (e) {
      throw toZooError(e);
    } finally {
      policy.dispose();
      base?.dispose();
    }
    fs.writeFileSync(path.join(dir, 'rows.json'), JSON.stringify(rows));
    return { rows: rows.length, ...(unsupported.length ? { unsupported } : {}) };
  },
};

/** The probe rows a run's probe stage wrote. */
export function readProbeRows(runDir: string, stageId: string): (ProbeRow & { model: string; seed: number })[] {
  return JSON.parse(fs.readFileSync(path.join(stageDir(runDir, stageId), 'rows.json'), 'utf8')) as (ProbeRow & { model: string; seed: number })[];
}
