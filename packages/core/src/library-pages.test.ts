import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ensureBackend } from './backend.js';
import { fusedOpsStatus, releaseLibraryPages } from './fused-ops.js';
import { Transformer } from './model.js';
import { tokenLogProbs } from './ops.js';
import { Trainer } from './train.js';

// The native backend gives back libtensorflow's start-up pages (fused-ops.ts, `releaseLibraryPages`):
// much memory must come back, and the library must work as before once its pages are mapped again.
const native = ensureBackend().name === 'tensorflow' && process.env.REGIME_ZOO_KEEP_PAGES !== '1';

/** Resident MiB of libtensorflow's read-only file mappings (what the release unmaps). */
function libraryReadOnlyMiB(): number {
  let kb = 0;
  let counted = false;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) /.exec(line);
    if (head) counted = /\/libtensorflow/.test(line) && (head[1] === 'r--p' || head[1] === 'r-xp');
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (counted && rss) kb += Number(rss[1]);
  }
  return kb / 1024;
}

describe.skipIf(!native || process.platform !== 'linux')('libtensorflow start-up pages', () => {
  it('should be released when the backend starts', () => {
    expect(fusedOpsStatus().reason).not.toMatch(/not built|did not load/);
    // Measured 247 MiB on the wheel's libtensorflow 2.21 (`zoo doctor`'s "start-up pages" line).
    expect(ensureBackend().releasedPageBytes!).toBeGreaterThan(80 * 2 ** 20);
  });

  it('should leave a model computing the same numbers once its pages come back', () => {
    // A fresh model, one training step, its logits: the same before and after the release, bit for bit.
    const trainedLogits = (): number[] => {
      const model = Transformer.create({ vocabSize: 16, contextLength: 8, dModel: 16, nHeads: 2, nLayers: 1, seed: 3 });
      const ids = [[1, 2, 3, 4, 5]];
      const trainer = new Trainer(model, { totalSteps: 1 });
      trainer.trainStep(() => ({ loss: tf.neg(tf.mean(tokenLogProbs(model.forward(ids).logits, tf.tensor2d(ids, undefined, 'int32')))) as tf.Scalar }));
      const logits = tf.tidy(() => Array.from(model.forward(ids).logits.dataSync()));
      trainer.dispose();
      model.dispose();
      return logits;
    };
    const before = trainedLogits();
    const used = libraryReadOnlyMiB();
    expect(releaseLibraryPages()).toBeGreaterThanOrEqual(0);
    // Measured: 59–87 MiB resident after the step, 7 MiB right after the release.
    expect(libraryReadOnlyMiB()).toBeLessThan(used / 4);
    expect(trainedLogits()).toEqual(before);
    expect(libraryReadOnlyMiB()).toBeGreaterThan(0);
  });
});
