#!/usr/bin/env bash
# One command for a machine with a real GPU and no Rust: check the GPU against the CPU, tune the
# matmul variants, profile a training step, and time the same work in PyTorch CUDA (fp32, TF32
# off), writing one markdown table. At most about 8 minutes: every step has its own time limit.
#
#   scripts/gpu-bench.sh --bundle     # on a build machine (cargo, apt) of the same architecture:
#                                     # .gpu-bundle/ = ae, the GPU test binaries (stripped) and
#                                     # Debian's libvulkan1 (the Vulkan loader), to carry along
#   scripts/gpu-bench.sh [OUT_DIR]    # on the GPU machine (default OUT_DIR: $OUT, else
#                                     # ./gpu-bench-out); from the repository root
#
# With the device tool: build the bundle here, then run `scripts/gpu-bench.sh` there with
# `carry: [".gpu-bundle"]`; the table is $OUT/gpu-bench.md, the raw JSON beside it.
# GPU_BENCH_QUICK=1 shrinks every size (to try the script on a software adapter).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=.gpu-bundle

build_bundle() {
  cargo build --release --bin ae
  rm -rf "$bundle" && mkdir -p "$bundle/debs"
  cp target/release/ae "$bundle/"
  cargo test --release --no-run --message-format=json --test gpu_vs_cpu --test matmul_variants --test cross_backend \
    2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])' | while read -r exe; do cp "$exe" "$bundle/$(basename "$exe" | sed 's/-[0-9a-f]*$//')"; done
  strip "$bundle"/ae "$bundle"/gpu_vs_cpu "$bundle"/matmul_variants "$bundle"/cross_backend 2>/dev/null || true
  (cd "$bundle/debs" && apt-get download libvulkan1 >/dev/null)
  ls -l "$bundle" "$bundle/debs"
  du -sh "$bundle"
}

if [ "${1:-}" = "--bundle" ]; then
  build_bundle
  exit 0
fi

out=${1:-${OUT:-gpu-bench-out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export AE_REQUIRE_GPU=1 NODEVICE_SELECT=1 AE_CACHE_DIR=${AE_CACHE_DIR:-/tmp/ae-gpu-bench-cache}
ae="$bundle/ae"
[ -x "$ae" ] || { echo "no $ae: run scripts/gpu-bench.sh --bundle on a build machine first" >&2; exit 1; }

# The Vulkan loader: the machine's own, else the bundled Debian package unpacked under /tmp.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  for deb in "$bundle"/debs/*.deb; do dpkg -x "$deb" /tmp/vulkan-loader; done
  export LD_LIBRARY_PATH=/tmp/vulkan-loader/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
# NVIDIA's Vulkan driver where the container mounts it outside the loader's search path.
nv_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$nv_icd" ] && export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$nv_icd}

quick=${GPU_BENCH_QUICK:-}
if [ -n "$quick" ]; then
  squares=256; sae_rows=1024; sae_batch=256; sae_latents=1024; mlp_rows=1280; epochs=2
  test_limit=900; tune_layers=64,32; tune_batch=64
else
  squares=1024,4096; sae_rows=131072; sae_batch=4096; sae_latents=16384; mlp_rows=8000; epochs=4
  test_limit=150; tune_layers=784,512,128,32; tune_batch=256
fi
python=$(command -v python3 || true)
has_cuda=no
if [ -n "$python" ] && "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  has_cuda=yes
fi
md="$out/gpu-bench.md"
status=0
# step NAME LIMIT COMMAND...: runs it with a time limit, its output in $out/NAME.log.
step() {
  local name=$1 limit=$2 rc=0; shift 2
  echo "== $name (limit ${limit}s)" >&2
  timeout "$limit" "$@" >"$out/$name.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "   $name failed (exit $rc$([ "$rc" -eq 124 ] && echo ': time limit')); see $name.log" >&2
    status=1
  fi
  return "$rc"
}

{
  echo "# ae on $(hostname) — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo '## Devices'
  echo '```'
  "$ae" devices 2>&1 || echo "ae devices failed"
  echo '```'
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
  echo
  echo "## GPU against CPU (AE_REQUIRE_GPU=1)"
  echo
} >"$md"

for t in gpu_vs_cpu matmul_variants cross_backend; do
  # The test binaries find the bundled MNIST through the repository root.
  if step "$t" "$test_limit" "$bundle/$t" --test-threads 4; then r=passed; else r=FAILED; fi
  printf -- '- %s: %s (%s)\n' "$t" "$r" "$(grep -E '^test result' "$out/$t.log" | tail -1)" >>"$md"
done

step tune-mlp 90 "$ae" tune --backend wgpu --layers "$tune_layers" --batch-size "$tune_batch" \
  --json || true
[ -n "$quick" ] ||
  step tune-sae 90 "$ae" tune --backend wgpu --layers "768,$sae_latents" --batch-size "$sae_batch" \
    --json || true

step bench 150 "$ae" bench --backend all --epochs "$epochs" --rows "$mlp_rows" --profile \
  --matmul "$squares" --json || true

# The SAE: 768-16384 TopK(32) with the pre-encoder bias at batch 4096 on seeded Gaussian rows.
"$ae" synth gaussian --n "$sae_rows" --dim 768 --seed 0 --out /tmp/gpu-bench-acts.npy --json \
  >/dev/null
step sae-ae 120 "$ae" train /tmp/gpu-bench-acts.npy --out /tmp/gpu-bench-sae \
  --layers "768,$sae_latents" --sparsity topk:32 --pre-bias --epochs "$((epochs - 1))" \
  --batch-size "$sae_batch" --val-split 0 --backend wgpu --json || true

if [ "$has_cuda" = yes ]; then
  step torch-matmul 60 "$python" scripts/pytorch_matmul_bench.py --device cuda \
    --squares "$squares" || true
  step torch-mlp 60 "$python" scripts/pytorch_bench.py --device cuda --epochs "$epochs" \
    --rows "$mlp_rows" || true
  step torch-sae 90 "$python" scripts/pytorch_sae_bench.py /tmp/gpu-bench-acts.npy --device cuda \
    --latents "$sae_latents" --k 32 --epochs "$((epochs - 1))" --batch-size "$sae_batch" || true
fi

"${python:-python3}" - "$out" "$has_cuda" >>"$md" <<'PY'
import json, os, sys
out, has_cuda = sys.argv[1], sys.argv[2] == "yes"

def load(name):
    """The last JSON object a step printed, or None."""
    try:
        lines = [l for l in open(os.path.join(out, name + ".log")) if l.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except OSError:
        return None

bench = load("bench")
print("\n## Training: 784-512-128-32-128-512-784 MLP (batch 256, MSE, Adam) and 768-16384 TopK(32) SAE\n")
print("| work | backend | samples/s | GFLOP/s |")
print("|---|---|---:|---:|")
for r in (bench or {}).get("results", []):
    if "skipped" in r:
        print(f"| MLP | {r['backend']} | skipped: {r['skipped']} | |")
    else:
        print(f"| MLP | {r['backend']} | {r['samples_per_sec']:.0f} | {r['gflops']:.1f} |")
t = load("torch-mlp")
if t:
    print(f"| MLP | {t['backend']} | {t['samples_per_sec']:.0f} | |")
s = load("sae-ae")
if s:
    h = s["history"]
    print(f"| SAE | ae {s.get('backend', 'wgpu')} (epoch {len(h)}) | {h[-1]['samples_per_sec']:.0f} | |")
t = load("torch-sae")
if t:
    print(f"| SAE | {t['backend']} | {t['samples_per_sec']:.0f} | |")
if not has_cuda:
    print("\nPyTorch with CUDA is not available here: no PyTorch rows.")

print("\n## matmul (fp32; ae: median of 5, synchronised; PyTorch: CUDA events, median of 10)\n")
print("| backend | case | ms | GFLOP/s |")
print("|---|---|---:|---:|")
for r in (bench or {}).get("results", []):
    for m in r.get("matmul", []):
        print(f"| {m['backend']} | {m['case']} | {m['seconds']*1e3:.3f} | {m['gflops']:.1f} |")
t = load("torch-matmul")
for m in (t or {}).get("matmul", []):
    print(f"| {t['backend']} | {m['case']} | {m['seconds']*1e3:.3f} | {m['gflops']:.1f} |")

for r in (bench or {}).get("results", []):
    p = r.get("profile")
    if not p:
        continue
    peak = f"; fp32 peak of {p['peak'][0]}: {p['peak'][1]} TFLOP/s" if p.get("peak") else ""
    print(f"\n## Profile of a training step: {r['backend']} ({p['clock']}, {p['steps']} steps{peak})\n")
    print(f"Kernels: {p['kernel_ms_per_step']:.3f} ms per step; "
          f"dispatches per step: {(r.get('dispatches_per_step') or {}).get('total', '-')}\n")
    print("| kernel | per step | ms/step | share | GFLOP/s | of peak |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in p["kernels"]:
        g = f"{k['gflops']:.1f}" if k.get("gflops") else "-"
        f = f"{k['peak_fraction']*100:.1f}%" if k.get("peak_fraction") else "-"
        print(f"| {k['kernel']} | {k['calls_per_step']:.1f} | {k['ms_per_step']:.4f} | {k['share']*100:.1f}% | {g} | {f} |")

for name in ("tune-mlp", "tune-sae"):
    t = load(name)
    if t:
        print(f"\n## ae tune ({name[5:]}): chosen matmul variant per shape class\n")
        print("| class | product | chosen | times (ms) |")
        print("|---|---|---|---|")
        for c in t.get("classes", t.get("results", [])):
            times = ", ".join(f"{v}: {s*1e3:.3f}" for v, s in c.get("times", []))
            print(f"| {c.get('class')} | {c.get('m')}x{c.get('k')}x{c.get('n')} | {c.get('chosen')} | {times} |")
PY
cat "$md"
exit $status
