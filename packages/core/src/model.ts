import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from './backend.js';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from './config.js';
import { ZooError } from './errors.js';
import { hookNames, sameOps, transformerTrunk, type ForwardOps } from './forward.js';
import { graphAvailable } from './graph-run.js';
import { trunkParameters } from './model-graph.js';
import { acquireModelGraphs, openKVSession, shapeKey, type KVSession, type ModelGraphs, type ModelGraphsHandle } from './model-graph-pool.js';
import { Rng } from './rng.js';
import { checkTokenTensor, unknownHookPoint } from './validate.js';

/** A hook sees an activation (shape as in TransformerLens) and may return a replacement of the same shape. */
export type HookFn = (activation: tf.Tensor, name: string) => tf.Tensor | void;

export interface ForwardOptions {
  /** Hook functions by TransformerLens name (`blocks.0.hook_resid_post`, `blocks.1.attn.hook_pattern`, ...). */
  hooks?: Record<string, HookFn>;
  /** Activations whose names pass this filter are written into `cache`, kept past any tidy: dispose them. */
  cacheFilter?: (name: string) => boolean;
  cache?: Record<string, tf.Tensor>;
  /** Apply dropout (when `config.dropout > 0`); `dropoutSeed` makes it reproducible. */
  training?: boolean;
  dropoutSeed?: number;
}

export type ForwardResult = {
  /** [batch, time, vocab] */
  logits: tf.Tensor3D;
  /** [batch, time], present when the model has a value head. */
  values?: tf.Tensor2D;
};

/**
 * Key/value cache for incremental decoding. With compiled graphs the cache lives inside TensorFlow and
 * `keys`/`values` stay empty; on the eager path (or once a call needs eager ops) they hold, per layer,
 * K and V of shape [batch, heads, time, dHead].
 */
export interface KVCache {
  batch: number;
  length: number;
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
}

// Caches that live in a compiled graph session (see model-graph.ts `openKVSession`).
const kvSessions = new WeakMap<KVCache, KVSession>();

/** Hands a cache's graph session (if it has one) back for reuse. */
function releaseSession(kv: KVCache): void {
  kvSessions.get(kv)?.release();
  kvSessions.delete(kv);
}

/** Token input: rows of ids, or a tensor [batch, time] of integer ids (int32, or float with integral values); both are validated. */
export type TokenInput = readonly (readonly number[])[] | tf.Tensor2D;

const hookNameSets = new Map<number, Set<string>>();

let modelIds = 0;
let variableIds = 0;

export { hookNames };

/** The shapes of every parameter of a config, in a fixed order (the checkpoint order). */
export function parameterShapes(c: ModelConfig): [string, number[]][] {
  const d = c.dModel;
  const m = d * c.mlpRatio;
  const out: [string, number[]][] = [
    ['embed.W_E', [c.vocabSize, d]],
    ['pos_embed.W_pos', [c.contextLength, d]],
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blocks.${l}`;
    out.push(
      [`${b}.ln1.w`, [d]],
      [`${b}.ln1.b`, [d]],
      [`${b}.attn.W_QKV`, [d, 3 * d]],
      [`${b}.attn.b_QKV`, [3 * d]],
      [`${b}.attn.W_O`, [d, d]],
      [`${b}.attn.b_O`, [d]],
      [`${b}.ln2.w`, [d]],
      [`${b}.ln2.b`, [d]],
      [`${b}.mlp.W_in`, [d, m]],
      [`${b}.mlp.b_in`, [m]],
      [`${b}.mlp.W_out`, [m, d]],
      [`${b}.mlp.b_out`, [d]],
    );
  }
  out.push(['ln_final.w', [d]], ['ln_final.b', [d]]);
  if (!c.tiedEmbeddings) out.push(['unembed.W_U', [d, c.vocabSize]]);
  out.push(['unembed.b_U', [c.vocabSize]]);
  if (c.valueHead) out.push(['value_head.W', [d, 1]], ['value_head.b', [1]]);
  return out;
}

/** GPT-2 initialisation: N(0, std) weights, residual-output weights scaled by 1/sqrt(2·layers), zero biases, unit LayerNorm gains. */
function initialValue(name: string, shape: number[], c: ModelConfig, seed: number): tf.Tensor {
  if (/\.(ln1|ln2)\.w$|^ln_final\.w$/.test(name)) return tf.ones(shape);
  if (/\.b(_\w+)?$|\.b$/.test(name)) return tf.zeros(shape);
  const std = /attn\.W_O$|mlp\.W_out$/.test(name) ? c.initStd / Math.sqrt(2 * c.nLayers) : c.initStd;
  return tf.randomNormal(shape, 0, std, 'float32', seed);
}

/**
 * A decoder-only transformer built from tfjs ops and `tf.variable`s: token + learned position
 * embeddings, pre-LayerNorm blocks with causal multi-head attention (one fused QKV matmul) and a GELU
 * MLP, a final LayerNorm, an unembedding (tied or not), and an optional value head on the trunk.
 * Activations carry TransformerLens hook names; see `hookNames`.
 */
export class Transformer {
  config: ModelConfig;
  readonly params = new Map<string, tf.Variable>();
  private readonly id = ++modelIds;
  private trainableFlag: boolean;
  private mask: tf.Tensor2D;
  /** This model's hold on the compiled graphs of its shape (taken on first use, given back by `dispose`). */
  private graphHandle: ModelGraphsHandle | undefined;

  private constructor(config: ModelConfig, trainable: boolean) {
    ensureBackend();
    this.config = config;
    this.trainableFlag = trainable;
    // Additive causal mask: 0 on and below the diagonal, -1e9 above.
    this.mask = tf.tidy(() => {
      const n = config.contextLength;
      const lower = tf.linalg.bandPart(tf.ones([n, n]), -1, 0);
      return tf.mul(tf.sub(1, lower), -1e9) as tf.Tensor2D;
    });
  }

  /** A new model with seeded initialisation (`config.seed`). Throws `CONFIG_INVALID` naming the field. */
  static create(config: ModelConfigInput, options: { trainable?: boolean } = {}): Transformer {
    const c = parseModelConfig(config);
    const model = new Transformer(c, options.trainable ?? true);
    const rng = new Rng(c.seed);
    for (const [name, shape] of parameterShapes(c)) {
      const seed = rng.seed();
      model.setParam(name, tf.tidy(() => initialValue(name, shape, c, seed)));
    }
    return model;
  }

  /** A model from given weights (checkpoint loading); shapes are checked against the config. */
  static fromWeights(config: ModelConfigInput, weights: Record<string, tf.Tensor>, options: { trainable?: boolean } = {}): Transformer {
    const c = parseModelConfig(config);
    const model = new Transformer(c, options.trainable ?? true);
    for (const [name, shape] of parameterShapes(c)) {
      const w = weights[name];
      if (!w) {
        model.dispose();
        throw new ZooError('CHECKPOINT_MISMATCH', `weights lack "${name}" (shape [${shape}]) that the config needs`, { field: name });
      }
      if (!tf.util.arraysEqual(w.shape, shape)) {
        model.dispose();
        throw new ZooError('CHECKPOINT_MISMATCH', `weight "${name}" has shape [${w.shape}] but the config needs [${shape}]`, { field: name });
      }
      model.setParam(name, tf.clone(w));
    }
    return model;
  }

  get trainable(): boolean {
    return this.trainableFlag;
  }

  private setParam(name: string, value: tf.Tensor): void {
    const old = this.params.get(name);
    const v = tf.variable(value, this.trainableFlag, `rz${this.id}.${++variableIds}/${name}`);
    value.dispose();
    this.params.set(name, v);
    old?.dispose();
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new ZooError('INTERNAL', `model has no parameter "${name}"`);
    return v;
  }

  /** Trainable variables in checkpoint order. */
  variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** Turns the token input into an int32 tensor, checking ids and length (throws with the position). */
  tokensToTensor(tokens: TokenInput): tf.Tensor2D {
    if (tokens instanceof tf.Tensor) return checkTokenTensor(tokens, this.config);
    if (!Array.isArray(tokens)) {
      throw new ZooError('SHAPE_MISMATCH', `tokens must be rows of token ids (number[][]) or a [batch, time] tensor, got ${tokens === null ? 'null' : typeof tokens}`, { field: 'tokens' });
    }
    const rows = tokens.length;
    const cols = tokens[0]?.length ?? 0;
    if (rows === 0 || cols === 0) throw new ZooError('SHAPE_MISMATCH', 'tokens must hold at least one row of at least one token', { field: 'tokens' });
    const data = new Int32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = tokens[r]!;
      if (!Array.isArray(row)) throw new ZooError('SHAPE_MISMATCH', `token row ${r} is not an array of ids`, { field: 'tokens', position: [r] });
      if (row.length !== cols) {
        throw new ZooError('SHAPE_MISMATCH', `token row ${r} has length ${row.length} but row 0 has ${cols}; pad rows to one length`, { field: 'tokens', position: [r] });
      }
      if (cols > this.config.contextLength) {
        throw new ZooError('SEQUENCE_TOO_LONG', `row ${r} has ${cols} tokens, more than contextLength ${this.config.contextLength}; truncate to ${this.config.contextLength}`, {
          field: 'tokens',
          position: [r, this.config.contextLength],
        });
      }
      for (let t = 0; t < cols; t++) {
        const id = row[t]!;
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
          throw new ZooError('TOKEN_OUT_OF_RANGE', `token id ${id} at row ${r}, position ${t} is outside the vocabulary [0, ${this.config.vocabSize - 1}]`, {
            field: 'tokens',
            position: [r, t],
          });
        }
        data[r * cols + t] = id;
      }
    }
    return tf.tensor2d(data, [rows, cols], 'int32');
  }

  /** Every hook point of this model, as a set. */
  private hookPoints(): Set<string> {
    let set = hookNameSets.get(this.config.nLayers);
    if (!set) hookNameSets.set(this.config.nLayers, (set = new Set(hookNames(this.config.nLayers))));
    return set;
  }

  /** Fails when a name is not a hook point of this model, listing the nearest ones that are. */
  private checkHookName(name: string, field: string): void {
    if (!this.hookPoints().has(name)) unknownHookPoint(name, field, [...this.hookPoints()], this.config.nLayers);
  }

  private linear(x: tf.Tensor2D, w: string, b?: string): tf.Tensor2D {
    // matMul + add is 2 kernels on tfjs-node; tf.fused.matMul runs 7 (reshapes and a fallback).
    const y = tf.matMul(x, this.p(w));
    return (b ? tf.add(y, this.p(b)) : y) as tf.Tensor2D;
  }

  /**
   * Full forward pass. Call inside `tf.tidy` (or dispose the result). Hooks and the cache see
   * activations shaped as TransformerLens shows them: [batch, pos, d_model] for the residual stream,
   * [batch, head, query_pos, key_pos] for patterns, [batch, pos, head, d_head] for q/k/v/z.
   */
  forward(tokens: TokenInput, options: ForwardOptions = {}): ForwardResult {
    if (options.hooks) for (const name of Object.keys(options.hooks)) this.checkHookName(name, `hooks["${name}"]`);
    return tf.tidy(() => {
      const ids = this.tokensToTensor(tokens);
      return this.compiled(options) ? this.graphForward(ids) : this.run(ids, 0, options, undefined);
    });
  }

  /**
   * Whether this pass can run as compiled TensorFlow graphs (model-graph.ts): the native backend, no
   * hooks or activation cache (those need the eager ops), and no dropout in effect.
   */
  private compiled(o: ForwardOptions): boolean {
    return !o.hooks && !o.cacheFilter && !(o.training && this.config.dropout > 0) && graphAvailable();
  }

  /** The compiled graphs of this model's current shape (`growVocab` and `addValueHead` change it). */
  private graphs(): ModelGraphs {
    if (this.graphHandle?.key !== shapeKey(this.config)) {
      this.graphHandle?.release();
      this.graphHandle = acquireModelGraphs(this.config);
    }
    return this.graphHandle.graphs;
  }

  /** Logits and (with a value head) values from an inference graph's outputs. */
  private inferred([logits, values]: tf.Tensor[]): ForwardResult {
    return values ? { logits: logits as tf.Tensor3D, values: values as tf.Tensor2D } : { logits: logits as tf.Tensor3D };
  }

  /**
   * The forward pass as one graph call. Under a gradient tape (and for a trainable model) it is a single
   * custom-gradient op whose gradient is the hand-written backward graph, so any loss built on the logits
   * trains through it. A frozen model's compiled forward gives no gradients to its own variables, even
   * when asked for them explicitly (`tf.grads` on them): use `REGIME_ZOO_GRAPH=0` for that.
   */
  private graphForward(ids: tf.Tensor2D): ForwardResult {
    const graphs = this.graphs();
    // Outside tf.grad/variableGrads (tfjs's engine counts their nesting), and for a frozen model (a
    // reference π₀ inside a loss: its variables are not trainable, so no gradient reaches them), there is
    // no backward pass to save activations for: the inference graph is enough, and its outputs are
    // constants on the tape.
    const taping = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
    if (!taping || !this.trainableFlag) {
      return this.inferred(graphs.infer.run([ids, this.mask, ...this.variables()]));
    }
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const params = args as tf.Tensor[];
      const [out, ...acts] = graphs.train.run([ids, this.mask, ...params]);
      save([ids, ...acts]);
      return {
        value: out!,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => graphs.backward.run([saved[0]!, dy, ...params, ...saved.slice(1)]),
      };
    });
    const out = op(...trunkParameters(this.config).map(([n]) => this.p(n))) as tf.Tensor3D;
    if (!this.config.valueHead) return { logits: out };
    // [B, T, V + D]: logits, then the final LayerNorm output, which the value head reads here.
    const [B, T] = out.shape;
    const { vocabSize: V, dModel: D } = this.config;
    const final = tf.reshape(tf.slice(out, [0, 0, V], [B, T, D]), [B * T, D]);
    return { logits: tf.slice(out, [0, 0, 0], [B, T, V]), values: tf.reshape(this.linear(final as tf.Tensor2D, 'value_head.W', 'value_head.b'), [B, T]) };
  }

  /** Runs the model and returns logits plus a cache of the activations `namesFilter` selects; dispose both. */
  runWithCache(tokens: TokenInput, options: { namesFilter?: ((name: string) => boolean) | readonly string[] } = {}): ForwardResult & { cache: Record<string, tf.Tensor> } {
    const f = options.namesFilter;
    if (Array.isArray(f)) f.forEach((n: string, i) => this.checkHookName(n, `namesFilter[${i}]`));
    const filter = f === undefined ? () => true : typeof f === 'function' ? f : (n: string) => f.includes(n);
    if (typeof f === 'function' && ![...this.hookPoints()].some((n) => f(n))) {
      throw new ZooError('OPTION_INVALID', `namesFilter selects none of this model's ${this.hookPoints().size} hook points, so the cache would be empty; hook points are named as in hookNames(${this.config.nLayers}), e.g. "blocks.0.hook_resid_post"`, {
        field: 'namesFilter',
      });
    }
    const cache: Record<string, tf.Tensor> = {};
    return { ...this.forward(tokens, { cacheFilter: filter, cache }), cache };
  }

  /** An empty KV cache for `batch` rows. */
  newKVCache(batch: number): KVCache {
    return { batch, length: 0, keys: [], values: [] };
  }

  /** Releases a KV cache's tensors (or its graph session). */
  disposeKVCache(kv: KVCache): void {
    releaseSession(kv);
    tf.dispose([...kv.keys, ...kv.values]);
    kv.keys = [];
    kv.values = [];
    kv.length = 0;
  }

  /**
   * Feeds `tokens` ([batch, n] new tokens, usually n = 1) after the `kv.length` tokens already in the
   * cache, updates the cache in place and returns logits [batch, n, vocab] for the new positions.
   */
  decode(tokens: TokenInput, kv: KVCache, options: ForwardOptions = {}): ForwardResult {
    if (options.hooks) for (const name of Object.keys(options.hooks)) this.checkHookName(name, `hooks["${name}"]`);
    const ids = this.tokensToTensor(tokens);
    try {
      const [B, n] = ids.shape;
      if (B !== kv.batch) throw new ZooError('SHAPE_MISMATCH', `decode got ${B} rows but the KV cache was made for ${kv.batch}`, { field: 'tokens' });
      if (kv.length + n > this.config.contextLength) {
        throw new ZooError('SEQUENCE_TOO_LONG', `decoding to length ${kv.length + n} exceeds contextLength ${this.config.contextLength}`, {
          field: 'tokens',
          position: [0, this.config.contextLength],
        });
      }
      // A cache started on the eager path stays there; one in a graph session moves out when a call needs eager ops.
      let session = kvSessions.get(kv);
      if (this.compiled(options) && kv.keys.length === 0) {
        if (!session) {
          session = openKVSession(this.config, kv.batch, kv);
          kvSessions.set(kv, session);
        }
        const result = this.inferred(session.decode(ids, kv.length, this.variables(), this.mask));
        kv.length += n;
        return result;
      }
      if (session) {
        const cached = session.read(kv.length);
        kv.keys = cached.slice(0, this.config.nLayers);
        kv.values = cached.slice(this.config.nLayers);
        releaseSession(kv);
      }
      const next: { keys: tf.Tensor4D[]; values: tf.Tensor4D[] } = { keys: [], values: [] };
      const result = tf.tidy(() => {
        const r = this.run(ids, kv.length, options, { kv, next });
        for (const t of [...next.keys, ...next.values]) tf.keep(t);
        return r;
      });
      tf.dispose([...kv.keys, ...kv.values]);
      kv.keys = next.keys;
      kv.values = next.values;
      kv.length += n;
      return result;
    } finally {
      ids.dispose();
    }
  }

  /** The transformer of forward.ts on eager tfjs ops, with hooks, an activation cache, dropout and (`incremental`) a KV cache. */
  private run(ids: tf.Tensor2D, start: number, o: ForwardOptions, incremental: { kv: KVCache; next: { keys: tf.Tensor4D[]; values: tf.Tensor4D[] } } | undefined): ForwardResult {
    const c = this.config;
    const [B, T] = ids.shape;
    const D = c.dModel;
    const N = B * T;
    const watch = o.hooks || o.cacheFilter ? (name: string) => Boolean(o.hooks?.[name] || o.cacheFilter?.(name)) : undefined;
    const views = { resid: [B, T, D], mlp: [B, T, D * c.mlpRatio] };

    // Applies the hook and cache for `name` to x, viewed with `shape` (TransformerLens's layout).
    const tap = <X extends tf.Tensor>(name: string, x: X, view?: number[]): X => {
      if (!watch || !watch(name)) return x;
      let a: tf.Tensor = view ? tf.reshape(x, view) : x;
      const replaced = o.hooks?.[name]?.(a, name);
      if (replaced) {
        if (!tf.util.arraysEqual(replaced.shape, a.shape)) {
          throw new ZooError('SHAPE_MISMATCH', `hook "${name}" returned shape [${replaced.shape}], expected [${a.shape}]`, { field: name });
        }
        a = replaced;
      }
      if (o.cacheFilter?.(name) && o.cache) o.cache[name] = tf.keep(a);
      return (view ? tf.reshape(a, x.shape) : a) as X;
    };
    // The causal mask's rows for these T positions over all they may see, sliced once for every layer (a
    // single new token sees the whole cache: no mask). Incremental passes start at the cache's length.
    const mask = incremental && T === 1 ? undefined : tf.slice(this.mask, [start, 0], [T, start + T]);
    const ops: ForwardOps<tf.Tensor> = {
      ...sameOps(tf),
      B,
      T,
      embed: () => {
        const embed = tap('hook_embed', tf.gather(this.p('embed.W_E'), tf.reshape(ids, [N])), views.resid);
        const posRows = tf.slice(this.p('pos_embed.W_pos'), [start, 0], [T, D]);
        // Broadcast the [T, D] position rows over the batch (tf.tile's gradient costs 2 kernels per row).
        if (!watch?.('hook_pos_embed')) return tf.reshape(tf.add(tf.reshape(embed, [B, T, D]), posRows), [N, D]);
        return tf.add(embed, tap('hook_pos_embed', tf.reshape(tf.broadcastTo(posRows, [B, T, D]), [N, D]), views.resid));
      },
      param: (name) => this.p(name),
      linear: (x, w, b) => this.linear(x as tf.Tensor2D, w, b),
      mean: (x) => tf.mean(x, -1, true),
      unstack3: (x) => tf.unstack(x) as [tf.Tensor, tf.Tensor, tf.Tensor],
      matMul: (a, b, ta, tb) => tf.matMul(a, b, ta, tb),
      attend: (l, k, v) => {
        if (!incremental) return { k, v, mask: mask! };
        const { kv, next } = incremental;
        const [kAll, vAll] = kv.length > 0 ? [tf.concat([kv.keys[l]!, k], 2), tf.concat([kv.values[l]!, v], 2)] : [k, v];
        next.keys.push(kAll as tf.Tensor4D);
        next.values.push(vAll as tf.Tensor4D);
        // Several new tokens at once: each may see the cache and the new tokens up to itself.
        return mask ? { k: kAll, v: vAll, mask } : { k: kAll, v: vAll };
      },
      // Heads are [B, H, pos, d_head] in the computation and [B, pos, H, d_head] to hooks (TransformerLens).
      tap: (name, x, view) =>
        view === 'heads' ? (watch?.(name) ? tf.transpose(tap(name, tf.transpose(x, [0, 2, 1, 3])), [0, 2, 1, 3]) : x) : tap(name, x, view ? views[view] : undefined),
      drop: (x, k) => (o.training && c.dropout > 0 ? tf.dropout(x, c.dropout, undefined, (o.dropoutSeed ?? 0) * 1000 + k) : x),
      save: () => {},
    };
    const final = transformerTrunk(ops, c) as tf.Tensor2D;
    const logits2d = c.tiedEmbeddings
      ? (tf.add(tf.matMul(final, this.p('embed.W_E'), false, true), this.p('unembed.b_U')) as tf.Tensor2D)
      : this.linear(final, 'unembed.W_U', 'unembed.b_U');
    const logits = tf.reshape(logits2d, [B, T, c.vocabSize]) as tf.Tensor3D;
    if (!c.valueHead) return { logits };
    const values = tf.reshape(this.linear(final, 'value_head.W', 'value_head.b'), [B, T]) as tf.Tensor2D;
    return { logits, values };
  }

  /**
   * Grows the vocabulary to `newSize` (new conditioning tokens): old rows of the embedding and columns of
   * the unembedding are kept bit-identical; new ones are initialised from `seed`. Call before training
   * (optimizer state made for the old shapes no longer fits).
   */
  growVocab(newSize: number, seed = this.config.seed + 1): void {
    const c = this.config;
    if (!Number.isInteger(newSize) || newSize < c.vocabSize) {
      throw new ZooError('CONFIG_INVALID', `growVocab: newSize must be an integer ≥ the current vocabSize ${c.vocabSize}, got ${newSize}`, { field: 'vocabSize' });
    }
    const extra = newSize - c.vocabSize;
    if (extra === 0) return;
    const rng = new Rng(seed);
    this.setParam('embed.W_E', tf.tidy(() => tf.concat([this.p('embed.W_E'), tf.randomNormal([extra, c.dModel], 0, c.initStd, 'float32', rng.seed())], 0)));
    if (!c.tiedEmbeddings) {
      this.setParam('unembed.W_U', tf.tidy(() => tf.concat([this.p('unembed.W_U'), tf.randomNormal([c.dModel, extra], 0, c.initStd, 'float32', rng.seed())], 1)));
    }
    this.setParam('unembed.b_U', tf.tidy(() => tf.concat([this.p('unembed.b_U'), tf.zeros([extra])], 0)));
    this.config = { ...c, vocabSize: newSize };
    // Keep checkpoint order: re-insert in parameterShapes order.
    const ordered = parameterShapes(this.config).map(([n]) => [n, this.p(n)] as const);
    this.params.clear();
    for (const [n, v] of ordered) this.params.set(n, v);
  }

  /**
   * Adds a value head (PPO's critic: a linear map of the final LayerNorm output to a scalar), initialised
   * N(0, initStd) from `seed`, zero bias. Other weights are untouched. Call before making a Trainer.
   */
  addValueHead(seed = this.config.seed + 2): void {
    if (this.config.valueHead) return;
    const rng = new Rng(seed);
    this.setParam('value_head.W', tf.tidy(() => tf.randomNormal([this.config.dModel, 1], 0, this.config.initStd, 'float32', rng.seed())));
    this.setParam('value_head.b', tf.zeros([1]));
    this.config = { ...this.config, valueHead: true };
  }

  /** A copy with its own variables; `trainable: false` makes a frozen reference (π₀). */
  clone(options: { trainable?: boolean } = {}): Transformer {
    const weights: Record<string, tf.Tensor> = {};
    for (const [n, v] of this.params) weights[n] = v;
    return Transformer.fromWeights(this.config, weights, { trainable: options.trainable ?? this.trainableFlag });
  }

  /** Copies another model's weights into this one (same config), e.g. to reset a policy to the base. */
  copyWeightsFrom(other: Transformer): void {
    for (const [n, v] of this.params) {
      const src = other.params.get(n);
      if (!src || !tf.util.arraysEqual(src.shape, v.shape)) {
        throw new ZooError('SHAPE_MISMATCH', `copyWeightsFrom: "${n}" is [${src?.shape ?? 'missing'}] in the source, [${v.shape}] here`, { field: n });
      }
      v.assign(src);
    }
  }

  /** Frees the weights, and the model's hold on its compiled graphs (unloaded once no model of its shape needs them). */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.mask.dispose();
    this.graphHandle?.release();
    this.graphHandle = undefined;
  }
}
