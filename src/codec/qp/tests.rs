//! Unit tests of `qp`.

use super::*;
use proptest::prelude::*;
use std::io::{self, BufReader, Read};

/// A reader that hands out at most `step` bytes per read, so block
/// boundaries fall everywhere.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn reader(data: &[u8], step: usize) -> BufReader<Trickle<'_>> {
    BufReader::with_capacity(step.clamp(1, 1 << 16), Trickle { data, step })
}

fn opts(binary: bool, crlf: bool, safe: bool) -> EncodeOptions {
    EncodeOptions { binary, crlf, safe }
}

fn enc_with(input: &[u8], o: &EncodeOptions, step: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let n = encode(reader(input, step), &mut out, o).expect("encode");
    assert_eq!(n, out.len() as u64);
    out
}

fn enc(input: &[u8], o: &EncodeOptions) -> Vec<u8> {
    let out = enc_with(input, o, usize::MAX);
    // Block boundaries must not change anything.
    for step in [1, 2, 3, 7] {
        assert_eq!(enc_with(input, o, step), out, "step {step}");
    }
    out
}

fn dec_with(
    input: &[u8],
    o: &DecodeOptions,
    step: usize,
) -> Result<(Vec<u8>, DecodeReport), Error> {
    let mut out = Vec::new();
    let r = decode(reader(input, step), &mut out, o)?;
    assert_eq!(r.bytes, out.len() as u64);
    Ok((out, r))
}

fn dec_report(input: &[u8], o: &DecodeOptions) -> (Vec<u8>, DecodeReport) {
    let got = dec_with(input, o, usize::MAX).expect("decode");
    for step in [1, 2, 3, 7] {
        assert_eq!(
            dec_with(input, o, step).expect("decode"),
            got,
            "step {step}"
        );
    }
    got
}

fn dec(input: &[u8]) -> Vec<u8> {
    dec_report(input, &DecodeOptions::default()).0
}

fn lines(encoded: &[u8]) -> impl Iterator<Item = &[u8]> {
    encoded
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

fn max_line(encoded: &[u8]) -> usize {
    lines(encoded).map(<[u8]>::len).max().unwrap_or(0)
}

#[test]
fn encode_rules_byte_exact() {
    let text = opts(false, false, false);
    let bin = opts(true, false, false);
    let crlf = opts(false, true, false);
    #[rustfmt::skip]
        let cases: &[(&[u8], &EncodeOptions, &[u8])] = &[
            // Rule 2: printable ASCII but '=' is literal; rule 1: the rest =XX.
            (b"", &text, b""),
            (b"a=b ~!", &text, b"a=3Db ~!"),
            ("café".as_bytes(), &text, b"caf=C3=A9"),
            (b"\x00\x7f\x1b\xff", &text, b"=00=7F=1B=FF"),
            // Rule 3: whitespace before a line end or EOF is encoded.
            (b"a \n", &text, b"a=20\n"),
            (b"a\t\n", &text, b"a=09\n"),
            (b"a \r\n", &text, b"a=20\n"),
            (b"a  b", &text, b"a  b"),
            (b"a ", &text, b"a=20"),
            (b" ", &text, b"=20"),
            (b"\t \n \n", &text, b"\t=20\n=20\n"),
            // Rule 4: LF and CRLF are hard breaks; LF out unless --crlf.
            (b"a\r\nb\nc", &text, b"a\nb\nc"),
            (b"a\r\nb\nc\n", &crlf, b"a\r\nb\r\nc\r\n"),
            (b"\n\n", &text, b"\n\n"),
            // A bare CR is data.
            (b"a\rb\r", &text, b"a=0Db=0D"),
            (b"a\r\r\n", &text, b"a=0D\n"),
            // Binary: CR and LF are data; whitespace before them is literal.
            (b"a \r\nb", &bin, b"a =0D=0Ab"),
            (b"a\n", &bin, b"a=0A"),
        ];
    for (input, o, want) in cases {
        assert_eq!(
            enc(input, o),
            want.to_vec(),
            "{:?} {o:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn soft_breaks_at_76_columns() {
    let text = opts(false, false, false);
    let a = |n| vec![b'a'; n];
    let cat = |parts: &[&[u8]]| parts.concat();
    // 76 characters then a line end fit on one line.
    assert_eq!(enc(&cat(&[&a(76), b"\n"]), &text), cat(&[&a(76), b"\n"]));
    assert_eq!(enc(&a(76), &text), a(76));
    // 77: 75 + "=" on the first line (76 in all), 2 on the next.
    assert_eq!(enc(&a(77), &text), cat(&[&a(75), b"=\n", &a(2)]));
    assert_eq!(
        enc(&a(200), &opts(false, true, false)),
        cat(&[&a(75), b"=\r\n", &a(75), b"=\r\n", &a(50)])
    );
    // n × `a`, then `tail`: the output is n × `a`, then `want`.
    let cases: &[(usize, &[u8], &[u8])] = &[
        // An =XX is never split: it moves to the next line whole.
        (73, "é".as_bytes(), b"=\n=C3=A9"),
        (72, b"=", b"=3D"),
        // The last token of a line may reach column 76 (no "=" follows).
        (73, b"=", b"=3D"),
        (73, b"=\n", b"=3D\n"),
        (74, b"=b", b"=\n=3Db"),
        // Whitespace never precedes a soft break: it moves to the next line.
        (74, b" b", b"=\n b"),
        (71, b" =x", b" =3Dx"),
        (71, b" =xy", b" =3D=\nxy"),
        // A space that would end a soft-broken line is =20 (it still fits).
        (72, b" =x", b"=20=\n=3Dx"),
        // ... and a space at column 75 before a line end is =20 on the next.
        (74, b" \n", b"=\n=20\n"),
        (73, b" \n", b"=20\n"),
    ];
    for &(n, tail, want) in cases {
        assert_eq!(
            enc(&cat(&[&a(n), tail]), &text),
            cat(&[&a(n), want]),
            "{n} {:?}",
            String::from_utf8_lossy(tail)
        );
    }
    // Binary data: lines of 25 =XX tokens (75 + "=").
    let out = enc(&[0u8; 30], &opts(true, false, false));
    assert_eq!(out, cat(&[&b"=00".repeat(25), b"=\n", &b"=00".repeat(5)]));
}

#[test]
fn safe_encodes_dot_and_from_at_line_starts() {
    let safe = opts(false, false, true);
    let cases: &[(&[u8], &[u8])] = &[
        (b".", b"=2E"),
        (b".\n..x\n", b"=2E\n=2E.x\n"),
        (b"From x\nFrom\nFrom", b"=46rom x\nFrom\nFrom"),
        (b"x\nFrom me\n", b"x\n=46rom me\n"),
        (b"x.From y", b"x.From y"),
        (b"Frome x\nfrom x", b"Frome x\nfrom x"),
    ];
    for (input, want) in cases {
        assert_eq!(
            enc(input, &safe),
            want.to_vec(),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Without --safe they stay literal.
    assert_eq!(enc(b".\nFrom x", &opts(false, false, false)), b".\nFrom x");
    // After a soft break too, in text and binary mode.
    let a = [b'a'; 75];
    assert_eq!(
        enc(&[&a[..], b".b"].concat(), &safe),
        [&a[..], b"=\n=2Eb"].concat()
    );
    assert_eq!(
        enc(&[&a[..], b"From x"].concat(), &opts(true, true, true)),
        [&a[..], b"=\r\n=46rom x"].concat()
    );
}

#[test]
fn k05_encoder_cases() {
    // reliability.md K05: 200 × é, a line ending in a space, '=', '.' and 'From '.
    let mut input = "é".repeat(200).into_bytes();
    input.extend_from_slice(b"\nline with space \nx=y\n.dot\nFrom me\n");
    for o in [
        opts(false, false, false),
        opts(false, false, true),
        opts(true, true, true),
    ] {
        let out = enc(&input, &o);
        assert!(max_line(&out) <= 76, "{o:?}");
        // No =XX split: every soft-broken line ends in "=" after whole tokens.
        for line in lines(&out) {
            let body = line.strip_suffix(b"=").unwrap_or(line);
            let mut k = 0;
            while k < body.len() {
                k += if body[k] == b'=' { 3 } else { 1 };
            }
            assert_eq!(
                k,
                body.len(),
                "split token in {:?}",
                String::from_utf8_lossy(line)
            );
        }
        assert_eq!(
            dec_report(
                &out,
                &DecodeOptions {
                    strict: true,
                    crlf: o.crlf
                }
            )
            .0,
            input
        );
    }
    let out = enc(&input, &opts(false, false, true));
    let s = String::from_utf8(out).expect("ascii");
    // 25 tokens a line: the two bytes of an é may part, a token never.
    assert!(
        s.starts_with(&format!("{}=C3=\n=A9", "=C3=A9".repeat(12))),
        "{s}"
    );
    assert!(
        s.contains("\nline with space=20\nx=3Dy\n=2Edot\n=46rom me\n"),
        "{s}"
    );
}

#[test]
fn decode_rules_byte_exact() {
    #[rustfmt::skip]
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            // RFC 2045 §6.7 rule 5 example.
            (b"Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.",
             b"Now's the time for all folk to come to the aid of their country."),
            // reliability.md K04.
            (b"a=\r\nb", b"ab"),
            (b"a=\nb", b"ab"),
            (b"a=  \r\nb", b"ab"),
            (b"a= \t\nb", b"ab"),
            (b"x   \r\n", b"x\n"),
            (b"x \t\n", b"x\n"),
            (b"=3d=3D", b"=="),
            // Trailing whitespace at EOF is deleted too; before a soft break it is data.
            (b"abc  ", b"abc"),
            (b"a =\nb", b"a b"),
            (b"a =20\n", b"a  \n"),
            // '=' at EOF, also after whitespace, is a soft break.
            (b"abc=", b"abc"),
            (b"abc=  ", b"abc"),
            // Encoded CR LF are data, whatever the line end option.
            (b"=0D=0A\n=0d=0a", b"\r\n\n\r\n"),
            (b"a\r\nb\nc", b"a\nb\nc"),
            // 8-bit bytes, controls and a bare CR are kept as they are...
            (b"caf\xC3\xA9=3D\x01", b"caf\xC3\xA9=\x01"),
            (b"a\rb", b"a\rb"),
            // ... but CRs are deleted with trailing whitespace, as quopri does.
            (b"a\rb\r", b"a\rb"),
            (b"a \r \n", b"a\n"),
            (b"a\r\r\n", b"a\n"),
        ];
    for (input, want) in cases {
        let (out, report) = dec_report(input, &DecodeOptions::default());
        assert_eq!(out, want.to_vec(), "{:?}", String::from_utf8_lossy(input));
        assert_eq!(report.defects, 0, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(report.first_defect, None);
        dec_with(
            input,
            &DecodeOptions {
                strict: true,
                crlf: false,
            },
            1,
        )
        .expect("strict");
    }
    let crlf = DecodeOptions {
        strict: false,
        crlf: true,
    };
    assert_eq!(dec_report(b"a \nb\r\nc=0A", &crlf).0, b"a\r\nb\r\nc\n");
}

#[test]
fn k03_malformed_escapes_kept_and_reported() {
    // reliability.md K03; offsets are of the '=' kept.
    #[rustfmt::skip]
        let cases: &[(&[u8], &[u8], u64, u64)] = &[
            (b"=ZZ", b"=ZZ", 1, 0),
            (b"==41", b"=A", 1, 0),
            (b"x=4\n", b"x=4\n", 1, 1),
            (b"x=4\r\ny=4", b"x=4\ny=4", 2, 1),
            (b"ab=\x80", b"ab=\x80", 1, 2),
            (b"a= x", b"a= x", 1, 1),
            (b"a=\rb", b"a=\rb", 1, 1),
            // A CR ending the input is deleted like trailing whitespace.
            (b"a=\r", b"a=", 1, 1),
            (b"=G0=0G=", b"=G0=0G", 2, 0),
        ];
    for &(input, want, defects, offset) in cases {
        let (out, report) = dec_report(input, &DecodeOptions::default());
        let name = String::from_utf8_lossy(input);
        assert_eq!(out, want.to_vec(), "{name:?}");
        assert_eq!(report.defects, defects, "{name:?}");
        let first = report.first_defect.expect("defect");
        assert_eq!(
            first,
            DecodeError {
                kind: DecodeErrorKind::BadEscape,
                offset
            }
        );
        let strict = DecodeOptions {
            strict: true,
            crlf: false,
        };
        for step in [1, usize::MAX] {
            match dec_with(input, &strict, step) {
                Err(Error::Decode(e)) => assert_eq!(e, first, "{name:?}"),
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }
    let err = dec_with(
        b"ok\n=ZZ",
        &DecodeOptions {
            strict: true,
            crlf: false,
        },
        2,
    );
    match err {
        Err(e) => assert_eq!(e.to_string(), "malformed '=' escape at byte 3"),
        Ok(r) => panic!("{r:?}"),
    }
}

#[test]
fn long_lines_and_whitespace_runs_stream() {
    // A 1 MB line without line end: constant carry, exact output.
    let line: Vec<u8> = b"abc \t=\n".iter().cycle().take(1 << 20).copied().collect();
    let text = opts(false, false, false);
    let out = enc_with(&line, &text, usize::MAX);
    assert!(max_line(&out) <= 76);
    assert_eq!(dec(&out), line);
    // Whitespace runs longer than QP_MAX_PENDING_WS are written out as data
    // (documented), shorter ones are deleted at a line end.
    let short = [b"x".as_slice(), &[b' '; 1000], b"\ny"].concat();
    assert_eq!(dec(&short), b"x\ny");
    let long = [b"x".as_slice(), &[b' '; 3 * QP_MAX_PENDING_WS], b"y"].concat();
    assert_eq!(dec(&long), long);
    let soft = [b"x=".as_slice(), &[b' '; 100], b"\r\ny"].concat();
    assert_eq!(dec(&soft), b"xy");
}

#[test]
fn write_errors_are_returned() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let o = EncodeOptions::default();
    assert!(matches!(encode(&b"abc"[..], Full, &o), Err(Error::Io(_))));
    assert!(matches!(
        decode(&b"abc"[..], Full, &DecodeOptions::default()),
        Err(Error::Io(_))
    ));
}

/// Text with LF line ends and no CR; words that stress the rules.
fn text_strategy() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        4 => prop::sample::select(b"ab.F=xy z\t".to_vec()).prop_map(|b| vec![b]),
        2 => Just(b"From ".to_vec()),
        1 => any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n').prop_map(|b| vec![b]),
        2 => Just(b"\n".to_vec()),
    ];
    prop::collection::vec(atom, 0..300).prop_map(|v| v.concat())
}

/// `text` with every LF made CRLF.
fn to_crlf(text: &[u8]) -> Vec<u8> {
    text.split(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .join(&b"\r\n"[..])
}

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![any::<u8>(), prop::sample::select(b" \t\r\n=.F".to_vec()),];
    prop::collection::vec(atom, 0..400)
}

/// Encodes `parts` with one encoder, as several inputs.
fn enc_parts(parts: &[&[u8]], o: &EncodeOptions) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(o);
    let mut n = 0;
    for part in parts {
        n += encoder.feed(reader(part, 3), &mut out).unwrap();
    }
    n += encoder.finish(&mut out).unwrap();
    assert_eq!(n, out.len() as u64);
    out
}

#[test]
fn bug_several_inputs_keep_lines_within_76() {
    // A new encoder per input restarted at column 0 while the output
    // line went on: two 70-byte inputs without line ends gave one line
    // of 140 characters.
    let line = [b'0'; 70];
    for o in [opts(false, false, false), opts(true, true, false)] {
        let out = enc_parts(&[&line, &line], &o);
        assert!(max_line(&out) <= LINE_MAX, "{out:?}");
        assert_eq!(out, enc(&[line, line].concat(), &o));
    }
    // Lookahead across inputs: a space that one input ends with is not
    // trailing when the next goes on; `From ` split across inputs at
    // the start of a line is still protected with --safe.
    let safe = opts(false, false, true);
    let parts: [&[u8]; 5] = [b"a ", b"b\nFr", b"", b"om x\n.", b"\n"];
    assert_eq!(enc_parts(&parts, &safe), b"a b\n=46rom x\n=2E\n");
    assert_eq!(enc_parts(&parts, &safe), enc(&parts.concat(), &safe));
    assert_eq!(enc_parts(&[b"a ", b""], &safe), b"a=20");
    assert_eq!(enc_parts(&[], &safe), b"");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn binary_round_trip(data in bytes_strategy(), crlf: bool, safe: bool, step in 1usize..9) {
        let o = opts(true, crlf, safe);
        let out = enc_with(&data, &o, step);
        prop_assert_eq!(&out, &enc_with(&data, &o, usize::MAX));
        prop_assert!(max_line(&out) <= 76);
        let strict = DecodeOptions { strict: true, crlf: false };
        prop_assert_eq!(dec_with(&out, &strict, step).expect("decode").0, data);
    }

    #[test]
    fn text_round_trip(data in text_strategy(), crlf: bool, safe: bool, step in 1usize..9) {
        // Line ends of the text must match the output's: LF, or CRLF with crlf.
        let data = if crlf { to_crlf(&data) } else { data };
        let o = opts(false, crlf, safe);
        let out = enc_with(&data, &o, step);
        prop_assert_eq!(&out, &enc_with(&data, &o, usize::MAX));
        prop_assert!(max_line(&out) <= 76);
        let d = DecodeOptions { strict: true, crlf };
        prop_assert_eq!(dec_with(&out, &d, step).expect("decode").0, data);
    }

    #[test]
    fn text_mode_never_over_76(data in bytes_strategy(), crlf: bool, safe: bool) {
        let out = enc_with(&data, &opts(false, crlf, safe), usize::MAX);
        prop_assert!(max_line(&out) <= 76);
        // Only printable ASCII and line ends come out; no whitespace ends a line.
        for line in lines(&out) {
            prop_assert!(line.iter().all(|&b| (b' '..=b'~').contains(&b) || b == b'\t'));
            prop_assert!(!line.ends_with(b" ") && !line.ends_with(b"\t"));
            prop_assert!(!line.ends_with(b" =") && !line.ends_with(b"\t="));
        }
    }

    #[test]
    fn decode_any_input_is_block_independent(data in bytes_strategy(), step in 1usize..9) {
        let o = DecodeOptions::default();
        let whole = dec_with(&data, &o, usize::MAX).expect("decode");
        prop_assert_eq!(dec_with(&data, &o, step).expect("decode"), whole);
    }

    #[test]
    fn oracle_quoted_printable_decodes_our_crlf_output(data in bytes_strategy(), binary: bool) {
        // CRLF text: the crate only treats CRLF as a line break.
        let data = if binary {
            data
        } else {
            to_crlf(&data.into_iter().filter(|&b| b != b'\r').collect::<Vec<_>>())
        };
        let out = enc_with(&data, &opts(binary, true, false), usize::MAX);
        let theirs = quoted_printable::decode(&out, quoted_printable::ParseMode::Strict)
            .expect("oracle decodes");
        prop_assert_eq!(theirs, data);
    }
}
