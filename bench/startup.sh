# Start-up: each tool's --version as a whole process, beside coreutils
# base64 --version (sourced by bench/codecs). hyperfine -N runs without a
# shell; target: within 1.5x of base64.
need hyperfine base64
echo "--- startup (hyperfine -N, median of 300 runs)"
json=$(mktemp)
hyperfine -N --runs 300 --warmup 20 --export-json "$json" \
  'base64 --version' \
  "$BIN/mime-b64 --version" "$BIN/mime-qp --version" \
  "$BIN/mime-word --version" "$BIN/mime-hdr --version" >/dev/null 2>&1
python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["median"]
for x in r:
    name = x["command"].split("/")[-1]
    print(f"{name:28} median {x['median']*1000:6.2f} ms   ratio to base64 {x['median']/base:5.2f}x")
PY
rm -f "$json"
