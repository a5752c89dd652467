import { describe, expect, it } from 'vitest';
import { trainingFlops } from './flops.js';

/** FLOPs of a [m, k] × [k, n] matmul in a training step: forward 2mkn, backward 2·2mkn (dA and dB). */
const train = (m: number, k: number, n: number) => 3 * 2 * m * k * n;

describe('trainingFlops', () => {
  it('should equal a matmul-by-matmul hand count for a tiny config', () => {
    // d = 4, 1 layer, 2 heads (dh = 2), vocab 8, MLP ratio 4, batch 2, sequence 3.
    const d = 4;
    const H = 2;
    const dh = 2;
    const V = 8;
    const B = 2;
    const T = 3;
    const N = B * T;
    const dense =
      train(N, d, 3 * d) + // fused QKV
      train(N, d, d) + // W_O
      train(N, d, 4 * d) + // MLP in
      train(N, 4 * d, d) + // MLP out
      train(N, d, V); // unembedding
    const attention = B * H * (train(T, dh, T) + train(T, T, dh)); // QKᵀ and AV per (row, head)
    const f = trainingFlops({ vocabSize: V, dModel: d, nLayers: 1, mlpRatio: 4 }, B, T);
    expect(f.matmulParams).toBe(3 * 16 + 16 + 64 + 64 + 32);
    expect(f.dense).toBe(dense);
    expect(f.attention).toBe(attention);
    expect(f.total).toBe(dense + attention);
    // By hand: dense = 6 · 224 · 6 = 8064, attention = 2·2·(36 + 36)·3 = 864.
    expect(f.dense).toBe(8064);
    expect(f.attention).toBe(864);
  });

  it('should scale the attention term with layers and the square of the sequence length', () => {
    const a = trainingFlops({ vocabSize: 64, dModel: 64, nLayers: 2 }, 32, 64);
    const b = trainingFlops({ vocabSize: 64, dModel: 64, nLayers: 4 }, 32, 128);
    expect(b.attention / a.attention).toBe(8);
    expect(a.dense).toBe(6 * a.matmulParams * 32 * 64);
  });
});
