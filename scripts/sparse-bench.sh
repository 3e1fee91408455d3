#!/usr/bin/env bash
# Training throughput (samples/s) of a 784-4096-784 sparse autoencoder, TopK (k = 32) beside L1
# (lambda 1e-3), on the bundled MNIST digits, on each backend asked for.
# Usage: scripts/sparse-bench.sh [BACKENDS] [CPU_ROWS] [GPU_ROWS]   (defaults: "cpu wgpu" 2048 256)
# A software adapter (lavapipe) is slow: keep GPU_ROWS small there. Prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
backends=${1:-"cpu wgpu"}
cpu_rows=${2:-2048}
gpu_rows=${3:-256}
cargo build --release --quiet
ae=target/release/ae
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for backend in $backends; do
    rows=$cpu_rows
    [ "$backend" = cpu ] || rows=$gpu_rows
    # Whole 28x28 digits, chosen at random: `ae patches` with the image size.
    $ae patches data/mnist-10k/images-idx3-ubyte.gz --size 28 --count "$rows" \
        --out "$tmp/x.npy" --keep-blank --json > /dev/null
    for sparsity in topk:32 l1:1e-3; do
        $ae train "$tmp/x.npy" --out "$tmp/m" --layers 784,4096 --sparsity "$sparsity" \
            --epochs 2 --batch-size 256 --val-split 0 --backend "$backend" --json > "$tmp/r.json"
        python3 - "$tmp/r.json" "$backend" "$sparsity" "$rows" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
h = r["history"]
# The second epoch: pipelines, buffers and caches are warm.
print(f"{sys.argv[2]:5} {sys.argv[3]:8} 784-4096-784, {sys.argv[4]} rows, batch 256: "
      f"{h[-1]['samples_per_sec']:9.1f} samples/s  ({r['backend']})")
PY
    done
done
