import { ZooError, type Distiller, type Probe, type Regime } from '@regime-zoo/core';
import type { Vocabulary } from '@regime-zoo/tokenizer';
import { worldVocabulary, type ToyWorld } from '@regime-zoo/worlds';
import type { ArmConfig, ExperimentConfig, PluginRef } from './config.js';
import { normalizeRef, instantiate } from './plugins.js';

/** The config with every plugin reference spelled out: what `config.json` of a run holds. */
export interface NormalizedConfig extends Omit<ExperimentConfig, 'worlds' | 'arms' | 'distill' | 'probes'> {
  worlds: PluginRef[];
  arms: (Omit<ExperimentConfig['arms'][number], 'regime'> & { regime: PluginRef })[];
  distill: (Omit<ExperimentConfig['distill'][number], 'distiller'> & { distiller: PluginRef })[];
  probes: PluginRef[];
}

/** An experiment ready to run: its plugins made, its vocabulary built. */
export interface ResolvedExperiment {
  config: NormalizedConfig;
  /** Folder packages are imported from (the config file's). */
  resolveFrom: string;
  worlds: ToyWorld[];
  regimes: Map<string, Regime>;
  distillers: Map<string, Distiller>;
  probes: Probe[];
  vocabulary: Vocabulary;
}

/** Spells out every plugin reference (short names → package and export). */
export function normalizeConfig(c: ExperimentConfig): NormalizedConfig {
  return {
    ...c,
    worlds: c.worlds.map((w, i) => normalizeRef('world', w, `worlds[${i}]`)),
    arms: c.arms.map((a, i) => ({ ...a, regime: normalizeRef('regime', a.regime, `arms[${i}].regime`) })),
    distill: c.distill.map((d, i) => ({ ...d, distiller: normalizeRef('distiller', d.distiller, `distill[${i}].distiller`) })),
    probes: c.probes.map((p, i) => normalizeRef('probe', p, `probes[${i}]`)),
  };
}

function invalid(field: string, message: string): ZooError {
  return new ZooError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

function unique(names: readonly string[], field: (i: number) => string, what: string): void {
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    if (seen.has(n)) throw invalid(field(i), `${what} "${n}" is also ${what} ${seen.get(n)}; give each a different name`);
    seen.set(n, i);
  });
}

const TOKEN = /^<([a-z][a-z0-9_-]*):([^<>\s]+)>$/;

/**
 * The vocabulary of a run: the worlds' symbols (ids fixed by @regime-zoo/worlds) plus each regime's
 * conditioning `tokens`. With `grow: false`, or where a token's namespace is closed, a missing token is an
 * error naming the arm.
 */
export function buildVocabulary(config: NormalizedConfig, regimes: Map<string, Regime>): Vocabulary {
  let vocab: Vocabulary = worldVocabulary({ rtgBuckets: config.vocabulary.rtgBuckets });
  config.arms.forEach((arm, i) => {
    const regime = regimes.get(arm.name)!;
    for (const token of regime.tokens ?? []) {
      if (vocab.has(token)) continue;
      const field = `arms[${i}].regime`;
      const m = TOKEN.exec(token);
      if (!m) throw invalid(field, `regime ${regime.name} needs the token "${token}", which is not a conditioning token <namespace:value>; fix the regime's tokens`);
      if (!config.vocabulary.grow) {
        throw invalid(field, `regime ${regime.name} needs the conditioning token ${token}, which the vocabulary lacks (vocabulary.grow is false); set vocabulary.grow: true${m[1] === 'rtg' ? ` or vocabulary.rtgBuckets ≥ ${Number(m[2]) + 1}` : ''}`);
      }
      const ns = m[1]!;
      const value = m[2]!;
      const info = vocab.namespaces.includes(ns) ? vocab.namespace(ns) : undefined;
      if (info?.kind === 'enum') {
        throw invalid(field, `regime ${regime.name} needs the conditioning token ${token}, but namespace "${ns}" is closed with values ${info.values.join(', ')}; use one of those tokens`);
      }
      if (info?.kind === 'index' || (!info && /^\d+$/.test(value))) {
        if (!/^\d+$/.test(value)) throw invalid(field, `regime ${regime.name} needs ${token}, but namespace "${ns}" holds indices 0, 1, …; use <${ns}:N>`);
        vocab = vocab.extend({ namespaces: { [ns]: { kind: 'index', size: Number(value) + 1 } } });
      } else {
        vocab = vocab.extend({ namespaces: { [ns]: { kind: 'open', values: [value] } } });
      }
    }
  });
  return vocab;
}

/**
 * Makes every plugin of the config and checks what no single schema can: names unique, teachers that
 * exist, preference pairs and a reward model where an arm needs them, the regimes' conditioning tokens.
 * Errors are `ZooError`s whose `field` is the config path (`arms[1].reward`).
 */
/** Whether an arm trains against the reward model: `reward: 'model'`, or a regime that requires one. */
export function usesRewardModel(arm: Pick<ArmConfig, 'reward'>, regime: Pick<Regime, 'requires'> | undefined): boolean {
  return arm.reward === 'model' || (regime?.requires ?? []).includes('rewardModel');
}

export async function resolveExperiment(config: NormalizedConfig, resolveFrom: string): Promise<ResolvedExperiment> {
  unique(config.arms.map((a) => a.name), (i) => `arms[${i}].name`, 'arm');
  const armNames = new Set(config.arms.map((a) => a.name));
  config.distill.forEach((d, i) => {
    if (armNames.has(d.name) || d.name === 'base') throw invalid(`distill[${i}].name`, `"${d.name}" is already the name of ${d.name === 'base' ? 'the base model' : 'an arm'}; give the distillation arm its own name`);
  });
  unique(config.distill.map((d) => d.name), (i) => `distill[${i}].name`, 'distillation arm');
  unique(config.seeds.map(String), (i) => `seeds[${i}]`, 'seed');
  if (armNames.has('base')) throw invalid(`arms[${config.arms.findIndex((a) => a.name === 'base')}].name`, '"base" names the SFT base model; call the arm something else');

  const worlds: ToyWorld[] = [];
  for (const [i, ref] of config.worlds.entries()) {
    const w = await instantiate<ToyWorld>('world', ref, resolveFrom, `worlds[${i}]`);
    if (typeof w.evaluate !== 'function' || typeof w.unsafe !== 'function' || !w.policies || !w.mix) {
      throw invalid(`worlds[${i}]`, `world ${w.name} has no behaviour policies, mix or evaluate(); build it with @regime-zoo/worlds' world kit so behaviour data can be generated`);
    }
    worlds.push(w);
  }
  unique(worlds.map((w) => w.name), (i) => `worlds[${i}]`, 'world');

  const regimes = new Map<string, Regime>();
  for (const [i, arm] of config.arms.entries()) {
    const regime = await instantiate<Regime>('regime', arm.regime, resolveFrom, `arms[${i}].regime`);
    const needs = regime.requires ?? [];
    if (needs.includes('preferences') && config.data.pairs === 0) {
      throw invalid(`arms[${i}].regime`, `regime ${regime.name} trains on preference pairs, but data.pairs is 0; set data.pairs (e.g. 1000)`);
    }
    if (usesRewardModel(arm, regime) && !config.rewardModel) {
      throw invalid(`arms[${i}].reward`, `arm "${arm.name}" maximises a reward model (${arm.reward === 'model' ? "reward: 'model'" : `regime ${regime.name} requires one`}), but the config has no rewardModel; add rewardModel: { options: { steps: 200 } } (and data.pairs) or set reward: 'visible'`);
    }
    regimes.set(arm.name, regime);
  }
  if (config.rewardModel && config.data.pairs === 0) throw invalid('data.pairs', 'the reward model trains on preference pairs, but data.pairs is 0; set it (e.g. 1000)');

  const distillers = new Map<string, Distiller>();
  for (const [i, d] of config.distill.entries()) {
    if (d.teacher !== 'base' && !armNames.has(d.teacher)) {
      throw invalid(`distill[${i}].teacher`, `no arm is named "${d.teacher}"; the teacher is one of ${['base', ...armNames].map((n) => `"${n}"`).join(', ')}`);
    }
    distillers.set(d.name, await instantiate<Distiller>('distiller', d.distiller, resolveFrom, `distill[${i}].distiller`));
  }
  const probes: Probe[] = [];
  for (const [i, ref] of config.probes.entries()) probes.push(await instantiate<Probe>('probe', ref, resolveFrom, `probes[${i}]`));
  const vocabulary = buildVocabulary(config, regimes);
  return { config, resolveFrom, worlds, regimes, distillers, probes, vocabulary };
}
