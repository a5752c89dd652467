import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maxAbsDiff, thrown } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureBackend } from './backend.js';
import { compileGraph, compileProgram, GraphBuilder } from './graph.js';

// softmax(x·W + b) over the last axis, summed over rows: a graph with a constant, a reduction and shapes.
function build(serial: boolean, scale: number) {
  const g = new GraphBuilder({ serial });
  const x = g.placeholder('x', 'float32', [-1, 3]);
  const w = g.placeholder('w', 'float32', [3, 4]);
  const b = g.placeholder('b', 'float32', [4]);
  const y = g.softmax(g.mul(g.biasAdd(g.matMul(x, w), b), scale));
  return compileGraph(g, [y, g.sum(y, [0])]);
}

describe('GraphBuilder and compileGraph (native backend)', () => {
  const dir = process.env.REGIME_ZOO_GRAPH_DIR;
  afterEach(() => {
    if (dir === undefined) delete process.env.REGIME_ZOO_GRAPH_DIR;
    else process.env.REGIME_ZOO_GRAPH_DIR = dir;
  });

  it('should compute what the same tfjs ops compute, in parallel and in serial order, and keep tensors balanced', () => {
    ensureBackend();
    const x = tf.tensor2d([[0.5, -1, 2], [1, 0, -0.5]]);
    const w = tf.tensor2d([[0.1, 0.2, -0.3, 0.4], [0.5, -0.6, 0.7, 0.8], [-0.9, 1, 0.2, 0.1]]);
    const b = tf.tensor1d([0.1, -0.1, 0.2, 0]);
    const want = tf.tidy(() => tf.softmax(tf.mul(tf.add(tf.matMul(x, w), b), 1.5)).dataSync());
    for (const serial of [false, true]) {
      const before = tf.memory().numTensors;
      const [y, total] = build(serial, 1.5).run([x, w, b]);
      expect(y!.shape).toEqual([2, 4]);
      expect(maxAbsDiff(y!.dataSync(), want)).toBeLessThan(1e-6);
      expect(maxAbsDiff(total!.dataSync(), [0, 1, 2, 3].map((j) => want[j]! + want[4 + j]!))).toBeLessThan(1e-6);
      tf.dispose([y!, total!]);
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([x, w, b]);
  });

  it('should keep each session of a program its own variables, written in place by entry', () => {
    ensureBackend();
    // A counter per session: `reset` sets it to [0, 0, 0], `add` writes value v into row i and returns the sum.
    const g = new GraphBuilder();
    const counter = g.variable('counter');
    const reset = g.raw('Shape', [g.assign(counter, g.fill(g.ints([3]), 0))], { T: { type: 'float32' }, out_type: { type: 'int32' } }, 'int32')[0]!;
    const [i, v] = [g.placeholder('i', 'int32', [1]), g.placeholder('v', 'float32', [1])];
    const total = g.sum(g.scatterUpdate(counter, i, v), [0]);
    const program = compileProgram(g, { reset: { inputs: [], outputs: [reset] }, add: { inputs: [i, v], outputs: [total] } });
    const [a, b] = [program.open(), program.open()];
    const before = tf.memory().numTensors;
    const add = (s: typeof a, row: number, value: number): number =>
      tf.tidy(() => s.run('add', [tf.tensor1d([row], 'int32'), tf.tensor1d([value])])[0]!.dataSync()[0]!);
    for (const s of [a, b]) tf.dispose(s.run('reset', []));
    expect([add(a, 0, 2), add(a, 2, 5), add(b, 1, 1), add(a, 0, 1)]).toEqual([2, 7, 1, 6]);
    expect(tf.memory().numTensors).toBe(before);
    a.close();
    expect(thrown(() => a.run('add', [])).code).toBe('INTERNAL');
    expect(add(b, 2, 3)).toBe(4);
    b.close();
  });

  it('should say which folder it could not write a graph to, and how to fix it', () => {
    ensureBackend();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rz-graph-')), 'not-a-folder');
    fs.writeFileSync(file, 'x');
    process.env.REGIME_ZOO_GRAPH_DIR = file;
    const e = thrown(() => build(false, 2.25)); // a graph not loaded before in this process
    expect(e.code).toBe('ENV_ERROR');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/REGIME_ZOO_GRAPH_DIR/);
    expect(e.field).toContain('saved_model.pb');
  });
});
