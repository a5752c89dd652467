import { expectNoTensorLeak, tinyConfig } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { checkExamples, exampleLogProbs, legalLogits, padExamples } from './loop.js';
import { Transformer } from './model.js';
import type { Example } from './plugin.js';

/** log softmax of `row` restricted to `ids`, at `id`. */
function restricted(row: Float32Array | number[], ids: readonly number[], id: number): number {
  const max = Math.max(...ids.map((i) => row[i]!));
  const z = ids.reduce((a, i) => a + Math.exp(row[i]! - max), 0);
  return row[id]! - max - Math.log(z);
}

describe('legal actions of examples', () => {
  // Tokens 1 (bos) 3 (prompt), then actions 5, 6, 2 with different legal sets; 9 is an observation.
  const ex: Example = { tokens: [1, 3, 5, 9, 6, 2], targetMask: [false, false, true, false, true, true], legal: [[4, 5], [5, 6, 7], [2, 6]] };
  const plain: Example = { tokens: [1, 3, 7, 2], targetMask: [false, false, true, true] };

  it('should score each target over its own legal ids, and the whole vocabulary without them', async () => {
    const model = Transformer.create(tinyConfig);
    const logits = model.forward(tf.tensor2d([[...ex.tokens]], undefined, 'int32')).logits;
    const rows = (await logits.array())[0]!;
    logits.dispose();
    const full = (t: number) => restricted(rows[t - 1]!, Array.from({ length: tinyConfig.vocabSize }, (_, i) => i), ex.tokens[t]!);
    const expected = restricted(rows[1]!, [4, 5], 5) + restricted(rows[3]!, [5, 6, 7], 6) + restricted(rows[4]!, [2, 6], 2);
    const [legal, whole, sameIds] = [
      exampleLogProbs(model, [ex, plain])[0]!,
      exampleLogProbs(model, [{ ...ex, legal: undefined }])[0]!,
      exampleLogProbs(model, [{ ...ex, legal: undefined }], { legalIds: [2, 5, 6] })[0]!,
    ];
    expect(legal).toBeCloseTo(expected, 4);
    expect(whole).toBeCloseTo(full(2) + full(4) + full(5), 4);
    expect(legal).toBeGreaterThan(whole); // restricting to fewer ids raises every probability
    // `legalIds` applies to examples without their own `legal`; an example's own lists win.
    expect(sameIds).toBeCloseTo(restricted(rows[1]!, [2, 5, 6], 5) + restricted(rows[3]!, [2, 5, 6], 6) + restricted(rows[4]!, [2, 5, 6], 2), 4);
    expect(exampleLogProbs(model, [ex], { legalIds: [2, 5, 6] })[0]).toBeCloseTo(expected, 4);
    model.dispose();
  });

  it('should mask only target positions of rows that carry legal ids, and leak no tensors', async () => {
    const model = Transformer.create(tinyConfig);
    const batch = [plain, ex];
    const masked = await expectNoTensorLeak(
      () =>
        tf.tidy(() => {
          const { tokens } = padExamples(batch);
          const logits = model.forward(tokens).logits;
          return tf.sub(legalLogits(logits, batch), logits).arraySync() as number[][][];
        }),
      'legalLogits',
    );
    expect(masked[0]!.flat().every((x) => x === 0)).toBe(true); // no legal: unchanged
    const row = masked[1]!;
    // Position j predicts token j+1: targets at tokens 2, 4, 5 → positions 1, 3, 4.
    for (const j of [0, 2, 5]) expect(row[j]!.every((x) => x === 0)).toBe(true);
    expect(row[1]!.map((x, id) => (x === 0 ? id : -1)).filter((id) => id >= 0)).toEqual([4, 5]);
    expect(row[3]!.map((x, id) => (x === 0 ? id : -1)).filter((id) => id >= 0)).toEqual([5, 6, 7]);
    expect(row[4]!.filter((x) => x < -1e8)).toHaveLength(tinyConfig.vocabSize - 2);
    // No example with `legal`: the very same tensor comes back.
    const t = tf.zeros([1, 4, tinyConfig.vocabSize]) as tf.Tensor3D;
    expect(legalLogits(t, [plain])).toBe(t);
    t.dispose();
    await expectNoTensorLeak(() => exampleLogProbs(model, [ex, plain], { legalIds: [2, 7] }), 'exampleLogProbs');
    model.dispose();
  });

  it('should reject legal ids that do not fit the example, naming the example, field and token position', () => {
    const model = Transformer.create(tinyConfig);
    const check = (e: Example) => {
      try {
        checkExamples([plain, e], model);
      } catch (err) {
        return err as { code: string; field: string; position: number[]; message: string };
      }
      throw new Error('expected an error');
    };
    expect(() => checkExamples([plain, ex], model)).not.toThrow();
    expect(check({ ...ex, legal: [[4, 5], [5, 6, 7]] })).toMatchObject({ code: 'SHAPE_MISMATCH', field: 'dataset[1].legal', position: [1], message: expect.stringContaining('legal has 2 entries but the example has 3 target positions') });
    expect(check({ ...ex, legal: [[4, 5], [], [2]] })).toMatchObject({ code: 'BAD_INPUT', position: [1, 4] });
    expect(check({ ...ex, legal: [[4, 5], [5, 6, 99], [2]] })).toMatchObject({ code: 'TOKEN_OUT_OF_RANGE', position: [1, 4], message: expect.stringContaining('has id 99') });
    expect(check({ ...ex, legal: [[4, 5], [5, 7], [2]] })).toMatchObject({ code: 'BAD_INPUT', position: [1, 4], message: expect.stringContaining('token 6 at position 4 is a target but not one of its legal ids [5, 7]') });
    model.dispose();
  });
});
