#!/usr/bin/env python3
"""Writes the seed inputs of every target into DIR/<target>/ (default
fuzz/seeds/out): the shared corpus's messages (../shared/corpus, each
behind the option bytes its target reads first) and small hand-made
inputs. Seeds are a starting point for `cargo fuzz run`; what is committed
is the minimised corpus (`cargo fuzz cmin`), see fuzz/README.md."""
import hashlib
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
root = here.parent.parent
out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here / "out"
shared = root.parent / "shared" / "corpus"
messages = sorted(
    p.read_bytes()
    for p in shared.rglob("*")
    if p.is_file() and p.suffix in (".msg", ".eml") and p.stat().st_size <= 8192
)


def put(target, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


for i, m in enumerate(messages):
    crlf = m.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    for msg in (m, crlf) if i % 3 == 0 else (m,):
        put("header", bytes([i % 64]) + msg)
        put("multipart", bytes([i % 64, i % 2]) + msg)
        put("extract", bytes([i % 2]) + msg)
        put("dkim", bytes([i % 64, i % 4]) + b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n" + msg)

words = [
    b"=?UTF-8?B?w6k=?= =?UTF-8?Q?=C3=A9_x?=",
    b"[SPAM]=?iso-8859-1?q?caf=E9?= plain",
    b"=?utf-8*en?b?4oCu?= =?x-unknown?q?a?= =?UTF-8?Q?=E2=80?=\r\n =?UTF-8?Q?=AEb?=",
    b"Subject: a\n folded\n\tline\nnext: =?gb2312?b?1tDOxA==?=\n",
    "Grüße 日本語 \t tab".encode(),
]
for i, w in enumerate(words):
    put("word", bytes([i * 7, i]) + w)

for i, b in enumerate([b"", b"aGVsbG8=", b"aGVs\r\nbG8=\r\n", b"YQ==YQ==", b"a b=c\x00", b"////++++" * 20]):
    put("base64", bytes([i * 9, i]) + b)
for i, q in enumerate([b"caf=E9 =\r\nx", b"a = \nb=3d=3D=ZZ", b"From x\n.\n", b"\x00\xff" * 40 + b" \t\n", b"x" * 200]):
    put("qp", bytes([i * 11, i * 5]) + q)

for ct in [
    b'multipart/mixed; boundary="=_a b"; charset=utf-8',
    b"attachment; filename*0*=UTF-8''%E2%82%AC; filename*1=\".txt\"; name=\"=?UTF-8?B?w6k=?=\"",
    b'text/plain; (comment) charset = "us\\"ascii"; format=flowed; x*=bad%zz',
    b"application/x; name*2=c; name*0=a; name*1=b; filename=../../etc/passwd",
]:
    put("content_type", ct)

for line in [b"EHLO x", b"MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME", b"RCPT TO:<\"q x\"@[1.2.3.4]> NOTIFY=SUCCESS", b"BDAT 10 LAST", b"AUTH PLAIN =", b"DATA"]:
    put("command", line)
for flags in (0, 0x3f, 0x7f):
    put("session", bytes([flags, 0x7f]) + b"EHLO x\nAUTH PLAIN AHVzZXIAcGFzcw==\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\n\x00\x00\nBDAT 3 LAST\n\x01\x02\nSTARTTLS\nQUIT\n")

greet = b"220 mx ESMTP\r\n"
ehlo = b"250-mx\r\n250-PIPELINING\r\n250-SIZE 100\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250 DSN\r\n"
ok = b"250 ok\r\n"
for i, script in enumerate([
    greet + ehlo + b"235 ok\r\n" + ok * 3 + b"354 go\r\n" + ok + ok,
    greet + ehlo + b"334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n" + ok * 4 + ok,
    greet + ehlo + b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n535 no\r\n" + ok + b"452 full\r\n550 no\r\n354 go\r\n250 ok\r\n",
    greet + ehlo + b"334 cj1meXtvbmNlLHM9UVNYQ1IrUTZzZWs4YmY5MixpPTQwOTY=\r\n" + b"421 bye\r\n",
    greet + ehlo + b"334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n501 x\r\n" + ok * 4 + ok * 3,
    b"220-a\r\n220 b\r\n250 mx\r\n" + ok * 4 + b"354 x\r\n250 2.0.0 ok\r\n250 a\r\n450 b\r\n",
]):
    put("smtp_client", bytes([i * 13 + 1, 1 << (i % 6), i * 10]) + script)

put("queue", b"\x05\x10mailpipe-queue 1\ncreated 1700000000\nfrom <a@b>\nrcpt <c@d>\nrcpt <\"x y\"@[1.2.3.4]>\nreply 451 4.3.0 try\x1b[31m later\n\nbody\n")
put("queue", b"\x03\x00mailpipe-state 1\nattempts 3\nlast 1700000100\nreply 421\xe2\x80\xae gone\n")
put("queue", b"\x01\x01mailpipe-queue 1\ncreated 1\nfrom <>\nrcpt <Postmaster>\n\n")

put("config", b"\x00[default]\nserver = \"smtps://mx.example:465\"\nuser = \"me\"\npassword_cmd = \"pass show x\"\n[account.work]\nfrom = \"*@work.example\"\n")
put("config", b"\x01defaults\nauth on\ntls on\naccount a\nhost mx\nport 587\nfrom a@b\npasswordeval \"echo x\"\naccount default : a\n")
put("config", b"\x02machine mx.example login me password \"p w\\\"x\"\nmacdef init\nls\n\ndefault login d password e\n")
for u in [b"smtp://[::1]:2525", b"smtps://MX.example", b"mx.example:587", b"lmtp://h", b"starttls://h:25"]:
    put("config", b"\x03" + u)

put("oauth", b'\x00{"provider":"google","client_id":"id","token_url":"https://x/t","scope":"s","refresh_token":"r","access_token":"a","expires_at":5}')
put("oauth", b'\x00{"provider":"custom","client_id":"","client_secret":"s","token_url":"","refresh_scope":true,"expires_at":18446744073709551615}')
put("oauth", b"\x01n,a=us=3Dr=2C,\x01auth=Bearer tok\x01\x01")
put("oauth", b"\x01user=me\x01auth=Bearer tok\x01\x01")
