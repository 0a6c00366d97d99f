# mime-build (sourced by bench/mime): one message with one attachment of
# each size in MIME_SIZES (MiB), beside mpack, mblaze's mmime and Python's
# EmailMessage (bench/mime_build.py), as in ../shared/research/BASELINE.md.
# MB/s are of the attachment. Goal: at least 3x mpack; peak RSS under
# 16 MiB and flat (the same at every size).
need mpack mmime python3
for mib in $MIME_SIZES; do
  att=$DATA/att$mib.bin
  gen "$att" $((mib << 20)) random
  out=$DATA/out/mime.eml
  # mmime reads a draft whose '#type path' lines become attachments.
  draft=$DATA/mmime_att$mib.txt
  printf 'Subject: attachment\n\n#application/octet-stream %s\n' "$att" > "$draft"
  ours="$BIN/mime-build -s attachment '$att;type=application/octet-stream' > $out"
  # Untimed check: Python reads our attachment back byte for byte.
  bash -c "$ours"
  python3 - "$out" "$att" <<'PY' || { echo "bench: mime-build output mismatch" >&2; exit 1; }
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
part = next(m.iter_attachments())
sys.exit(part.get_payload(decode=True) != open(sys.argv[2], 'rb').read())
PY
  # mpack refuses to overwrite its output: remove it first (pair.py puts
  # `exec` before the command, so the removal runs in a shell of its own).
  bench_pair "mime-build-${mib}MiB" $((mib << 20)) "$ours" \
    "bash -c 'rm -f $out; exec mpack -s attachment -c application/octet-stream -o $out $att'" mpack
  bench_pair "mime-build-${mib}MiB" $((mib << 20)) "$ours" "mmime < $draft > $out" mblaze-mmime
  bench_pair "mime-build-${mib}MiB" $((mib << 20)) "$ours" \
    "/usr/bin/python3 $BENCH_DIR/mime_build.py $att $out" python-email
done
