"""Microseconds per element-wise op on a [2048, 256] float32 tensor in PyTorch (see elementwise.mjs)."""
import os
import time

import torch

torch.set_num_threads(len(os.sched_getaffinity(0)))
x, y = torch.randn(2048, 256), torch.randn(2048, 256)
for name, f in [("add", lambda: x + y), ("mul", lambda: x * y), ("tanh", lambda: torch.tanh(x)), ("sigmoid", lambda: torch.sigmoid(x))]:
    for _ in range(20):
        f()
    t0 = time.perf_counter()
    for _ in range(200):
        f()
    print(f"{name}: {(time.perf_counter() - t0) / 200 * 1e6:.0f} us")
