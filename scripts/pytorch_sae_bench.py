#!/usr/bin/env python3
"""The PyTorch reference for a TopK sparse autoencoder's training throughput: the model written
plainly, as a PyTorch user would (encoder Linear, `topk` then `scatter` into a dense code, dense
decoder Linear), with the pre-encoder bias (the encoder reads x - b_dec), MSE over all inputs,
Adam(lr=1e-3), batch 256 from a fresh permutation each epoch, on the rows of an NPY file (for
example `ae synth gaussian --n 20000 --dim 768 --seed 0 --out g.npy`). Throughput = rows / wall
time of one epoch (shuffle + all steps), median of epochs 2 onward. Threads pinned (set
OMP_NUM_THREADS and MKL_NUM_THREADS too). Run by hand, not in CI:

    python3 scripts/pytorch_sae_bench.py g.npy [--latents 16384] [--k 32] [--epochs 3]

Prints one JSON object: {"backend": ..., "samples_per_sec": ..., "epochs_samples_per_sec": [...]}.
"""
import argparse, json, statistics, time

import numpy as np
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("--latents", type=int, default=16384)
p.add_argument("--k", type=int, default=32)
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch-size", type=int, default=256)
p.add_argument("--device", default="cpu", help="cpu, or cuda (fp32 with TF32 off, synchronised per epoch)")
a = p.parse_args()
torch.set_num_threads(a.threads)
dev = torch.device(a.device)
if dev.type == "cuda":
    # Plain fp32, as ae computes: no TF32 tensor-core products.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(0)

x = torch.from_numpy(np.load(a.data).astype(np.float32))
d = x.shape[1]


class TopKSAE(nn.Module):
    def __init__(self, d, n, k):
        super().__init__()
        self.encoder = nn.Linear(d, n)
        self.decoder = nn.Linear(n, d)
        self.k = k
        with torch.no_grad():
            self.decoder.bias.copy_(x.mean(0))

    def forward(self, xb):
        pre = self.encoder(xb - self.decoder.bias)
        top = torch.topk(pre, self.k, dim=-1)
        code = torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
        return self.decoder(code)


x = x.to(dev)
model = TopKSAE(d, a.latents, a.k).to(dev)
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
    "model": f"{d}-{a.latents} TopK({a.k}), pre-encoder bias, batch {a.batch_size}",
    "samples_per_sec": statistics.median(rates[1:]) if len(rates) > 1 else rates[0],
    "epochs_samples_per_sec": rates,
}))
