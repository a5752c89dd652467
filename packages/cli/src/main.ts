import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BENCH_CONFIG_NAMES, compareWithReference, formatBenchmark, runBenchmark, type BenchConfigName, type BenchmarkResult, type TorchReference, type TorchReferenceResult } from '@regime-zoo/bench';
import { doctor, formatDoctorReport } from '@regime-zoo/core';
import { benchExperimentStage, formatStageBench } from './bench-stage.js';
import { experimentCommand } from './experiment.js';
import { intFlag } from './flags.js';
import { sweepCommand, workerCommand } from './queue.js';

const USAGE = `zoo <command> [options]

commands:
  doctor [--json] [--size N]   Node version, backend in use and why, libtensorflow, threads,
                               measured NxN matmul GFLOP/s (default N = 512)
  bench [--steps N] [--warmup N] [--configs S,M,L] [--rollout-repeats N] [--json] [--no-torch] [--no-stage]
                               training ms/step, tokens/s, % of matmul peak, memory and KV-cache
                               rollout speed-up for configs S, M, L (default 30 timed steps after
                               3 warm-up steps, median of 5 rollouts per mode, in turns); each config
                               then at once in PyTorch (bench/torch_reference.py, when python3 can
                               import torch; REGIME_ZOO_PYTHON picks the interpreter); tfjs/PyTorch ratios;
                               then one whole experiment at the config defaults (tamper world: data, SFT
                               base, PPO arm, probes), each stage timed (--no-stage skips it)
  run <config> [--run-dir DIR] [--runs-dir DIR] [--workers N]
                               runs an experiment config (.ts, .json, .yaml) into a run directory
                               (default runs/<name>): stages, checkpoints, metrics.jsonl, TensorBoard
                               events, results.json, report.md and report.html; stages already complete
                               with the same inputs are skipped
  resume <runDir> [--workers N]
                               continues a stopped or killed run where it left off
  report <runDir>              writes report.md and report.html again from results.json
  ls [runsDir]                 the run directories under runsDir (default runs) and their state
  run <config> --queue redis://host:port [--run-dir DIR] [--runs-dir DIR]
                               the same run as a sweep on a BullMQ queue in Redis: enqueues the stages
                               as jobs, follows them, prints results when the workers are done
  worker --queue redis://host:port [--concurrency N] [--name NAME] [--stall-ms MS]
                               takes sweep jobs from the queue (any machine that sees the run
                               directories at the same path); a job of a stopped worker is retried
                               by another after MS (default 30000)
  sweep status --queue redis://host:port [--sweep ID]
                               queued / running / done / failed jobs per sweep and arm, with errors
  help                         this text

every command: --verbose     on an error, print its stack and causes too`;

/** A bad command line: printed as one line, exit code 2. */
class UsageError extends Error {}

/** Node's `parseArgs` errors (unknown option, missing value) as a `UsageError` naming the command. */
function parse<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError(`zoo ${command}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** The error, and the chain of its causes, one per line (for --verbose). */
function describeVerbose(e: unknown): string {
  const lines: string[] = [];
  for (let c: unknown = e, depth = 0; c !== undefined && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    lines.push(depth === 0 ? '' : 'caused by:', c instanceof Error ? (c.stack ?? `${c.name}: ${c.message}`) : String(c));
    if (!(c instanceof Error)) break;
  }
  return lines.filter(Boolean).join('\n');
}

const TORCH_SCRIPT = path.join('bench', 'torch_reference.py');

/**
 * The PyTorch reference script of the regime-zoo repository this CLI runs from, if any: the first folder
 * above this file holding `bench/torch_reference.py` next to the workspace's package.json. The npm
 * package does not ship it.
 */
export function findTorchReference(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    const script = path.join(dir, TORCH_SCRIPT);
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'regime-zoo' && fs.existsSync(script)) return script;
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** Runs the PyTorch reference in a child process with the same options; never throws (says why it was skipped). */
async function runTorchReference(options: { steps: number; warmup: number; repeats: number; configs: readonly BenchConfigName[] }): Promise<TorchReference> {
  const script = findTorchReference();
  if (!script) {
    return { ok: false, reason: `${TORCH_SCRIPT} was not found (it ships with the regime-zoo repository, not the npm package); run \`zoo bench\` from a clone to compare` };
  }
  const python = process.env.REGIME_ZOO_PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error) return { ok: false, reason: `${python} could not be started (${probe.error.message})` };
  if (probe.status !== 0) {
    const last = (probe.stderr ?? '').trim().split('\n').pop() ?? `exit code ${probe.status}`;
    return { ok: false, reason: `\`${python} -c 'import torch'\` failed: ${last}` };
  }
  const args = [script, '--steps', String(options.steps), '--warmup', String(options.warmup), '--rollout-repeats', String(options.repeats), '--configs', options.configs.join(',')];
  return new Promise((resolve) => {
    // Progress lines of the script go straight to our stderr; its stdout is one JSON object.
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => (stdout += s));
    child.on('error', (e) => resolve({ ok: false, reason: `${python} ${TORCH_SCRIPT} could not be started (${e.message})` }));
    child.on('close', (code) => {
      if (code !== 0) return resolve({ ok: false, reason: `${python} ${TORCH_SCRIPT} exited with code ${code}` });
      try {
        const result = JSON.parse(stdout) as TorchReferenceResult;
        if (result.kind !== 'regime-zoo-bench-torch') throw new Error(`unexpected kind ${String(result.kind)}`);
        resolve({ ok: true, result });
      } catch (e) {
        resolve({ ok: false, reason: `${TORCH_SCRIPT} printed no valid result (${e instanceof Error ? e.message : String(e)})` });
      }
    });
  });
}

/**
 * Times each config in tfjs and then, right away, in PyTorch: a shared machine's speed drifts by tens of
 * percent over minutes, and timing all of one library before the other put that drift into the ratios.
 */
async function benchInTurns(
  opts: { steps: number; warmup: number; repeats: number; configs: readonly BenchConfigName[] },
  withTorch: boolean,
): Promise<{ result: BenchmarkResult; reference: TorchReference }> {
  const tfjs: BenchmarkResult[] = [];
  const torch: TorchReferenceResult[] = [];
  let skipped = withTorch ? undefined : '--no-torch';
  for (const config of opts.configs) {
    tfjs.push(await runBenchmark({ steps: opts.steps, warmupSteps: opts.warmup, rolloutRepeats: opts.repeats, configs: [config] }));
    if (skipped !== undefined) continue; // once skipped (no torch, a failed run), the reference stays skipped
    const t = await runTorchReference({ ...opts, configs: [config] });
    if (t.ok) torch.push(t.result);
    else skipped = t.reason;
  }
  const result = { ...tfjs[0]!, seconds: tfjs.reduce((a, r) => a + r.seconds, 0), configs: tfjs.flatMap((r) => r.configs) };
  const reference: TorchReference = skipped !== undefined ? { ok: false, reason: skipped } : { ok: true, result: { ...torch[0]!, configs: torch.flatMap((r) => r.configs) } };
  return { result, reference };
}

/**
 * Runs the `zoo` command line; returns the exit code: 0 on success, 2 for a bad command line (one line
 * on `err`, no stack), 1 when the command itself fails (one line; `--verbose` adds the stack and causes).
 */
export async function main(argv: string[], out: (s: string) => void = (s) => console.log(s), err: (s: string) => void = out): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  try {
    return await run(args, out);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message} (see zoo help)`);
      return 2;
    }
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: unknown }).code;
    err(`zoo ${args[0] ?? ''}: ${typeof code === 'string' ? `${code}: ` : ''}${message.split('\n')[0]}${verbose ? '' : ' (--verbose for the stack)'}`);
    if (verbose) err(describeVerbose(e));
    return 1;
  }
}

async function run(argv: string[], out: (s: string) => void): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'doctor': {
      const { values } = parse('doctor', { args: rest, options: { json: { type: 'boolean' }, size: { type: 'string' } } });
      const size = values.size === undefined ? 512 : Number(values.size);
      if (!Number.isInteger(size) || size < 1) throw new UsageError(`zoo doctor: --size must be a positive integer, got "${values.size}"`);
      const report = doctor({ matmulSize: size });
      out(values.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
      return 0;
    }
    case 'bench': {
      const { values } = parse('bench', {
        args: rest,
        options: {
          steps: { type: 'string' },
          warmup: { type: 'string' },
          configs: { type: 'string' },
          'rollout-repeats': { type: 'string' },
          json: { type: 'boolean' },
          'no-torch': { type: 'boolean' },
          'no-stage': { type: 'boolean' },
        },
      });
      const int = (flag: string, raw: string | undefined, fallback: number, min = 1): number => {
        const v = intFlag(flag, raw, min);
        if (typeof v === 'string') throw new UsageError(`zoo bench: ${v}`);
        return v ?? fallback;
      };
      const steps = int('steps', values.steps, 30);
      const warmup = int('warmup', values.warmup, 3, 0);
      const repeats = int('rollout-repeats', values['rollout-repeats'], 5);
      const configs = (values.configs ?? BENCH_CONFIG_NAMES.join(',')).split(',').map((s) => s.trim().toUpperCase());
      const unknown = configs.filter((c) => !(BENCH_CONFIG_NAMES as string[]).includes(c));
      if (unknown.length || configs.length === 0) throw new UsageError(`zoo bench: --configs takes a comma-separated list of ${BENCH_CONFIG_NAMES.join(', ')}, got "${values.configs}"`);
      const opts = { steps, warmup, repeats, configs: configs as BenchConfigName[] };
      const { result, reference } = await benchInTurns(opts, !values['no-torch']);
      const stage = values['no-stage'] ? undefined : await benchExperimentStage(undefined, (line) => process.stderr.write(`${line}\n`));
      if (values.json) {
        const comparison = reference.ok ? compareWithReference(result, reference.result) : [];
        out(JSON.stringify({ tfjs: result, torch: reference.ok ? reference.result : { skipped: reference.reason }, comparison, ...(stage ? { stage } : {}) }, null, 2));
      } else {
        out(formatBenchmark(result, reference) + (stage ? `\n\n${formatStageBench(stage)}` : ''));
      }
      return 0;
    }
    case 'run':
    case 'resume':
    case 'report':
    case 'ls':
      return experimentCommand(command, rest, out, USAGE);
    case 'worker':
      return workerCommand(rest, out, USAGE);
    case 'sweep':
      return sweepCommand(rest, out, USAGE);
    case undefined:
    case 'help':
    case '--help':
      out(USAGE);
      return 0;
    default:
      throw new UsageError(`zoo: unknown command "${command}"; commands: doctor, bench, run, resume, report, ls, worker, sweep, help`);
  }
}
