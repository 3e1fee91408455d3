#!/usr/bin/env bash
# Where the sparse TopK products pay: training samples/s of a TopK SAE with --code-products sparse
# against dense, over k, on the CPU (and wgpu if asked), interleaved per k. Prints one line per
# (k, products).
#   scripts/sparse-crossover.sh [DATA.npy] [N] [BACKEND]   (defaults: whole MNIST digits, 4096, cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
ae=${AE:-target/release/ae}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=${1:-}
if [ -z "$data" ]; then
  data=$tmp/x.npy
  $ae patches data/mnist-10k/images-idx3-ubyte.gz --size 28 --count 8000 --out "$data" \
    --keep-blank --json >/dev/null
fi
n=${2:-4096}
backend=${3:-cpu}
d=$(python3 -c "import sys; f=open(sys.argv[1],'rb'); f.read(8); h=int.from_bytes(f.read(2),'little'); print(eval(f.read(h))['shape'][1])" "$data")
for k in 8 32 128 256 512 1024 2048; do
  for products in sparse dense; do
    $ae train "$data" --out "$tmp/m" --layers "$d,$n" --sparsity "topk:$k" --pre-bias \
      --code-products "$products" --epochs 2 --batch-size 256 --val-split 0 \
      --backend "$backend" --threads 2 --json >"$tmp/r.json"
    python3 - "$tmp/r.json" "$k" "$products" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
k, n = int(sys.argv[2]), int(sys.argv[4])
print(f"k {k:5} (n/k {n / k:7.1f}) {sys.argv[3]:6} {r['history'][-1]['samples_per_sec']:9.1f} samples/s")
PY
  done
done
