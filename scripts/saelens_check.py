#!/usr/bin/env python3
"""ae's SAELens export and import held to the real sae_lens. Run by hand; not part of CI.

Needs `pip install sae_lens numpy` (sae_lens brings torch). See the end of this header for how
far it has been run.

1. ae -> SAELens: loads an `ae export --format saelens` directory with sae_lens's own
   `SAE.load_from_disk`, encodes the first N rows of a .npy with it, and prints the largest
   absolute difference from the codes `ae encode` wrote for the same rows (from the ae model
   directory or from the export: both read raw rows).
2. SAELens -> ae: builds a sae_lens `topk` and a `standard` SAE with random weights
   (apply_b_dec_to_input true and false), saves each with `save_model`, runs `ae encode` on the
   saved directory (subprocess) and prints the largest absolute difference from `sae.encode`.

    cargo build --release
    ae train acts.npy --out m --layers 768,4096 --sparsity topk:32 --output identity \\
        --pre-bias --normalize standard
    ae export m --format saelens --out m-saelens
    ae encode m acts.npy --out codes.npy
    python3 scripts/saelens_check.py --export m-saelens --data acts.npy --codes codes.npy \\
        [--rows 1000] [--ae target/release/ae] [--tol 1e-4]

Exits non-zero when a difference is above --tol. TopK SAEs can differ in which unit a row keeps
where two pre-activations tie to within rounding; such a row shows up as a large difference.

Status: run by hand once, with sae_lens 6.54.12 and torch 2.15.0 on the CPU (pip install into a
virtual environment), on 1,000 rows of a 16-column .npy and three 16-64 models (TopK k 8 with
--pre-bias --normalize standard; TopK without the pre-encoder bias, --normalize minmax; ReLU
with l1, --normalize standard): ae -> SAELens codes differed by at most 9.5e-7, 7.2e-7 and
3.6e-6; SAELens -> ae (topk both ways of apply_b_dec_to_input, standard) by 0.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from sae_lens import SAE
from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig
from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--export", help="an `ae export --format saelens` directory")
p.add_argument("--data", required=True, help=".npy [n, d_in], raw rows (f32 or f64)")
p.add_argument("--codes", help="the .npy `ae encode` wrote for --data")
p.add_argument("--rows", type=int, default=1000)
p.add_argument("--ae", default=None, help="the ae binary (default: target/release/ae, else ae)")
p.add_argument("--tol", type=float, default=1e-4)
a = p.parse_args()

here = os.path.dirname(os.path.abspath(__file__))
ae_bin = a.ae or os.path.join(here, "..", "target", "release", "ae")
if not os.path.exists(ae_bin):
    ae_bin = "ae"

x = np.load(a.data).astype(np.float32)[: a.rows]
failed = False


def report(what, got, want):
    global failed
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    ok = diff <= a.tol
    failed |= not ok
    nonzero = int(np.count_nonzero(want))
    print(
        f"{what}: max abs diff {diff:.3e} over {got.shape[0]} rows "
        f"({nonzero} nonzero codes, largest {float(np.max(np.abs(want))):.3g}) "
        f"{'ok' if ok else 'ABOVE --tol'}"
    )


# 1. ae -> SAELens.
if a.export:
    sae = SAE.load_from_disk(a.export, device="cpu")
    with torch.no_grad():
        codes = sae.encode(torch.from_numpy(x)).numpy()
    print(f"loaded {a.export}: {type(sae).__name__}, d_in {sae.cfg.d_in}, d_sae {sae.cfg.d_sae}")
    if a.codes:
        report("ae -> SAELens codes", codes, np.load(a.codes).astype(np.float32)[: a.rows])
    else:
        print("(no --codes: nothing to compare the SAELens codes with)")

# 2. SAELens -> ae.
d_in = x.shape[1]
d_sae = 4 * d_in
torch.manual_seed(0)
cases = [
    ("topk, apply_b_dec_to_input", TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=min(8, d_sae)))),
    ("topk, no b_dec on input", TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=min(8, d_sae), apply_b_dec_to_input=False))),
    ("standard", StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae))),
]
for name, sae in cases:
    with torch.no_grad():
        for param in (sae.b_enc, sae.b_dec):
            param.copy_(0.1 * torch.randn_like(param))
        want = sae.encode(torch.from_numpy(x)).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        sae_dir = os.path.join(tmp, "sae")
        sae.save_model(sae_dir)
        npy = os.path.join(tmp, "x.npy")
        np.save(npy, x)
        out = os.path.join(tmp, "codes.npy")
        run = subprocess.run(
            [ae_bin, "encode", sae_dir, npy, "--out", out, "--backend", "cpu", "--json"],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            print(f"SAELens {name} -> ae: ae encode failed: {run.stderr.strip()}")
            failed = True
            continue
        report(f"SAELens {name} -> ae codes", np.load(out), want)

sys.exit(1 if failed else 0)
