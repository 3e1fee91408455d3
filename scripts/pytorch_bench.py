#!/usr/bin/env python3
"""The PyTorch reference for `ae bench`: the same model, data, batch and optimiser.

784-512-128-32-128-512-784, ReLU after every layer but a sigmoid output, MSE over all pixels,
Adam(lr=1e-3), batch 256 from a fresh permutation each epoch, on the first 8,000 bundled MNIST
digits as bytes/255. Throughput = rows / wall time of one epoch (shuffle + all steps), median of
epochs 2 onward. Threads pinned to 2 (set OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 too).

    python3 scripts/pytorch_bench.py [--epochs 5] [--threads 2]
Prints one JSON object: {"backend": "pytorch ...", "samples_per_sec": ..., "epochs_samples_per_sec": [...]}.
"""
import argparse, gzip, json, os, statistics, time

import numpy as np
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--rows", type=int, default=8000)
p.add_argument("--batch-size", type=int, default=256)
p.add_argument("--device", default="cpu", help="cpu, or cuda (fp32 with TF32 off, synchronised per epoch)")
a = p.parse_args()
torch.set_num_threads(a.threads)
dev = torch.device(a.device)
if dev.type == "cuda":
    # Plain fp32, as ae computes: no TF32 tensor-core products.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

here = os.path.dirname(os.path.abspath(__file__))
with gzip.open(os.path.join(here, "..", "data", "mnist-10k", "images-idx3-ubyte.gz")) as f:
    raw = f.read()
x = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784)[: a.rows].astype(np.float32) / 255.0)

widths = [784, 512, 128, 32, 128, 512, 784]
layers = []
for i in range(len(widths) - 1):
    layers += [nn.Linear(widths[i], widths[i + 1]), nn.ReLU() if i < len(widths) - 2 else nn.Sigmoid()]
model = nn.Sequential(*layers).to(dev)
x = x.to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

rates = []
for epoch in range(a.epochs):
    t0 = time.perf_counter()
    perm = torch.randperm(x.shape[0], device=dev)
    for s in range(0, x.shape[0], a.batch_size):
        xb = x[perm[s : s + a.batch_size]]
        loss = ((model(xb) - xb) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    rates.append(x.shape[0] / (time.perf_counter() - t0))
print(json.dumps({
    "backend": f"pytorch {torch.__version__} " + (f"({torch.cuda.get_device_name(dev)}, fp32, TF32 off)" if dev.type == "cuda" else f"({a.threads} threads)"),
    "samples_per_sec": statistics.median(rates[1:] or rates),
    "epochs_samples_per_sec": rates,
}))
