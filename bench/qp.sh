# Quoted-printable (sourced by bench/codecs): mime-qp beside qprint 1.1,
# both directions, on 64 MiB of mostly-ASCII text and of random bytes.
# MB/s are of the raw (unencoded) side, as in ../shared/research/BASELINE.md.
# Target: at least 3x qprint in each workload, small constant peak RSS.
need qprint
QP_SIZE=${QP_SIZE:-$((64 << 20))}
t=$DATA/qp_text_$QP_SIZE.txt
r=$DATA/qp_rand_$QP_SIZE.bin
gen "$t" "$QP_SIZE" text
gen "$r" "$QP_SIZE" random
# Decode inputs as BASELINE.md made them: qprint's encoding (CRLF line
# ends) with CRLF converted to LF for the text; binary kept as written.
[ -s "$t.qp" ] || qprint -e < "$t" | sed 's/\r$//' > "$t.qp"
[ -s "$r.qp" ] || qprint -b -e < "$r" > "$r.qp"
# Untimed check: both decoders give the original back.
cmp -s "$t" <("$BIN/mime-qp" -d < "$t.qp") || { echo "bench: mime-qp -d mismatch (text)" >&2; exit 1; }
cmp -s "$r" <("$BIN/mime-qp" -d < "$r.qp") || { echo "bench: mime-qp -d mismatch (binary)" >&2; exit 1; }
cmp -s "$r" <("$BIN/mime-qp" --binary < "$r" | qprint -d) || { echo "bench: qprint -d mismatch" >&2; exit 1; }
bench_pair qp-encode-text "$QP_SIZE" "$BIN/mime-qp < $t" "qprint -e < $t" qprint
bench_pair qp-decode-text "$QP_SIZE" "$BIN/mime-qp -d < $t.qp" "qprint -d < $t.qp" qprint
bench_pair qp-encode-binary "$QP_SIZE" "$BIN/mime-qp --binary < $r" "qprint -b -e < $r" qprint
bench_pair qp-decode-binary "$QP_SIZE" "$BIN/mime-qp -d < $r.qp" "qprint -d < $r.qp" qprint
