//! Unit tests of `dot`: client_tests.

use super::*;
use proptest::prelude::*;
use std::io::BufReader;

const CAPS: [usize; 6] = [1, 2, 3, 7, 64, 1 << 16];

fn stuff(input: &[u8], o: &StuffOptions, cap: usize) -> Result<(Vec<u8>, DataSent), StuffError> {
    let mut r = BufReader::with_capacity(cap, input);
    let mut out = Vec::new();
    let sent = write_data(&mut r, &mut out, o)?;
    assert_eq!(sent.wire, out.len() as u64);
    Ok((out, sent))
}

/// The reference: the message the receiver must store (CRLF line ends,
/// bare CR and LF each a line end, final CRLF added).
fn normalise(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' if input.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn stuffing_vectors() {
    let o = StuffOptions::default();
    let cases: &[(&[u8], &[u8])] = &[
        // RFC 5321 §4.1.1.4: the DATA command's CRLF starts the first
        // line, so an empty message is only the end marker.
        (b"", b".\r\n"),
        // A body that is only ".": stuffed, final CRLF added.
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b".\n", b"..\r\n.\r\n"),
        // First byte '.'.
        (b".hidden\r\nx\r\n", b"..hidden\r\nx\r\n.\r\n"),
        (b"..\r\n", b"...\r\n.\r\n"),
        // Lines starting with '.' after CRLF, LF, CR, and consecutive
        // line ends (RUSTSEC-2021-0069, RUSTSEC-2026-0561).
        (b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\n.\nQUIT\n", b"a\r\n..\r\nQUIT\r\n.\r\n"),
        (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r\n\r\n.x", b"a\r\n\r\n..x\r\n.\r\n"),
        (b"\n\n.\n", b"\r\n\r\n..\r\n.\r\n"),
        // Smuggling vectors (reliability notes §2.1) are all content.
        (b"x\n.\r\nMAIL", b"x\r\n..\r\nMAIL\r\n.\r\n"),
        (b"x\r\n.\nMAIL", b"x\r\n..\r\nMAIL\r\n.\r\n"),
        (b"x\r.\r\nMAIL", b"x\r\n..\r\nMAIL\r\n.\r\n"),
        (b"x\r\n\0.\r\n", b"x\r\n\0.\r\n.\r\n"),
        // CRLF/LF mixes; no final newline; bare CR; \r\r\n.
        (b"a\nb\r\nc", b"a\r\nb\r\nc\r\n.\r\n"),
        (b"a\rb", b"a\r\nb\r\n.\r\n"),
        (b"a\r", b"a\r\n.\r\n"),
        (b"a\r\r\n", b"a\r\n\r\n.\r\n"),
        (b"\r", b"\r\n.\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        // Dots not at a line start stay single.
        (b"a.b\r\n x.\r\n", b"a.b\r\n x.\r\n.\r\n"),
        // 8-bit passes (allowed by default).
        ("é\n".as_bytes(), "é\r\n.\r\n".as_bytes()),
    ];
    for (input, want) in cases {
        for cap in CAPS {
            let (out, sent) = stuff(input, &o, cap).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(want),
                "{:?} cap {cap}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(sent.size, normalise(input).len() as u64);
        }
    }
}

#[test]
fn line_limit_998() {
    let o = StuffOptions::default();
    for (body, ok) in [
        (vec![b'x'; 998], true),
        (vec![b'x'; 999], false),
        ([vec![b'.'; 998], b"\r\n".to_vec()].concat(), true), // stuffing dot not counted
        ([vec![b'x'; 999], b"\n".to_vec()].concat(), false),
        ([b"ok\r\n".to_vec(), vec![b'y'; 5000]].concat(), false),
    ] {
        for cap in CAPS {
            match stuff(&body, &o, cap) {
                Ok((out, _)) => {
                    assert!(ok, "len {} cap {cap}", body.len());
                    assert!(out.ends_with(b"\r\n.\r\n"));
                }
                Err(StuffError::LineTooLong { line, max }) => {
                    assert!(!ok, "len {} cap {cap}", body.len());
                    assert_eq!(max, 1000);
                    assert_eq!(line, if body.starts_with(b"ok") { 2 } else { 1 });
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn strict_refuses_bare_newlines() {
    let o = StuffOptions {
        bare: BareNewline::Reject,
        ..StuffOptions::default()
    };
    for (input, line) in [
        (&b"a\r\nb\nc\r\n"[..], 2),
        (b"a\rb", 1),
        (b"a\r", 1),
        (b"a\r\r\n", 1),
    ] {
        for cap in CAPS {
            match stuff(input, &o, cap) {
                Err(StuffError::BareNewline { line: l }) => assert_eq!(l, line),
                other => panic!("{input:?} cap {cap}: {:?}", other.map(|(o, _)| o)),
            }
        }
    }
    assert_eq!(stuff(b"a\r\nb\r\n", &o, 1).unwrap().0, b"a\r\nb\r\n.\r\n");
}

#[test]
fn eight_bit_only_when_declared() {
    let o = StuffOptions {
        eight_bit: false,
        ..StuffOptions::default()
    };
    match stuff(b"abc\r\nd\xe9f", &o, 3) {
        Err(StuffError::EightBit { offset }) => assert_eq!(offset, 6),
        other => panic!("{:?}", other.map(|(o, _)| o)),
    }
    assert!(stuff(b"plain\r\n", &o, 3).is_ok());
}

#[test]
fn errors_never_write_the_end_marker() {
    let mut out = Vec::new();
    let body = [b"a\r\n".repeat(100_000), vec![b'z'; 2000]].concat();
    let mut r = BufReader::new(&body[..]);
    assert!(write_data(&mut r, &mut out, &StuffOptions::default()).is_err());
    assert!(!out.windows(5).any(|w| w == b"\r\n.\r\n"));
}

/// Counts and sizes the writes.
struct Sink {
    writes: Vec<usize>,
    total: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.push(buf.len());
        self.total += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An endless supply of short lines, `n` octets in all.
struct Lines {
    left: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl io::Read for Lines {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out
            .len()
            .min(self.left as usize)
            .min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos = (self.pos + n) % self.buf.len();
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn large_writes_constant_memory() {
    // 32 MiB of 64-octet LF lines, some starting with '.', read through
    // an 8 KiB BufReader: every write but the last is at least 64 KiB.
    let mut pattern = Vec::new();
    for i in 0..64 {
        let mut line = vec![b'x'; 63];
        if i % 5 == 0 {
            line[0] = b'.';
        }
        line.push(b'\n');
        pattern.extend_from_slice(&line);
    }
    let n = 32u64 << 20;
    let mut input = BufReader::new(Lines {
        left: n,
        buf: pattern,
        pos: 0,
    });
    let mut sink = Sink {
        writes: Vec::new(),
        total: 0,
    };
    let sent = write_data(&mut input, &mut sink, &StuffOptions::default()).unwrap();
    let lines = n / 64;
    assert_eq!(sent.size, n + lines);
    // 13 of every 64 lines start with '.'; then ".\r\n".
    assert_eq!(sink.total, sent.size + lines / 64 * 13 + 3);
    let (last, rest) = sink.writes.split_last().unwrap();
    assert!(
        rest.iter().all(|&w| w >= 64 * 1024),
        "{:?}",
        &sink.writes[..4]
    );
    assert!(*last > 0);
    // About 256 writes for 33 MiB: no per-line system calls.
    assert!(sink.writes.len() < 300, "{}", sink.writes.len());
}

/// Peak resident memory of this process in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A 1 GiB message streams in constant memory. Slow in debug builds,
/// and peak memory is per process, so run it alone:
/// `cargo test --lib one_gib -- --ignored`.
#[test]
#[ignore = "1 GiB through the stuffer (slow in debug builds): cargo test --release --lib one_gib -- --ignored --nocapture"]
fn one_gib_in_constant_memory() {
    let before = peak_rss_kib();
    let mut input = BufReader::new(Lines {
        left: 1 << 30,
        buf: b".leading dot, then text up to seventy-odd characters or so ....\n".to_vec(),
        pos: 0,
    });
    let mut sink = Sink {
        writes: Vec::new(),
        total: 0,
    };
    let t = std::time::Instant::now();
    let sent = write_data(&mut input, &mut sink, &StuffOptions::default()).unwrap();
    eprintln!(
        "1 GiB: {:.0} MB/s, {} writes",
        sent.wire as f64 / t.elapsed().as_secs_f64() / 1e6,
        sink.writes.len()
    );
    assert!(sent.size > 1 << 30);
    if let (Some(a), Some(b)) = (before, peak_rss_kib()) {
        // The write-size log is 8192 entries; the stuffer's block 256 KiB.
        assert!(b - a < 8 * 1024, "peak grew by {} KiB", b - a);
    }
}

proptest! {
    /// Stuffing then the server's DATA reader (bare newlines rejected,
    /// so a stray CR or LF on the wire would show) gives back the
    /// normalised message, whatever the buffer sizes on either side.
    #[test]
    fn round_trip_through_the_server_reader(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(&b"."[..]), Just(&b"\r"[..]), Just(&b"\n"[..]),
                Just(&b"\r\n"[..]), Just(&b".\r\n"[..]), Just(&b"a"[..]),
                Just(&b"\xc3\xa9"[..]), Just(&b"\0"[..]), Just(&b"xyz "[..]),
            ],
            0..200,
        ),
        cap_in in 1usize..20,
        cap_srv in 1usize..20,
    ) {
        let input = parts.concat();
        let (wire, sent) = stuff(&input, &StuffOptions::default(), cap_in).unwrap();
        prop_assert!(wire.ends_with(b".\r\n"));
        // The wire has no CR or LF outside CRLF.
        for (i, &b) in wire.iter().enumerate() {
            if b == b'\r' {
                prop_assert_eq!(wire.get(i + 1), Some(&b'\n'));
            }
            if b == b'\n' {
                prop_assert!(i > 0 && wire[i - 1] == b'\r');
            }
        }
        let mut r = BufReader::with_capacity(cap_srv, &wire[..]);
        let mut got = Vec::new();
        let end = read_data(&mut r, &mut got, &DataOptions::default()).unwrap();
        prop_assert_eq!(end.outcome, DataOutcome::Complete);
        prop_assert_eq!(end.size, sent.size);
        prop_assert_eq!(&got, &normalise(&input));
        // Nothing after the end marker.
        let mut rest = Vec::new();
        io::Read::read_to_end(&mut r, &mut rest).unwrap();
        prop_assert!(rest.is_empty());
    }
}

proptest! {
    /// BDAT's canonical text is DATA's without the stuffing dots and
    /// the end marker, wherever the input is split.
    #[test]
    fn canonical_is_data_without_the_dots(
        input in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()],
            0..400,
        ),
        split in 0usize..400,
    ) {
        let opts = StuffOptions::default();
        let mut data = Vec::new();
        let sent = write_data(&mut &input[..], &mut data, &opts);
        let at = split.min(input.len());
        let mut text = Stuffer::canonical(&opts);
        let mut canon = Vec::new();
        let r = text
            .push(&input[..at], &mut canon)
            .and_then(|()| text.push(&input[at..], &mut canon))
            .and_then(|()| text.finish(&mut canon));
        prop_assert_eq!(sent.is_ok(), r.is_ok());
        if r.is_ok() {
            let mut stuffed = Vec::new();
            for line in canon.split_inclusive(|&b| b == b'\n') {
                if line.starts_with(b".") {
                    stuffed.push(b'.');
                }
                stuffed.extend_from_slice(line);
            }
            stuffed.extend_from_slice(b".\r\n");
            prop_assert_eq!(stuffed, data);
        }
    }
}
