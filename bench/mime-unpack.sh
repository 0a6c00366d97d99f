# mime-unpack (sourced by bench/mime; or on its own: bash bench/mime-unpack.sh):
# one message with one base64 attachment of each size in MIME_SIZES (MiB),
# made by mpack, unpacked by mime-unpack -x beside munpack and Python's
# email package (bench/mime_unpack.py). MB/s are of the attachment.
# Goal: at least 3x munpack; peak RSS under 16 MiB and flat (the same at
# every size).
if ! declare -F bench_pair >/dev/null; then
  source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
  build_release
  MIME_SIZES=${MIME_SIZES:-50 200}
fi
need mpack munpack python3
mkdir -p "$DATA/out"
for mib in ${MIME_SIZES:-50 200}; do
  att=$DATA/att$mib.bin
  gen "$att" $((mib << 20)) random
  msg=$DATA/unpack$mib.eml
  if [ ! -s "$msg" ] || [ "$msg" -ot "$att" ]; then
    rm -f "$msg"
    mpack -s attachment -c application/octet-stream -o "$msg" "$att"
  fi
  o=$DATA/out/unpack
  # Untimed check: every tool gives the attachment back byte for byte.
  name=$(basename "$att")
  for cmd in "$BIN/mime-unpack -x -C $o $msg" "munpack -q -C $o $msg" \
             "/usr/bin/python3 $BENCH_DIR/mime_unpack.py $msg $o"; do
    rm -rf "$o"; mkdir -p "$o"
    bash -c "$cmd" >/dev/null
    cmp -s "$att" "$o/$name" || { echo "bench: $cmd: attachment differs" >&2; exit 1; }
  done
  # Each run extracts into an empty directory (munpack will not overwrite).
  fresh="rm -rf $o; mkdir -p $o; exec"
  bench_pair "mime-unpack-${mib}MiB" $((mib << 20)) "bash -c '$fresh $BIN/mime-unpack -x -C $o $msg'" \
    "bash -c '$fresh munpack -q -C $o $msg'" munpack
  bench_pair "mime-unpack-${mib}MiB" $((mib << 20)) "bash -c '$fresh $BIN/mime-unpack -x -C $o $msg'" \
    "bash -c '$fresh /usr/bin/python3 $BENCH_DIR/mime_unpack.py $msg $o'" python-email
done
rm -rf "$DATA/out/unpack"
