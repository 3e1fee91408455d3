#!/usr/bin/env bash
# One command for a machine with a real GPU: build, check the GPU against the CPU, time the
# kernels and a training step, and write a table.
#
#   scripts/gpu-bench.sh [OUT_DIR]          # default OUT_DIR: $OUT, else ./gpu-bench-out
#
# With cargo on the machine it builds here. Without (a GPU box with no Rust toolchain), first run
# `scripts/gpu-bench.sh --bundle` on a build machine of the same architecture: it builds the `ae`
# binary and the GPU test binaries into .gpu-bundle/, which then travels with the tree.
# Needs a Vulkan loader (libvulkan1) and the GPU's Vulkan driver; set WGPU_BACKEND to force one.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=.gpu-bundle

build_bundle() {
  cargo build --release --bin ae
  mkdir -p "$bundle"
  cp target/release/ae "$bundle/"
  cargo test --release --no-run --message-format=json --test gpu_vs_cpu --test cross_backend 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])' | while read -r exe; do cp "$exe" "$bundle/$(basename "$exe" | sed 's/-[0-9a-f]*$//')"; done
  ls -l "$bundle"
}

if [ "${1:-}" = "--bundle" ]; then
  build_bundle
  exit 0
fi

out=${1:-${OUT:-gpu-bench-out}}
mkdir -p "$out"
export AE_REQUIRE_GPU=1 NODEVICE_SELECT=1
if command -v cargo >/dev/null 2>&1; then
  build_bundle >/dev/null
fi
ae="$bundle/ae"
[ -x "$ae" ] || { echo "no $ae: run scripts/gpu-bench.sh --bundle on a build machine first" >&2; exit 1; }

{
  echo "# ae on $(hostname) — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo '## Devices'
  echo '```'
  "$ae" devices
  echo '```'
} | tee "$out/gpu-bench.md"

status=0
for t in gpu_vs_cpu cross_backend; do
  echo "== $t (GPU against CPU)"
  # The test binaries find the bundled MNIST through the source path they were built in; run
  # them from the repository root so relative paths resolve too.
  if "$bundle/$t" --test-threads 1 >"$out/$t.log" 2>&1; then r=passed; else r=FAILED; status=1; fi
  printf -- '- %s: %s (%s)\n' "$t" "$r" "$(grep -E '^test result' "$out/$t.log" | tail -1)" | tee -a "$out/gpu-bench.md"
done

"$ae" bench --backend all --epochs 5 --matmul 1024,4096 --json >"$out/bench.json"
python3 - "$out/bench.json" >>"$out/gpu-bench.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("\n## Training step (784-512-128-32-128-512-784, batch 256, MSE, Adam, 8,000 MNIST rows)\n")
print("| backend | samples/s | GFLOP/s |")
print("|---|---:|---:|")
for x in r:
    if "skipped" in x:
        print(f"| {x['backend']} | skipped: {x['skipped']} | |")
    else:
        print(f"| {x['backend']} | {x['samples_per_sec']:.0f} | {x['gflops']:.1f} |")
print("\n## matmul (median of 5, synchronised)\n")
print("| backend | case | ms | GFLOP/s |")
print("|---|---|---:|---:|")
for x in r:
    for t in x.get("matmul", []):
        print(f"| {t['backend']} | {t['case']} | {t['seconds']*1e3:.3f} | {t['gflops']:.1f} |")
PY
cat "$out/gpu-bench.md"
exit $status
