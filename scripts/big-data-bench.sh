#!/usr/bin/env bash
# Data larger than memory, measured: a sharded set of seeded Gaussian activations (default
# 32 GiB: 32 shards of 1 GiB, 768 columns, f32) against the first shard alone (1 GiB, in the page
# cache), read into memory as `ae train` does for a set of that size and streamed from the file
# (`--stream`), all trained the same way for the same step budget; peak RSS from GNU time,
# samples/s from the JSON. Prints one markdown table.
#
#   scripts/big-data-bench.sh [DIR] [SHARDS] [STEPS]    # defaults: ./big-data 32 60
#
# Needs GNU time (Debian: `apt-get install time`) and SHARDS GiB of disk. The shards are kept
# for reruns (delete DIR to free the space). Run by hand; not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-big-data}
shards=${2:-32}
steps=${3:-60}
ae=${AE:-target/release/ae}
rows=349525 # 1 GiB of 768 f32 columns
[ -x "$ae" ] || cargo build --release --bin ae
mkdir -p "$dir/shards"
for i in $(seq -w 0 $((shards - 1))); do
  f="$dir/shards/acts-$i.npy"
  if [ ! -f "$f" ]; then
    "$ae" synth gaussian --n $rows --dim 768 --seed "$((10#$i))" --out "$f" >/dev/null
    rm -f "$dir/shards/acts-$i.position.npy"
  fi
done

run() { # name data size [flags]
  local log="$dir/$1.time" json="$dir/$1.json"
  /usr/bin/time -v "$ae" train "$2" --out "$dir/model-$1" --backend cpu --layers 768,4096 \
    --sparsity topk:32 --output identity --val-split 0 --batch-size 4096 --max-steps "$steps" \
    ${4:-} --json >"$json" 2>"$log"
  local rss sps
  rss=$(awk -F: '/Maximum resident set size/ {print $2 / 1024}' "$log")
  sps=$(python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print(round(d["history"][-1]["samples_per_sec"]))' "$json")
  echo "| $1 | $3 | $steps | $sps | ${rss%.*} |"
}

echo "| data set | size | steps (batch 4096) | samples/s | peak RSS (MiB) |"
echo "|---|---|---|---|---|"
first="$dir/shards/acts-$(seq -w 0 $((shards - 1)) | head -1).npy"
cat "$first" >/dev/null # into the page cache
run one-shard-in-memory "$first" "1 GiB"
run one-shard-streamed "$first" "1 GiB" --stream
run sharded-streamed "$dir/shards" "$shards GiB" --stream
