//! Unit tests of `walk`.

use super::super::decode;
use super::*;
use proptest::prelude::*;

/// What a walk saw: per entity its number, type, decoded payload
/// (leaves) and defect names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    number: String,
    essence: String,
    payload: Option<Vec<u8>>,
    defects: Vec<&'static str>,
}

#[derive(Default)]
struct Collect {
    seen: Vec<Seen>,
    open: Vec<usize>,
}

impl Visitor for Collect {
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        let payload = if part.kind == Kind::Leaf {
            let mut v = Vec::new();
            decode::content(part, body, &mut v)?;
            Some(v)
        } else {
            None
        };
        self.open.push(self.seen.len());
        self.seen.push(Seen {
            number: part.number.clone(),
            essence: part.essence(),
            payload,
            defects: Vec::new(),
        });
        Ok(Flow::Descend)
    }

    fn leave(&mut self, part: &Part, _: u64) -> Result<(), Error> {
        let i = self.open.pop().expect("balanced enter/leave");
        self.seen[i].defects = part.defects.iter().map(Defect::name).collect();
        Ok(())
    }
}

fn walk_with(input: impl Read) -> Result<Vec<Seen>, Error> {
    let mut c = Collect::default();
    walk(input, &mut c)?;
    assert!(c.open.is_empty());
    Ok(c.seen)
}

/// Reads one byte per call: every buffer edge case at every byte.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), out.is_empty()) {
            (Some((&b, rest)), false) => {
                out[0] = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// Walks `input` whole and trickled; both must agree.
fn tree(input: &[u8]) -> Vec<Seen> {
    let whole = walk_with(input).unwrap();
    let trickled = walk_with(Trickle(input)).unwrap();
    assert_eq!(whole, trickled, "trickled walk differs");
    whole
}

/// `(number, essence, payload or "<container>")` triples.
fn shape(input: &[u8]) -> Vec<(String, String, String)> {
    tree(input)
        .into_iter()
        .map(|s| {
            let p = s.payload.map_or("<container>".to_owned(), |p| {
                String::from_utf8_lossy(&p).into_owned()
            });
            (s.number, s.essence, p)
        })
        .collect()
}

fn t(n: &str, e: &str, p: &str) -> (String, String, String) {
    (n.to_owned(), e.to_owned(), p.to_owned())
}

/// Asserts that a walk of `input` sees exactly the entities `want`:
/// `(number, essence, payload or "<container>")`, in order.
fn assert_parts(input: &[u8], want: &[(&str, &str, &str)]) {
    let want: Vec<_> = want.iter().map(|&(n, e, p)| t(n, e, p)).collect();
    assert_eq!(shape(input), want);
}

fn defects(input: &[u8]) -> Vec<&'static str> {
    tree(input).into_iter().flat_map(|s| s.defects).collect()
}

#[test]
fn rfc2046_5_1_1_example() {
    let msg = b"From: Nathaniel Borenstein <nsb@bellcore.com>\r\n\
            To: Ned Freed <ned@innosoft.com>\r\n\
            Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)\r\n\
            Subject: Sample message\r\n\
            MIME-Version: 1.0\r\n\
            Content-type: multipart/mixed; boundary=\"simple boundary\"\r\n\
            \r\n\
            This is the preamble.  It is to be ignored, though it\r\n\
            is a handy place for composition agents to include an\r\n\
            explanatory note to non-MIME conformant readers.\r\n\
            \r\n\
            --simple boundary\r\n\
            \r\n\
            This is implicitly typed plain US-ASCII text.\r\n\
            It does NOT end with a linebreak.\r\n\
            --simple boundary\r\n\
            Content-type: text/plain; charset=us-ascii\r\n\
            \r\n\
            This is explicitly typed plain US-ASCII text.\r\n\
            It DOES end with a linebreak.\r\n\
            \r\n\
            --simple boundary--\r\n\
            \r\n\
            This is the epilogue.  It is also to be ignored.\r\n";
    assert_parts(
        msg,
        &[
            ("TEXT", "multipart/mixed", "<container>"),
            (
                "1",
                "text/plain",
                "This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.",
            ),
            (
                "2",
                "text/plain",
                "This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n",
            ),
        ],
    );
    assert!(defects(msg).is_empty());
}

#[test]
fn reliability_m04_delimiters_only_at_line_starts_exactly() {
    // `This is --b text` in the preamble, padding after `--b`, `--bX`
    // as body, the epilogue after `--b--` ignored.
    let msg = b"Content-Type: multipart/mixed; boundary=b\n\n\
            This is --b text\n--bX preamble\n--b \t \nContent-Type: text/plain\n\n\
            one\n--bX is body\n x--b\n--b\n\ntwo\n--b--\nepilogue --b\n--b\n";
    assert_parts(
        msg,
        &[
            ("TEXT", "multipart/mixed", "<container>"),
            ("1", "text/plain", "one\n--bX is body\n x--b"),
            ("2", "text/plain", "two"),
        ],
    );
    assert_eq!(defects(msg), vec!["looks-like-boundary"]);
}

#[test]
fn line_ends_lf_crlf_and_bare_cr() {
    for eol in ["\n", "\r\n", "\r"] {
        let msg = format!(
            "Content-Type: multipart/mixed; boundary=b{eol}{eol}--b{eol}{eol}a{eol}b{eol}--b--{eol}"
        );
        let msg = msg.as_bytes();
        // header.rs ends lines at LF only, so the part header here
        // ends with LF; the body has bare CR line ends.
        if eol == "\r" {
            let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\r\n\na\rb\r--b--\r";
            let seen = tree(msg);
            assert_eq!(seen[1].payload.as_deref(), Some(&b"a\rb"[..]));
            assert!(seen[0].defects.contains(&"bare-cr"));
            continue;
        }
        let want = format!("a{eol}b");
        assert_eq!(shape(msg)[1], t("1", "text/plain", &want), "{eol:?}");
    }
}

#[test]
fn reliability_m01_m02_missing_boundaries() {
    // M01: boundary never used: no parts; the body is the preamble.
    let msg = b"Content-Type: multipart/mixed; boundary=\"ab\"\n\nno parts here\n";
    let seen = tree(msg);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].defects, vec!["start-boundary-not-found"]);
    // No boundary parameter at all: one leaf, as Python reads it.
    let msg = b"Content-Type: multipart/mixed\n\n--x\n\nbody\n";
    assert_eq!(shape(msg), vec![t("1", "multipart/mixed", "--x\n\nbody\n")]);
    assert_eq!(defects(msg), vec!["no-boundary"]);
    // M02: close delimiter missing: parts kept, the last to the end
    // (its final line end dropped, as Python does).
    let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\nlast\n";
    assert_parts(
        msg,
        &[
            ("TEXT", "multipart/mixed", "<container>"),
            ("1", "text/plain", "one"),
            ("2", "text/plain", "two\nlast"),
        ],
    );
    assert_eq!(defects(msg), vec!["close-boundary-not-found"]);
}

#[test]
fn reliability_m03_same_boundary_inside_and_outside() {
    // The outer multipart owns the line (Python's rule): the inner one
    // never sees a start delimiter. Deterministic.
    let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
            Content-Type: multipart/mixed; boundary=b\n\n--b\n\ninner?\n--b--\n--b--\n";
    let want = vec![
        t("TEXT", "multipart/mixed", "<container>"),
        t("1", "multipart/mixed", "<container>"),
        t("2", "text/plain", "inner?"),
    ];
    assert_eq!(shape(msg), want);
    assert_eq!(tree(msg)[1].defects, vec!["start-boundary-not-found"]);
    // A boundary that is a prefix of the enclosing one: exact lines, so
    // no ambiguity; `x` inside `x--`: the outer one wins the line.
    for msg in [
        &b"Content-Type: multipart/mixed; boundary=\"ab\"\n\n--ab\n\
            Content-Type: multipart/mixed; boundary=\"a\"\n\n--a\n\nin\n--ab\n\nout\n--ab--\n"[..],
        b"Content-Type: multipart/mixed; boundary=\"x--\"\n\n--x--\n\
            Content-Type: multipart/mixed; boundary=\"x\"\n\n--x\n\nin\n--x--\n\nout\n--x----\n",
    ] {
        assert_parts(
            msg,
            &[
                ("TEXT", "multipart/mixed", "<container>"),
                ("1", "multipart/mixed", "<container>"),
                ("1.1", "text/plain", "in"),
                ("2", "text/plain", "out"),
            ],
        );
    }
}

#[test]
fn empty_parts_and_repeated_delimiters() {
    // `--b` CRLF CRLF `--b`: an empty part; `--b` `--b`: no part.
    let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b\n--b\nX: 1\n\nx\n--b--\n";
    assert_parts(
        msg,
        &[
            ("TEXT", "multipart/mixed", "<container>"),
            ("1", "text/plain", ""),
            ("2", "text/plain", "x"),
        ],
    );
    assert_eq!(defects(msg), vec!["repeated-delimiter"]);
    // A multipart with only a close delimiter: no parts.
    let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b--\n";
    assert_eq!(defects(msg), vec!["start-boundary-not-found"]);
}

#[test]
fn numbering_follows_rfc3501_6_4_5() {
    let msg = b"Content-Type: multipart/mixed; boundary=o\n\n--o\n\ntext\n\
            --o\nContent-Type: application/octet-stream\n\nbin\n\
            --o\nContent-Type: message/rfc822\n\nSubject: in\nContent-Type: multipart/mixed; boundary=i\n\n\
            --i\n\n3.1\n--i\nContent-Type: application/octet-stream\n\n3.2\n--i--\n\
            --o\nContent-Type: multipart/mixed; boundary=m\n\n\
            --m\nContent-Type: image/gif\n\ngif\n\
            --m\nContent-Type: message/rfc822\n\nSubject: x\n\n4.2.1\n--m--\n--o--\n";
    let numbers: Vec<(String, String)> = tree(msg)
        .into_iter()
        .map(|s| (s.number, s.essence))
        .collect();
    let want = [
        ("TEXT", "multipart/mixed"),
        ("1", "text/plain"),
        ("2", "application/octet-stream"),
        ("3", "message/rfc822"),
        ("3.TEXT", "multipart/mixed"),
        ("3.1", "text/plain"),
        ("3.2", "application/octet-stream"),
        ("4", "multipart/mixed"),
        ("4.1", "image/gif"),
        ("4.2", "message/rfc822"),
        ("4.2.1", "text/plain"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(numbers, want);
    // A message that is not multipart has one part, 1.
    assert_eq!(
        shape(b"Subject: x\n\nhi\n"),
        vec![t("1", "text/plain", "hi\n")]
    );
    // A message/rfc822 at the top.
    let top = b"Content-Type: message/rfc822\n\nSubject: in\n\nbody";
    assert_parts(
        top,
        &[
            ("1", "message/rfc822", "<container>"),
            ("1.1", "text/plain", "body"),
        ],
    );
}

#[test]
fn digest_parts_default_to_message_rfc822() {
    let msg = b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nA\n\
            --d\nContent-Type: text/plain\n\nB\n--d--\n";
    assert_parts(
        msg,
        &[
            ("TEXT", "multipart/digest", "<container>"),
            ("1", "message/rfc822", "<container>"),
            ("1.1", "text/plain", "A"),
            ("2", "text/plain", "B"),
        ],
    );
}

#[test]
fn reliability_m09_encodings_on_containers_and_odd_headers() {
    // CTE base64 on a multipart: ignored, with a defect.
    let msg = b"Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n\
            --b\n\nplain\n--b--\n";
    assert_eq!(shape(msg)[1], t("1", "text/plain", "plain"));
    assert_eq!(defects(msg), vec!["encoded-container"]);
    // A base64 message/rfc822: decoded as a leaf.
    let msg = b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n\
            U3ViamVjdDogeAoKaGkK\n";
    assert_eq!(
        shape(msg),
        vec![t("1", "message/rfc822", "Subject: x\n\nhi\n")]
    );
    // No empty line after the header: the first non-field line starts
    // the body, and a delimiter right after the header still counts.
    let msg = b"Content-Type: multipart/mixed; boundary=b\n--b\nContent-Type: text/plain\nbody line\n--b--\n";
    assert_parts(
        msg,
        &[
            ("TEXT", "multipart/mixed", "<container>"),
            ("1", "text/plain", "body line"),
        ],
    );
    assert!(defects(msg).contains(&"no-header-separator"));
    // A message/rfc822 part whose header ends at a non-field line: the
    // message has no header and starts with that line.
    let msg = b"Content-Type: message/rfc822\nnot a field\nmore\n";
    assert_parts(
        msg,
        &[
            ("1", "message/rfc822", "<container>"),
            ("1.1", "text/plain", "not a field\nmore\n"),
        ],
    );
    // CRLF SP CRLF as separator: a continuation line, then the body.
    let msg = b"Subject: x\r\n \r\nbody\r\n";
    assert_eq!(shape(msg), vec![t("1", "text/plain", "body\r\n")]);
    // First header line a continuation.
    let msg = b" lost\nContent-Type: text/html\n\n<p>";
    assert_eq!(shape(msg), vec![t("1", "text/html", "<p>")]);
    assert_eq!(defects(msg), vec!["header-starts-with-continuation"]);
}

#[test]
fn reliability_k01_k04_body_decoding_defects() {
    let part = |cte: &str, body: &str| {
        let msg = format!("Content-Transfer-Encoding: {cte}\n\n{body}");
        let seen = tree(msg.as_bytes()).remove(0);
        (seen.payload.unwrap(), seen.defects)
    };
    // (cte, body, decoded payload, defects)
    let cases: &[(&str, &str, &[u8], &[&str])] = &[
        // K01: junk skipped.
        ("base64", "dm\x01k===", b"vi", &["base64-junk"]),
        ("base64", "PC9o dG1s\tPg==", b"</html>", &[]),
        ("base64", "\\PC9odG1sPg==", b"</html>", &["base64-junk"]),
        // K02: no padding, bad length, trailing bits, padding mid-stream.
        ("base64", "dmk", b"vi", &[]),
        ("base64", "PC9odG1sPn==", b"</html>", &[]),
        (
            "base64",
            "dGVzdA==dGVzdA==",
            b"testtest",
            &["base64-after-padding"],
        ),
        // K03: bad escapes kept.
        (
            "quoted-printable",
            "=ZZ ==41 =4\nabc=",
            b"=ZZ =A =4\nabc",
            &["bad-quoted-printable"],
        ),
        // K04: soft breaks, trailing white space deleted, lowercase hex.
        ("quoted-printable", "a=\r\nb", b"ab", &[]),
        ("quoted-printable", "a=  \nb", b"ab", &[]),
        ("quoted-printable", "x   \r\ny=3d", b"x\r\ny=", &[]),
        // Unknown and misspelt encodings: the body as it is.
        (
            "x-uuencode",
            "begin 644 x\n",
            b"begin 644 x\n",
            &["unknown-encoding"],
        ),
    ];
    for &(cte, body, payload, defects) in cases {
        assert_eq!(
            part(cte, body),
            (payload.to_vec(), defects.to_vec()),
            "{cte} {body:?}"
        );
    }
    // K02: a bad length is a defect whatever comes out.
    assert_eq!(part("base64", "abcde").1, vec!["base64-truncated"]);
    assert_eq!(part("BASE64; x", "aGk=").0, b"hi");
}

#[test]
fn limits_stop_the_walk() {
    // M05: nesting bomb, each level its own boundary.
    let mut msg = Vec::new();
    for i in 0..10_000 {
        msg.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n").as_bytes(),
        );
    }
    let start = std::time::Instant::now();
    match walk_with(&msg[..]) {
        Err(Error::TooDeep { .. }) => {}
        other => panic!("{:?}", other.map(|v| v.len())),
    }
    assert!(start.elapsed().as_secs() < 2);
    // message/rfc822 counts as a level too.
    let msg = b"Content-Type: message/rfc822\n\n".repeat(MAX_MIME_DEPTH + 1);
    assert!(matches!(walk_with(&msg[..]), Err(Error::TooDeep { .. })));
    let ok = b"Content-Type: message/rfc822\n\n".repeat(MAX_MIME_DEPTH);
    assert_eq!(walk_with(&ok[..]).unwrap().len(), MAX_MIME_DEPTH + 1);
    // M06: a million empty parts stop at the part limit, quickly.
    let mut msg = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n".to_vec();
    msg.extend_from_slice(&b"--a\r\n\r\n".repeat(1_000_000));
    let start = std::time::Instant::now();
    assert!(matches!(
        walk_with(&msg[..]),
        Err(Error::TooManyParts { .. })
    ));
    assert!(start.elapsed().as_secs() < 5);
    let mut ok = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n".to_vec();
    ok.extend_from_slice(&b"--a\r\n\r\n".repeat(MAX_PARTS - 1));
    assert_eq!(walk_with(&ok[..]).unwrap().len(), MAX_PARTS);
}

#[test]
fn long_lines_stream_through_in_constant_memory() {
    // A 10 MB line with no line end, and one that starts like a
    // delimiter: both are body.
    let mut msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n".to_vec();
    msg.extend(std::iter::repeat_n(b'x', 10 << 20));
    msg.extend_from_slice(b"\n--b");
    msg.extend(std::iter::repeat_n(b'-', 3 << 20));
    msg.extend_from_slice(b"\n--b--\n");
    let seen = walk_with(&msg[..]).unwrap();
    let payload = seen[1].payload.as_ref().unwrap();
    assert_eq!(payload.len(), (10 << 20) + 1 + 3 + (3 << 20));
    // Padding past the limit: not a delimiter.
    let mut msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b".to_vec();
    msg.extend(std::iter::repeat_n(
        b' ',
        crate::limits::MAX_BOUNDARY_PADDING + 1,
    ));
    msg.extend_from_slice(b"\n--b--\n");
    let seen = walk_with(&msg[..]).unwrap();
    assert_eq!(
        seen[1].payload.as_ref().unwrap().len(),
        2 + 3 + crate::limits::MAX_BOUNDARY_PADDING + 1
    );
}

#[test]
fn long_boundaries_up_to_the_cap() {
    for (len, parts) in [(70, 2), (7011, 2), (MAX_BOUNDARY, 2), (MAX_BOUNDARY + 1, 1)] {
        let b = "b".repeat(len);
        let msg =
            format!("Content-Type: multipart/mixed; boundary=\"{b}\"\n\n--{b}\n\nx\n--{b}--\n");
        let seen = tree(msg.as_bytes());
        assert_eq!(seen.len(), parts, "{len}");
        if parts == 1 {
            assert_eq!(seen[0].defects, vec!["boundary-too-long"]);
        }
    }
    // Prefix lines of a long boundary, cut anywhere, are text.
    let b = "q".repeat(5000);
    let msg = format!(
        "Content-Type: multipart/mixed; boundary=\"{b}\"\n\n--{b}\n\n--{}\n--{b}--\n",
        &b[..4999]
    );
    assert_eq!(
        tree(msg.as_bytes())[1].payload.as_deref().map(<[u8]>::len),
        Some(5001)
    );
}

#[test]
fn empty_input_is_no_message() {
    assert!(tree(b"").is_empty());
    assert_eq!(shape(b"\n"), vec![t("1", "text/plain", "")]);
}

/// Parts for the round trip: (content type, CTE, payload).
fn arb_leaf() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (0usize..3, proptest::collection::vec(any::<u8>(), 0..300))
}

proptest! {
    #[test]
    fn any_input_walks_without_panic(input in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let _ = walk_with(&input[..]);
    }

    #[test]
    fn mutated_messages_walk_the_same_trickled(
        cut in 0usize..400,
        junk in proptest::collection::vec(prop_oneof![Just(b'-'), Just(b'\n'), Just(b'\r'), Just(b'b'), any::<u8>()], 0..40),
    ) {
        let base = b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n\
            Content-Type: multipart/alternative; boundary=bb\r\n\r\n--bb\r\n\r\nx\r\n--bb\r\n\
            Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n--bb--\r\n--b\r\n\r\nlast\r\n--b--\r\n";
        let mut input = base.to_vec();
        let at = cut.min(input.len());
        input.splice(at..at, junk);
        let whole = walk_with(&input[..]);
        let trickled = walk_with(Trickle(&input));
        prop_assert_eq!(whole.ok(), trickled.ok());
    }

    #[test]
    fn built_messages_give_their_parts_back(
        leaves in proptest::collection::vec(arb_leaf(), 1..6),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut msg = format!("Content-Type: multipart/mixed; boundary=\"=_b\"{eol}{eol}").into_bytes();
        let mut want = Vec::new();
        for (kind, data) in &leaves {
            msg.extend_from_slice(format!("--=_b{eol}").as_bytes());
            match kind {
                0 => {
                    msg.extend_from_slice(format!("Content-Transfer-Encoding: base64{eol}{eol}").as_bytes());
                    let mut enc = Vec::new();
                    crate::codec::base64::encode(&data[..], &mut enc, crate::codec::base64::EncodeOptions { wrap: 76, crlf }).unwrap();
                    msg.extend_from_slice(&enc);
                    want.push(data.clone());
                }
                1 => {
                    msg.extend_from_slice(format!("Content-Transfer-Encoding: quoted-printable{eol}{eol}").as_bytes());
                    let mut enc = Vec::new();
                    let opts = crate::codec::qp::EncodeOptions { binary: true, crlf, safe: false };
                    crate::codec::qp::encode(&data[..], &mut enc, &opts).unwrap();
                    msg.extend_from_slice(&enc);
                    msg.extend_from_slice(eol.as_bytes());
                    want.push(data.clone());
                }
                _ => {
                    // 7bit text without the boundary's `=_`.
                    let text: Vec<u8> = data.iter().map(|b| b"abc -\n"[usize::from(*b) % 6]).collect();
                    let text = String::from_utf8(text).unwrap().replace('\n', eol);
                    msg.extend_from_slice(format!("{eol}{text}{eol}").as_bytes());
                    want.push(text.into_bytes());
                }
            }
        }
        msg.extend_from_slice(format!("--=_b--{eol}").as_bytes());
        let got: Vec<Vec<u8>> = tree(&msg).into_iter().filter_map(|s| s.payload).collect();
        prop_assert_eq!(got, want);
    }
}
