//! The mboxrd writer and reader, each alone and together.

use super::*;
use std::io::BufReader;
use std::time::Duration;

fn quote(input: &[u8], split: usize) -> Vec<u8> {
    let mut q = Quote::default();
    let mut out = Vec::new();
    for part in input.chunks(split.max(1)) {
        q.write(part, &mut out).unwrap();
    }
    q.finish(&mut out).unwrap();
    out
}

#[test]
fn mboxrd_quoting() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"", b"\n"),
        (b"From x\n", b">From x\n\n"),
        (b">From x\n", b">>From x\n\n"),
        (b">>>From x\n", b">>>>From x\n\n"),
        (
            b"a\nFrom \nFrom\n>From\n> From \nFro",
            b"a\n>From \nFrom\n>From\n> From \nFro\n\n",
        ),
        (b"x From y\n From z\n", b"x From y\n From z\n\n"),
        (b"FromFrom \n>F\n>>\n", b"FromFrom \n>F\n>>\n\n"),
        (b"no newline", b"no newline\n\n"),
        (b"From ", b">From \n\n"),
        (b">>", b">>\n\n"),
        (b"\n\nFrom a\n", b"\n\n>From a\n\n"),
    ];
    for (input, want) in cases {
        for split in [1, 2, 3, 5, 7, 100] {
            assert_eq!(
                String::from_utf8_lossy(&quote(input, split)),
                String::from_utf8_lossy(want),
                "{:?} split {split}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

/// Unquoting (remove one `>` from `^>+From `) gives the input back.
#[test]
fn reversible() {
    let mut seed = 7u64;
    for _ in 0..300 {
        let mut msg = Vec::new();
        for _ in 0..20 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let piece: &[u8] =
                [&b"From "[..], b">", b"\n", b"F", b"x", b"rom "][(seed % 6) as usize];
            msg.extend_from_slice(piece);
        }
        msg.push(b'\n');
        let q = quote(&msg, (seed % 9) as usize);
        let body = &q[..q.len() - 1];
        let mut back = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            let gts = line.iter().take_while(|&&b| b == b'>').count();
            if gts > 0 && line[gts..].starts_with(b"From ") {
                back.extend_from_slice(&line[1..]);
            } else {
                back.extend_from_slice(line);
            }
        }
        assert_eq!(back, msg);
    }
}

#[test]
fn from_lines() {
    let t = UNIX_EPOCH + Duration::from_secs(1_795_721_492);
    assert_eq!(
        from_line(None, t),
        b"From MAILER-DAEMON Thu Nov 26 19:31:32 2026\n"
    );
    assert_eq!(
        from_line(Some("\"a b\"@x.example"), t),
        b"From \"a_b\"@x.example Thu Nov 26 19:31:32 2026\n"
    );
    // The asctime date, from `date -u -d @SECS`: the day padded with a
    // space.
    for (secs, asc) in [
        (0, "Thu Jan  1 00:00:00 1970"),
        (951_782_400, "Tue Feb 29 00:00:00 2000"),
        (1_703_030_399, "Tue Dec 19 23:59:59 2023"),
        (1_795_721_492, "Thu Nov 26 19:31:32 2026"),
        (4_107_542_400, "Mon Mar  1 00:00:00 2100"),
    ] {
        let line = from_line(Some("a@b"), UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(
            String::from_utf8(line).unwrap(),
            format!("From a@b {asc}\n")
        );
    }
}

/// An mbox of `msgs` as the writer writes it.
fn write_mbox(msgs: &[&str]) -> Vec<u8> {
    let t = UNIX_EPOCH + Duration::from_secs(1_795_721_492);
    let mut out = Vec::new();
    for m in msgs {
        out.extend_from_slice(&from_line(Some("s@x"), t));
        let mut q = Quote::default();
        q.write(m.as_bytes(), &mut out).unwrap();
        q.finish(&mut out).unwrap();
    }
    out
}

/// An mbox of `msgs` quoted by the mboxrd rules, written out here to check
/// the writer: a `From ` line after any run of `>` gets one more `>`, a
/// message without a final LF gets one, and a blank line follows each.
fn by_the_rules(msgs: &[&str]) -> Vec<u8> {
    let mut mbox = Vec::new();
    for m in msgs {
        mbox.extend_from_slice(b"From s@x Thu Nov 26 19:31:32 2026\n");
        for line in m.split_inclusive('\n') {
            let gts = line.bytes().take_while(|&c| c == b'>').count();
            if line[gts..].starts_with("From ") {
                mbox.push(b'>');
            }
            mbox.extend_from_slice(line.as_bytes());
        }
        if !m.is_empty() && !m.ends_with('\n') {
            mbox.push(b'\n');
        }
        mbox.push(b'\n');
    }
    mbox
}

/// What a reader gives back of message `m`: itself, plus the LF the
/// writer adds to a message without one.
fn read_back(m: &str) -> String {
    if m.is_empty() || m.ends_with('\n') {
        m.to_owned()
    } else {
        format!("{m}\n")
    }
}

fn messages(mbox: &[u8], chunk: usize) -> Vec<String> {
    let input = BufReader::with_capacity(chunk.max(1), mbox);
    let mut r = MboxReader::new(input);
    let mut out = Vec::new();
    loop {
        let mut text = Vec::new();
        if !r.next_message(&mut text).unwrap() {
            return out;
        }
        out.push(String::from_utf8_lossy(&text).into_owned());
    }
}

#[test]
fn mboxrd_reading() {
    let mbox = b"From a@x Thu Nov 26 19:31:32 2026\n\
        Subject: 1\n\n>From here\n>>From there\n> From not\nFrom\n\n\
        From b@x Thu Nov 26 19:31:33 2026\n\
        Subject: 2\n\nends with a blank line\n\n\n\
        From MAILER-DAEMON Thu Nov 26 19:31:34 2026\n\
        Subject: 3\n\nlast, no separator\n";
    let want = [
        "Subject: 1\n\nFrom here\n>From there\n> From not\nFrom\n",
        "Subject: 2\n\nends with a blank line\n\n",
        "Subject: 3\n\nlast, no separator\n",
    ];
    for chunk in [1, 2, 3, 7, 64, 8192] {
        assert_eq!(messages(mbox, chunk), want, "chunk {chunk}");
    }
}

#[test]
fn edge_cases() {
    assert!(messages(b"", 8).is_empty());
    assert!(messages(b"not an mbox\n", 8).is_empty());
    // CRLF mbox, an empty message, no final LF.
    let got = messages(b"From a\r\nx\r\n\r\nFrom b\r\nFrom c\nlast", 3);
    assert_eq!(got, ["x\r\n", "", "last"]);
    // A line far over LINE_PEEK: passed through whole; an over-long
    // From_ line is skipped whole.
    let long = "y".repeat(3 * LINE_PEEK);
    let mbox = format!("From {long}\n>From {long}\n{long}\nFrom b\nz\n");
    let got = messages(mbox.as_bytes(), 100);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], format!("From {long}\n{long}\n"));
    assert_eq!(got[1], "z\n");
}

/// What the mboxrd writer quotes, this reader gives back.
#[test]
fn round_trip_with_the_writer_rules() {
    let bodies = [
        "a\nFrom x\n>From y\n>>From z\n\n",
        "no final newline",
        "\n\nFrom \n",
        ">>>From deep\nFromage\n",
    ];
    let mbox = by_the_rules(&bodies);
    assert_eq!(write_mbox(&bodies), mbox, "the writer follows the rules");
    let got = messages(&mbox, 5);
    for (b, text) in bodies.iter().zip(&got) {
        assert_eq!(text, &read_back(b));
    }
    assert_eq!(got.len(), bodies.len());
}

proptest::proptest! {
    /// What the mboxrd writer writes, this reader
    /// gives back: each message byte for byte (plus the LF the writer adds
    /// to a message without one), in any read chunking.
    #[test]
    fn round_trip_any_message(
        msgs in proptest::collection::vec(
            proptest::collection::vec(
                proptest::sample::select(vec!["From ", ">", "\n", "\r\n", "x", " ", "F"]),
                0..40,
            ),
            1..4,
        ),
        chunk in 1usize..50,
    ) {
        let msgs: Vec<String> = msgs.iter().map(|m| m.concat()).collect();
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        // The writer's rules, written out (checked against it here).
        let mbox = by_the_rules(&refs);
        proptest::prop_assert_eq!(write_mbox(&refs), mbox.clone());
        let got = messages(&mbox, chunk);
        proptest::prop_assert_eq!(got.len(), msgs.len());
        for (m, text) in msgs.iter().zip(&got) {
            proptest::prop_assert_eq!(text, &read_back(m));
        }
    }
}
