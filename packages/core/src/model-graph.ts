import type { ModelConfig } from './config.js';
import { GraphBuilder, type GNode } from './graph.js';
import { compileGraph, compileProgram, type CompiledGraph, type GraphProgram } from './graph-run.js';
import { GELU_C1, GELU_C2, sameOps, transformerTrunk, type ForwardOps } from './forward.js';
import { fusedOpsAvailable } from './fused-ops.js';
import { parameterShapes } from './model.js';

/*
 * The transformer of model.ts as compiled TensorFlow graphs (see graph.ts), with a hand-written backward
 * pass; model-graph-pool.ts holds them per model shape and frees them. The math is the eager forward's,
 * op for op (tests compare logits, KV-cache decoding and gradients against the eager path and finite
 * differences).
 *
 * Graphs and their inputs (P = the parameters in `parameterShapes` order, M = the [C, C] causal mask):
 * - `infer`:   ids [B, T], M, P                    -> logits [B, T, V] (, values [B, T] with a value head)
 * - `train`:   ids [B, T], M, P'                   -> out', saved activations
 * - `backward`: ids, d_out', P', saved activations -> one gradient per parameter of P', in order
 * P' (`trunkParameters`) leaves out the value head: `out'` is the logits [B, T, V] with the final
 * LayerNorm output appended when the model has a value head ([B, T, V + D]); model.ts applies the head
 * with eager ops.
 * - `kv`: a program whose sessions each hold one KV cache and a copy of P in variables (`buildKV`), with
 *   the entries
 *   `init`:   B                                    -> (sizes the cache for B rows)
 *   `load`:   P                                    -> (copies the parameters into the session)
 *   `decode`: ids [B, n], M, start                 -> logits (, values) of the n new positions (the cache grows by n)
 *   `stepN`:  `decode` for n = 1, with fewer and cheaper ops, reading the cache in N pieces (`stepPlan`)
 *   `read`:   length                               -> K_0..K_{L-1}, V_0..V_{L-1} ([B, H, length, d_head])
 */

/** The entries of the KV program (`buildKV`). */
export type KVEntry = 'init' | 'load' | 'decode' | 'read' | `step${number}`;

/** Names of the activations the train graph saves for the backward graph, in order. */
function savedNames(c: ModelConfig): string[] {
  const names: string[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    for (const a of ['xhat1', 'rstd1', 'h1', 'q', 'k', 'v', 'p', 'zt', 'xhat2', 'rstd2', 'h2', 'u', 't']) names.push(`${l}.${a}`);
  }
  names.push('xhatf', 'rstdf', 'f');
  return names;
}

/** The parameters inside the train and backward graphs: all but the value head's. */
export function trunkParameters(c: ModelConfig): [string, number[]][] {
  return parameterShapes(c).filter(([n]) => !n.startsWith('value_head.'));
}

function paramInputs(g: GraphBuilder, c: ModelConfig, trunkOnly = false): Record<string, GNode> {
  const P: Record<string, GNode> = {};
  for (const [name, shape] of trunkOnly ? trunkParameters(c) : parameterShapes(c)) P[name] = g.placeholder(`p_${name.replace(/[^A-Za-z0-9_]/g, '_')}`, 'float32', shape);
  return P;
}

/** Slice size [n, -1, -1, -1]: the first n rows (of a time-major cache) and everything else. */
function firstRows(g: GraphBuilder, n: GNode): GNode {
  const all = g.scalar(-1, 'int32');
  return g.pack([n, all, all, all]);
}

type Kind = 'infer' | 'decode' | 'step' | 'train';

interface ForwardInputs {
  ids: GNode;
  mask: GNode;
  start: GNode;
  P: Record<string, GNode>;
  /** `decode`/`step`: the cache variables per layer, [keys, values], time-major [C, B, H, d_head]. */
  cache?: (readonly [GNode, GNode])[];
  /** `step`: attend over the cache in `n` pieces of `rows` rows (int32 scalar), the last one shorter. */
  chunks?: { n: number; rows: GNode };
  /** Use core's fused kernels (fused-ops.ts) for LayerNorm, GELU and the masked softmax. */
  fused: boolean;
}

/**
 * A decoding step reads the cache in pieces of at most CHUNK_ELEMENTS elements (at least 8 rows, at most
 * MAX_CHUNKS pieces). Over ~100k elements Eigen splits an op across threads, and for these short ops the
 * hand-off costs more than it saves: the S-config step (B = 32) took 1.6 ms with 48 cached positions and
 * 2.5 ms with 56 in one piece, 1.3-1.9 ms with 56 in two (in-process, same graph).
 */
const CHUNK_ELEMENTS = 65536;
const MAX_CHUNKS = 8;

/** The step entry and rows per piece for a cache of `batch` rows that holds `length` positions before the step. */
export function stepPlan(c: ModelConfig, batch: number, length: number): { entry: `step${number}`; rows: number } {
  const S = length + 1;
  let rows = Math.max(8, Math.floor(CHUNK_ELEMENTS / (batch * c.dModel)));
  if (Math.ceil(S / rows) > MAX_CHUNKS) rows = Math.ceil(S / MAX_CHUNKS);
  return { entry: `step${Math.ceil(S / rows)}`, rows };
}

export function buildForward(c: ModelConfig, kind: 'infer' | 'train'): CompiledGraph {
  const g = new GraphBuilder();
  const ids = g.placeholder('ids', 'int32', [-1, -1]);
  const mask = g.placeholder('mask', 'float32', [c.contextLength, c.contextLength]);
  const { out, outputs, saved } = forward(g, c, kind, { ids, mask, start: g.scalar(0, 'int32'), P: paramInputs(g, c, kind === 'train'), fused: fusedOpsAvailable() });
  return compileGraph(g, kind === 'train' ? [out, ...saved] : outputs);
}

/**
 * The KV cache as session state: per layer, keys and values in reference variables, time-major
 * ([C, B, H, d_head], C = context length) so that a decoding step writes its row in place
 * (`ScatterUpdate`) and reads the first S rows as a view (a leading-axis `Slice` shares the buffer).
 * Nothing of the cache crosses into JavaScript, and nothing is copied per step but the new row:
 * growing a cache by concatenation copies it whole every step, which measured slower than the
 * step's own arithmetic.
 */
export function buildKV(c: ModelConfig): GraphProgram<KVEntry> {
  const g = new GraphBuilder();
  const H = c.nHeads;
  const dh = c.dModel / H;
  const size = (x: GNode): GNode => g.raw('Size', [x], { T: { type: 'float32' }, out_type: { type: 'int32' } }, 'int32')[0]!;
  const cache = Array.from({ length: c.nLayers }, (_, l) => [g.variable(`cache_k${l}`), g.variable(`cache_v${l}`)] as const);
  const batch = g.placeholder('batch', 'int32', []);
  const empty = g.fill(g.pack([g.scalar(c.contextLength, 'int32'), batch, g.scalar(H, 'int32'), g.scalar(dh, 'int32')]), 0);
  const sized = g.addN(cache.flat().map((v) => size(g.assign(v, empty))));
  // The parameters are variables too, loaded when the model's weights change, so a step feeds only ids.
  const feeds = paramInputs(g, c);
  const P = Object.fromEntries(Object.keys(feeds).map((name) => [name, g.variable(`param_${name.replace(/[^A-Za-z0-9_]/g, '_')}`)]));
  const loaded = g.addN(Object.keys(feeds).map((name) => size(g.assign(P[name]!, feeds[name]!))));
  const length = g.placeholder('length', 'int32', []);
  const read = (v: GNode): GNode => g.transpose(g.slice(v, g.ints([0, 0, 0, 0]), firstRows(g, length)), [1, 2, 0, 3]);
  const cached = [...cache.map(([k]) => read(k)), ...cache.map(([, v]) => read(v))];
  const io = { ids: g.placeholder('ids', 'int32', [-1, -1]), mask: g.placeholder('mask', 'float32', [c.contextLength, c.contextLength]), start: g.placeholder('start', 'int32', []), P, cache, fused: fusedOpsAvailable() };
  const decode = forward(g, c, 'decode', io).outputs;
  const rows = g.placeholder('chunk_rows', 'int32', []);
  const steps: Record<string, { inputs: GNode[]; outputs: GNode[] }> = {};
  for (let n = 1; n <= Math.min(MAX_CHUNKS, c.contextLength); n++) {
    g.setSerial(true); // one chain per entry
    steps[`step${n}`] = { inputs: [io.ids, io.start, rows], outputs: forward(g, c, 'step', { ...io, chunks: { n, rows } }).outputs };
  }
  g.setSerial(false); // what is added from here on joins no step's chain
  return compileProgram(g, {
    ...steps,
    init: { inputs: [batch], outputs: [sized] },
    load: { inputs: Object.values(feeds), outputs: [loaded] },
    decode: { inputs: [io.ids, io.mask, io.start], outputs: decode },
    read: { inputs: [length], outputs: cached },
  });
}

interface StepViews {
  /** [start]: the cache row this step writes. */
  at: GNode;
  /**
   * The pieces the step reads the S = start + 1 cached rows in: Slice begin and size for the cache
   * ([S, B, H, d_head]) and the pattern ([S, B, H]), and the shape of a piece's scores.
   */
  pieces: { cache: [GNode, GNode]; pattern: [GNode, GNode]; scores: GNode }[];
}

/** The shape arithmetic of a step, done once for all layers (each op here costs as much as a small matmul). */
function stepViews(g: GraphBuilder, c: ModelConfig, io: ForwardInputs): StepViews {
  const S = g.add(io.start, 1);
  const n = io.chunks?.n ?? 1;
  const R = io.chunks?.rows ?? S;
  const [zero, all] = [g.scalar(0, 'int32'), g.scalar(-1, 'int32')];
  const pieces = Array.from({ length: n }, (_, i) => {
    const begin = i === 0 ? zero : g.mul(R, i);
    const size = i < n - 1 ? R : i === 0 ? S : g.sub(S, begin);
    return {
      cache: [g.pack([begin, zero, zero, zero]), firstRows(g, size)],
      pattern: [g.pack([begin, zero, zero]), g.pack([size, all, all])],
      scores: g.pack([size, all, g.scalar(c.nHeads, 'int32')]),
    } as StepViews['pieces'][number];
  });
  return { at: g.reshape(io.start, [1]), pieces };
}

/**
 * Attention for one new token per row: q, k, v are [B, H, d_head] slices of [B, 3, H, d_head] (no
 * transpose), the new key and value go into row `start` of the time-major cache, and attention over the
 * S cached rows is broadcast products and sums, piece by piece (tiny batched matmuls cost more than they
 * compute here). Softmax written out too: at these sizes TensorFlow's oneDNN Softmax and BatchMatMul
 * kernels cost several times the Eigen element-wise ops (measured with ONEDNN_VERBOSE=1). Returns z [B, D].
 */
function stepAttention(g: GraphBuilder, c: ModelConfig, qkv: GNode, [cacheK, cacheV]: readonly [GNode, GNode], step: StepViews): GNode {
  const H = c.nHeads;
  const dh = c.dModel / H;
  const [q1, k1, v1] = g.unpack(g.reshape(qkv, [-1, 3, H, dh]), 3, 1) as [GNode, GNode, GNode];
  const kAll = g.scatterUpdate(cacheK, step.at, g.expandDims(k1, 0));
  const vAll = g.scatterUpdate(cacheV, step.at, g.expandDims(v1, 0));
  const q = g.expandDims(g.mul(q1, 1 / Math.sqrt(dh)), 0);
  // q·k per head: a product, then the sum over d_head as a matmul with ones (a tenth of the time of a
  // Sum over the innermost 16 elements here).
  const ones = g.constant(new Float32Array(dh).fill(1), [dh, 1]);
  const scores = g.concat(step.pieces.map((pc) => g.reshape(g.matMul(g.reshape(g.mul(q, g.slice(kAll, ...pc.cache)), [-1, dh]), ones), pc.scores)), 0); // [S, B, H]
  const e = g.exp(g.sub(scores, g.max(scores, [0], true)));
  const pattern = g.div(e, g.sum(e, [0], true));
  const one = step.pieces.length === 1;
  const parts = step.pieces.map((pc) => g.sum(g.mul(g.expandDims(one ? pattern : g.slice(pattern, ...pc.pattern), 3), g.slice(vAll, ...pc.cache)), [0]));
  return g.reshape(g.addN(parts), [-1, c.dModel]);
}

/** The transformer of forward.ts, written as graph ops for `kind` (see the kinds at the top of this file). */
function forward(g: GraphBuilder, c: ModelConfig, kind: Kind, io: ForwardInputs): { out: GNode; outputs: GNode[]; saved: GNode[] } {
  const D = c.dModel;
  const { ids, mask, start, P, fused } = io;
  const saved: GNode[] = [];
  const step = kind === 'step' ? stepViews(g, c, io) : undefined;
  // A step's output shapes are [-1, 1, ...]: no Shape op for the batch.
  const [B, T] = step ? [g.scalar(-1, 'int32'), g.scalar(1, 'int32')] : (g.dims(ids, 2) as [GNode, GNode]);
  const keep = (...xs: GNode[]): void => {
    if (kind === 'train') saved.push(...xs);
  };
  // BiasAdd fuses with MatMul in TensorFlow's optimizer, which pays on large inputs; for one token per row
  // (`step`) the fused oneDNN kernel is slower than MatMul + AddV2.
  const linear = (h: GNode, w: string, b: string): GNode => (step ? g.add(g.matMul(h, P[w]!), P[b]!) : g.biasAdd(g.matMul(h, P[w]!), P[b]!));
  const ops: ForwardOps<GNode, GNode> = {
    ...sameOps(g),
    B,
    T,
    embed() {
      const embed = g.gather(P['embed.W_E']!, g.reshape(ids, [-1]));
      // One position per row (`step`): [B, D] + [1, D] needs no reshapes.
      if (step) return g.add(embed, g.gather(P['pos_embed.W_pos']!, step.at));
      return g.reshape(g.add(g.reshape(embed, [B, T, D]), g.gather(P['pos_embed.W_pos']!, g.range(start, g.add(start, T)))), [-1, D]);
    },
    param: (name) => P[name]!,
    linear,
    mean: (x) => g.mean(x, [1], true),
    unstack3: (x) => g.unpack(x, 3, 0) as [GNode, GNode, GNode],
    matMul: (a, b, ta = false, tb = false) => g.matMul(a, b, ta, tb, 4),
    attend(l, k, v) {
      const S = g.add(start, T);
      if (kind === 'decode') {
        // Write the T new rows of the time-major cache, then attend over its first S rows.
        const at = g.range(start, S);
        const [cacheK, cacheV] = io.cache![l]!;
        const cached = (ref: GNode, x0: GNode): GNode => g.transpose(g.slice(g.scatterUpdate(ref, at, g.transpose(x0, [2, 0, 1, 3])), g.ints([0, 0, 0, 0]), firstRows(g, S)), [1, 2, 0, 3]);
        [k, v] = [cached(cacheK, k), cached(cacheV, v)];
      }
      return { k, v, mask: g.slice(mask, g.pack([start, g.scalar(0, 'int32')]), g.pack([T, S])) };
    },
    ...(step ? { attention: (l: number, qkv: GNode) => stepAttention(g, c, qkv, io.cache![l]!, step) } : {}),
    // Full passes spell GELU with tanh (twice as fast as Sigmoid here) and keep u and t for the backward
    // pass, which recomputes ½(1 + t) and the output with the same ops (`geluTail`): two [B·T, 4D] tensors
    // fewer to hold. The one-token step uses forward.ts's `gelu` (fewer ops: op count sets its time).
    // The fused kernels (fused-ops.ts): one op each for LayerNorm, GELU and the masked softmax.
    ...(fused
      ? {
          maskedSoftmax: (x: GNode, m: GNode) => g.raw('ZooMaskedSoftmax', [x, m], {}, 'float32')[0]!,
          layerNorm: (x: GNode, prefix: string, eps: number) => {
            const [y, xhat, rstd] = g.raw('ZooLayerNorm', [x, P[`${prefix}.w`]!, P[`${prefix}.b`]!], { eps: { f: eps } }, 'float32', 3) as [GNode, GNode, GNode];
            keep(xhat, rstd);
            return y;
          },
          gelu: (u: GNode) => {
            const [y, t] = g.raw('ZooGelu', [u], {}, 'float32', 2) as [GNode, GNode];
            keep(u, t);
            return y;
          },
        }
      : {}),
    ...(!fused && !step
      ? {
          gelu: (u: GNode) => {
            const t = g.tanh(g.mul(u, g.add(g.mul(g.square(u), GELU_C2), GELU_C1)));
            keep(u, t);
            return geluTail(g, u, t).gl;
          },
        }
      : {}),
    tap: (_name, x) => x,
    drop: (x) => x,
    save: keep,
  };
  const f = transformerTrunk(ops, c);
  const logits = c.tiedEmbeddings ? g.add(g.matMul(f, P['embed.W_E']!, false, true), P['unembed.b_U']!) : linear(f, 'unembed.W_U', 'unembed.b_U');
  if (kind === 'train') {
    // The value head stays outside (model.ts applies it to these extra columns) so that a loss without
    // values gives its weights no gradient, exactly as on the eager path.
    const out = g.reshape(c.valueHead ? g.concat([logits, f], 1) : logits, [B, T, c.vocabSize + (c.valueHead ? D : 0)]);
    return { out, outputs: [out], saved };
  }
  // Inference returns logits and values as separate outputs (no slicing afterwards).
  const outputs = [g.reshape(logits, [B, T, c.vocabSize])];
  if (c.valueHead) outputs.push(g.reshape(linear(f, 'value_head.W', 'value_head.b'), [B, T]));
  return { out: outputs[0]!, outputs, saved };
}

/** GELU's ½(1 + t) and output u·½(1 + t) from u and t = tanh(C₁u + C₂u³), the same ops in both graphs (same bits). */
function geluTail(g: GraphBuilder, u: GNode, t: GNode): { half: GNode; gl: GNode } {
  const half = g.add(g.mul(t, 0.5), 0.5);
  return { half, gl: g.mul(u, half) };
}

export function buildBackward(c: ModelConfig): CompiledGraph {
  const g = new GraphBuilder();
  const fused = fusedOpsAvailable();
  const D = c.dModel;
  const H = c.nHeads;
  const dh = D / H;
  const V = c.vocabSize;
  const ids = g.placeholder('ids', 'int32', [-1, -1]);
  const extra = c.valueHead ? D : 0;
  const dOut = g.placeholder('d_out', 'float32', [-1, -1, V + extra]);
  const P = paramInputs(g, c, true);
  const A: Record<string, GNode> = {};
  for (const n of savedNames(c)) A[n] = g.placeholder(`a_${n.replace('.', '_')}`, 'float32');
  const grads: Record<string, GNode[]> = {};
  const put = (name: string, grad: GNode): void => {
    (grads[name] ??= []).push(grad);
  };
  const [B, T] = g.dims(ids, 2) as [GNode, GNode];
  // Without the fused kernels BiasAddGrad, not a ones-row matmul, although the matmul takes 20–50% less
  // time at B·T = 2048: it sums in another order, so training would change in its last bits against
  // earlier releases on that path (docs/decisions.md, "Speed-ups must keep the bits where they can").
  const colSum = (x: GNode): GNode => (fused ? g.raw('ZooColumnSums', [x], {}, 'float32')[0]! : g.biasAddGrad(x));
  // y = h·W + b: records dW and db, returns dh.
  const linearBack = (dy: GNode, h: GNode, w: string, b: string): GNode => {
    put(w, g.matMul(h, dy, true, false));
    put(b, colSum(dy));
    return g.matMul(dy, P[w]!, false, true);
  };
  const lnBack = (dy: GNode, xhat: GNode, rstd: GNode, prefix: string): GNode => {
    if (fused) {
      const [dx, dw, db] = g.raw('ZooLayerNormGrad', [dy, xhat, rstd, P[`${prefix}.w`]!], {}, 'float32', 3) as [GNode, GNode, GNode];
      put(`${prefix}.w`, dw);
      put(`${prefix}.b`, db);
      return dx;
    }
    put(`${prefix}.w`, colSum(g.mul(dy, xhat)));
    put(`${prefix}.b`, colSum(dy));
    const dxh = g.mul(dy, P[`${prefix}.w`]!);
    const inner = g.sub(g.sub(dxh, g.mean(dxh, [1], true)), g.mul(xhat, g.mean(g.mul(dxh, xhat), [1], true)));
    return g.mul(inner, rstd);
  };
  // MLP out, x2 = x1 + W_out·gelu(u) + b_out: records W_out's and b_out's gradients, returns du.
  const mlpOutBack = (dx: GNode, u: GNode, t: GNode, p: string): GNode => {
    if (fused) {
      // GELU's output, for dW_out, comes out of the gradient kernel along with du.
      const [du, gl] = g.raw('ZooGeluGrad', [g.matMul(dx, P[`${p}.mlp.W_out`]!, false, true), u, t], {}, 'float32', 2) as [GNode, GNode];
      put(`${p}.mlp.W_out`, g.matMul(gl, dx, true, false));
      put(`${p}.mlp.b_out`, colSum(dx));
      return du;
    }
    const { half, gl } = geluTail(g, u, t);
    const dgl = linearBack(dx, gl, `${p}.mlp.W_out`, `${p}.mlp.b_out`);
    // d/du [u·½(1 + t)] = ½(1 + t) + u·(1 − t²)·(½C₁ + (3/2)C₂u²)
    const slope = g.mul(g.mul(u, g.sub(1, g.square(t))), g.add(g.mul(g.square(u), 1.5 * GELU_C2), 0.5 * GELU_C1));
    return g.mul(dgl, g.add(half, slope));
  };

  const d2 = g.reshape(dOut, [-1, V + extra]);
  const [dLogits, dFinal] = c.valueHead ? (g.split(d2, [V, D], 1) as [GNode, GNode]) : [d2, undefined];
  const f = A.f!;
  let df: GNode;
  if (c.tiedEmbeddings) {
    put('embed.W_E', g.matMul(dLogits, f, true, false));
    put('unembed.b_U', colSum(dLogits));
    df = g.matMul(dLogits, P['embed.W_E']!);
  } else {
    df = linearBack(dLogits, f, 'unembed.W_U', 'unembed.b_U');
  }
  if (dFinal) df = g.add(df, dFinal);
  let dx = lnBack(df, A.xhatf!, A.rstdf!, 'ln_final');

  const scale = 1 / Math.sqrt(dh);
  for (let l = c.nLayers - 1; l >= 0; l--) {
    const p = `blocks.${l}`;
    const a = (n: string): GNode => A[`${l}.${n}`]!;
    const du = mlpOutBack(dx, a('u'), a('t'), p);
    dx = g.add(dx, lnBack(linearBack(du, a('h2'), `${p}.mlp.W_in`, `${p}.mlp.b_in`), a('xhat2'), a('rstd2'), `${p}.ln2`));
    // Attention: x1 = x + W_O·z
    const dzt = linearBack(dx, a('zt'), `${p}.attn.W_O`, `${p}.attn.b_O`);
    const dz = g.transpose(g.reshape(dzt, [B, T, H, dh]), [0, 2, 1, 3]);
    const pattern = a('p');
    const dp = g.matMul(dz, a('v'), false, true, 4);
    const dv = g.matMul(pattern, dz, true, false, 4);
    const ds = fused ? g.raw('ZooSoftmaxGrad', [dp, pattern], {}, 'float32')[0]! : g.mul(pattern, g.sub(dp, g.sum(g.mul(dp, pattern), [3], true)));
    // a('q') is the scaled q; the scale's gradient goes on dq.
    const dq = g.mul(g.matMul(ds, a('k'), false, false, 4), scale);
    const dk = g.matMul(ds, a('q'), true, false, 4);
    const dqkv = g.reshape(g.transpose(g.pack([dq, dk, dv]), [1, 3, 0, 2, 4]), [-1, 3 * D]);
    dx = g.add(dx, lnBack(linearBack(dqkv, a('h1'), `${p}.attn.W_QKV`, `${p}.attn.b_QKV`), a('xhat1'), a('rstd1'), `${p}.ln1`));
  }
  put('embed.W_E', g.segmentSum(dx, g.reshape(ids, [-1]), V));
  put('pos_embed.W_pos', g.segmentSum(g.sum(g.reshape(dx, [B, T, D]), [0]), g.range(0, T), c.contextLength));
  const outputs = trunkParameters(c).map(([name]) => g.addN(grads[name]!));
  return compileGraph(g, outputs);
}
