# RFC 2047 decoding (sourced by bench/codecs): mime-word -d beside Python's
# email.header (decode_header + make_header) and mblaze's mhdr -d, on
# 200,000 encoded Subject lines (mixed charsets, Q and B), as in
# ../shared/research/BASELINE.md (Python ~93k lines/s, mhdr ~147k lines/s).
# Targets: >= 20x Python, >= 10x mhdr. MB/s are of the input; lines/s are
# printed after each line.
need python3
WORD_LINES=${WORD_LINES:-200000}
h=$DATA/word_headers_$WORD_LINES.txt
# gen's size check is in bytes; for `headers` SIZE is a line count.
[ -s "$h" ] || python3 "$BENCH_DIR/gen.py" headers "$WORD_LINES" > "$h"
hbytes=$(stat -c %s "$h")
py_decode='import sys, email.header as h
for l in sys.stdin: print(str(h.make_header(h.decode_header(l.rstrip("\n")))))'
# Untimed check: we and Python agree on every line.
cmp -s <("$BIN/mime-word" -d < "$h") <(python3 -c "$py_decode" < "$h") \
  || { echo "bench: mime-word -d and Python differ on $h" >&2; exit 1; }
lines_per_s() { # appends lines/s to bench_pair's line (from its MB/s)
  awk -v b="$hbytes" -v n="$WORD_LINES" '{ print; for (i = 1; i < NF; i++) if ($(i+1) == "MB/s") r[++k] = $i * 1e6 / b * n }
    END { if (k == 2) printf "%28s ours %.0f lines/s, peer %.0f lines/s\n", "", r[1], r[2] }'
}
bench_pair rfc2047-decode-python "$hbytes" "$BIN/mime-word -d < $h" "python3 -c '$py_decode' < $h" python | lines_per_s
if command -v mhdr >/dev/null; then
  # mhdr reads messages: a maildir of the same lines, 100 Subject fields
  # per message (BASELINE.md's maildir_hdr).
  md=$DATA/word_maildir_$WORD_LINES
  if [ ! -d "$md/cur" ]; then
    mkdir -p "$md/cur" "$md/new" "$md/tmp"
    split -l 100 -a 5 -d "$h" "$md/cur/m"
    for f in "$md"/cur/m*; do printf '\nbody\n' >> "$f"; mv "$f" "$f:2,S"; done
  fi
  bench_pair rfc2047-decode-mhdr "$hbytes" "$BIN/mime-word -d < $h" "mhdr -d -M -h subject $md/cur/*" mhdr | lines_per_s
fi
