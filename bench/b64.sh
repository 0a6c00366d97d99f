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
