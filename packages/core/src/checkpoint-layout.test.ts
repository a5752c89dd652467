import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rejected, tinyConfig } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { findCheckpoint, listStepFolders, POINTER_FILE } from './checkpoint-store.js';
import { trainLoop } from './loop.js';
import { Transformer } from './model.js';
import { Trainer } from './train.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-layout-'));
let n = 0;
const fresh = () => path.join(root, `ck${++n}`);
const model = Transformer.create(tinyConfig);
const trainer = new Trainer(model, { totalSteps: 100 });
afterAll(() => {
  trainer.dispose();
  model.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Saves as if the trainer were at `step`. */
function saveAt(dir: string, step: number, keepLast?: number) {
  trainer.step = step;
  return saveCheckpoint(dir, { model, trainer, ...(keepLast ? { keepLast } : {}) });
}

async function stepOf(dir: string): Promise<number> {
  const ck = await loadCheckpoint(dir);
  ck.dispose();
  ck.model.dispose();
  return ck.meta.step;
}

/** A checkpoint as core 0.1 wrote it: model.json (version 1, no checksum) and weights.bin directly in `dir`. */
async function writeVersion1(dir: string, step: number): Promise<void> {
  const src = (await saveAt(fresh(), step)).path;
  fs.mkdirSync(dir, { recursive: true });
  const meta = JSON.parse(fs.readFileSync(path.join(src, 'model.json'), 'utf8'));
  delete meta.files;
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...meta, version: 1 }));
  fs.copyFileSync(path.join(src, 'weights.bin'), path.join(dir, 'weights.bin'));
}

describe('checkpoint directories', () => {
  it('should fail to load weights.bin with flipped bytes of the same length, naming the file and the checksum', async () => {
    const dir = fresh();
    await saveAt(dir, 1);
    const { path: folder } = await saveAt(dir, 2);
    const bin = path.join(folder, 'weights.bin');
    const bytes = fs.readFileSync(bin);
    const size = bytes.length;
    for (let i = 100; i < 108; i++) bytes[i] = bytes[i]! ^ 0xff;
    fs.writeFileSync(bin, bytes);
    expect(fs.statSync(bin).size).toBe(size);
    const e = await rejected(() => loadCheckpoint(dir));
    expect([e.code, e.field]).toEqual(['CHECKPOINT_CORRUPT', bin]);
    expect(e.message).toContain(`${bin} is damaged: its sha256 checksum is `);
    expect(e.message).toMatch(/but model\.json records [0-9a-f]{64}/);
    // ... and says where the previous, intact checkpoint is.
    expect(e.message).toContain(`loadCheckpoint(${JSON.stringify(path.join(dir, 'step-00000001'))})`);
    expect(await stepOf(path.join(dir, 'step-00000001'))).toBe(1);
  });

  it('should keep the newest keepLast step folders and point latest.json at the newest', async () => {
    const dir = fresh();
    for (const s of [1, 2, 3, 4, 5]) await saveAt(dir, s, 3);
    expect((await listStepFolders(dir)).map((f) => f.name)).toEqual(['step-00000003', 'step-00000004', 'step-00000005']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, POINTER_FILE), 'utf8'))).toMatchObject({ folder: 'step-00000005', step: 5 });
    expect(await stepOf(dir)).toBe(5);
    // Saving twice at one step makes a new folder (the pointer never names a folder being rewritten).
    await saveAt(dir, 5, 3);
    expect((await listStepFolders(dir)).map((f) => f.name)).toEqual(['step-00000004', 'step-00000005', 'step-00000005-1']);
    expect((await findCheckpoint(dir))?.folder).toBe(path.join(dir, 'step-00000005-1'));
    const e = await rejected(() => saveCheckpoint(dir, { model, keepLast: 0 }));
    expect([e.code, e.field]).toEqual(['OPTION_INVALID', 'keepLast']);
  });

  it('should remove what killed saves left on the next save, and ignore a folder never pointed at', async () => {
    const dir = fresh();
    await saveAt(dir, 1);
    // A save killed after writing step 2's folder but before the pointer; one killed while writing step 3;
    // one killed while pruning; one killed while replacing the pointer.
    fs.cpSync(path.join(dir, 'step-00000001'), path.join(dir, 'step-00000002'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'step-00000003.tmp-999-x-1'));
    fs.writeFileSync(path.join(dir, 'step-00000003.tmp-999-x-1', 'weights.bin'), 'half');
    fs.mkdirSync(path.join(dir, 'step-00000000.del-999-x-2'));
    fs.writeFileSync(path.join(dir, `${POINTER_FILE}.tmp-999-x-3`), '{"fo');
    expect((await findCheckpoint(dir))?.folder).toBe(path.join(dir, 'step-00000001'));
    await saveAt(dir, 2);
    expect(fs.readdirSync(dir).sort()).toEqual([POINTER_FILE, 'step-00000001', 'step-00000002']);
    expect(await stepOf(dir)).toBe(2);
  });

  it('should load the single-folder layout of core 0.1 (version 1) and replace it on the next save', async () => {
    const dir = fresh();
    await writeVersion1(dir, 7);
    expect(await findCheckpoint(dir)).toEqual({ folder: dir, layout: 'single' });
    expect(await stepOf(dir)).toBe(7);
    await saveAt(dir, 8);
    expect(fs.readdirSync(dir).sort()).toEqual([POINTER_FILE, 'step-00000008']);
  });

  it('should recover the checkpoint a killed folder swap of core 0.1 left beside the directory, and clean up', async () => {
    const dir = fresh();
    // Killed between its two renames: the previous checkpoint in .old-*, the new complete one in .tmp-*.
    await writeVersion1(`${dir}.old-4242-1700000000000`, 3);
    await writeVersion1(`${dir}.tmp-4242-1700000000001`, 4);
    await writeVersion1(`${dir}.tmp-4243-1700000000002`, 5);
    fs.rmSync(path.join(`${dir}.tmp-4243-1700000000002`, 'model.json')); // killed before its model.json
    expect(await findCheckpoint(dir)).toEqual({ folder: `${dir}.tmp-4242-1700000000001`, layout: 'recovered' });
    expect(await stepOf(dir)).toBe(4);
    await saveAt(dir, 5);
    expect(fs.readdirSync(root).filter((f) => f.startsWith(path.basename(dir)))).toEqual([path.basename(dir)]);
  });

  it('should name latest.json when it is damaged or points at a folder that is gone', async () => {
    const dir = fresh();
    await saveAt(dir, 1);
    await saveAt(dir, 2);
    fs.rmSync(path.join(dir, 'step-00000002'), { recursive: true });
    const gone = await rejected(() => loadCheckpoint(dir));
    expect([gone.code, gone.field]).toEqual(['CHECKPOINT_CORRUPT', path.join(dir, POINTER_FILE)]);
    expect(gone.message).toContain('names step-00000002, but');
    expect(gone.message).toContain('delete latest.json to load the newest remaining one, step-00000001');
    fs.writeFileSync(path.join(dir, POINTER_FILE), 'garbage');
    const bad = await rejected(() => loadCheckpoint(dir));
    expect([bad.code, bad.field]).toEqual(['CHECKPOINT_CORRUPT', path.join(dir, POINTER_FILE)]);
    expect(bad.message).toContain('is damaged ("garbage")');
    fs.rmSync(path.join(dir, POINTER_FILE));
    expect(await stepOf(dir)).toBe(1);
  });

  it('should refuse non-finite weights in a checkpoint without a checksum, naming the weight and file', async () => {
    const dir = fresh();
    await writeVersion1(dir, 1);
    const bin = path.join(dir, 'weights.bin');
    const bytes = fs.readFileSync(bin);
    bytes.writeFloatLE(Number.NaN, 8);
    fs.writeFileSync(bin, bytes);
    const e = await rejected(() => loadCheckpoint(dir));
    expect([e.code, e.field]).toEqual(['CHECKPOINT_CORRUPT', bin]);
    expect(e.message).toContain(`${bin}: weight "model/embed.W_E" holds NaN at index 2; a checkpoint's weights must be finite`);
  });

  it('should name the checkpoint folder when resuming a model of another shape', async () => {
    const dir = fresh();
    const { path: folder } = await saveAt(dir, 3);
    const other = Transformer.create({ ...tinyConfig, dModel: 8 });
    const t = new Trainer(other, { totalSteps: 5 });
    const e = await rejected(() => trainLoop({ plugin: 'x', trainer: t, checkpointDir: dir, loss: () => ({ loss: tf.scalar(0) }) }));
    expect([e.code, e.field]).toEqual(['CHECKPOINT_MISMATCH', folder]);
    expect(e.message).toContain(`cannot resume from ${folder}: it holds a model of another shape (vocabSize 16, contextLength 32, dModel 16`);
    expect(e.message).toContain('than the one being trained (vocabSize 16, contextLength 32, dModel 8');
    t.dispose();
    other.dispose();
  });
});
