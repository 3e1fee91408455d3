#!/usr/bin/env python3
"""The PyTorch reference for `ae bench --matmul`: fp32 matrix products with TF32 off, at the
reference model's layer shapes (batch 256) and at the given square sizes, timed with CUDA events
(median of 10 after 3 warm-ups) or, on the CPU, the wall clock. Run by hand, not in CI:

    python3 scripts/pytorch_matmul_bench.py [--device cuda] [--squares 1024,4096]

Prints one JSON object: {"backend": ..., "matmul": [{"case", "seconds", "gflops"}, ...]}, the
cases named as `ae bench --matmul` names them.
"""
import argparse, json, statistics, time

import torch

p = argparse.ArgumentParser()
p.add_argument("--device", default="cuda")
p.add_argument("--squares", default="1024,4096")
p.add_argument("--reps", type=int, default=10)
a = p.parse_args()
dev = torch.device(a.device)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(0)

# (label, m, k, n, trans_a, trans_b) as in src/bench.rs's MatmulBench.
cases = [
    ("fwd 256x784 . (512x784)T", 256, 784, 512, False, True),
    ("fwd 256x512 . (128x512)T", 256, 512, 128, False, True),
    ("dW (256x512)T . 256x784", 512, 256, 784, True, False),
    ("dX 256x512 . 512x784", 256, 512, 784, False, False),
] + [(f"square {s}", s, s, s, False, False) for s in map(int, a.squares.split(",")) if s]


def timed(f):
    for _ in range(3):
        f()
    times = []
    for _ in range(a.reps):
        if dev.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            f()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


out = []
for label, m, k, n, ta, tb in cases:
    A = torch.rand(k, m, device=dev) if ta else torch.rand(m, k, device=dev)
    B = torch.rand(n, k, device=dev) if tb else torch.rand(k, n, device=dev)
    C = torch.empty(m, n, device=dev)
    opa, opb = (A.t() if ta else A), (B.t() if tb else B)
    s = timed(lambda: torch.matmul(opa, opb, out=C))
    out.append({"case": label, "seconds": s, "gflops": 2 * m * n * k / s / 1e9})
name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
print(json.dumps({"backend": f"pytorch {torch.__version__} ({name}, fp32, TF32 off)", "matmul": out}))
