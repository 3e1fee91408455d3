#!/usr/bin/env bash
# The sparse-autoencoder experiments on the bundled MNIST (CPU backend), as reported in the
# README. Writes into ${OUT:-/tmp/ae-sparse}; prints one JSON summary per run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
ae="target/release/ae --backend cpu"
out=${OUT:-/tmp/ae-sparse}
mkdir -p "$out"
mnist=data/mnist-10k/images-idx3-ubyte.gz
keys='["final_train_loss","final_val_loss","penalty","mse","fvu","l0","dead_latents","mean_activation","max_abs_rho_error","resampled"]'
summary() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(sys.argv[1], {k: v[k] for k in $keys if k in v})" "$1"; }

# 1. The classic: 10,000 8x8 patches (classic preprocessing: DC removed, clipped at 3 sd, in
#    [0.1, 0.9]) into 25 sigmoid units; KL rho 0.01, beta 3, weight decay 1e-4 taken as written
#    under the classic objective 1/2 ||x_hat - x||^2 (--reduction half-sum).
$ae patches $mnist --size 8 --count 10000 --normalize --out "$out/patches.npy"
classic="--layers 64,25 --code-activation sigmoid --output sigmoid --sparsity kl:0.01:3 \
  --weight-decay 1e-4 --lr 1e-2 --schedule cosine --warmup 100 --epochs 1500 --batch-size 1000 \
  --val-split 0 --json"
$ae train "$out/patches.npy" --out "$out/kl-classic" $classic --reduction half-sum \
    > "$out/kl-classic.json"
summary "$out/kl-classic.json"
$ae filters "$out/kl-classic" --out "$out/kl-classic-filters.png" --scale 8
# Control: the same numbers under ae's default mean reduction (the KL term is then 32 times
# heavier relative to the reconstruction, and nothing is learned).
$ae train "$out/patches.npy" --out "$out/kl-mean" $classic --reduction mean > "$out/kl-mean.json"
summary "$out/kl-mean.json"

# 2. Overcomplete 784-1024 TopK (k 32) against the undercomplete 784-32 autoencoder: held-out
#    MSE on 20% of the digits (identity output, Adam 1e-3, 20 epochs, batch 256).
common="--output identity --optimizer adam --lr 1e-3 --epochs 20 --batch-size 256 --val-split 0.2 --seed 0 --json"
$ae train $mnist --out "$out/ae32" --layers 784,32 --code-metrics $common > "$out/ae32.json"
summary "$out/ae32.json"

# 3. Dead latents (no activation over the last 10,000 training samples) of 784-1024 TopK k 32:
#    AuxK (Gao et al. 2024), the encoder started as the decoder's transpose, the pre-encoder
#    bias, unit-norm decoder columns and resampling; the README's table.
for run in "topk32:--sparsity topk:32" \
           "aux:--sparsity topk:32:256" \
           "tr:--sparsity topk:32 --init-encoder-transpose" \
           "tr-aux:--sparsity topk:32:256 --init-encoder-transpose" \
           "pb:--sparsity topk:32 --pre-bias" \
           "pb-aux:--sparsity topk:32:256 --pre-bias" \
           "both:--sparsity topk:32 --init-encoder-transpose --pre-bias" \
           "both-aux:--sparsity topk:32:256 --init-encoder-transpose --pre-bias" \
           "both-aux-unorm:--sparsity topk:32:256 --init-encoder-transpose --pre-bias --unit-norm-decoder" \
           "resample:--sparsity topk:32 --resample-dead" \
           "resample-aux:--sparsity topk:32:256 --resample-dead"; do
    name=${run%%:*}
    $ae train $mnist --out "$out/$name" --layers 784,1024 ${run#*:} $common > "$out/$name.json"
    summary "$out/$name.json"
done

# 4. L1 on the same 784-1024 code, plain and weighted by decoder norms, with a sparsity warmup.
for run in "l1:--sparsity l1:3e-4" \
           "l1-dn:--sparsity l1:3e-4:decoder-norm --sparsity-warmup 300"; do
    name=${run%%:*}
    $ae train $mnist --out "$out/$name" --layers 784,1024 --code-activation relu ${run#*:} \
        $common > "$out/$name.json"
    summary "$out/$name.json"
done
