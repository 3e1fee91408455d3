#!/usr/bin/env bash
# Matryoshka against plain TopK on the bundled MNIST (CPU backend), as reported in
# docs/matryoshka.md: two 784-1024 TopK SAEs (k = 32, pre-encoder bias, identity output, the same
# seed and flags) trained on the first 8,000 digits, one with --matryoshka 64,256,1024; then on
# the last 2,000 the FVU of the reconstruction from each prefix (the first M code units through
# the decoder, plus its bias), for the plain model too. Codes come from `ae encode`, the decoder
# from model.safetensors; Python 3 (standard library only) splits the data and computes the
# FVUs. Writes into ${OUT:-/tmp/ae-matryoshka}; AE=path/to/ae uses that binary instead of
# building one; EPOCHS, PREFIXES and THREADS change the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${AE:-}" ]; then
    cargo build --release --quiet
    AE=target/release/ae
fi
out=${OUT:-/tmp/ae-matryoshka}
prefixes=${PREFIXES:-64,256,1024}
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
for kind in topk matryoshka; do
    m="$out/$kind"
    extra=()
    [ "$kind" = matryoshka ] && extra=(--matryoshka "$prefixes")
    $AE train "$out/train.npy" --out "$m" --layers 784,1024 --output identity --pre-bias \
        --sparsity topk:32 "${extra[@]}" --epochs "${EPOCHS:-5}" --batch-size 64 --lr 1e-3 \
        --val-split 0 --seed 0 --backend cpu --threads "${THREADS:-2}" --json > "$m.json"
    $AE encode "$m" "$out/test.npy" --out "$m/codes.npy" --backend cpu > /dev/null
done
python3 - "$out" "$prefixes" <<'PY'
import array, ast, json, struct, sys
out, prefixes = sys.argv[1], [int(p) for p in sys.argv[2].split(",")]
def npy(path):
    b = open(path, "rb").read()
    hlen = int.from_bytes(b[8:10], "little")
    h = ast.literal_eval(b[10:10 + hlen].decode())
    a = array.array({"|u1": "B", "<f4": "f"}[h["descr"]], b[10 + hlen:])
    if h["descr"] == "|u1":
        a = array.array("f", (v / 255.0 for v in a))
    return h["shape"], a
def safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    def get(name):
        t = header[name]
        lo, hi = t["data_offsets"]
        return t["shape"], array.array("f", b[8 + n + lo:8 + n + hi])
    return get
(n, d), x = npy(out + "/test.npy")
means = [sum(x[r * d + j] for r in range(n)) / n for j in range(d)]
sst = sum((x[i] - means[i % d]) ** 2 for i in range(n * d))
print("| model | " + " | ".join(f"FVU, first {m}" for m in prefixes) + " |")
print("|---|" + "---|" * len(prefixes))
for kind in ["topk", "matryoshka"]:
    get = safetensors(f"{out}/{kind}/model.safetensors")
    (_, width), w = get("decoder.0.weight")
    _, bias = get("decoder.0.bias")
    (_, code), h = npy(f"{out}/{kind}/codes.npy")
    sse = [0.0] * len(prefixes)
    for r in range(n):
        recon = list(bias)
        active = [(j, h[r * code + j]) for j in range(code) if h[r * code + j] != 0.0]
        p = 0
        for s, m in enumerate(prefixes):
            while p < len(active) and active[p][0] < m:
                j, v = active[p]
                for i in range(d):
                    recon[i] += v * w[i * width + j]
                p += 1
            sse[s] += sum((x[r * d + i] - recon[i]) ** 2 for i in range(d))
    trained = json.load(open(f"{out}/{kind}.json"))
    print(f"| {kind} (train FVU {trained['fvu']:.4f}) | "
          + " | ".join(f"{e / sst:.4f}" for e in sse) + " |")
PY
