import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseModelConfig, type ModelConfig } from './config.js';
import { findCheckpoint, listStepFolders, POINTER_FILE, sha256, writeCheckpointDir } from './checkpoint-store.js';
import { ZooError } from './errors.js';
import { Transformer } from './model.js';
import type { Trainer } from './train.js';

export const CHECKPOINT_FORMAT = 'regime-zoo-checkpoint';
/** Version 2 adds `files` (size and sha256 of weights.bin); version 1 (no checksum) still loads. */
export const CHECKPOINT_VERSION = 2;
const READABLE_VERSIONS = [1, 2];

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
  /** Size and sha256 (hex) of every weights file, checked on load (version 2). */
  files?: Record<string, { bytes: number; sha256: string }>;
  createdAt: string;
}

export interface SaveCheckpointOptions {
  model: Transformer;
  trainer?: Trainer;
  tokenizer?: unknown;
  regime?: unknown;
  /** Step folders to keep in the directory, newest first (default 2); older ones are deleted. */
  keepLast?: number;
}

/**
 * Saves a checkpoint into the directory `dir`: a new step folder `dir/step-<step>` (model.json +
 * weights.bin from `tf.io.encodeWeights`, with weights.bin's sha256 in model.json), then
 * `dir/latest.json` pointing at it, replaced atomically; older step folders beyond `keepLast` are
 * pruned and what killed saves left behind is removed. A kill at any instant leaves the previous
 * complete checkpoint loadable. Returns model.json's contents and the step folder's path.
 */
export async function saveCheckpoint(dir: string, o: SaveCheckpointOptions): Promise<CheckpointMeta & { path: string }> {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [n, v] of o.model.params) tensors[`model/${n}`] = v;
  const state = o.trainer?.optimizer.stateTensors() ?? {};
  for (const [n, t] of Object.entries(state)) tensors[`optimizer/${n}`] = t;
  const { data, specs } = await tf.io.encodeWeights(tensors).finally(() => tf.dispose(Object.values(state)));
  const step = o.trainer?.step ?? 0;
  const meta: Omit<CheckpointMeta, 'files'> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    config: o.model.config,
    step,
    ...(o.trainer ? { rng: o.trainer.rng.getState(), optimizer: { t: o.trainer.optimizer.t, config: o.trainer.optimizerConfig } } : {}),
    ...(o.tokenizer !== undefined ? { tokenizer: o.tokenizer } : {}),
    ...(o.regime !== undefined ? { regime: o.regime } : {}),
    weightSpecs: specs,
    weightsBytes: data.byteLength,
    createdAt: new Date().toISOString(),
  };
  const written = await writeCheckpointDir(dir, { step, meta: meta as unknown as Record<string, unknown>, weights: new Uint8Array(data), ...(o.keepLast !== undefined ? { keepLast: o.keepLast } : {}) });
  return { ...(written.meta as unknown as CheckpointMeta), path: written.folder };
}

export interface LoadedCheckpoint {
  model: Transformer;
  meta: CheckpointMeta;
  /** Optimizer moments by name (`m/<param>`, `v/<param>`); disposed by `restoreTrainer` or `dispose`. */
  optimizerState: Record<string, tf.Tensor>;
  dispose(): void;
}

/**
 * Reads and validates the checkpoint of `dir`: the step folder `dir/latest.json` names (or the newest
 * step folder, or `dir` itself when it holds model.json: a step folder or a checkpoint of core ≤ 0.1).
 * Checks format, version, size and sha256 of weights.bin, finite values and shapes; errors name the file.
 */
export async function loadCheckpoint(dir: string, options: { trainable?: boolean } = {}): Promise<LoadedCheckpoint> {
  const requested = path.resolve(dir);
  const found = await findCheckpoint(requested);
  if (!found) {
    throw new ZooError(
      'CHECKPOINT_MISSING',
      `no checkpoint at ${requested}: it holds no ${POINTER_FILE}, no step-* folder and no model.json; pass the directory given to saveCheckpoint (or one of its step folders)`,
      { field: requested },
    );
  }
  const abs = found.folder;
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
  if (!READABLE_VERSIONS.includes(meta.version)) {
    throw new ZooError('CHECKPOINT_MISMATCH', `${jsonPath} is checkpoint version ${meta.version}; this @regime-zoo/core reads versions ${READABLE_VERSIONS.join(' and ')}. Use the core version that wrote it.`, {
      field: `${jsonPath}#version`,
    });
  }
  let config: ModelConfig;
  try {
    config = parseModelConfig(meta.config);
  } catch (e) {
    throw new ZooError('CHECKPOINT_CORRUPT', `${jsonPath}: ${(e as Error).message}`, { cause: e, field: `${jsonPath}#config` });
  }
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
  if (meta.version >= 2) {
    const expected = meta.files?.['weights.bin']?.sha256;
    if (typeof expected !== 'string') {
      throw new ZooError('CHECKPOINT_CORRUPT', `${jsonPath} has no sha256 for weights.bin (files["weights.bin"].sha256), which version ${meta.version} requires; the file is damaged`, {
        field: `${jsonPath}#files`,
      });
    }
    const actual = sha256(bin);
    if (actual !== expected) {
      throw new ZooError(
        'CHECKPOINT_CORRUPT',
        `${binPath} is damaged: its sha256 checksum is ${actual} but model.json records ${expected}${await olderHint(requested, abs)}`,
        { field: binPath },
      );
    }
  }
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  let all: Record<string, tf.Tensor>;
  try {
    all = tf.io.decodeWeights(buffer, meta.weightSpecs);
  } catch (e) {
    throw new ZooError('CHECKPOINT_CORRUPT', `${binPath} cannot be decoded with the weightSpecs of model.json (${(e as Error).message})`, { cause: e, field: binPath });
  }
  for (const [n, t] of Object.entries(all)) {
    if (t.dtype !== 'float32') continue;
    const values = t.dataSync();
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        tf.dispose(Object.values(all));
        throw new ZooError('CHECKPOINT_CORRUPT', `${binPath}: weight "${n}" holds ${values[i]} at index ${i}; a checkpoint's weights must be finite${await olderHint(requested, abs)}`, {
          field: binPath,
        });
      }
    }
  }
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

/** ", or load the previous checkpoint, <folder>" when the directory has one older than `folder`. */
async function olderHint(dir: string, folder: string): Promise<string> {
  if (dir === folder) return '';
  const older = (await listStepFolders(dir)).filter((f) => path.join(dir, f.name) !== folder);
  return older.length ? `; load the previous checkpoint with loadCheckpoint(${JSON.stringify(path.join(dir, older.at(-1)!.name))})` : '';
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
