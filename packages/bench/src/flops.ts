/*
 * The benchmark's model sizes and FLOP counting (no tensors: importable anywhere).
 */

/** The benchmark's model sizes; all use vocabulary 64, context 64, batch 32 (`BENCH_SHAPE`). */
export const BENCH_CONFIGS = {
  S: { dModel: 64, nLayers: 2, nHeads: 4 },
  M: { dModel: 128, nLayers: 4, nHeads: 4 },
  L: { dModel: 256, nLayers: 6, nHeads: 8 },
} as const;

export type BenchConfigName = keyof typeof BENCH_CONFIGS;
export const BENCH_CONFIG_NAMES = Object.keys(BENCH_CONFIGS) as BenchConfigName[];

export const BENCH_SHAPE = { vocabSize: 64, contextLength: 64, batch: 32, mlpRatio: 4 } as const;

/**
 * The targets `zoo bench` checks: issue 19's against PyTorch (training throughput ≥ 1.1×, KV-cache
 * rollouts ≥ 1.0×, peak RSS ≤ 1.5× PyTorch's, S at ≥ 45% of the matmul peak) and issue 3's KV-cache
 * speed-up over recomputing the prefix (≥ 5×).
 */
export const BENCH_TARGETS = {
  trainingRatio: { S: 1.1, M: 1.1, L: 1.1 } as Record<BenchConfigName, number>,
  kvRatio: 1.0,
  rssRatio: 1.5,
  fractionOfPeak: { S: 0.45 } as Partial<Record<BenchConfigName, number>>,
  kvSpeedup: 5,
} as const;

export const FLOP_FORMULA =
  'FLOPs/step = 6·N·B·T + 12·L·B·T²·d, N = weights of the matmuls (L·(4d² + 2·r·d²) + d·V: fused QKV, W_O, MLP in/out, unembedding; ' +
  'no embeddings, biases or LayerNorm), B·T = tokens per step; 12·L·B·T²·d = QKᵀ and AV, forward (2 matmuls × 2·B·T²·d) + backward (2×forward); ' +
  'elementwise ops, softmax and the optimizer are not counted';

export interface FlopShape {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  mlpRatio?: number;
}

export interface FlopCount {
  /** N: parameters that take part in a matmul. */
  matmulParams: number;
  /** 6·N·B·T: forward (2·N per token) + backward (4·N per token) through the weight matmuls. */
  dense: number;
  /** 12·L·B·T²·d: the two attention matmuls (QKᵀ and AV) forward and backward, full T×T (the mask is not exploited). */
  attention: number;
  total: number;
}

/** Matmul FLOPs of one training step (forward + backward) on `batch` rows of `seqLen` tokens; see `FLOP_FORMULA`. */
export function trainingFlops(c: FlopShape, batch: number, seqLen: number): FlopCount {
  const d = c.dModel;
  const r = c.mlpRatio ?? 4;
  const matmulParams = c.nLayers * (3 * d * d + d * d + 2 * r * d * d) + d * c.vocabSize;
  const tokens = batch * seqLen;
  const dense = 6 * matmulParams * tokens;
  const attention = 12 * c.nLayers * batch * seqLen * seqLen * d;
  return { matmulParams, dense, attention, total: dense + attention };
}
