#!/usr/bin/env bash
# The sparse-autoencoder experiments on the bundled MNIST (CPU backend), as reported on branch
# `sparse`. Writes into ${OUT:-/tmp/ae-sparse}; prints the JSON summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
ae=target/release/ae
out=${OUT:-/tmp/ae-sparse}
mkdir -p "$out"
mnist=data/mnist-10k/images-idx3-ubyte.gz
keys='["final_train_loss","final_val_loss","penalty","mse","fvu","l0","dead_latents","mean_activation","max_abs_rho_error"]'
summary() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(sys.argv[1], {k: v.get(k) for k in $keys})" "$1"; }

# 1. The classic: 10,000 8x8 patches into 25 sigmoid units, KL sparsity rho 0.01.
$ae patches $mnist --size 8 --count 10000 --out "$out/patches.npy"
# (a) beta 3 and weight decay 1e-4 taken literally on ae's loss (MSE averaged over the 64
#     pixels): the penalty dominates and the model learns nothing.
$ae train "$out/patches.npy" --out "$out/kl-literal" --layers 64,25 --code-activation sigmoid \
    --output sigmoid --sparsity kl:0.01:3 --weight-decay 1e-4 --lr 1e-2 --epochs 200 \
    --batch-size 1000 --val-split 0 --json > "$out/kl-literal.json"
summary "$out/kl-literal.json"
# (b) The classic objective (1/2 the squared error summed over the 64 pixels + beta KL +
#     lambda/2 |W|^2) divided by 32 is ae's MSE + beta/32 KL + lambda/32: beta 3 -> 0.09375,
#     lambda 1e-4 -> 3.125e-6 (Adam is invariant to the overall scale).
$ae train "$out/patches.npy" --out "$out/kl-classic" --layers 64,25 --code-activation sigmoid \
    --output sigmoid --sparsity kl:0.01:0.09375 --weight-decay 3.125e-6 --lr 1e-2 \
    --schedule cosine --warmup 100 --epochs 1500 --batch-size 1000 --val-split 0 \
    --json > "$out/kl-classic.json"
summary "$out/kl-classic.json"
# (c) A little more weight on KL (classic beta 6.4): mean activation within 0.01 of rho.
$ae train "$out/patches.npy" --out "$out/kl-b0.2" --layers 64,25 --code-activation sigmoid \
    --output sigmoid --sparsity kl:0.01:0.2 --weight-decay 3.125e-6 --lr 1e-2 \
    --schedule cosine --warmup 100 --epochs 1500 --batch-size 1000 --val-split 0 \
    --json > "$out/kl-b0.2.json"
summary "$out/kl-b0.2.json"
for m in kl-literal kl-classic kl-b0.2; do
    $ae filters "$out/$m" --out "$out/$m-filters.png" --scale 8
done

# 2. Overcomplete 784-1024 TopK (k 32) against the undercomplete 784-32 autoencoder, test MSE
#    on the held-out 20%.
common="--output sigmoid --optimizer adam --lr 1e-3 --epochs 20 --batch-size 256 --val-split 0.2 --seed 0 --json"
$ae train $mnist --out "$out/topk32" --layers 784,1024 --sparsity topk:32 $common > "$out/topk32.json"
summary "$out/topk32.json"
$ae train $mnist --out "$out/ae32" --layers 784,32 --code-metrics $common > "$out/ae32.json"
summary "$out/ae32.json"

# 3. Dead latents of the 784-1024 TopK model: AuxK (Gao et al. 2024), unit-norm decoder columns,
#    resampling; the README's table.
keys='["final_val_loss","penalty","mse","dead_latents","resampled"]'
for run in "aux:--sparsity topk:32:256" \
           "aux-c1:--sparsity topk:32:256 --auxk-coef 1" \
           "aux-w1k:--sparsity topk:32:256 --dead-window 1000" \
           "unorm:--sparsity topk:32 --unit-norm-decoder" \
           "unorm-aux:--sparsity topk:32:256 --unit-norm-decoder" \
           "resample:--sparsity topk:32 --resample-dead" \
           "resample-aux:--sparsity topk:32:256 --resample-dead"; do
    name=${run%%:*}
    $ae train $mnist --out "$out/topk32-$name" --layers 784,1024 ${run#*:} $common \
        > "$out/topk32-$name.json"
    summary "$out/topk32-$name.json"
done
