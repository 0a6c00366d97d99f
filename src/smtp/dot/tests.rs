//! Unit tests of `dot`.

use super::*;
use proptest::prelude::*;
use std::io::BufReader;

const CAPS: [usize; 6] = [1, 2, 3, 7, 64, 1 << 16];

fn opts(bare: BareNewline, lf_out: bool) -> DataOptions {
    DataOptions {
        bare,
        lf_out,
        ..DataOptions::default()
    }
}

/// Runs `read_data` over `input` with a BufReader of capacity `cap`;
/// returns the result, what was written and what is left unread.
fn run(input: &[u8], o: &DataOptions, cap: usize) -> (io::Result<DataEnd>, Vec<u8>, Vec<u8>) {
    let mut r = BufReader::with_capacity(cap, input);
    let mut out = Vec::new();
    let res = read_data(&mut r, &mut out, o);
    let mut rest = Vec::new();
    io::Read::read_to_end(&mut r, &mut rest).unwrap();
    (res, out, rest)
}

/// Checks one vector at every buffer capacity.
fn check(input: &[u8], o: &DataOptions, want: &[u8], outcome: DataOutcome, rest: &[u8]) {
    for cap in CAPS {
        let (res, out, left) = run(input, o, cap);
        let end = res.unwrap_or_else(|e| panic!("{input:?} cap {cap}: {e}"));
        assert_eq!(
            end.outcome,
            outcome,
            "{:?} cap {cap}",
            String::from_utf8_lossy(input)
        );
        if outcome == DataOutcome::Complete {
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(want),
                "{:?} cap {cap}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(left, rest, "{:?} cap {cap}", String::from_utf8_lossy(input));
    }
}

#[test]
fn plain_messages() {
    let o = DataOptions::default();
    let c = DataOutcome::Complete;
    // §4.1.1.4: the CRLF ending DATA counts, so "." first is empty.
    check(b".\r\n", &o, b"", c, b"");
    check(b".\r\nQUIT\r\n", &o, b"", c, b"QUIT\r\n");
    check(b"a\r\n.\r\n", &o, b"a\r\n", c, b"");
    check(b"\r\n.\r\n", &o, b"\r\n", c, b"");
    check(
        b"Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b>\r\n",
        &o,
        b"Subject: x\r\n\r\nbody\r\n",
        c,
        b"MAIL FROM:<a@b>\r\n",
    );
    // Pipelined next transaction right after, including its own dot.
    check(b"x\r\n.\r\n.\r\n", &o, b"x\r\n", c, b".\r\n");
}

#[test]
fn unstuffing() {
    // RFC 5321 §4.5.2.
    let o = DataOptions::default();
    let c = DataOutcome::Complete;
    check(b"..\r\n.\r\n", &o, b".\r\n", c, b"");
    check(b"...\r\n.\r\n", &o, b"..\r\n", c, b"");
    check(b".x\r\n.\r\n", &o, b"x\r\n", c, b"");
    check(b"..x\r\n.\r\n", &o, b".x\r\n", c, b"");
    check(b"a\r\n..\r\nb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
    check(b"a.\r\n.b.\r\n.\r\n", &o, b"a.\r\nb.\r\n", c, b"");
    check(b"a\r\n. \r\n.\r\n", &o, b"a\r\n \r\n", c, b"");
    check(b"..\r\n..\r\n..\r\n.\r\n", &o, b".\r\n.\r\n.\r\n", c, b"");
    let lf = opts(BareNewline::Reject, true);
    check(b"..\r\na\r\n\r\n.\r\n", &lf, b".\na\n\n", c, b"");
}

#[test]
fn lf_out() {
    let o = opts(BareNewline::Reject, true);
    let c = DataOutcome::Complete;
    check(b"a\r\nb\r\n.\r\n", &o, b"a\nb\n", c, b"");
    check(b"\r\n\r\n.\r\n", &o, b"\n\n", c, b"");
    check(b".\r\n", &o, b"", c, b"");
}

/// The smuggling vectors of reliability.md §2.1 (V1–V8), each followed
/// by a would-be smuggled command and then the real end.
#[test]
fn smuggling_vectors() {
    // (sequence, contains a bare CR or LF)
    let fake: &[(&[u8], bool)] = &[
        (b"\n.\n", true),          // V1
        (b"\n.\r\n", true),        // V2
        (b"\r\n.\n", true),        // V3
        (b"\r.\r", true),          // V4
        (b"\r.\r\n", true),        // V5
        (b"\r\n.\r", true),        // V6
        (b"\n\n.\r\n", true),      // V7
        (b"\r\n\x00.\r\n", false), // V8: plain text lines
        (b"\r\n.\x00\r\n", false),
        (b"\r\n\x00.\r", true),
        (b"\r\n\x00.\n", true),
        (b"\r\r\n.\n", true),
        (b"\n\r\n.\n", true),
        (b".\n", true),
        (b"\r\n.\n.\n", true),
    ];
    let smuggled = b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nspoof\r\n";
    for &(f, has_bare) in fake {
        let mut input = b"hello".to_vec();
        input.extend_from_slice(f);
        input.extend_from_slice(smuggled);
        input.extend_from_slice(b".\r\nQUIT\r\n");
        if has_bare {
            check(
                &input,
                &DataOptions::default(),
                b"",
                DataOutcome::BareNewline,
                b"QUIT\r\n",
            );
        } else {
            // RFC 5321 §4.5.2: ".\0" is a stuffed line, unstuffed to "\0".
            let f: &[u8] = if f == b"\r\n.\x00\r\n" {
                b"\r\n\x00\r\n"
            } else {
                f
            };
            let want = [&b"hello"[..], f, smuggled].concat();
            check(
                &input,
                &DataOptions::default(),
                &want,
                DataOutcome::Complete,
                b"QUIT\r\n",
            );
        }
        // Normalize: accepted, and the "commands" are message text.
        for cap in CAPS {
            let (res, out, left) = run(&input, &opts(BareNewline::Normalize, false), cap);
            assert_eq!(res.unwrap().outcome, DataOutcome::Complete);
            assert!(out.ends_with(b"DATA\r\nspoof\r\n"), "{f:?} {out:?}");
            assert!(
                !out.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'),
                "{out:?}"
            );
            assert_eq!(left, b"QUIT\r\n");
        }
    }
}

#[test]
fn normalize_exact() {
    let o = opts(BareNewline::Normalize, false);
    let c = DataOutcome::Complete;
    check(b"a\nb\r\n.\r\n", &o, b"a\r\nb\r\n", c, b"");
    check(b"a\rb\r\n.\r\n", &o, b"a\r\nb\r\n", c, b"");
    check(b"a\r\r\n.\r\n", &o, b"a\r\n\r\n", c, b"");
    // A bare-newline "." line is not the end and keeps its dot.
    check(b"a\n.\nb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
    check(b"a\n.\r\nb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
    check(b"a\r\n.\nb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
    check(b"a\r.\rb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
    check(b"a\r\n.\rb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
    // Lines after a bare newline are unstuffed like any line.
    check(b"a\n..b\r\n.\r\n", &o, b"a\r\n.b\r\n", c, b"");
    // The CRLF after a bare-newline "." line is real: ".CRLF" next ends.
    check(b"a\n.\r\n.\r\nX", &o, b"a\r\n.\r\n", c, b"X");
    let lf = opts(BareNewline::Normalize, true);
    check(b"a\nb\rc\r\r\n.\r\n", &lf, b"a\nb\nc\n\n", c, b"");
}

#[test]
fn line_length() {
    let o = DataOptions {
        max_line: 10,
        ..DataOptions::default()
    };
    let c = DataOutcome::Complete;
    check(b"12345678\r\n.\r\n", &o, b"12345678\r\n", c, b"");
    check(
        b"123456789\r\n.\r\nX",
        &o,
        b"",
        DataOutcome::LineTooLong,
        b"X",
    );
    // The stuffing dot does not count (§4.5.3.1.6).
    check(b"..2345678\r\n.\r\n", &o, b".2345678\r\n", c, b"");
    // A long line with no newline at all: read to the end, constant memory.
    let mut big = vec![b'x'; 100_000];
    big.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
    check(&big, &o, b"", DataOutcome::LineTooLong, b"QUIT\r\n");
}

#[test]
fn size_limit() {
    let o = DataOptions {
        max_size: 6,
        ..DataOptions::default()
    };
    check(b"ab\r\ncd\r\n.\r\n", &o, b"", DataOutcome::TooBig, b"");
    check(b"ab\r\nc\r\n.\r\n", &o, b"", DataOutcome::TooBig, b"");
    check(b"ab\r\nc\r\n.\r\n", &o, b"", DataOutcome::TooBig, b"");
    check(
        b"a\r\n.b\r\n.\r\n",
        &o,
        b"a\r\nb\r\n",
        DataOutcome::Complete,
        b"",
    );
    for cap in CAPS {
        let (res, _, _) = run(b"ab\r\ncd\r\nef\r\n.\r\n", &o, cap);
        assert_eq!(
            res.unwrap(),
            DataEnd {
                outcome: DataOutcome::TooBig,
                size: 12
            }
        );
        let lf = DataOptions { lf_out: true, ..o };
        let (res, out, _) = run(b"a\r\n..\r\n.\r\n", &lf, cap);
        assert_eq!(res.unwrap().size, 6);
        assert_eq!(out, b"a\n.\n");
    }
}

#[test]
fn first_problem_wins() {
    let o = DataOptions {
        max_size: 10,
        max_line: 6,
        ..DataOptions::default()
    };
    check(
        b"a\nbcdefghijkl\r\n.\r\n",
        &o,
        b"",
        DataOutcome::BareNewline,
        b"",
    );
    check(
        b"abcdefghijkl\n\r\n.\r\n",
        &o,
        b"",
        DataOutcome::LineTooLong,
        b"",
    );
    check(
        b"abc\r\nabc\r\nab\n\r\n.\r\n",
        &o,
        b"",
        DataOutcome::TooBig,
        b"",
    );
}

#[test]
fn truncated_is_eof() {
    // V9 and friends: no end marker, nothing may be acknowledged.
    for input in [
        &b""[..],
        b"a",
        b"a\r\n",
        b"a\r\n.",
        b"a\r\n.\r",
        b"a\n.\n",
        b"a\r\n.\n",
    ] {
        for cap in CAPS {
            let (res, _, _) = run(input, &DataOptions::default(), cap);
            assert_eq!(
                res.unwrap_err().kind(),
                io::ErrorKind::UnexpectedEof,
                "{input:?}"
            );
        }
    }
}

#[test]
fn interrupted_reads_are_retried() {
    struct Flaky<'a>(&'a [u8], bool);
    impl io::Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            io::Read::read(&mut self.0, buf)
        }
    }
    let mut r = BufReader::with_capacity(2, Flaky(b"ab\r\n..\r\n.\r\n", false));
    let mut out = Vec::new();
    let end = read_data(&mut r, &mut out, &DataOptions::default()).unwrap();
    assert_eq!(end.outcome, DataOutcome::Complete);
    assert_eq!(out, b"ab\r\n.\r\n");
}

/// A byte-at-a-time model of the module docs over the whole input,
/// written independently of the streaming scanner.
fn model(input: &[u8], o: &DataOptions) -> Option<(Vec<u8>, DataEnd, usize)> {
    let mut marked = b"\r\n".to_vec();
    marked.extend_from_slice(input);
    let end = marked.windows(5).position(|w| w == b"\r\n.\r\n")?;
    // `end` indexes `marked`: the message is input[..end], ending with
    // the CRLF before the dot (or empty); the marker's ".\r\n" follows.
    let text = &input[..end];
    let used = end + 3;
    let (mut out, mut size, mut outcome) = (Vec::new(), 0u64, None);
    let fail = |o: &mut Option<DataOutcome>, w| {
        if o.is_none() {
            *o = Some(w);
        }
    };
    let mut i = 0;
    while i < text.len() {
        let mut j = i;
        while text[j] != b'\r' && text[j] != b'\n' {
            j += 1;
        }
        let (eol_len, bare) = match (text[j], text.get(j + 1)) {
            (b'\r', Some(b'\n')) => (2, false),
            _ => (1, true),
        };
        let mut line = &text[i..j];
        if line.len() > 1 && line[0] == b'.' {
            line = &line[1..];
        }
        // Checks in octet order: each content octet, then the line end.
        for n in 1..=line.len() {
            size += 1;
            if n + 2 > o.max_line {
                fail(&mut outcome, DataOutcome::LineTooLong);
            }
            if size > o.max_size {
                fail(&mut outcome, DataOutcome::TooBig);
            }
        }
        if bare && o.bare == BareNewline::Reject {
            fail(&mut outcome, DataOutcome::BareNewline);
        }
        size += 2;
        if size > o.max_size {
            fail(&mut outcome, DataOutcome::TooBig);
        }
        out.extend_from_slice(line);
        out.extend_from_slice(if o.lf_out { b"\n" } else { b"\r\n" });
        i = j + eol_len;
    }
    let outcome = outcome.unwrap_or(DataOutcome::Complete);
    Some((out, DataEnd { outcome, size }, used))
}

/// Inputs over a small alphabet that makes every state likely.
fn wire() -> impl Strategy<Value = Vec<u8>> {
    let tok = proptest::sample::select(vec![
        &b"\r\n"[..],
        b"\r",
        b"\n",
        b".",
        b"..",
        b"a",
        b"bc",
        b"\r\n.\r\n",
        b"\x00",
    ]);
    proptest::collection::vec(tok, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn matches_model(
        input in wire(),
        normalize: bool,
        lf_out: bool,
        max_line in 2usize..8,
        max_size in 0u64..30,
    ) {
        let o = DataOptions {
            max_size,
            max_line,
            bare: if normalize { BareNewline::Normalize } else { BareNewline::Reject },
            lf_out,
        };
        let want = model(&input, &o);
        for cap in [1, 2, 3, 7, 4096] {
            let (res, out, rest) = run(&input, &o, cap);
            match &want {
                None => prop_assert_eq!(res.unwrap_err().kind(), io::ErrorKind::UnexpectedEof),
                Some((wout, wend, used)) => {
                    let end = res.unwrap();
                    prop_assert_eq!(end, *wend);
                    if end.outcome == DataOutcome::Complete {
                        prop_assert_eq!(&out, wout);
                    } else {
                        // Whatever was written is a prefix of the model's text.
                        prop_assert!(wout.starts_with(&out));
                    }
                    prop_assert_eq!(&rest[..], &input[*used..]);
                }
            }
        }
    }

    /// BDAT: the result does not depend on how the message is split into
    /// chunks, and equals DATA's treatment of the same text minus dots.
    #[test]
    fn bdat_split_invariant(
        input in wire(),
        cuts in proptest::collection::vec(0usize..200, 0..5),
        normalize: bool,
        lf_out: bool,
    ) {
        let o = DataOptions {
            bare: if normalize { BareNewline::Normalize } else { BareNewline::Reject },
            lf_out,
            max_line: 6,
            ..DataOptions::default()
        };
        let whole = bdat(&input, &[input.len()], &o);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.sort_unstable();
        let mut sizes = Vec::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([input.len()]) {
            sizes.push(c - prev);
            prev = c;
        }
        let split = bdat(&input, &sizes, &o);
        prop_assert_eq!(&whole, &split);
        let (end, out) = whole;
        // Same as the line model (which treats the whole as DATA text
        // with no dots), when the text ends with CRLF.
        if input.ends_with(b"\r\n") && !input.contains(&b'.') {
            let mut data = input.clone();
            data.extend_from_slice(b".\r\n");
            let (wout, wend, _) = model(&data, &o).unwrap();
            prop_assert_eq!(end, wend);
            if end.outcome == DataOutcome::Complete {
                prop_assert_eq!(out, wout);
            }
        }
    }
}

fn bdat(input: &[u8], sizes: &[usize], o: &DataOptions) -> (DataEnd, Vec<u8>) {
    let mut tail = input.to_vec();
    tail.extend_from_slice(b"QUIT\r\n");
    let mut r = BufReader::with_capacity(3, &tail[..]);
    let mut out = Vec::new();
    let mut b = Bdat::new(o);
    let mut end = None;
    for (k, &s) in sizes.iter().enumerate() {
        end = Some(
            b.read_chunk(&mut r, s as u64, k + 1 == sizes.len(), &mut out)
                .unwrap(),
        );
    }
    let mut rest = Vec::new();
    io::Read::read_to_end(&mut r, &mut rest).unwrap();
    assert_eq!(rest, b"QUIT\r\n");
    let end = end.unwrap();
    assert_eq!(end.size, b.size());
    if end.outcome != DataOutcome::Complete {
        out.clear();
    }
    (end, out)
}

#[test]
fn bdat_chunks() {
    let o = opts(BareNewline::Reject, true);
    // A CRLF split across chunks is one line end.
    let (end, out) = bdat(b"a\r\nb\r\n", &[2, 4], &o);
    assert_eq!(
        (end.outcome, end.size, &out[..]),
        (DataOutcome::Complete, 6, &b"a\nb\n"[..])
    );
    // No dot handling: ".\r\n" is text.
    let crlf = opts(BareNewline::Reject, false);
    let (end, out) = bdat(b"..\r\n.\r\n", &[7], &crlf);
    assert_eq!(
        (end.outcome, &out[..]),
        (DataOutcome::Complete, &b"..\r\n.\r\n"[..])
    );
    // A CR ending the last chunk is bare.
    let (end, _) = bdat(b"a\r", &[2], &o);
    assert_eq!(end.outcome, DataOutcome::BareNewline);
    let (end, out) = bdat(b"a\r", &[1, 1], &opts(BareNewline::Normalize, true));
    assert_eq!(
        (end.outcome, &out[..]),
        (DataOutcome::Complete, &b"a\n"[..])
    );
    // BDAT 0 LAST, and an empty message.
    let (end, out) = bdat(b"ab", &[2, 0], &o);
    assert_eq!(
        (end.outcome, end.size, &out[..]),
        (DataOutcome::Complete, 2, &b"ab"[..])
    );
    let (end, _) = bdat(b"", &[0], &o);
    assert_eq!((end.outcome, end.size), (DataOutcome::Complete, 0));
    // Size is for the whole message; sticky outcome.
    let small = DataOptions { max_size: 3, ..o };
    let mut r = BufReader::new(&b"abcdefQUIT"[..]);
    let mut b = Bdat::new(&small);
    let mut out = Vec::new();
    let e1 = b.read_chunk(&mut r, 2, false, &mut out).unwrap();
    assert_eq!(e1.outcome, DataOutcome::Complete);
    let e2 = b.read_chunk(&mut r, 2, false, &mut out).unwrap();
    assert_eq!((e2.outcome, e2.size), (DataOutcome::TooBig, 4));
    let e3 = b.read_chunk(&mut r, 2, true, &mut out).unwrap();
    assert_eq!((e3.outcome, e3.size), (DataOutcome::TooBig, 6));
    assert_eq!(out, b"ab");
    // EOF inside a chunk.
    let mut r = BufReader::new(&b"abc"[..]);
    let err = Bdat::new(&o)
        .read_chunk(&mut r, 4, true, &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

/// Release-mode throughput on 1 MiB messages (typical 76-column text):
/// `cargo test --release --lib smtp::dot -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark, not a test: cargo test --release --lib smtp::dot::tests::throughput -- --ignored --nocapture"]
fn throughput() {
    let mut msg = Vec::new();
    let line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm\r\n";
    let mut k = 0;
    while msg.len() < (1 << 20) {
        if k % 17 == 0 {
            msg.extend_from_slice(b"..dotted line\r\n");
        }
        msg.extend_from_slice(line);
        k += 1;
    }
    msg.extend_from_slice(b".\r\n");
    for lf_out in [false, true] {
        let o = opts(BareNewline::Reject, lf_out);
        let mut out = io::BufWriter::with_capacity(limits::IO_BUF, io::sink());
        let t = std::time::Instant::now();
        let n = 200;
        for _ in 0..n {
            let mut r = BufReader::with_capacity(limits::IO_BUF, &msg[..]);
            let end = read_data(&mut r, &mut out, &o).unwrap();
            assert_eq!(end.outcome, DataOutcome::Complete);
        }
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "read_data lf_out={lf_out}: {:.0} MB/s",
            (msg.len() * n) as f64 / secs / 1e6
        );
    }
}
