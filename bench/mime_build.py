#!/usr/bin/env python3
"""Python's email package building a message with one attachment, for
bench/mime-build.sh: mime_build.py ATTACHMENT OUT."""
import sys
from email.message import EmailMessage
from email import policy

att, out = sys.argv[1], sys.argv[2]
m = EmailMessage(policy=policy.default)
m['Subject'] = 'attachment'
m.set_content('')
with open(att, 'rb') as f:
    m.add_attachment(f.read(), maintype='application', subtype='octet-stream',
                     filename=att.rsplit('/', 1)[-1])
with open(out, 'wb') as f:
    f.write(m.as_bytes())
