# Shared helpers for the benchmark scripts (sourced, not run).
# Every workload runs ours and the peers side by side, interleaved
# (A B A B ...), so machine drift affects both alike; we report the median
# wall time of RUNS runs, MB/s of the raw (unencoded) side, peak RSS, and
# ratios from the same run.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
DATA=${DATA:-$BENCH_DIR/data}
RUNS=${RUNS:-5}
# MAILPIPE_BIN=DIR measures another build's binaries (a before/after
# comparison: copy target/release/ aside, change, rebuild, run both).
BIN=${MAILPIPE_BIN:-$ROOT/target/release}
mkdir -p "$DATA"

build_release() {
  [ "${NOBUILD:-0}" = 1 ] || (cd "$ROOT" && cargo build --release --quiet)
}

need() {
  for p in "$@"; do
    command -v "$p" >/dev/null || { echo "bench: peer $p is not installed (apt-get install it)" >&2; exit 69; }
  done
}

# gen FILE SIZE KIND: deterministic input (KIND: random | text)
gen() {
  local file=$1 size=$2 kind=$3
  [ -s "$file" ] && [ "$(stat -c %s "$file")" = "$size" ] && return 0
  python3 "$BENCH_DIR/gen.py" "$kind" "$size" > "$file"
}

# time_cmd 'shell command' -> prints "seconds peak_kib" for one run
time_cmd() {
  local out
  out=$( { /usr/bin/time -f '%e %M' bash -c "$1" >/dev/null 2>/dev/null; } 2>&1 | tail -1)
  # %e has only 10 ms resolution: time the wall clock ourselves
  echo "$out"
}

# bench_pair NAME BYTES 'ours' 'peer' [PEERNAME]: interleaved runs, median wall, MB/s, ratio
bench_pair() {
  local name=$1 bytes=$2 ours=$3 peer=$4 peername=${5:-peer}
  python3 "$BENCH_DIR/pair.py" "$name" "$bytes" "$RUNS" "$ours" "$peer" "$peername"
}
