#!/usr/bin/env python3
"""Unpack a message's attachments with Python's email package, as a peer for
bench/mime-unpack.sh: mime_unpack.py MESSAGE DIR writes each attachment,
decoded, as DIR/<its file name> (basename only)."""
import email, email.policy, os, sys

msg_path, out_dir = sys.argv[1], sys.argv[2]
with open(msg_path, "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
for i, part in enumerate(msg.iter_attachments() if msg.is_multipart() else [msg]):
    name = os.path.basename(part.get_filename() or "part-%d" % (i + 1))
    with open(os.path.join(out_dir, name), "wb") as out:
        out.write(part.get_payload(decode=True))
