#!/usr/bin/env python3
"""Deterministic benchmark inputs: gen.py random|text|headers SIZE > file.

random: pseudo-random bytes. text: English-like prose, lines of 40-120
columns (so most are over 76), ~2 % non-ASCII (UTF-8), some '=' and trailing
spaces. headers: SIZE lines of RFC 2047 encoded Subject values (mixed
charsets, Q and B), like ../shared/research/BASELINE.md's hdr200k.txt.
"""
import base64, random, sys

kind, size = sys.argv[1], int(sys.argv[2])
rng = random.Random(2026)
out = sys.stdout.buffer
if kind == "random":
    left = size
    while left:
        n = min(left, 1 << 20)
        out.write(rng.randbytes(n))
        left -= n
elif kind == "text":
    words = ("the quick brown fox jumps over lazy dog mail header body line "
             "message client server naïve café über résumé = € protocol").split()
    buf = bytearray()
    while len(buf) < size:
        line = []
        width = rng.randint(40, 120)
        n = 0
        while n < width:
            w = rng.choice(words)
            line.append(w)
            n += len(w) + 1
        s = " ".join(line)
        if rng.random() < 0.05:
            s += " "
        buf += s.encode() + b"\n"
    out.write(bytes(buf[:size]))
elif kind == "headers":
    texts = ["Grüße aus Köln – Rechnung Nr. {}", "Ваш заказ {} отправлен", "会議の議事録 {}",
             "Réunion de l'équipe {} à 14h", "Re: [list] build {} failed ✔", "plain ascii subject {}"]
    charsets = ["utf-8", "iso-8859-1", "koi8-r", "iso-2022-jp"]
    for i in range(size):
        t = texts[i % len(texts)].format(i)
        enc = "utf-8"
        for cs in ("iso-8859-1", "koi8-r", "iso-2022-jp"):
            try:
                t.encode(cs); enc = cs if rng.random() < 0.5 else "utf-8"; break
            except UnicodeEncodeError:
                pass
        raw = t.encode(enc)
        if rng.random() < 0.5:
            word = "=?%s?B?%s?=" % (enc, base64.b64encode(raw).decode())
        else:
            q = "".join(chr(c) if (48 <= c < 123 and chr(c).isalnum()) else ("_" if c == 32 else "=%02X" % c) for c in raw)
            word = "=?%s?Q?%s?=" % (enc, q)
        out.write(("Subject: " + word + "\n").encode())
else:
    sys.exit("gen.py: kind must be random, text or headers")
