"""Column sums of a [2048, n] matrix three ways, in TensorFlow graphs: BiasAddGrad, Sum over axis 0, and a
[1, 2048] row of ones times the matrix (what the backward graph uses), plus x·x for scale.

    python3 bench/column_sums.py      (pip install tensorflow-cpu: the library the native backend links)

Each graph holds 40 copies of the op on 40 different inputs; a graph that only slices the inputs is
timed the same way and subtracted, so the call's own cost drops out. docs/performance.md, "Issue 19:
second pass".
"""
import time

import numpy as np
import tensorflow as tf

COPIES = 40


def per_op_us(op, shape, calls=20):
    xs = [tf.constant(np.random.randn(*shape).astype(np.float32)) for _ in range(COPIES)]
    f = tf.function(lambda xs: [op(x) for x in xs])
    base = tf.function(lambda xs: [x[:1] for x in xs])

    def timed(g):
        for _ in range(5):
            g(xs)
        t0 = time.perf_counter()
        for _ in range(calls):
            g(xs)
        return (time.perf_counter() - t0) / calls / COPIES * 1e6

    return timed(f) - timed(base)


for rows, cols in [(2048, 64), (2048, 256), (2048, 1024)]:
    ones = tf.ones([1, rows])
    ways = {
        "BiasAddGrad": lambda x: tf.raw_ops.BiasAddGrad(out_backprop=x),
        "Sum axis 0": lambda x: tf.reduce_sum(x, 0),
        "ones-row matmul": lambda x: tf.matmul(ones, x),
        "x*x": lambda x: x * x,
    }
    print(f"[{rows}, {cols}]: " + ", ".join(f"{name} {per_op_us(op, (rows, cols)):.0f} µs" for name, op in ways.items()))
