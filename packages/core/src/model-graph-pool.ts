import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.js';
import type { CompiledGraph, GraphProgram, GraphSession } from './graph-run.js';
import { fusedOpsAvailable } from './fused-ops.js';
import { buildBackward, buildForward, buildKV, stepPlan, type KVEntry } from './model-graph.js';

/*
 * The lifetime of the compiled model graphs (model-graph.ts builds them): shared per model shape, each
 * built on first use, held by the models and open KV sessions that use them, kept for a few unused shapes
 * and unloaded beyond that; and the pool of KV-cache sessions per shape.
 */

export interface ModelGraphs {
  readonly infer: CompiledGraph;
  readonly train: CompiledGraph;
  readonly backward: CompiledGraph;
  /** KV-cache decoding; each session holds one cache (see `buildKV`). */
  readonly kv: GraphProgram<KVEntry>;
}

/** The graphs of a model shape are shared by every model of that shape (vocabulary, context, sizes, tying, value head). */
export function shapeKey(c: ModelConfig): string {
  return JSON.stringify([c.vocabSize, c.contextLength, c.dModel, c.nHeads, c.nLayers, c.mlpRatio, c.tiedEmbeddings, c.valueHead, c.layerNormEps, fusedOpsAvailable()]);
}

/** A KV session waiting for its next cache, with what it was last sized and loaded for. */
interface Slot {
  session: GraphSession<KVEntry>;
  /** The batch the session's cache variables are sized for. */
  batch: number;
  /** The tensor data the session's parameters were loaded from (a tfjs variable's changes with each assign). */
  params: readonly object[];
}

/** The compiled graphs of one model shape, each built on first use, and its idle KV sessions. */
class ShapeGraphs implements ModelGraphs {
  /** Models and open KV sessions using these graphs. */
  refs = 0;
  /** Released KV sessions (loading one costs milliseconds), reused by the next cache of this shape. */
  readonly idle: Slot[] = [];
  private built: { infer?: CompiledGraph; train?: CompiledGraph; backward?: CompiledGraph; kv?: GraphProgram<KVEntry> } = {};
  constructor(
    readonly key: string,
    readonly config: ModelConfig,
  ) {}
  get infer(): CompiledGraph {
    return (this.built.infer ??= buildForward(this.config, 'infer'));
  }
  get train(): CompiledGraph {
    return (this.built.train ??= buildForward(this.config, 'train'));
  }
  get backward(): CompiledGraph {
    return (this.built.backward ??= buildBackward(this.config));
  }
  get kv(): GraphProgram<KVEntry> {
    return (this.built.kv ??= buildKV(this.config));
  }
  /** Unloads every graph and idle session of this shape. */
  free(): void {
    for (const g of [this.built.infer, this.built.train, this.built.backward]) g?.release();
    for (const slot of this.idle.splice(0)) slot.session.close();
    this.built = {};
  }
}

/**
 * Graphs of shapes no model uses any more are kept for the next model of the same shape (a clone, a
 * reload), up to this many shapes, least recently released first out; beyond that they are unloaded.
 */
export const MAX_UNUSED_SHAPES = 4;
/** Idle KV sessions kept per shape. */
const MAX_IDLE_SESSIONS = 4;

const shapes = new Map<string, ShapeGraphs>();
// Shapes with no user, oldest release first (a Set keeps insertion order).
const unused = new Set<ShapeGraphs>();

/** A model's hold on the graphs of its shape; `release` when the model is disposed or changes shape. */
export interface ModelGraphsHandle {
  readonly key: string;
  readonly graphs: ModelGraphs;
  release(): void;
}

function retain(c: ModelConfig): ShapeGraphs {
  const key = shapeKey(c);
  let s = shapes.get(key);
  if (!s) shapes.set(key, (s = new ShapeGraphs(key, c)));
  s.refs += 1;
  unused.delete(s);
  return s;
}

function drop(s: ShapeGraphs): void {
  s.refs -= 1;
  if (s.refs > 0) return;
  unused.add(s);
  for (const oldest of unused) {
    if (unused.size <= MAX_UNUSED_SHAPES) break;
    unused.delete(oldest);
    shapes.delete(oldest.key);
    oldest.free();
  }
}

/** The compiled graphs of a config, held until `release()` (graphs are shared per model shape). */
export function acquireModelGraphs(c: ModelConfig): ModelGraphsHandle {
  const s = retain(c);
  let live = true;
  return {
    key: s.key,
    graphs: s,
    release() {
      if (live) drop(s);
      live = false;
    },
  };
}

/** How many model shapes have graphs loaded, and how many of those no model uses (at most `MAX_UNUSED_SHAPES`). */
export function modelGraphStats(): { shapes: number; unused: number } {
  return { shapes: shapes.size, unused: unused.size };
}

/** A KV cache held in a session of the `kv` program; `release` hands the session back for reuse. */
export interface KVSession {
  /**
   * Feeds ids [B, n] after the `length` cached positions and returns their logits (and values), computed
   * with `params` (the model's variables, in `parameterShapes` order; loaded into the session when they change).
   */
  decode(ids: tf.Tensor2D, length: number, params: readonly tf.Tensor[], mask: tf.Tensor2D): tf.Tensor[];
  /** The first `length` positions of the cache: keys per layer, then values per layer, [B, H, length, d_head]. */
  read(length: number): tf.Tensor4D[];
  release(): void;
}

// A cache dropped without `disposeKVCache` still gives its session back once it is garbage.
const dropped = new FinalizationRegistry<() => void>((release) => release());

/** A session holding the KV cache `owner` for `batch` rows (reused from an earlier cache where possible). */
export function openKVSession(c: ModelConfig, batch: number, owner: object): KVSession {
  const shape = retain(c); // an open session keeps its shape's graphs loaded
  const pool = shape.idle;
  const slot = pool.pop() ?? { session: shape.kv.open(), batch: -1, params: [] };
  if (slot.batch !== batch) {
    tf.tidy(() => {
      slot.session.run('init', [tf.scalar(batch, 'int32')]);
    });
    slot.batch = batch;
  }
  let live = true;
  const release = (): void => {
    if (!live) return;
    live = false;
    if (pool.length < MAX_IDLE_SESSIONS) pool.push(slot);
    else slot.session.close();
    drop(shape);
  };
  dropped.register(owner, release, owner);
  return {
    decode(ids, length, params, mask) {
      if (params.length !== slot.params.length || params.some((p, i) => p.dataId !== slot.params[i])) {
        tf.dispose(slot.session.run('load', params));
        slot.params = params.map((p) => p.dataId);
      }
      return tf.tidy(() => {
        const start = tf.scalar(length, 'int32');
        if (ids.shape[1] !== 1) return slot.session.run('decode', [ids, mask, start]);
        const plan = stepPlan(c, batch, length);
        return slot.session.run(plan.entry, [ids, start, tf.scalar(plan.rows, 'int32')]);
      });
    },
    read: (length) => tf.tidy(() => slot.session.run('read', [tf.scalar(length, 'int32')])) as tf.Tensor4D[],
    release() {
      dropped.unregister(owner);
      release();
    },
  };
}
