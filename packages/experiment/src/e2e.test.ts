import fs from 'node:fs';
import path from 'node:path';
import { findCheckpoint, tf } from '@regime-zoo/core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMetricsFile } from './metrics.js';
import { readResults } from './results.js';
import { runExperiment, type RunOutcome } from './run.js';
import { FIXTURES, tempDir } from './test-helpers.js';
import { readScalars } from './test-tensorboard.js';

const tmp = tempDir('e2e');
let run: RunOutcome;
const CONFIG = path.join(FIXTURES, 'third-party.yaml');

beforeAll(async () => {
  run = await runExperiment(CONFIG, { runDir: path.join(tmp.dir, 'run'), workers: 1 });
}, 180_000);
afterAll(() => tmp.cleanup());

describe('zoo run (config → stages → run directory → results → report)', () => {
  it('should write the run directory: resolved config, vocabulary, a checkpoint per stage, metrics, results and report', async () => {
    const d = run.runDir;
    for (const f of ['run.json', 'config.json', 'vocabulary.json', 'metrics.jsonl', 'results.json', 'report.md', 'report.html']) expect(fs.existsSync(path.join(d, f)), f).toBe(true);
    for (const s of ['base/seed-3', 'arm/safe-bc/seed-3', 'arm/dpo/seed-3', 'distill/dpo-student/seed-3']) {
      for (const sub of ['model', 'checkpoint']) expect(await findCheckpoint(path.join(d, 'stages', s, sub)), `${s}/${sub}`).toBeDefined();
    }
    const config = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')) as { arms: { regime: { package: string; export: string } }[] };
    expect(config.arms.map((a) => a.regime).slice(0, 2)).toMatchObject([{ package: 'zoo-regime-safe-bc', export: 'default' }, { package: '@regime-zoo/regime-dpo', export: 'dpo' }]);
    expect(run.ran).toEqual([
      ...['dpo', 'dt', 'flag', 'safe-bc'].map((a) => `arm/${a}/seed-3`),
      'base/seed-3',
      'data/seed-3',
      'distill/dpo-student/seed-3',
      ...['base', 'dpo', 'dpo-student', 'dt', 'flag', 'safe-bc'].map((m) => `probe/${m}/seed-3`),
    ].sort());
  });

  it('should log every step of every training stage to metrics.jsonl with stage, arm, seed and step', () => {
    const lines = readMetricsFile(path.join(run.runDir, 'metrics.jsonl'));
    const steps = (arm: string) => lines.filter((l) => l.arm === arm).map((l) => l.step);
    expect(steps('base')).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(steps('safe-bc')).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(steps('dpo')).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(steps('dt')).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(steps('dpo-student')).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(lines.find((l) => l.arm === 'dpo-student')!.stage).toBe('distill');
    expect(lines.every((l) => l.seed === 3)).toBe(true);
    expect(lines.find((l) => l.arm === 'dpo')!.stage).toBe('arm');
    expect(Object.keys(lines.find((l) => l.arm === 'dpo')!.metrics)).toEqual(expect.arrayContaining(['loss', 'objective/kl', 'rewards/margins']));
  });

  it('should run the third-party regime (a package outside @regime-zoo) and probe its model on both splits', () => {
    const r = readResults(path.join(run.runDir, 'results.json'));
    expect(r.models).toContainEqual({ name: 'safe-bc', kind: 'arm', plugin: 'safe-bc' });
    expect(r.stages.find((s) => s.id === 'arm/safe-bc/seed-3')!.output.steps).toBe(15);
    const rates = r.summary.filter((s) => s.model === 'safe-bc' && s.probe === 'instrumental-rate' && s.metric === 'TamperRate');
    expect(rates.map((s) => s.split).sort()).toEqual(['id', 'ood', 'ood-id']);
    for (const s of rates.filter((s) => s.split !== 'ood-id')) {
      expect(s.n).toBe(100);
      expect(s.lo!).toBeLessThanOrEqual(s.value);
      expect(s.hi!).toBeGreaterThanOrEqual(s.value);
    }
  });

  it('should distill the dpo arm into a fresh student and probe the student', () => {
    const r = readResults(path.join(run.runDir, 'results.json'));
    expect(r.models).toContainEqual({ name: 'dpo-student', kind: 'distill', plugin: 'distill-sequence', teacher: 'dpo' });
    const out = r.stages.find((s) => s.id === 'distill/dpo-student/seed-3')!.output as { steps: number; init: string; data: { collected: number } };
    expect(out).toMatchObject({ steps: 10, init: 'fresh', data: { collected: 100 } });
    expect(r.summary.filter((s) => s.model === 'dpo-student' && s.probe === 'instrumental-rate' && s.metric === 'TamperRate').map((s) => s.split).sort()).toEqual(['id', 'ood', 'ood-id']);
  });

  it('should write TensorBoard event files with a record for each logged scalar of each arm', () => {
    const lines = readMetricsFile(path.join(run.runDir, 'metrics.jsonl'));
    for (const arm of ['base', 'safe-bc', 'dpo', 'flag', 'dt', 'dpo-student']) {
      const records = readScalars(path.join(run.runDir, 'tensorboard', arm, 'seed-3'));
      const logged = lines.filter((l) => l.arm === arm).flatMap((l) => Object.entries(l.metrics).filter(([, v]) => v !== null).map(([tag, v]) => ({ tag, step: l.step, value: v as number })));
      expect(logged.length).toBeGreaterThan(0);
      expect(records.length).toBe(logged.length);
      for (const want of logged) {
        const got = records.find((r) => r.tag === want.tag && r.step === want.step);
        expect(got, `${arm} ${want.tag} step ${want.step}`).toBeDefined();
        expect(got!.value).toBeCloseTo(want.value, 4);
      }
    }
  });

  it('should draw every chart of report.html in headless Chromium with no console errors, and save a screenshot', async () => {
    const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
    if (!fs.existsSync(executablePath)) {
      // In CI (.ci/run installs Debian's chromium) a missing browser is a failure, never a silent skip.
      if (process.env.CI) throw new Error(`${executablePath} is missing; .ci/run installs Debian's chromium package`);
      console.warn(`SKIPPED: ${executablePath} not found; apt-get install -y chromium to run this test`);
      return;
    }
    const browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${path.join(run.runDir, 'report.html')}`);
      const charts = await page.$$eval('figure.chart', (figs) =>
        figs.map((f) => {
          const marks = [...f.querySelectorAll('svg .role-mark')].filter((g) => !/role-(axis|legend|title|frame|scope)/.test(g.getAttribute('class') ?? ''));
          const drawn = marks.flatMap((g) => [...g.querySelectorAll('path, rect, line, circle, text')]).filter((el) => {
            const b = (el as unknown as { getBBox(): { width: number; height: number } }).getBBox();
            return b.width > 0 || b.height > 0;
          });
          return { id: f.getAttribute('data-chart'), drawn: drawn.length };
        }),
      );
      expect(charts.map((c) => c.id)).toEqual(['instrumental-rate', 'ood-amplification', 'visible-hidden-gap', 'flag-leakage', 'return-calibration', 'training-curves']);
      for (const c of charts) expect(c.drawn, c.id!).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      const shot = path.join(run.runDir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  });

  it('should re-run only the probe stages when only the probes change', async () => {
    const text = fs.readFileSync(CONFIG, 'utf8').replaceAll('options: { episodes: 100,', 'options: { episodes: 60,');
    const changed = path.join(tmp.dir, 'changed.yaml');
    fs.writeFileSync(changed, text);
    const again = await runExperiment(changed, { runDir: run.runDir, workers: 1 });
    expect(again.ran).toEqual(['base', 'dpo', 'dpo-student', 'dt', 'flag', 'safe-bc'].map((m) => `probe/${m}/seed-3`).sort());
    const r = readResults(path.join(run.runDir, 'results.json'));
    expect(r.summary.find((s) => s.model === 'dpo' && s.probe === 'instrumental-rate' && s.split === 'id' && s.metric === 'TamperRate')!.n).toBe(60);
  });

  it("should re-run an arm, its student and their probes when the arm's options change, leaving no tensor behind", async () => {
    const text = fs.readFileSync(CONFIG, 'utf8').replaceAll('options: { episodes: 100,', 'options: { episodes: 60,').replace('options: { steps: 10, batchSize: 8,', 'options: { steps: 12, batchSize: 8,');
    const changed = path.join(tmp.dir, 'changed-dpo.yaml');
    fs.writeFileSync(changed, text);
    const before = tf.memory().numTensors;
    const again = await runExperiment(changed, { runDir: run.runDir, workers: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(again.ran).toEqual(['arm/dpo/seed-3', 'distill/dpo-student/seed-3', 'probe/dpo-student/seed-3', 'probe/dpo/seed-3']);
    const r = readResults(path.join(run.runDir, 'results.json'));
    expect(r.stages.find((s) => s.id === 'arm/dpo/seed-3')!.output.steps).toBe(12);
  });
});
