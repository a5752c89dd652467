import { usesRewardModel, type ResolvedExperiment } from './resolve.js';
import { hashOf } from './rundir.js';

export type StageKind = 'data' | 'base' | 'reward-model' | 'arm' | 'distill' | 'probe';

/** One stage of a run: its folder id (`arm/dpo/seed-1`), the hash of its inputs, and what it is. */
export interface PlannedStage {
  id: string;
  key: string;
  kind: StageKind;
  seed: number;
  /** Arm or distillation arm name (arm, distill) or the probed model (`base`, an arm, a distillation arm). */
  name?: string;
}

/** Stages run one after another in one process (the pool runs tasks side by side). */
export interface Task {
  id: string;
  stages: PlannedStage[];
}

export interface Plan {
  /** Per seed: behaviour data, base, reward model; these come before every other task of the seed. */
  preludes: Task[];
  /** Independent tasks: per seed, the base's probes and each arm with its distillations and probes. */
  tasks: Task[];
  stages: PlannedStage[];
}

/**
 * The stages of an experiment and their keys. A key hashes the stage's own settings and the keys of the
 * stages it reads, so changing a setting re-runs that stage and those downstream of it, and nothing else.
 */
export function planExperiment(x: ResolvedExperiment): Plan {
  const c = x.config;
  const vocabulary = x.vocabulary.toJSON();
  const preludes: Task[] = [];
  const tasks: Task[] = [];
  const usesRm = c.arms.some((a) => usesRewardModel(a, x.regimes.get(a.name)));
  for (const seed of c.seeds) {
    const s = `seed-${seed}`;
    const data: PlannedStage = { id: `data/${s}`, kind: 'data', seed, key: hashOf({ kind: 'data', worlds: c.worlds, data: c.data, seed }) };
    const base: PlannedStage = {
      id: `base/${s}`,
      kind: 'base',
      seed,
      name: 'base',
      key: hashOf({ kind: 'base', data: data.key, model: c.model, base: c.base, vocabulary, every: c.run.checkpointEvery }),
    };
    const prelude = [data, base];
    let rmKey: string | undefined;
    if (c.rewardModel && usesRm) {
      const rm: PlannedStage = { id: `reward-model/${s}`, kind: 'reward-model', seed, key: hashOf({ kind: 'reward-model', base: base.key, rm: c.rewardModel, every: c.run.checkpointEvery }) };
      rmKey = rm.key;
      prelude.push(rm);
    }
    preludes.push({ id: `prelude/${s}`, stages: prelude });
    const probeKey = (modelKey: string, condition: unknown) => hashOf({ kind: 'probe', model: modelKey, probes: c.probes, splits: c.splits, worlds: c.worlds, condition });
    const modelKeys = new Map<string, string>([['base', base.key]]);
    const withStudents = (teacher: string, teacherKey: string, stages: PlannedStage[]) => {
      for (const d of c.distill.filter((d) => d.teacher === teacher)) {
        const key = hashOf({ kind: 'distill', teacher: teacherKey, base: base.key, distiller: d.distiller });
        modelKeys.set(d.name, key);
        stages.push({ id: `distill/${d.name}/${s}`, kind: 'distill', seed, name: d.name, key });
        stages.push({ id: `probe/${d.name}/${s}`, kind: 'probe', seed, name: d.name, key: probeKey(key, null) });
      }
    };
    const baseTask: PlannedStage[] = [{ id: `probe/base/${s}`, kind: 'probe', seed, name: 'base', key: probeKey(base.key, null) }];
    withStudents('base', base.key, baseTask);
    tasks.push({ id: `base/${s}`, stages: baseTask });
    for (const arm of c.arms) {
      const usesThisRm = usesRewardModel(arm, x.regimes.get(arm.name));
      const key = hashOf({ kind: 'arm', base: base.key, data: data.key, rm: usesThisRm ? rmKey : null, regime: arm.regime, reward: arm.reward, vocabulary });
      modelKeys.set(arm.name, key);
      const stages: PlannedStage[] = [
        { id: `arm/${arm.name}/${s}`, kind: 'arm', seed, name: arm.name, key },
        { id: `probe/${arm.name}/${s}`, kind: 'probe', seed, name: arm.name, key: probeKey(key, arm.regime) },
      ];
      withStudents(arm.name, key, stages);
      tasks.push({ id: `arm/${arm.name}/${s}`, stages });
    }
  }
  const stages = [...preludes, ...tasks].flatMap((t) => t.stages);
  return { preludes, tasks, stages };
}
