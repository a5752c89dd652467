"""Per-op-type kernel time of the graphs bench/dump_graphs.mjs wrote, from TensorFlow's step stats.

    node bench/dump_graphs.mjs S /tmp/graphs && python3 bench/graph_op_times.py /tmp/graphs [--top 12]

Needs `pip install tensorflow-cpu` of the version the native backend links (`zoo doctor` names it): it
loads each SavedModel into a TF1 session, feeds the dumped inputs, and sums `all_end_rel_micros` per op
type over 10 traced runs. Ops running at once on the two cores each count in full, and tracing slows
the graph, so the sum exceeds the untraced wall time shown beside it. docs/performance.md, "Issue 19:
second pass".
"""
import argparse, collections, glob, json, os, time

import numpy as np
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("dir")
parser.add_argument("--top", type=int, default=12)
args = parser.parse_args()
# The graphs may use core's fused kernels: load them into this TensorFlow too (built by `pnpm install`).
ops = os.path.join(os.path.dirname(__file__), "..", "packages", "core", "native", "build", "zoo_ops.node")
if os.path.exists(ops) and os.environ.get("REGIME_ZOO_FUSED") != "0":
    tf.load_op_library(ops)
tf.compat.v1.disable_eager_execution()
for folder in sorted(glob.glob(os.path.join(args.dir, "*", ""))):
    meta = json.load(open(os.path.join(folder, "meta.json")))
    graph = tf.Graph()
    with graph.as_default():
        sess = tf.compat.v1.Session(graph=graph)
        tf.compat.v1.saved_model.loader.load(sess, ["serve"], meta["savedModel"])
        op_of = {n.name: n.op for n in graph.as_graph_def().node}
        feed = {
            i["name"]: np.fromfile(os.path.join(folder, f"{k}.bin"), dtype=np.int32 if i["dtype"] == "int32" else np.float32).reshape(i["shape"])
            for k, i in enumerate(meta["inputs"])
        }
        fetch = meta["outputs"]
        for _ in range(3):
            sess.run(fetch, feed)
        t0 = time.perf_counter()
        for _ in range(20):
            sess.run(fetch, feed)
        wall = (time.perf_counter() - t0) / 20 * 1000
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        micros, count = collections.Counter(), collections.Counter()
        for _ in range(10):
            md = tf.compat.v1.RunMetadata()
            sess.run(fetch, feed, options=options, run_metadata=md)
            for dev in md.step_stats.dev_stats:
                for ns in dev.node_stats:
                    op = op_of.get(ns.node_name)
                    if op and op not in ("Placeholder", "Const", "NoOp"):
                        micros[op] += ns.all_end_rel_micros
                        count[op] += 1
        print(f"{os.path.basename(folder.rstrip('/'))}: {len(feed)} inputs, {len(fetch)} outputs; {wall:.2f} ms untraced; op times sum to {sum(micros.values()) / 10000:.2f} ms")
        for op, us in micros.most_common(args.top):
            print(f"   {op:24s} {us / 10:8.0f} µs  x{count[op] // 10}")
