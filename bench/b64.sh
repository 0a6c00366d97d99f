# mime-b64 beside coreutils base64 (sourced by bench/codecs, which has
# built the release binaries and sourced lib.sh). Raw side 256 MiB of random
# bytes (SIZE to change it); targets: encode >= 3x, decode >= 4x coreutils,
# peak RSS < 8 MiB.
need base64
size=${SIZE:-268435456}
gen "$DATA/rand256.bin" "$size" random
# The decode input is coreutils' own 76-column output; remake it with the data.
if [ ! -s "$DATA/rand256.b64" ] || [ "$DATA/rand256.b64" -ot "$DATA/rand256.bin" ]; then
  base64 -w 76 < "$DATA/rand256.bin" > "$DATA/rand256.b64"
fi
bench_pair b64-encode "$size" "$BIN/mime-b64 < $DATA/rand256.bin > /dev/null" \
  "base64 -w 76 < $DATA/rand256.bin > /dev/null" base64
bench_pair b64-decode "$size" "$BIN/mime-b64 -d < $DATA/rand256.b64 > /dev/null" \
  "base64 -d < $DATA/rand256.b64 > /dev/null" base64
# pair.py's RSS column is inflated by its own fork (ru_maxrss survives
# fork+exec: ~14 MiB for any command); GNU time forks from a small process.
for cmd in "$BIN/mime-b64" "$BIN/mime-b64 -d"; do
  in=$DATA/rand256.bin; [ "${cmd##* }" = -d ] && in=$DATA/rand256.b64
  kib=$( { /usr/bin/time -f %M $cmd < "$in" > /dev/null; } 2>&1 | tail -1)
  echo "peak RSS (GNU time) ${cmd#"$BIN/"}: $((kib / 1024)).$(( (kib % 1024) * 10 / 1024 )) MiB (target < 8)"
done
