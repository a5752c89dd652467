import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { fusedOpsStatus, releaseLibraryPages, type FusedOpsStatus } from './fused-ops.js';

/** What `scripts/provision-native.mjs` recorded when it provisioned tfjs-node. */
export interface NativeProvisionStatus {
  ok: boolean;
  source: 'official' | 'wheel' | 'cpu-fallback';
  libtensorflow?: string;
  tensorflowVersion?: string;
  from?: string;
  attempts: { route: string; ok: boolean; detail: string }[];
  at: string;
}

export interface BackendInfo {
  /** The tfjs backend in use: `tensorflow` (native, tfjs-node) or `cpu` (pure JS). */
  name: 'tensorflow' | 'cpu';
  /** Why this backend is in use. */
  reason: string;
  /** Folder of the tfjs-node package, when it is installed. */
  tfjsNodeDir?: string;
  /** The provisioning record, when there is one. */
  provision?: NativeProvisionStatus;
  /**
   * Bytes of resident memory given back once the native backend had started: libtensorflow's pages that
   * only its start-up used (`releaseLibraryPages`). Absent when not done (`REGIME_ZOO_KEEP_PAGES=1`, the
   * pure-JS backend, or the addon not built).
   */
  releasedPageBytes?: number;
}

const requireHere = createRequire(import.meta.url);
let active: BackendInfo | undefined;

const FIX =
  'Run `npx regime-zoo-native` (or reinstall) to build tfjs-node against a tensorflow-cpu wheel; ' +
  'set REGIME_ZOO_LIBTENSORFLOW_DIR to a folder holding the wheel if pip cannot find one. ' +
  '`zoo doctor` shows what was tried.';

function readProvision(dir: string | undefined): NativeProvisionStatus | undefined {
  if (!dir) return undefined;
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'regime-zoo-native.json'), 'utf8')) as NativeProvisionStatus;
  } catch {
    return undefined;
  }
}

function tfjsNodeDir(): string | undefined {
  try {
    return path.dirname(requireHere.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return undefined;
  }
}

/**
 * Selects the backend once per process: tfjs-node's native `tensorflow` backend when it loads, else
 * the pure-JS `cpu` backend with a loud warning. `REGIME_ZOO_BACKEND=cpu` forces the pure-JS backend.
 * Every core entry point that makes tensors calls this; calling it again returns the same answer.
 */
export function ensureBackend(): BackendInfo {
  if (active) return active;
  const dir = tfjsNodeDir();
  const provision = readProvision(dir);
  const base = { ...(dir ? { tfjsNodeDir: dir } : {}), ...(provision ? { provision } : {}) };
  if (process.env.REGIME_ZOO_BACKEND === 'cpu') {
    tf.setBackend('cpu');
    active = { name: 'cpu', reason: 'REGIME_ZOO_BACKEND=cpu asked for the pure-JS backend', ...base };
    return active;
  }
  let failure: string;
  if (!dir) {
    failure = '@tensorflow/tfjs-node is not installed (it is an optional dependency of @regime-zoo/core)';
  } else {
    // TensorFlow's C++ info and warning lines stay off the user's terminal unless they ask for them
    // (TF_CPP_MIN_LOG_LEVEL=0); it must be set before the library loads.
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    try {
      requireHere(dir);
      tf.setBackend('tensorflow');
      const how = provision?.ok ? `${provision.source} install, libtensorflow ${provision.tensorflowVersion ?? '?'}` : 'prebuilt binding';
      // Most of the ~230 MiB of libtensorflow that its start-up made resident is not used again: give it back
      // (docs/performance.md, "Issue 19: fourth pass").
      const released = process.env.REGIME_ZOO_KEEP_PAGES === '1' ? undefined : releaseLibraryPages();
      active = { name: 'tensorflow', reason: `tfjs-node loaded (${how})`, ...base, ...(released !== undefined ? { releasedPageBytes: released } : {}) };
      return active;
    } catch (e) {
      failure = `tfjs-node failed to load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    }
  }
  tf.setBackend('cpu');
  active = { name: 'cpu', reason: failure, ...base };
  console.warn(
    [
      '',
      '!'.repeat(78),
      '[regime-zoo] NATIVE TENSORFLOW BACKEND UNAVAILABLE: running on the pure-JS "cpu" backend (~100x slower).',
      `[regime-zoo] ${failure}`,
      `[regime-zoo] ${FIX}`,
      '!'.repeat(78),
      '',
    ].join('\n'),
  );
  return active;
}

/** The TensorFlow C library version of the active native backend, when known. */
export function nativeTensorFlowVersion(): string | undefined {
  const info = ensureBackend();
  if (info.name !== 'tensorflow') return undefined;
  const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
  return binding?.TF_Version ?? info.provision?.tensorflowVersion;
}

/** Measures square float32 matmul throughput in GFLOP/s on the active backend (median of `reps`). */
export function measureMatmulGflops(n = 512, reps = 10): number {
  ensureBackend();
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  try {
    // Not `tf.tidy(() => ….dataSync())`: tidy walks a returned typed array element by element.
    const once = () => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    };
    once(); // warm-up
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      once();
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    const ms = times[Math.floor(times.length / 2)] ?? Number.NaN;
    return (2 * n * n * n) / (ms * 1e6);
  } finally {
    tf.dispose([a, b]);
  }
}

export interface DoctorReport {
  node: string;
  platform: string;
  cpus: number;
  intraOpThreads: string;
  backend: BackendInfo;
  tensorflowVersion?: string;
  libtensorflow?: string;
  matmulGflops: number;
  matmulSize: number;
  /** Whether the compiled graphs use core's fused kernels (fused-ops.ts), and why. */
  fusedOps: FusedOpsStatus;
}

/** Everything `zoo doctor` prints: Node, backend and why, libtensorflow, threads, measured matmul GFLOP/s. */
export function doctor(options: { matmulSize?: number } = {}): DoctorReport {
  const backend = ensureBackend();
  const matmulSize = options.matmulSize ?? 512;
  const tensorflowVersion = nativeTensorFlowVersion();
  const libtensorflow = backend.provision?.libtensorflow;
  return {
    node: process.version,
    platform: `${os.platform()}-${os.arch()}`,
    cpus: os.availableParallelism(),
    intraOpThreads: process.env.TF_NUM_INTRAOP_THREADS ?? `TensorFlow default (${os.availableParallelism()})`,
    backend,
    ...(tensorflowVersion ? { tensorflowVersion } : {}),
    ...(libtensorflow ? { libtensorflow } : {}),
    matmulGflops: measureMatmulGflops(matmulSize),
    matmulSize,
    fusedOps: fusedOpsStatus(),
  };
}

/** Formats a doctor report as the lines `zoo doctor` prints. */
export function formatDoctorReport(r: DoctorReport): string {
  const lines = [
    `node              ${r.node} (${r.platform})`,
    `backend           ${r.backend.name}${r.backend.name === 'cpu' ? '   <-- SLOW FALLBACK' : ''}`,
    `why               ${r.backend.reason}`,
    `tensorflow        ${r.tensorflowVersion ?? '-'}`,
    `libtensorflow     ${r.libtensorflow ?? '-'}`,
    `tfjs-node         ${r.backend.tfjsNodeDir ?? 'not installed'}`,
    `threads           ${r.cpus} cpus; intra-op ${r.intraOpThreads}`,
    `fused kernels     ${r.fusedOps.active ? 'on' : 'off'}: ${r.fusedOps.reason}`,
    `start-up pages    ${r.backend.releasedPageBytes !== undefined ? `${(r.backend.releasedPageBytes / 2 ** 20).toFixed(0)} MiB of libtensorflow released` : 'kept'}${process.env.REGIME_ZOO_KEEP_PAGES === '1' ? ' (REGIME_ZOO_KEEP_PAGES=1)' : ''}`,
    `matmul ${r.matmulSize}x${r.matmulSize}    ${r.matmulGflops.toFixed(1)} GFLOP/s`,
  ];
  const p = r.backend.provision;
  if (p) {
    lines.push(`provisioned       ${p.source} at ${p.at}`);
    for (const a of p.attempts) lines.push(`  ${a.ok ? 'ok  ' : 'fail'} ${a.route}: ${a.detail}`);
  }
  if (r.backend.name === 'cpu') lines.push('', `fix: ${FIX}`);
  return lines.join('\n');
}

/** A TensorBoard event-file writer (tfjs-node's `SummaryFileWriter`, reduced to what runs need). */
export interface ScalarSummaryWriter {
  /** Appends one scalar record (`tag`, `value`) at `step`. */
  scalar(tag: string, value: number, step: number): void;
  /** Writes queued records to disk. */
  flush(): void;
}

/**
 * A TensorBoard event-file writer for `logdir` from tfjs-node (`tf.node.summaryFileWriter`; `tensorboard
 * --logdir` reads the files), or undefined on the pure-JS backend, where tfjs-node is not loaded. Records
 * are flushed every `flushMillis` and by `flush()`.
 */
export function summaryFileWriter(logdir: string, options: { maxQueue?: number; flushMillis?: number } = {}): ScalarSummaryWriter | undefined {
  const info = ensureBackend();
  if (info.name !== 'tensorflow' || !info.tfjsNodeDir) return undefined;
  const node = (requireHere(info.tfjsNodeDir) as { node: { summaryFileWriter(dir: string, q?: number, ms?: number): ScalarSummaryWriter } }).node;
  return node.summaryFileWriter(logdir, options.maxQueue ?? 100, options.flushMillis ?? 10_000);
}
