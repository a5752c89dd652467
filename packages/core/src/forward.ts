/*
 * The transformer's forward pass, written once against the operations a backend supplies: eager tfjs
 * ops (model.ts, with hooks, an activation cache, dropout and a concatenated KV cache) and the graph
 * builder (model-graph.ts: the inference, training, KV-decode and one-token step graphs). The residual
 * stream, layer norms, projections, causal attention, MLP, final norm and the hook points' names are
 * here; a backend supplies its primitive ops, the embeddings, where keys and values live (its KV cache),
 * and may replace GELU and (the graph's one-token step) the attention with spellings of its own.
 */

/** What a backend supplies; `T` is its tensor type (a tfjs tensor or a graph node), `Dim` a dynamic size. */
export interface ForwardOps<T, Dim = number> {
  /** Batch and new positions of this pass, as the backend knows them (numbers, or graph scalars). */
  B: Dim;
  T: Dim;
  /** Token plus position embeddings, [N, D] with N = batch · new positions (batch-major rows). */
  embed(): T;
  /** The parameter named `name` (a layer norm's gain and bias). */
  param(name: string): T;
  /** x·W + b with the parameters named `w` and `b`. */
  linear(x: T, w: string, b: string): T;
  add(a: T, b: T | number): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T | number): T;
  /** Mean over the last axis of [N, D], kept as [N, 1]. */
  mean(x: T): T;
  rsqrt(x: T): T;
  square(x: T): T;
  sigmoid(x: T): T;
  reshape(x: T, shape: readonly (number | Dim)[]): T;
  transpose(x: T, perm: readonly number[]): T;
  /** The three slices of x along axis 0. */
  unstack3(x: T): [T, T, T];
  /** Batched a·b (rank 4), optionally transposing the last two axes of either. */
  matMul(a: T, b: T, transposeA?: boolean, transposeB?: boolean): T;
  softmax(x: T): T;
  /**
   * Layer `l`'s keys and values [B, H, S, d_head] over everything this pass attends to (the cache and the
   * new positions: the backend writes the new ones into its cache), and the additive causal mask for the
   * scores [B, H, T, S] (none when nothing needs masking).
   */
  attend(l: number, k: T, v: T): { k: T; v: T; mask?: T };
  /** softmax(scores + mask) in one op, where a backend has it (the scores' hook point is then skipped). */
  maskedSoftmax?(scores: T, mask: T): T;
  /** A backend's own attention for its case (the graph's one-token step); otherwise `causalAttention`. */
  attention?(l: number, qkv: T): T;
  /** A backend's own LayerNorm (saving x̂ and 1/σ like `layerNorm`); otherwise `layerNorm`. */
  layerNorm?(x: T, prefix: string, eps: number): T;
  /** A backend's own GELU (the training graph keeps what its backward pass needs); otherwise `gelu`. */
  gelu?(u: T): T;
  /** An activation under its TransformerLens name (hooks may replace it; `view` says how to show it). */
  tap(name: string, x: T, view?: 'resid' | 'mlp' | 'heads'): T;
  /** Dropout number `k` (0: embeddings, 2l + 1: attention output, 2l + 2: MLP output). */
  drop(x: T, k: number): T;
  /** Keeps an activation for a hand-written backward pass (the training graph). */
  save(...xs: T[]): void;
}

/** The `ForwardOps` that tfjs (`tf`) and the graph builder both name and call alike: `...sameOps(tf)`, `...sameOps(g)`. */
const SAME_OPS = ['add', 'sub', 'mul', 'rsqrt', 'square', 'sigmoid', 'softmax', 'reshape', 'transpose'] as const;
export function sameOps<T, Dim>(ns: { [K in (typeof SAME_OPS)[number]]: (...args: never[]) => unknown }): Pick<ForwardOps<T, Dim>, (typeof SAME_OPS)[number]> {
  return Object.fromEntries(SAME_OPS.map((k) => [k, (...args: never[]) => ns[k](...args)])) as never;
}

/**
 * Causal multi-head self-attention of layer `l` from the fused q, k, v [N, 3D]: z [N, D] before the
 * output projection. Hook points q, k, v and z as [B, pos, H, d_head], scores and pattern as
 * [B, H, query, key]; q is scaled by 1/√d_head after its hook. Saves q (scaled), k, v, pattern, z.
 */
export function causalAttention<T, Dim>(o: ForwardOps<T, Dim>, l: number, qkv: T, H: number, dModel: number): T {
  const b = `blocks.${l}`;
  const dh = dModel / H;
  const [q0, k0, v0] = o.unstack3(o.transpose(o.reshape(qkv, [o.B, o.T, 3, H, dh]), [2, 0, 3, 1, 4])); // 3 × [B, H, T, dh]
  const q = o.mul(o.tap(`${b}.attn.hook_q`, q0, 'heads'), 1 / Math.sqrt(dh));
  const { k, v, mask } = o.attend(l, o.tap(`${b}.attn.hook_k`, k0, 'heads'), o.tap(`${b}.attn.hook_v`, v0, 'heads'));
  const raw = o.matMul(q, k, false, true);
  // A backend's fused masked softmax skips the scores' hook point (the graphs have no hooks).
  const pattern = o.tap(
    `${b}.attn.hook_pattern`,
    mask && o.maskedSoftmax ? o.maskedSoftmax(raw, mask) : o.softmax(o.tap(`${b}.attn.hook_attn_scores`, mask ? o.add(raw, mask) : raw)),
  );
  const z = o.reshape(o.tap(`${b}.attn.hook_z`, o.transpose(o.matMul(pattern, v), [0, 2, 1, 3])), [-1, dModel]);
  o.save(q, k, v, pattern, z);
  return z;
}

/** LayerNorm over the last axis with gain `<prefix>.w` and bias `<prefix>.b`; saves x̂ and 1/σ. */
export function layerNorm<T, Dim>(o: ForwardOps<T, Dim>, x: T, prefix: string, eps: number): T {
  const xc = o.sub(x, o.mean(x));
  const rstd = o.rsqrt(o.add(o.mean(o.square(xc)), eps));
  const xhat = o.mul(xc, rstd);
  o.save(xhat, rstd);
  return o.add(o.mul(xhat, o.param(`${prefix}.w`)), o.param(`${prefix}.b`));
}

/** The transformer trunk: returns the final normalised residual stream [N, D] (`ln_final.hook_normalized`). */
export function transformerTrunk<T, Dim>(o: ForwardOps<T, Dim>, c: { nLayers: number; nHeads: number; dModel: number; layerNormEps: number }): T {
  const norm = (x: T, prefix: string): T => (o.layerNorm ? o.layerNorm(x, prefix, c.layerNormEps) : layerNorm(o, x, prefix, c.layerNormEps));
  let x = o.drop(o.embed(), 0);
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blocks.${l}`;
    x = o.tap(`${b}.hook_resid_pre`, x, 'resid');
    const h1 = o.tap(`${b}.ln1.hook_normalized`, norm(x, `${b}.ln1`), 'resid');
    o.save(h1);
    const qkv = o.linear(h1, `${b}.attn.W_QKV`, `${b}.attn.b_QKV`);
    const z = o.attention ? o.attention(l, qkv) : causalAttention(o, l, qkv, c.nHeads, c.dModel);
    const attnOut = o.tap(`${b}.hook_attn_out`, o.drop(o.linear(z, `${b}.attn.W_O`, `${b}.attn.b_O`), 2 * l + 1), 'resid');
    x = o.tap(`${b}.hook_resid_mid`, o.add(x, attnOut), 'resid');
    const h2 = o.tap(`${b}.ln2.hook_normalized`, norm(x, `${b}.ln2`), 'resid');
    o.save(h2);
    const post = o.tap(`${b}.mlp.hook_post`, (o.gelu ?? ((u: T) => gelu(o, u)))(o.linear(h2, `${b}.mlp.W_in`, `${b}.mlp.b_in`)), 'mlp');
    const mlpOut = o.tap(`${b}.hook_mlp_out`, o.drop(o.linear(post, `${b}.mlp.W_out`, `${b}.mlp.b_out`), 2 * l + 2), 'resid');
    x = o.tap(`${b}.hook_resid_post`, o.add(x, mlpOut), 'resid');
  }
  const f = o.tap('ln_final.hook_normalized', norm(x, 'ln_final'), 'resid');
  o.save(f);
  return f;
}

/** GELU, tanh approximation (GPT-2, TransformerLens "gelu_new"): ½u(1 + tanh(C₁u + C₂u³)). */
export const GELU_C1 = Math.sqrt(2 / Math.PI);
export const GELU_C2 = GELU_C1 * 0.044715;

/** GELU written as u·σ(2(C₁u + C₂u³)), the same function as ½u(1 + tanh(C₁u + C₂u³)) in 6 ops instead of 8. */
export function gelu<T, Dim>(o: ForwardOps<T, Dim>, u: T): T {
  return o.mul(u, o.sigmoid(o.mul(u, o.add(o.mul(o.square(u), 2 * GELU_C2), 2 * GELU_C1))));
}

/**
 * Names of every hook point, in forward order (TransformerLens's names): the embeddings', then those the
 * trunk taps, read off the trunk itself run on a backend that only records them.
 */
export function hookNames(nLayers: number): string[] {
  const names = ['hook_embed', 'hook_pos_embed'];
  const same = <X>(x: X): X => x;
  const ops: ForwardOps<number> = {
    B: 1, T: 1, embed: () => 0, param: () => 0, linear: same, add: same, sub: same, mul: same, mean: same, rsqrt: same, square: same,
    sigmoid: same, reshape: same, transpose: same, unstack3: () => [0, 0, 0], matMul: same, softmax: same, drop: same, save: () => {},
    attend: (_l, k, v) => ({ k, v }),
    tap: (name, x) => (names.push(name), x),
  };
  transformerTrunk(ops, { nLayers, nHeads: 1, dModel: 1, layerNormEps: 0 });
  return names;
}
