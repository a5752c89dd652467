import fs from 'node:fs';
import path from 'node:path';
import { ZooError } from '@regime-zoo/core';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { defineExperiment } from './config.js';
import { readResults } from './results.js';
import { loadExperiment, runExperiment } from './run.js';
import { lockRun } from './rundir.js';
import { FIXTURES, tempDir } from './test-helpers.js';

const tmp = tempDir('config');
afterAll(() => tmp.cleanup());

const PROBE = { package: path.join(FIXTURES, 'unsafe-rate.ts'), export: 'unsafeRate' };
const good = () =>
  ({
    name: 'bad',
    seeds: [1],
    worlds: ['tamper'],
    data: { episodes: 10, pairs: 0 },
    arms: [{ name: 'a', regime: 'sft' }] as Record<string, unknown>[],
    probes: [PROBE],
  }) as Record<string, unknown>;

let n = 0;
function write(config: unknown, ext = '.yaml'): string {
  const file = path.join(tmp.dir, `c${n++}${ext}`);
  fs.writeFileSync(file, ext === '.json' ? JSON.stringify(config, null, 2) : YAML.stringify(config));
  return file;
}

/** The line (1-based) of the first line of `file` containing `text`. */
function lineOf(file: string, text: string): number {
  return fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
}

async function rejection(file: string): Promise<ZooError> {
  const e = await loadExperiment(file).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ZooError);
  return e as ZooError;
}

describe('experiment configs that are wrong', () => {
  it('should name an unknown world, its line, and the built-in worlds', async () => {
    const c = good();
    c.worlds = ['tamper', 'lava'];
    const file = write(c);
    const e = await rejection(file);
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.field).toBe('worlds[1]');
    expect(e.message).toContain(`${file}:${lineOf(file, '- lava')}:`);
    expect(e.message).toContain('unknown world "lava"; built-in worlds are "off-switch", "absent-supervisor", "tamper"');
  });

  it('should name an unknown regime and list the built-in ones', async () => {
    const c = good();
    c.arms = [{ name: 'a', regime: 'sgd' }];
    const e = await rejection(write(c));
    expect(e.field).toBe('arms[0].regime');
    expect(e.message).toMatch(/unknown regime "sgd"; built-in regimes are "sft", "decision-transformer".*"rlhf-flag", or name a package/);
  });

  it('should name an unknown probe', async () => {
    const c = good();
    c.probes = ['xray'];
    const e = await rejection(write(c));
    expect(e.field).toBe('probes[0]');
    expect(e.message).toContain('unknown probe "xray"; built-in probes are "instrumental-rate"');
  });

  it('should name a package that is not installed and say how to install it', async () => {
    const c = good();
    c.arms = [{ name: 'a', regime: { package: 'zoo-regime-nowhere' } }];
    const e = await rejection(write(c));
    expect(e.field).toBe('arms[0].regime.package');
    expect(e.message).toContain('package "zoo-regime-nowhere" is not installed');
    expect(e.message).toContain('npm install zoo-regime-nowhere');
  });

  it('should name a factory the package does not export and list the ones it does', async () => {
    const c = good();
    c.arms = [{ name: 'a', regime: { package: '@regime-zoo/regime-dpo', export: 'dpoo' } }];
    const e = await rejection(write(c));
    expect(e.field).toBe('arms[0].regime.export');
    expect(e.message).toMatch(/package "@regime-zoo\/regime-dpo" has no factory "dpoo"; its functions are .*"dpo"/);
  });

  it('should say when a factory makes a plugin of another kind', async () => {
    const c = good();
    c.arms = [{ name: 'a', regime: { package: '@regime-zoo/worlds', export: 'tamperWorld' } }];
    const e = await rejection(write(c));
    expect(e.field).toBe('arms[0].regime');
    expect(e.message).toContain('made a plugin of kind "world", not a regime');
  });

  it("should name a regime option out of range with the regime's own message, file and line", async () => {
    const c = good();
    c.data = { episodes: 10, pairs: 10 };
    c.arms = [{ name: 'a', regime: { package: 'dpo', options: { beta: -1 } } }];
    const file = write(c, '.json');
    const e = await rejection(file);
    expect(e.code).toBe('OPTION_INVALID');
    expect(e.field).toBe('arms[0].regime.options.beta');
    expect(e.message).toContain(`${file}:${lineOf(file, '"beta"')}:`);
    expect(e.message).toMatch(/\[regime-dpo\] options\.beta: .*(greater than|>)/i);
  });

  it('should name a model size out of range with its line', async () => {
    const c = good();
    c.model = { nLayers: 0 };
    const file = write(c);
    const e = await rejection(file);
    expect(e.field).toBe('model.nLayers');
    expect(e.message).toContain(`${file}:${lineOf(file, 'nLayers')}:`);
    expect(e.message).toMatch(/model\.nLayers: Too small: expected number to be >=1/);
  });

  it('should name a misspelt field and its line', async () => {
    const c = good();
    c.arms = [{ name: 'a', regme: 'sft' }];
    const file = write(c);
    const e = await rejection(file);
    expect(e.field).toBe('arms[0].regme');
    expect(e.message).toContain(`${file}:${lineOf(file, 'regme')}:`);
    expect(e.message).toContain('unknown field(s) "regme"; remove them or check the spelling');
  });

  it('should refuse an arm that needs preference pairs the config does not generate', async () => {
    const c = good();
    c.arms = [{ name: 'd', regime: 'dpo' }];
    const e = await rejection(write(c));
    expect(e.field).toBe('arms[0].regime');
    expect(e.message).toContain('regime regime-dpo trains on preference pairs, but data.pairs is 0; set data.pairs');
  });

  it('should refuse an arm that maximises a reward model the config does not train', async () => {
    const c = good();
    c.arms = [{ name: 'p', regime: 'ppo', reward: 'model' }];
    const e = await rejection(write(c));
    expect(e.field).toBe('arms[0].reward');
    expect(e.message).toContain("the config has no rewardModel; add rewardModel: { options: { steps: 200 } } (and data.pairs) or set reward: 'visible'");
  });

  it('should refuse a regime whose conditioning tokens the vocabulary lacks', async () => {
    const c = good();
    c.arms = [{ name: 'dt', regime: { package: 'decision-transformer', options: { buckets: 8 } } }];
    c.vocabulary = { grow: false };
    const e = await rejection(write(c));
    expect(e.field).toBe('arms[0].regime');
    expect(e.message).toContain('needs the conditioning token <rtg:5>, which the vocabulary lacks (vocabulary.grow is false); set vocabulary.grow: true or vocabulary.rtgBuckets ≥ 6');
  });

  it('should refuse a conditioning token in a closed namespace', async () => {
    const c = good();
    c.arms = [{ name: 'm', regime: { package: path.join(FIXTURES, 'bad-tokens.ts'), export: 'maybeFlag' } }];
    const e = await rejection(write(c));
    expect(e.field).toBe('arms[0].regime');
    expect(e.message).toContain('needs the conditioning token <rlhf:maybe>, but namespace "rlhf" is closed with values on, off; use one of those tokens');
  });

  it('should refuse an empty seed list', async () => {
    const c = good();
    c.seeds = [];
    const e = await rejection(write(c));
    expect(e.field).toBe('seeds');
    expect(e.message).toContain('seeds: must list at least one seed, e.g. [1]');
  });

  it('should refuse two arms of one name and a teacher that is no arm', async () => {
    const c = good();
    c.arms = [
      { name: 'a', regime: 'sft' },
      { name: 'a', regime: 'sft' },
    ];
    let e = await rejection(write(c));
    expect(e.field).toBe('arms[1].name');
    expect(e.message).toContain('arm "a" is also arm 0; give each a different name');
    const d = good();
    d.distill = [{ name: 's', teacher: 'nobody', distiller: PROBE }];
    e = await rejection(write(d));
    expect(e.field).toBe('distill[0].teacher');
    expect(e.message).toContain('no arm is named "nobody"; the teacher is one of "base", "a"');
  });

  it('should give the line and column of a JSON syntax error', async () => {
    const file = path.join(tmp.dir, 'broken.json');
    fs.writeFileSync(file, '{\n  "name": "x",\n  "seeds": [1,,]\n}\n');
    const e = await rejection(file);
    expect(e.message).toMatch(new RegExp(`${file}:3:\\d+: not valid JSON`));
  });

  it('should refuse a run directory locked by a live run', async () => {
    const runDir = path.join(tmp.dir, 'locked');
    const release = await lockRun(runDir);
    try {
      const e = await runExperiment(write(good()), { runDir, workers: 1 }).then(
        () => undefined,
        (err: unknown) => err as ZooError,
      );
      expect(e?.message).toContain(`run directory ${runDir} is locked by a live run (process ${process.pid}); wait for it to finish, stop it, or pass another run directory`);
    } finally {
      await release();
    }
  });

  it('should refuse a results file of another schema version', () => {
    const file = path.join(tmp.dir, 'results.json');
    fs.writeFileSync(file, JSON.stringify({ format: 'regime-zoo/results', version: 2, name: 'x' }));
    expect(() => readResults(file)).toThrow('results schema version 2, but this @regime-zoo/experiment reads version 1; use the version that wrote it');
  });

  it('should load a TypeScript config written with defineExperiment', async () => {
    const file = path.join(tmp.dir, 'experiment.config.ts');
    fs.writeFileSync(file, `export default ${JSON.stringify(defineExperiment({ ...good(), name: 'ts-config' } as Parameters<typeof defineExperiment>[0]))};\n`);
    const x = await loadExperiment(file);
    expect(x.config.name).toBe('ts-config');
    expect(x.config.arms[0]!.regime).toEqual({ package: '@regime-zoo/regime-sft', export: 'sft', options: {} });
    expect(x.vocabulary.size).toBeGreaterThan(50);
  });

  it("should load the tamper example's config (examples/tamper-rlhf/experiment.config.ts)", async () => {
    const x = await loadExperiment(path.join(FIXTURES, '../../../../examples/tamper-rlhf/experiment.config.ts'));
    expect(x.config.arms.map((a) => [a.name, a.regime.package, a.reward])).toEqual([['ppo', '@regime-zoo/regime-ppo', 'model']]);
    expect(x.probes.map((p) => p.name)).toEqual(['instrumental-rate', 'reward-hacking-gap']);
    expect(x.worlds.map((w) => w.name)).toEqual(['tamper']);
  });

  it("should grow the vocabulary with a regime's conditioning tokens", async () => {
    const c = good();
    c.arms = [{ name: 'dt', regime: { package: 'decision-transformer', options: { buckets: 8 } } }];
    const x = await loadExperiment(write(c));
    expect(x.vocabulary.namespace('rtg').values).toHaveLength(8);
    expect(x.vocabulary.id('<rtg:7>')).toBe(x.vocabulary.size - 1);
    // World symbols keep their ids.
    expect(x.vocabulary.id('G')).toBe(8);
  });
});
