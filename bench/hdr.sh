# mime-hdr: 200,000 RFC 2047-encoded Subject lines, laid out as in
# ../shared/research/BASELINE.md: a maildir of 2,000 messages x 100 Subject
# fields each. Ours (`mime-hdr -n subject`, every occurrence) beside mblaze
# `mhdr -d -M -h subject` and Python's email.header (decode_header +
# make_header). Figures are header lines per second (bench_pair's MB/s of
# BYTES = lines x 10^6 is lines/s).
# Sourced by bench/codecs (build_release and lib.sh already done).
need mhdr python3
HDR_LINES=${HDR_LINES:-200000}
HDR_TXT=$DATA/hdr$HDR_LINES.txt
HDR_MD=$DATA/maildir_hdr$HDR_LINES
# gen's size check counts bytes; for the headers kind SIZE is a line count.
[ -s "$HDR_TXT" ] || gen "$HDR_TXT" "$HDR_LINES" headers
if [ ! -d "$HDR_MD/cur" ]; then
  mkdir -p "$HDR_MD/cur"
  awk -v dir="$HDR_MD/cur" '
    (NR - 1) % 100 == 0 { f = sprintf("%s/msg%05d", dir, (NR - 1) / 100) }
    { print > f }
    NR % 100 == 0 { print "\nbody" > f; close(f) }' "$HDR_TXT"
fi
cat > "$DATA/hdr_email_header.py" <<'PY'
import sys
from email.header import decode_header, make_header
out = sys.stdout
for path in sys.argv[1:]:
    with open(path, encoding="ascii", errors="surrogateescape") as f:
        for line in f:
            if line in ("\n", "\r\n"):
                break
            name, _, value = line.partition(":")
            if name.lower() == "subject":
                out.write(str(make_header(decode_header(value.strip()))) + "\n")
PY
HDR_FILES=$(ls "$HDR_MD"/cur/* | tr '\n' ' ')

# Untimed sanity check: every occurrence printed, and the same text as the
# peers (ours prefixes each line with the file name, as grep does).
ours_out=$("$BIN/mime-hdr" -n subject $HDR_FILES | sed 's/^[^:]*://')
[ "$(printf '%s\n' "$ours_out" | wc -l)" = "$HDR_LINES" ] || { echo "bench hdr: line count differs" >&2; exit 70; }
[ "$ours_out" = "$(mhdr -d -M -h subject $HDR_FILES)" ] || { echo "bench hdr: output differs from mhdr" >&2; exit 70; }
[ "$ours_out" = "$(python3 "$DATA/hdr_email_header.py" $HDR_FILES)" ] || { echo "bench hdr: output differs from python" >&2; exit 70; }

bench_pair "hdr-subject-200k-mhdr" "$((HDR_LINES * 1000000))" "$BIN/mime-hdr -n subject $HDR_FILES" \
  "mhdr -d -M -h subject $HDR_FILES" mhdr | sed 's|MB/s|lines/s|g'
bench_pair "hdr-subject-200k-python" "$((HDR_LINES * 1000000))" "$BIN/mime-hdr -n subject $HDR_FILES" \
  "python3 $DATA/hdr_email_header.py $HDR_FILES" python | sed 's|MB/s|lines/s|g'
