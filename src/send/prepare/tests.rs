use super::scan::Scanner;
use super::*;
use crate::exit::Status as _;
use crate::smtp::envelope::test_mailbox as mb;
fn scan_chunks(chunks: &[&[u8]], dot: bool) -> Result<Scan, LongLine> {
    let mut s = Scanner::new(dot);
    for c in chunks {
        if s.feed(c)?.is_some() {
            break;
        }
    }
    s.finish()
}

#[test]
fn scan_sizes_and_8bit() {
    let cases: &[(&[u8], u64, bool)] = &[
        (b"", 0, false),
        (b"a\r\n", 3, false),
        (b"a\n", 3, false),
        (b"a", 3, false),
        (b"a\rb", 6, false),
        (b"a\r\r\n", 5, false),
        (b"a\nb\r\nc", 9, false),
        ("é\n".as_bytes(), 4, true),
        (b"\n\n", 4, false),
    ];
    for (text, wire, eight) in cases {
        let s = scan_bytes(text).unwrap();
        assert_eq!(
            (s.wire, s.eight_bit, s.len),
            (*wire, *eight, text.len() as u64),
            "{text:?}"
        );
    }
}

#[test]
fn scan_line_limit() {
    let ok = [vec![b'x'; 998], b"\r\n".to_vec()].concat();
    assert!(scan_bytes(&ok).is_ok());
    let ok_lf = [vec![b'x'; 998], b"\n".to_vec()].concat();
    assert!(scan_bytes(&ok_lf).is_ok());
    let long = [b"a\n".to_vec(), vec![b'x'; 999], b"\n".to_vec()].concat();
    assert_eq!(scan_bytes(&long), Err(LongLine { line: 2 }));
    let long_last = [b"a\n".to_vec(), vec![b'x'; 999]].concat();
    assert_eq!(scan_bytes(&long_last), Err(LongLine { line: 2 }));
    // refused early, before the line ends
    let mut s = Scanner::new(false);
    assert!(s.feed(&[b'x'; 5000]).is_err());
}

#[test]
fn scan_dot_line_ends_input_in_sendmail_mode() {
    let cases: &[(&[&[u8]], u64)] = &[
        (&[b"a\n.\nb\n"], 2),
        (&[b"a\n.\r\nb\n"], 2),
        (&[b".\nb\n"], 0),
        (&[b"a\n."], 2),
        (&[b"a\n.\r"], 2),
        (&[b"a\n", b".", b"\nb"], 2),
        (&[b"a\n.", b"\r", b"\nb"], 2),
        (&[b"a\n..\nb\n"], 7),
        (&[b"a\n.b\n"], 5),
        (&[b"a.\n"], 3),
    ];
    for (chunks, len) in cases {
        let s = scan_chunks(chunks, true).unwrap();
        assert_eq!(s.len, *len, "{chunks:?}");
        let text: Vec<u8> = chunks.concat()[..*len as usize].to_vec();
        assert_eq!(s.wire, scan_bytes(&text).unwrap().wire, "{chunks:?}");
        // without sendmail mode nothing ends early
        let all = scan_chunks(chunks, false).unwrap();
        assert_eq!(all.len, chunks.concat().len() as u64);
    }
}

proptest::proptest! {
    #[test]
    fn scan_is_the_same_for_any_split(
        text in proptest::collection::vec(proptest::sample::select(vec![b'a', b'.', b'\r', b'\n', 0xc3]), 0..64),
        cuts in proptest::collection::vec(0usize..64, 0..6),
        dot in proptest::bool::ANY,
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
        cuts.sort();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for c in cuts { chunks.push(&text[prev..c]); prev = c; }
        chunks.push(&text[prev..]);
        let whole = scan_chunks(&[&text], dot);
        let split = scan_chunks(&chunks, dot);
        proptest::prop_assert_eq!(whole.clone(), split);
        if let Ok(s) = whole {
            // the wire size is the size of the normalised text
            let t = &text[..s.len as usize];
            let mut wire = Vec::new();
            let mut i = 0;
            while i < t.len() {
                match t[i] {
                    b'\r' if t.get(i + 1) == Some(&b'\n') => { wire.extend_from_slice(b"\r\n"); i += 1; }
                    b'\r' | b'\n' => wire.extend_from_slice(b"\r\n"),
                    b => wire.push(b),
                }
                i += 1;
            }
            if !wire.is_empty() && !wire.ends_with(b"\r\n") { wire.extend_from_slice(b"\r\n"); }
            proptest::prop_assert_eq!(s.wire, wire.len() as u64);
        }
    }
}

fn opts() -> PrepareOptions {
    PrepareOptions {
        hostname: "host.example".to_owned(),
        now: Some(UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000)),
        ..PrepareOptions::default()
    }
}

fn text(p: &mut Prepared) -> String {
    let mut s = Vec::new();
    p.reader().read_to_end(&mut s).unwrap();
    String::from_utf8(s).unwrap()
}

fn stream(s: &str) -> Source {
    Source::Stream(Box::new(Cursor::new(s.as_bytes().to_vec())))
}

fn file(s: &[u8]) -> Source {
    let mut f = spool_file().unwrap();
    f.write_all(s).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    Source::from_file(f)
}

const FULL: &str =
    "From: A <a@a.example>\nTo: b@b.example\nDate: x\nMessage-ID: <1@a.example>\n\nbody\n";

#[test]
fn complete_message_is_sent_as_is() {
    let o = PrepareOptions {
        recipients: vec![mb("c@c.example")],
        ..opts()
    };
    let mut p = prepare(stream(FULL), &o).unwrap();
    assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("a@a.example")));
    assert_eq!(p.envelope.rcpts, vec![mb("c@c.example")]);
    assert_eq!(
        text(&mut p),
        "From: A <a@a.example>\r\nTo: b@b.example\r\nDate: x\r\nMessage-ID: <1@a.example>\r\n\r\nbody\n"
    );
    assert_eq!(p.envelope.size, FULL.len() as u64 + 6);
    assert!(!p.envelope.eight_bit && !p.envelope.smtputf8);
}

#[test]
fn aliases_change_the_envelope_of_t_not_the_header() {
    let aliases = crate::send::aliases::parse(
        "root: admin@x.example, ops\ndefault: catchall@x.example\n",
        "al",
    )
    .unwrap();
    let o = PrepareOptions {
        extract: true,
        recipients: vec![mb("arg@y.example")],
        qualify_domain: Some("q.example".to_owned()),
        hostname: "q.example".to_owned(),
        aliases: Some(Arc::new(aliases)),
        ..opts()
    };
    let msg =
        "From: cron@y.example\nTo: root\nCc: www-data, c@y.example\nBcc: admin@x.example\n\nhi\n";
    let mut p = prepare(stream(msg), &o).unwrap();
    assert_eq!(
        p.envelope.rcpts,
        vec![
            mb("arg@y.example"),
            mb("admin@x.example"),
            mb("ops@q.example"),
            mb("catchall@x.example"),
            mb("c@y.example"),
        ]
    );
    // The header as written (only --qualify-domain's own rewrite).
    let t = text(&mut p);
    assert!(
        t.contains("\r\nTo: root@q.example\r\nCc: www-data@q.example, c@y.example\r\n"),
        "{t}"
    );
    // Without -t, the header's names are not recipients at all.
    let o = PrepareOptions {
        extract: false,
        ..o
    };
    let p = prepare(stream(msg), &o).unwrap();
    assert_eq!(p.envelope.rcpts, vec![mb("arg@y.example")]);
}

#[test]
fn missing_fields_are_added() {
    let o = PrepareOptions {
        from: Some(ReversePath::Mailbox(mb("me@sender.example"))),
        full_name: Some("Cron Daemon".to_owned()),
        recipients: vec![mb("c@c.example")],
        ..opts()
    };
    let mut p = prepare(stream("Subject: hi\n\nbody"), &o).unwrap();
    let t = text(&mut p);
    let (head, body) = t.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, "body");
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[0], "Subject: hi");
    assert_eq!(lines[1], "From: Cron Daemon <me@sender.example>");
    assert_eq!(lines[2], "Date: Sun, 9 Sep 2001 01:46:40 +0000");
    assert!(
        lines[3].starts_with("Message-ID: <") && lines[3].ends_with("@sender.example>"),
        "{}",
        lines[3]
    );
    assert_eq!(p.envelope.size, t.len() as u64 + 2);
}

#[test]
fn from_names() {
    assert_eq!(display_mailbox(None, "a@b"), "a@b");
    assert_eq!(display_mailbox(Some("  "), "a@b"), "a@b");
    assert_eq!(
        display_mailbox(Some("Doe, John"), "a@b"),
        "\"Doe, John\" <a@b>"
    );
    assert_eq!(
        display_mailbox(Some("Jörg"), "a@b"),
        "=?UTF-8?B?SsO2cmc=?= <a@b>"
    );
    // A line break or an encoded-word look-alike in the name is encoded,
    // never written raw (it would split the field or be decoded).
    assert_eq!(
        display_mailbox(Some("Eve\r\nBcc: x@evil"), "a@b"),
        "\"Eve Bcc: x@evil\" <a@b>"
    );
    let m = display_mailbox(Some("=?UTF-8?B?QQ==?="), "a@b");
    assert!(
        m.starts_with("=?UTF-8?B?") && !m.starts_with("=?UTF-8?B?QQ==?="),
        "{m}"
    );
    let long = "ü".repeat(40);
    let m = display_mailbox(Some(&long), "a@b");
    assert!(m.split(' ').all(|w| w.len() <= 75), "{m}");
    assert_eq!(
        crate::message::header::decode(m.rsplit_once(' ').unwrap().0.as_bytes()),
        long
    );
}

#[test]
fn extract_strips_bcc_and_dedupes() {
    // The domain compared in any case, the local part as written (RFC
    // 5321 §2.4): B@b.example is another mailbox.
    let msg = "From: a@a.example\nTo: b@b.example, C <c@c.example>\nCc: b@B.EXAMPLE, B@b.example\nBcc: secret@d.example,\n  other@d.example, x@X.example\nSubject: s\n\nbody\n";
    let o = PrepareOptions {
        extract: true,
        recipients: vec![mb("x@x.example")],
        ..opts()
    };
    let mut p = prepare(stream(msg), &o).unwrap();
    assert_eq!(
        p.envelope.rcpts,
        [
            "x@x.example",
            "b@b.example",
            "c@c.example",
            "B@b.example",
            "secret@d.example",
            "other@d.example"
        ]
        .map(mb)
    );
    let t = text(&mut p);
    assert!(!t.contains("Bcc") && !t.contains("secret"), "{t}");
    assert!(t.contains("Cc: b@B.EXAMPLE, B@b.example\r\n"));
}

#[test]
fn bug_bare_cr_in_header_is_refused() {
    let o = PrepareOptions {
        extract: true,
        ..opts()
    };
    let cases: &[(&[u8], u64)] = &[
        // One field to the header reader, two lines on the wire.
        (
            b"From: a@a.example\nTo: t@b.example\nSubject: hi\rBcc: s@x.example\n\nb\n",
            3,
        ),
        // Would end the header early on the wire.
        (
            b"From: a@a.example\nTo: t@b.example\nSubject: x\r\r\nX: y\n\nb\n",
            3,
        ),
        (b"To: t@b.example\r\nSubject: x\r", 2),
        (b"From x\ry\nTo: t@b.example\n\nb\n", 1),
    ];
    for (msg, line) in cases {
        for verbatim in [false, true] {
            let o = PrepareOptions {
                verbatim,
                ..o.clone()
            };
            for src in [
                Source::Stream(Box::new(Cursor::new(msg.to_vec()))),
                file(msg),
            ] {
                let e = prepare(src, &o).unwrap_err();
                assert_eq!(e.exit_code(), 65, "{msg:?}");
                assert!(
                    e.to_string()
                        .contains(&format!("bare CR in header line {line} ")),
                    "{msg:?}: {e}"
                );
            }
        }
    }
    // In the body (the first body line included) a bare CR is a line
    // end, as dot.rs sends it; CRLF headers are fine.
    for msg in [
        "From: a@a.example\r\nTo: t@b.example\r\nSubject: x\r\n\r\na\rb\n",
        "From: a@a.example\nTo: t@b.example\nno colon\rhere\n",
    ] {
        if let Err(e) = prepare(stream(msg), &o) {
            panic!("{msg:?}: {e}");
        }
    }
}

#[test]
fn bug_adjacent_resent_blocks_were_merged() {
    // Two resends: the newer block is first (RFC 5322 §3.6.6). -t took
    // both blocks' recipients and the original From as MAIL FROM.
    let msg = "Resent-Date: Mon, 2 Jan 2023 00:00:00 +0000\nResent-From: second@r.example\n\
               Resent-To: now@n.example\nResent-Date: Sun, 1 Jan 2023 00:00:00 +0000\n\
               Resent-From: first@r.example\nResent-To: before@b.example\n\
               From: a@a.example\nTo: b@b.example\n\nbody\n";
    let o = PrepareOptions {
        extract: true,
        ..opts()
    };
    let p = prepare(stream(msg), &o).unwrap();
    assert_eq!(p.envelope.rcpts, ["now@n.example"].map(mb));
    assert_eq!(
        p.envelope.from,
        ReversePath::Mailbox(mb("second@r.example"))
    );
    // Resent-Sender wins over Resent-From; -f over both; without -t the
    // sender is Sender:/From: as before.
    let msg = "Resent-From: r@r.example\nResent-Sender: s@r.example\nResent-To: t@t.example\n\
               Resent-From: old@r.example\nFrom: a@a.example\n\nbody\n";
    let p = prepare(stream(msg), &o).unwrap();
    assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("s@r.example")));
    assert_eq!(p.envelope.rcpts, ["t@t.example"].map(mb));
    let f = PrepareOptions {
        from: Some(ReversePath::Mailbox(mb("me@m.example"))),
        ..o.clone()
    };
    let p = prepare(stream(msg), &f).unwrap();
    assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("me@m.example")));
    let plain = PrepareOptions {
        recipients: vec![mb("x@x.example")],
        ..opts()
    };
    let p = prepare(stream(msg), &plain).unwrap();
    assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("a@a.example")));
}

#[test]
fn extract_uses_the_first_resent_block() {
    let msg = "Resent-From: r@r.example\nResent-To: new@n.example\nResent-Bcc: hidden@n.example\nReceived: x\nResent-To: old@o.example\nFrom: a@a.example\nTo: b@b.example\n\nbody\n";
    let o = PrepareOptions {
        extract: true,
        ..opts()
    };
    let mut p = prepare(stream(msg), &o).unwrap();
    assert_eq!(
        p.envelope.rcpts,
        ["new@n.example", "hidden@n.example"].map(mb)
    );
    assert!(!text(&mut p).contains("hidden"));
}

#[test]
fn envelope_errors() {
    let o = PrepareOptions {
        extract: true,
        ..opts()
    };
    let e = prepare(stream("From: a@a.example\n\nx\n"), &o).unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
    let e = prepare(
        stream("From: a@a.example\nTo: b@b.example, <broken\n\nx\n"),
        &o,
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
    assert!(e.to_string().starts_with("To: "), "{e}");
    let e = prepare(stream("From: a@a.example\n\nx\n"), &opts()).unwrap_err();
    assert_eq!(e.exit_code(), 64, "{e}");
    let o = PrepareOptions {
        recipients: vec![mb("b@b")],
        ..opts()
    };
    let e = prepare(stream("Subject: x\n\nx\n"), &o).unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
    // the default sender when the message has none
    let o = PrepareOptions {
        default_sender: Some(mb("user@host.example")),
        ..o
    };
    let p = prepare(stream("Subject: x\n\nx\n"), &o).unwrap();
    assert_eq!(
        p.envelope.from,
        ReversePath::Mailbox(mb("user@host.example"))
    );
}

#[test]
fn sender_comes_from_sender_then_from() {
    let o = PrepareOptions {
        recipients: vec![mb("b@b")],
        ..opts()
    };
    let p = prepare(stream("From: f@f.example\nSender: s@s.example\n\nx"), &o).unwrap();
    assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("s@s.example")));
    let p = prepare(stream("From: Cron <root>\n\nx"), &o).unwrap();
    assert_eq!(
        p.envelope.from,
        ReversePath::Mailbox(mb("root@host.example"))
    );
    let o = PrepareOptions {
        from: Some(ReversePath::Null),
        ..o
    };
    let p = prepare(stream("From: f@f.example\n\nx"), &o).unwrap();
    assert_eq!(p.envelope.from, ReversePath::Null);
}

#[test]
fn verbatim_keeps_the_bytes() {
    let msg = "From x  Mon\nFrom: a@a.example\nBcc: b@b.example\n\nbody";
    let o = PrepareOptions {
        verbatim: true,
        recipients: vec![mb("b@b")],
        ..opts()
    };
    let mut p = prepare(stream(msg), &o).unwrap();
    assert_eq!(text(&mut p), msg);
    let o = PrepareOptions {
        from: Some(ReversePath::Null),
        ..o
    };
    let mut p = prepare(stream(".first byte\n..\n"), &o).unwrap();
    assert_eq!(text(&mut p), ".first byte\n..\n");
}

#[test]
fn headerless_input_gets_a_header() {
    let o = PrepareOptions {
        recipients: vec![mb("b@b")],
        from: Some(ReversePath::Mailbox(mb("a@a"))),
        ..opts()
    };
    let mut p = prepare(stream("just text\nmore\n"), &o).unwrap();
    let t = text(&mut p);
    assert!(t.starts_with("From: a@a\r\nDate: "), "{t}");
    assert!(t.ends_with("\r\n\r\njust text\nmore\n"), "{t}");
}

#[test]
fn sendmail_dot_ends_input() {
    let o = PrepareOptions {
        dot_ends: true,
        recipients: vec![mb("b@b")],
        ..opts()
    };
    let mut p = prepare(
        stream("From: a@a\nDate: d\nMessage-ID: <m@a>\n\nbody\n.\nnot sent\n"),
        &o,
    )
    .unwrap();
    assert_eq!(
        text(&mut p),
        "From: a@a\r\nDate: d\r\nMessage-ID: <m@a>\r\n\r\nbody\n"
    );
    let mut p = prepare(
        stream("From: a@a\nDate: d\nMessage-ID: <m@a>\n.\nnot sent\n"),
        &o,
    )
    .unwrap();
    assert_eq!(
        text(&mut p),
        "From: a@a\r\nDate: d\r\nMessage-ID: <m@a>\r\n\r\n"
    );
    let o = PrepareOptions {
        verbatim: true,
        ..o
    };
    let mut p = prepare(stream("From: a@a\n.\nnot sent\n"), &o).unwrap();
    assert_eq!(text(&mut p), "From: a@a\n");
    let mut p = prepare(file(b"From: a@a\n\nx\n.\nnot sent\n"), &o).unwrap();
    assert_eq!(text(&mut p), "From: a@a\n\nx\n");
}

#[test]
fn files_and_streams_agree_and_big_streams_spool() {
    let o = PrepareOptions {
        recipients: vec![mb("b@b")],
        verbatim: true,
        ..opts()
    };
    let mut big = b"From: a@a\n\n".to_vec();
    let line = "0123456789 é abcdefghijklmnopqrstuvwxyz\n";
    while big.len() < 3 * MEM_SPOOL {
        big.extend_from_slice(line.as_bytes());
    }
    big.extend_from_slice(b"no newline");
    let mut from_file = prepare(file(&big), &o).unwrap();
    let mut from_stream = prepare(Source::Stream(Box::new(Cursor::new(big.clone()))), &o).unwrap();
    assert!(matches!(from_stream.body, Body::File(_)));
    assert_eq!(from_file.envelope, from_stream.envelope);
    assert!(from_file.envelope.eight_bit);
    let mut a = Vec::new();
    from_file.reader().read_to_end(&mut a).unwrap();
    let mut b = Vec::new();
    from_stream.reader().read_to_end(&mut b).unwrap();
    assert!(a == big && b == big);
}

#[test]
fn long_lines_refused_before_sending() {
    let o = PrepareOptions {
        recipients: vec![mb("b@b")],
        ..opts()
    };
    let msg = format!("From: a@a\n\nok\n{}\n", "x".repeat(1200));
    let e = prepare(stream(&msg), &o).unwrap_err();
    assert_eq!(e.exit_code(), 65);
    assert!(e.to_string().contains("line 2 of the body"), "{e}");
    let msg = format!("From: a@a\nSubject: {}\n\nok\n", "x".repeat(1200));
    let e = prepare(stream(&msg), &o).unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
}

#[test]
fn downgrade_reencodes_long_lines_at_prepare() {
    let o = PrepareOptions {
        recipients: vec![mb("b@b")],
        downgrade: true,
        ..opts()
    };
    let msg = format!(
        "From: a@a\nDate: d\nMessage-ID: <m@a>\n\nok \u{e9}\n{}\n",
        "x".repeat(1200)
    );
    let mut p = prepare(stream(&msg), &o).unwrap();
    let t = text(&mut p);
    assert!(
        t.contains("Content-Transfer-Encoding: quoted-printable\r\n"),
        "{t}"
    );
    assert!(t.lines().all(|l| l.len() <= 76), "{t}");
    // The part is quoted-printable now, its 8-bit octets too.
    assert!(!p.envelope.eight_bit && t.contains("ok =C3=A9"));
    assert_eq!(p.envelope.size, wire_len(t.as_bytes()));
    assert_eq!(p.len(), t.len() as u64);
    assert!(t.starts_with(std::str::from_utf8(p.head()).unwrap()));
    assert!(p.head().ends_with(b"\r\n\r\n"));
}

fn wire_len(t: &[u8]) -> u64 {
    let s = scan_bytes(t).unwrap();
    s.wire
}

#[test]
fn smtputf8_when_an_address_needs_it() {
    let o = PrepareOptions {
        recipients: vec![mb("ü@x.example")],
        ..opts()
    };
    let p = prepare(stream("From: a@a\n\nx\n"), &o).unwrap();
    assert!(p.envelope.smtputf8);
}

#[test]
fn bug_binary_mime_is_decided_once_by_the_mime_parser() {
    let opts = PrepareOptions {
        from: Some(ReversePath::Mailbox(mb("a@example.org"))),
        recipients: vec![mb("b@example.org")],
        verbatim: true,
        hostname: "h".into(),
        ..PrepareOptions::default()
    };
    for (head, want) in [
        (&b"Content-Transfer-Encoding: binary\r\n\r\n"[..], true),
        (
            b"Subject: x\r\nCONTENT-TRANSFER-ENCODING:\r\n BINARY (raw)\r\n\r\n",
            true,
        ),
        // RFC 2045 §6's token ends at `;`, as multipart::Encoding reads it.
        (b"Content-Transfer-Encoding: binary;x\r\n\r\n", true),
        // Not canonical (LF line ends): sent as text.
        (b"Content-Transfer-Encoding: binary\n\n", false),
        (b"Content-Transfer-Encoding: 8bit\r\n\r\n", false),
        (b"Subject: binary\r\n\r\n", false),
        (b"\r\n", false),
    ] {
        let m = prepare(
            Source::Stream(Box::new(io::Cursor::new(head.to_vec()))),
            &opts,
        )
        .unwrap();
        assert_eq!(m.envelope.binary, want, "{}", String::from_utf8_lossy(head));
    }
}

#[test]
fn nul_octets_are_refused_or_re_encoded() {
    // Issue 17, finding 6: NUL went to the wire unchanged with -t.
    let o = PrepareOptions {
        extract: true,
        ..opts()
    };
    let head_nul = "From: a@a.example\nTo: b@b.example\nSubject: x\0y\n\nbody\n";
    let Err(e) = prepare(stream(head_nul), &o) else {
        panic!("a NUL in the header was taken")
    };
    assert_eq!(e.exit_code(), 65);
    assert!(e.to_string().contains("NUL octet in header line 3"), "{e}");
    // Even with --downgrade: a header field has no encoding for it.
    let down = PrepareOptions {
        downgrade: true,
        ..o.clone()
    };
    assert!(prepare(stream(head_nul), &down).is_err());
    let body_nul = "From: a@a.example\nTo: b@b.example\n\nhi\0there\n";
    let Err(e) = prepare(stream(body_nul), &o) else {
        panic!("a NUL in the body was taken")
    };
    assert_eq!(e.exit_code(), 65);
    assert!(e.to_string().contains("NUL octet in the body"), "{e}");
    // --downgrade: the part is quoted-printable, the NUL =00.
    let mut p = prepare(stream(body_nul), &down).unwrap();
    assert!(!p.envelope.nul);
    let t = text(&mut p);
    assert!(t.contains("hi=00there") && !t.contains('\0'), "{t}");
    // Binary MIME may hold it: it goes only as BODY=BINARYMIME.
    let binary = "From: a@a.example\r\nTo: b@b.example\r\nMIME-Version: 1.0\r\n\
                  Content-Transfer-Encoding: binary\r\n\r\nhi\0there\r\n";
    let p = prepare(stream(binary), &o).unwrap();
    assert!(p.envelope.binary && p.envelope.nul);
}
