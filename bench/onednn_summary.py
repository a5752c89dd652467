"""Sums oneDNN's own kernel times from ONEDNN_VERBOSE=1 output, per primitive and shape, for the last step.

    ONEDNN_VERBOSE=1 node bench/step_time.mjs L 1 | python3 bench/onednn_summary.py --steps 4

step_time.mjs runs 3 warm-up steps and then the timed ones: --steps is their total, and the lines of the
last step are the last 1/steps of the exec lines. docs/performance.md, "Where the time goes".
"""
import argparse
import collections
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=4)
args = parser.parse_args()
lines = [l.strip().split(",") for l in sys.stdin if "primitive,exec" in l]
lines = lines[-(len(lines) // args.steps):]
total, count = collections.Counter(), collections.Counter()
for f in lines:
    key = f"{f[5]} {f[6]} {f[8].split(' ')[0]} {f[-2]}"
    total[key] += float(f[-1])
    count[key] += 1
for key, ms in total.most_common(15):
    print(f"{ms:8.1f} ms {count[key]:4d}x  {key}")
print(f"{sum(total.values()):8.1f} ms in oneDNN in the last step")
