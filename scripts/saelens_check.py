#!/usr/bin/env python3
"""ae's SAELens and sparsify export and import held to the real sae_lens and sparsify packages.
Run by hand; not part of CI.

Needs `pip install sae_lens numpy` (sae_lens brings torch) and, for the sparsify checks,
`pip install eai-sparsify` (EleutherAI's sparsify; the PyPI name `sparsify` is another
project). Without eai-sparsify the sparsify checks are skipped and say so. See the end of this
header for how far it has been run.

1. ae -> library: loads an `ae export` directory with the library's own loader
   (`sae_lens.SAE.load_from_disk` for cfg.json + sae_weights.safetensors,
   `sparsify.SparseCoder.load_from_disk` for cfg.json + sae.safetensors), encodes the first N
   rows of a .npy with it, and prints the largest absolute difference from the codes `ae encode`
   wrote for the same rows (from the ae model directory: it reads raw rows, like the export).
2. library -> ae: builds sae_lens `topk`, `standard` and `jumprelu` SAEs (apply_b_dec_to_input
   true and false; jumprelu with random positive thresholds) and a sparsify TopK coder with
   random weights, saves each with the library's own `save_model` / `save_to_disk`, runs
   `ae encode` on the saved directory (subprocess) and prints the largest absolute difference
   from the library's `encode`.

Everything in one go (trains the small models itself, in WORKDIR, on the CPU):

    cargo build --release
    python3 scripts/saelens_check.py --auto /tmp/aecheck [--rows 1000] [--ae target/release/ae]

--auto writes `ae synth gaussian --n 2000 --dim 16 --seed 0` unless --data is given, and
trains 16-64 SAEs for a few epochs: TopK (with and without the pre-encoder bias, normalised),
ReLU + L1, JumpReLU (with and without the pre-encoder bias), BatchTopK, and a Matryoshka TopK
SAE (whose export must keep its prefixes: SAELens `metadata.ae_matryoshka`, also after
sae_lens loads and saves it again; sparsify `ae_matryoshka`). One export by hand:

    ae export m --format saelens --out m-saelens     # or --format sparsify
    ae encode m acts.npy --out codes.npy
    python3 scripts/saelens_check.py --export m-saelens --data acts.npy --codes codes.npy

Exits non-zero when a difference is above --tol (default 1e-4). TopK SAEs can differ in which
unit a row keeps where two pre-activations tie to within rounding, and JumpReLU ones where a
pre-activation is within rounding of its threshold; such a row shows up as a large difference.

Status: run by hand (--auto, CPU, about 35 s) with sae_lens 6.54.12, eai-sparsify 1.3.3,
torch 2.15.0 (the CUDA wheel from PyPI, run on the CPU) and numpy 2.4.6 in a Python 3.11 virtual
environment, on 1,000 rows of `ae synth gaussian --n 2000 --dim 16 --seed 0`, models trained 5
epochs (batch 64). Largest absolute code differences, ae -> library (`ae encode` of the ae model
against the library's `encode` of the export): TopK k 8 (16-64, --pre-bias --normalize
standard) 7.2e-7 to SAELens and 7.2e-7 to sparsify; TopK without the pre-encoder bias
(--normalize minmax) 4.8e-7 and 4.8e-7; ReLU + L1 (16-32, --normalize standard) 1.2e-6;
JumpReLU (16-64, jumprelu:1e-3:0.1, --pre-bias --normalize standard) 7.2e-7; JumpReLU without
the pre-encoder bias or a normalisation (16-32) 0; BatchTopK k 8 (16-64, --pre-bias --normalize
standard, loaded by sae_lens as JumpReLUSAE, 6.9 units on per row) 9.5e-7; Matryoshka TopK
(16-64, prefixes 16,32,64) 0 to both, its prefixes in cfg.json (and kept by sae_lens's load and
save_model). Library -> ae: SAELens topk (both ways of apply_b_dec_to_input), standard, jumprelu
with random thresholds in [0, 1) (both ways), and a sparsify TopK coder: 0 for all. Earlier
(sae_lens 6.54.12 alone, other models): TopK 9.5e-7, TopK without pre-bias 7.2e-7, ReLU 3.6e-6.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from sae_lens import SAE
from sae_lens.saes.jumprelu_sae import JumpReLUSAE, JumpReLUSAEConfig
from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig
from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig

try:
    from sparsify import SparseCoder, SparseCoderConfig
except ImportError:  # eai-sparsify not installed
    SparseCoder = None

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--auto", metavar="WORKDIR", help="train, export and check every case in WORKDIR")
p.add_argument("--export", help="an `ae export` directory (SAELens or sparsify)")
p.add_argument("--data", help=".npy [n, d_in], raw rows (f32 or f64)")
p.add_argument("--codes", help="the .npy `ae encode` wrote for --data")
p.add_argument("--rows", type=int, default=1000)
p.add_argument("--ae", default=None, help="the ae binary (default: target/release/ae, else ae)")
p.add_argument("--tol", type=float, default=1e-4)
a = p.parse_args()
if not a.auto and not a.data:
    p.error("--data is needed without --auto")

here = os.path.dirname(os.path.abspath(__file__))
ae_bin = a.ae or os.path.join(here, "..", "target", "release", "ae")
if not os.path.exists(ae_bin):
    ae_bin = "ae"

failed = False


def ae(*args):
    run = subprocess.run([ae_bin, *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"ae {' '.join(args)} failed:\n{run.stderr.strip()}")
    return run.stdout


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


def sparsify_codes(coder, x):
    """Dense codes [n, num_latents] from sparsify's (top_acts, top_indices)."""
    with torch.no_grad():
        out = coder.encode(torch.from_numpy(x))
        dense = torch.zeros(x.shape[0], coder.num_latents, dtype=out.top_acts.dtype)
        dense.scatter_(1, out.top_indices, out.top_acts)
    return dense.numpy()


def library_codes(export, x):
    """The codes the library that reads `export` computes, and a line naming what it loaded."""
    if os.path.exists(os.path.join(export, "sae.safetensors")):
        if SparseCoder is None:
            return None, f"{export}: sparsify directory, eai-sparsify not installed: skipped"
        coder = SparseCoder.load_from_disk(export, device="cpu")
        cfg = coder.cfg
        return sparsify_codes(coder, x), (
            f"loaded {export}: sparsify SparseCoder, d_in {coder.d_in}, "
            f"num_latents {coder.num_latents}, k {cfg.k}"
        )
    sae = SAE.load_from_disk(export, device="cpu")
    with torch.no_grad():
        codes = sae.encode(torch.from_numpy(x)).numpy()
    return codes, (
        f"loaded {export}: {type(sae).__name__}, d_in {sae.cfg.d_in}, d_sae {sae.cfg.d_sae}"
    )


def check_export(export, x, codes_npy, what):
    codes, line = library_codes(export, x)
    print(line)
    if codes is None:
        return
    if codes_npy:
        report(f"{what} codes", codes, np.load(codes_npy).astype(np.float32)[: len(x)])
    else:
        print("(no --codes: nothing to compare the library's codes with)")


def version(name):
    from importlib.metadata import PackageNotFoundError, version as v

    try:
        return v(name)
    except PackageNotFoundError:
        return "not installed"


print(
    f"sae_lens {version('sae_lens')}, eai-sparsify {version('eai-sparsify')}, "
    f"torch {torch.__version__}, numpy {np.__version__}; ae: {ae_bin}"
)

# 1. ae -> library.
if a.auto:
    w = a.auto
    os.makedirs(w, exist_ok=True)
    data = a.data or os.path.join(w, "g.npy")
    if not a.data:
        ae("synth", "gaussian", "--n", "2000", "--dim", "16", "--seed", "0", "--out", data)
    x = np.load(data).astype(np.float32)[: a.rows]
    d = x.shape[1]
    common = ["--output", "identity", "--epochs", "5", "--batch-size", "64", "--backend", "cpu"]
    # name, layers, flags, export formats
    models = [
        ("topk", 64, ["--sparsity", "topk:8", "--pre-bias", "--normalize", "standard"],
         ["saelens", "sparsify"]),
        ("topk-nobias", 64, ["--sparsity", "topk:8", "--normalize", "minmax"],
         ["saelens", "sparsify"]),
        ("relu-l1", 32, ["--sparsity", "l1:1e-3", "--code-activation", "relu",
                         "--normalize", "standard"], ["saelens"]),
        ("jumprelu", 64, ["--sparsity", "jumprelu:1e-3:0.1", "--jump-init-threshold", "0.2",
                          "--pre-bias", "--normalize", "standard"], ["saelens"]),
        ("jumprelu-nobias", 32, ["--sparsity", "jumprelu:1e-3", "--jump-init-threshold", "0.1"],
         ["saelens"]),
        ("batchtopk", 64, ["--sparsity", "batchtopk:8", "--pre-bias", "--normalize", "standard"],
         ["saelens"]),
        ("matryoshka", 64, ["--sparsity", "topk:8", "--pre-bias", "--matryoshka", "16,32,64"],
         ["saelens", "sparsify"]),
    ]
    for name, width, flags, formats in models:
        m = os.path.join(w, name)
        ae("train", data, "--out", m, "--layers", f"{d},{width}", *common, *flags)
        codes = os.path.join(w, f"{name}.codes.npy")
        ae("encode", m, data, "--out", codes, "--backend", "cpu")
        for fmt in formats:
            out = os.path.join(w, f"{name}-{fmt}")
            ae("export", m, "--format", fmt, "--out", out)
            check_export(out, x, codes, f"ae {name} -> {fmt}")
            if name == "matryoshka":
                cfg = json.load(open(os.path.join(out, "cfg.json")))
                where = cfg["metadata"] if fmt == "saelens" else cfg
                kept = [where.get("ae_matryoshka")]
                if fmt == "saelens":
                    # SAELens keeps the metadata through its own load and save.
                    resaved = os.path.join(w, f"{name}-{fmt}-resaved")
                    SAE.load_from_disk(out, device="cpu").save_model(resaved)
                    cfg = json.load(open(os.path.join(resaved, "cfg.json")))
                    kept.append(cfg["metadata"].get("ae_matryoshka"))
                ok = all(k == [16, 32, 64] for k in kept)
                failed |= not ok
                key = "metadata.ae_matryoshka" if fmt == "saelens" else "ae_matryoshka"
                print(f"ae {name} -> {fmt}: cfg.json {key} {kept[0]}"
                      + (f", after sae_lens load + save_model {kept[1]}" if len(kept) > 1 else "")
                      + f" {'ok' if ok else 'NOT [16, 32, 64]'}")
else:
    x = np.load(a.data).astype(np.float32)[: a.rows]
    if a.export:
        check_export(a.export, x, a.codes, "ae -> library")

# 2. library -> ae.
d_in = x.shape[1]
d_sae = 4 * d_in
torch.manual_seed(0)


def jumprelu(apply):
    sae = JumpReLUSAE(JumpReLUSAEConfig(d_in=d_in, d_sae=d_sae, apply_b_dec_to_input=apply))
    with torch.no_grad():
        # Kaiming-like weights: pre-activations of order 1, thresholds spread over them.
        sae.W_enc.copy_(torch.randn_like(sae.W_enc) / d_in**0.5)
        sae.threshold.copy_(torch.rand_like(sae.threshold))
    return sae


cases = [
    ("topk, apply_b_dec_to_input", TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=min(8, d_sae)))),
    ("topk, no b_dec on input", TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=min(8, d_sae), apply_b_dec_to_input=False))),
    ("standard", StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae))),
    ("jumprelu, apply_b_dec_to_input", jumprelu(True)),
    ("jumprelu, no b_dec on input", jumprelu(False)),
]
if SparseCoder is not None:
    coder = SparseCoder(d_in, SparseCoderConfig(num_latents=d_sae, k=8), device="cpu")
    cases.append(("sparsify topk", coder))
else:
    print("sparsify -> ae: eai-sparsify not installed: skipped")
for name, sae in cases:
    with tempfile.TemporaryDirectory() as tmp:
        sae_dir = os.path.join(tmp, "sae")
        with torch.no_grad():
            bias = sae.encoder.bias if name.startswith("sparsify") else sae.b_enc
            for param in (bias, sae.b_dec):
                param.copy_(0.1 * torch.randn_like(param))
        if name.startswith("sparsify"):
            want = sparsify_codes(sae, x)
            sae.save_to_disk(sae_dir)
        else:
            with torch.no_grad():
                want = sae.encode(torch.from_numpy(x)).numpy()
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
            print(f"{name} -> ae: ae encode failed: {run.stderr.strip()}")
            failed = True
            continue
        label = name if name.startswith("sparsify") else f"SAELens {name}"
        report(f"{label} -> ae codes", np.load(out), want)

sys.exit(1 if failed else 0)
