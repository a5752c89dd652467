import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseModelConfig, type ModelConfig } from './config.js';
import { ZooError } from './errors.js';
import { Transformer } from './model.js';
import type { Trainer } from './train.js';

export const CHECKPOINT_FORMAT = 'regime-zoo-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** The contents of `model.json`. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  config: ModelConfig;
  /** Trainer step (number of updates applied). */
  step: number;
  /** Trainer RNG state, for exact resume. */
  rng?: number[];
  /** AdamW update count and config; moments are in weights.bin under `optimizer/`. */
  optimizer?: { t: number; config: unknown };
  /** The tokenizer's JSON form, when the caller passes one. */
  tokenizer?: unknown;
  /** Regime name, options and anything else the regime wants back. */
  regime?: unknown;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightsBytes: number;
  createdAt: string;
}

export interface SaveCheckpointOptions {
  model: Transformer;
  trainer?: Trainer;
  tokenizer?: unknown;
  regime?: unknown;
}

/**
 * Writes `dir/model.json` + `dir/weights.bin` (`tf.io.encodeWeights`) into a temporary folder and renames
 * it into place, so a crash never leaves a half-written checkpoint at `dir`.
 */
export async function saveCheckpoint(dir: string, o: SaveCheckpointOptions): Promise<CheckpointMeta> {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [n, v] of o.model.params) tensors[`model/${n}`] = v;
  const state = o.trainer?.optimizer.stateTensors() ?? {};
  for (const [n, t] of Object.entries(state)) tensors[`optimizer/${n}`] = t;
  const { data, specs } = await tf.io.encodeWeights(tensors).finally(() => tf.dispose(Object.values(state)));
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    config: o.model.config,
    step: o.trainer?.step ?? 0,
    ...(o.trainer ? { rng: o.trainer.rng.getState(), optimizer: { t: o.trainer.optimizer.t, config: o.trainer.optimizerConfig } } : {}),
    ...(o.tokenizer !== undefined ? { tokenizer: o.tokenizer } : {}),
    ...(o.regime !== undefined ? { regime: o.regime } : {}),
    weightSpecs: specs,
    weightsBytes: data.byteLength,
    createdAt: new Date().toISOString(),
  };
  const abs = path.resolve(dir);
  const tmp = `${abs}.tmp-${process.pid}-${Date.now()}`;
  await fs.mkdir(tmp, { recursive: true });
  try {
    await writeSynced(path.join(tmp, 'weights.bin'), new Uint8Array(data));
    await writeSynced(path.join(tmp, 'model.json'), JSON.stringify(meta, null, 1));
    const old = `${abs}.old-${process.pid}-${Date.now()}`;
    const existed = await exists(abs);
    if (existed) await fs.rename(abs, old);
    await fs.rename(tmp, abs);
    if (existed) await fs.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw new ZooError('INTERNAL', `could not write checkpoint ${abs}: ${(e as Error).message}`, { cause: e, field: abs });
  }
  return meta;
}

async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const h = await fs.open(file, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export interface LoadedCheckpoint {
  model: Transformer;
  meta: CheckpointMeta;
  /** Optimizer moments by name (`m/<param>`, `v/<param>`); disposed by `restoreTrainer` or `dispose`. */
  optimizerState: Record<string, tf.Tensor>;
  dispose(): void;
}

/** Reads and validates a checkpoint; errors name the file and what is wrong. */
export async function loadCheckpoint(dir: string, options: { trainable?: boolean } = {}): Promise<LoadedCheckpoint> {
  const abs = path.resolve(dir);
  const jsonPath = path.join(abs, 'model.json');
  const binPath = path.join(abs, 'weights.bin');
  let text: string;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch (e) {
    throw new ZooError('CHECKPOINT_MISSING', `no checkpoint at ${abs}: ${jsonPath} cannot be read; pass the folder that holds model.json and weights.bin`, { cause: e, field: jsonPath });
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(text) as CheckpointMeta;
  } catch (e) {
    throw new ZooError('CHECKPOINT_CORRUPT', `${jsonPath} is not valid JSON (${(e as Error).message}); the checkpoint is damaged, use an earlier one`, { cause: e, field: jsonPath });
  }
  if (meta?.format !== CHECKPOINT_FORMAT) {
    throw new ZooError('CHECKPOINT_MISMATCH', `${jsonPath} has format ${JSON.stringify(meta?.format)}, expected "${CHECKPOINT_FORMAT}"`, { field: `${jsonPath}#format` });
  }
  if (meta.version !== CHECKPOINT_VERSION) {
    throw new ZooError('CHECKPOINT_MISMATCH', `${jsonPath} is checkpoint version ${meta.version}; this @regime-zoo/core reads version ${CHECKPOINT_VERSION}. Use the core version that wrote it.`, {
      field: `${jsonPath}#version`,
    });
  }
  const config = parseModelConfig(meta.config);
  let bin: Buffer;
  try {
    bin = await fs.readFile(binPath);
  } catch (e) {
    throw new ZooError('CHECKPOINT_MISSING', `${binPath} cannot be read; a checkpoint needs both model.json and weights.bin`, { cause: e, field: binPath });
  }
  if (bin.byteLength !== meta.weightsBytes) {
    throw new ZooError('CHECKPOINT_CORRUPT', `${binPath} is ${bin.byteLength} bytes but model.json expects ${meta.weightsBytes}; the file is truncated or from another checkpoint`, {
      field: binPath,
    });
  }
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  const all = tf.io.decodeWeights(buffer, meta.weightSpecs);
  const weights: Record<string, tf.Tensor> = {};
  const optimizerState: Record<string, tf.Tensor> = {};
  for (const [n, t] of Object.entries(all)) {
    if (n.startsWith('model/')) weights[n.slice('model/'.length)] = t;
    else if (n.startsWith('optimizer/')) optimizerState[n.slice('optimizer/'.length)] = t;
    else t.dispose();
  }
  try {
    const model = Transformer.fromWeights(config, weights, options);
    return {
      model,
      meta: { ...meta, config },
      optimizerState,
      dispose: () => tf.dispose(Object.values(optimizerState)),
    };
  } catch (e) {
    tf.dispose(Object.values(optimizerState));
    if (e instanceof ZooError) throw new ZooError(e.code, `${binPath}: ${e.message}`, { cause: e, field: e.field ?? binPath });
    throw e;
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/** Puts a checkpoint's step, RNG state and optimizer moments into `trainer` (built for the loaded model). */
export function restoreTrainer(trainer: Trainer, ckpt: LoadedCheckpoint): void {
  const { meta } = ckpt;
  if (!meta.optimizer || !meta.rng) {
    throw new ZooError('CHECKPOINT_MISMATCH', 'this checkpoint was saved without a trainer, so training cannot resume from it exactly; save with { trainer }', { field: 'optimizer' });
  }
  trainer.optimizer.loadState(meta.optimizer.t, ckpt.optimizerState);
  trainer.rng.setState(meta.rng);
  trainer.step = meta.step;
  ckpt.dispose();
}
