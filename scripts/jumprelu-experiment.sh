#!/usr/bin/env bash
# JumpReLU on the bundled MNIST (CPU backend), as reported in the README: 784-4096 JumpReLU SAEs
# trained on the first 8,000 digits with three L0 coefficients, then L0 (mean active units per
# row) and FVU measured on the last 2,000 by `ae encode` and `ae reconstruct`. Writes into
# ${OUT:-/tmp/ae-jumprelu}; AE=path/to/ae uses that binary instead of building one; COEFS,
# EPOCHS and THREADS change the runs. Python 3 (standard library only) splits the data and
# computes the metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${AE:-}" ]; then
    cargo build --release --quiet
    AE=target/release/ae
fi
out=${OUT:-/tmp/ae-jumprelu}
mkdir -p "$out"
python3 - "$out" <<'PY'
import gzip, struct, sys
out = sys.argv[1]
raw = gzip.open("data/mnist-10k/images-idx3-ubyte.gz").read()
n, rows, cols = struct.unpack(">III", raw[4:16])
d = rows * cols
def npy(path, first, count):
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d), }" % (count, d)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(raw[16 + first * d:16 + (first + count) * d])
npy(out + "/train.npy", 0, 8000)
npy(out + "/test.npy", 8000, n - 8000)
PY
metrics() {
    python3 - "$out/test.npy" "$1/codes.npy" "$1/recon.npy" <<'PY'
import array, ast, sys
def load(path):
    b = open(path, "rb").read()
    hlen = int.from_bytes(b[8:10], "little")
    h = ast.literal_eval(b[10:10 + hlen].decode())
    kind = {"|u1": "B", "<f4": "f"}[h["descr"]]
    a = array.array(kind, b[10 + hlen:])
    if kind == "B":
        a = array.array("f", (v / 255.0 for v in a))
    return h["shape"], a
(n, d), x = load(sys.argv[1])
(_, k), codes = load(sys.argv[2])
_, recon = load(sys.argv[3])
l0 = sum(1 for v in codes if v > 1e-6) / n
means = [sum(x[r * d + j] for r in range(n)) / n for j in range(d)]
sst = sum((x[i] - means[i % d]) ** 2 for i in range(n * d))
sse = sum((x[i] - recon[i]) ** 2 for i in range(n * d))
print(f"held-out L0 {l0:.2f}  FVU {sse / sst:.4f}  MSE {sse / (n * d):.6f}")
PY
}
for coef in ${COEFS:-1e-5 1e-4 1e-3}; do
    m="$out/jumprelu-$coef"
    $AE train "$out/train.npy" --out "$m" --layers 784,4096 --output identity \
        --sparsity "jumprelu:$coef" --jump-init-threshold 0.1 --epochs "${EPOCHS:-10}" \
        --batch-size 64 --lr 1e-3 --val-split 0 --seed 0 --backend cpu \
        --threads "${THREADS:-1}" --json > "$m.json"
    $AE encode "$m" "$out/test.npy" --out "$m/codes.npy" --backend cpu > /dev/null
    $AE reconstruct "$m" "$out/test.npy" --out "$m/recon.npy" --backend cpu > /dev/null
    echo "jumprelu:$coef (train L0 $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['l0'], 2))" "$m.json")): $(metrics "$m")"
done
