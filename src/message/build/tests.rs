//! Unit tests of the message builder.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::fields::address_field;
use super::options::{basename, file_name_text, parse_operand};
use super::random::{BOUNDARY_RANDOM, boundary};
use super::source::{Scan, Scanner, looks_binary, temp_file};
use super::split::plan;
use super::tree::{default_cid, guess};
use super::write::{Out, copy_lines};
use super::*;
use crate::codec::encoded_word::FOLD_WIDTH as WIDTH;
use crate::codec::{Summary, qp};

fn scan_bytes(data: &[u8], boundaries: &[String], step: usize) -> (Summary, bool) {
    let (s, c, _) = scan_full(data, boundaries, step);
    (s, c)
}

fn scan_full(data: &[u8], boundaries: &[String], step: usize) -> Scan {
    let mut s = Scanner::new(boundaries);
    for chunk in data.chunks(step.max(1)) {
        s.update(chunk);
    }
    if data.is_empty() {
        s.update(b"");
    }
    s.finish()
}

#[test]
fn scanner_counts_in_any_block_size() {
    let b = vec!["=_abc".to_owned()];
    // (input, eight_bit, nul, bare_cr, longest, utf8, collision)
    type Case = (&'static [u8], u64, u64, u64, u64, bool, bool);
    let cases: &[Case] = &[
        (b"", 0, 0, 0, 0, true, false),
        (b"abc\r\nde\n", 0, 0, 0, 3, true, false),
        (b"a\rb\r", 0, 0, 2, 4, true, false),
        (b"a\0b", 0, 1, 0, 3, true, false),
        ("é€\n".as_bytes(), 5, 0, 0, 5, true, false),
        (b"\xe9t\xe9\n", 2, 0, 0, 3, false, false),
        (b"\xe2\x82", 2, 0, 0, 2, false, false),
        (b"x\n--=_abc\n", 0, 0, 0, 7, true, true),
        (b"x\n--=_abc--", 0, 0, 0, 9, true, true),
        (b"x\n --=_abc\n", 0, 0, 0, 8, true, false),
        (b"--=_ab\n", 0, 0, 0, 6, true, false),
    ];
    for &(input, eight, nul, cr, longest, utf8, coll) in cases {
        for step in [1, 2, 3, 64] {
            let (s, c) = scan_bytes(input, &b, step);
            let got = (s.eight_bit, s.nul, s.bare_cr, s.longest_line, s.utf8, c);
            assert_eq!(
                got,
                (eight, nul, cr, longest, utf8, coll),
                "{input:?} step {step}"
            );
            assert_eq!(s.len, input.len() as u64);
        }
    }
}

#[test]
fn first_invalid_utf8_byte_is_located() {
    for (input, want) in [
        (&b"abc\xffdef"[..], Some((3, 0xFF))),
        (b"\xc3\xa9\xe9x", Some((2, 0xE9))),
        (b"ab\xe2\x82", Some((2, 0xE2))),
        (b"ab\xe2\x82x", Some((2, 0xE2))),
        ("é€".as_bytes(), None),
    ] {
        for step in [1, 2, 3, 64] {
            assert_eq!(scan_full(input, &[], step).2, want, "{input:?} {step}");
        }
    }
}

#[test]
fn qp_estimate_is_close() {
    let text = "Grüße aus Köln, schöne Tage! ".repeat(40) + "\n";
    let (s, _) = scan_bytes(text.as_bytes(), &[], 4096);
    let mut real = Vec::new();
    qp::encode(text.as_bytes(), &mut real, &qp::EncodeOptions::default()).unwrap();
    let diff = (s.qp_len as i64 - real.len() as i64).abs();
    assert!(
        diff * 50 < real.len() as i64,
        "estimate {} real {}",
        s.qp_len,
        real.len()
    );
}

#[test]
fn boundaries_are_random_and_safe() {
    let a = boundary();
    let b = boundary();
    assert_ne!(a, b);
    assert!(a.starts_with("=_") && a.len() == 2 + BOUNDARY_RANDOM && a.len() <= 70);
    assert!(a[2..].bytes().all(|c| c.is_ascii_alphanumeric()));
    let id = message_id("example.org");
    assert!(id.starts_with('<') && id.ends_with("@example.org>"), "{id}");
    assert_ne!(id, message_id("example.org"));
}

fn write(spec: Spec) -> String {
    let mut p = prepare(spec).unwrap();
    let mut out = Vec::new();
    p.write(&mut out, None).unwrap();
    String::from_utf8(out).unwrap()
}

fn attach(data: &[u8], name: &str) -> Item {
    Item::Leaf(Leaf::new(
        Source::bytes(data.to_vec()),
        name,
        Some(name.to_owned()),
    ))
}

/// A source whose content changes at every open: a file that grows or
/// shrinks between the scan and the write.
fn changing(contents: Vec<&'static [u8]>) -> Source {
    let mut k = 0;
    Source::reopen(None, move || {
        let c = contents[k.min(contents.len() - 1)];
        k += 1;
        Ok(Box::new(c) as Box<dyn BufRead>)
    })
}

#[test]
fn bug_nonregular_inputs_reopened_file_reads_what_was_scanned() {
    let spec = |src: Source| Spec {
        parts: vec![
            Item::Leaf(Leaf::new(src, "a.txt", Some("a.txt".into()))),
            attach(b"\x00", "b.bin"),
        ],
        entity: true,
        options: Options {
            boundaries: vec!["=_B".into()],
            ..Options::default()
        },
        ..Spec::default()
    };
    // Grown after the scan, by a line that is the boundary: not sent.
    let s = write(spec(changing(vec![b"a\n", b"a\n--=_B--\n"])));
    assert!(s.contains("\n\na\n\n--=_B\n"), "{s}");
    assert_eq!(s.matches("--=_B--").count(), 1, "{s}");
    // Shrunk: an I/O error, not a short part.
    let mut p = prepare(spec(changing(vec![b"abc\n", b"ab"]))).unwrap();
    let e = p.write(&mut Vec::new(), None).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
}

#[test]
fn a_colliding_boundary_is_drawn_again() {
    // RFC 2046 §5.1.1: the boundary must not appear in the parts.
    let spec = Spec {
        parts: vec![
            attach(b"--=_TAKEN\nbody\n", "a.txt"),
            attach(b"\x00\x01", "b.bin"),
        ],
        entity: true,
        options: Options {
            boundaries: vec!["=_TAKEN".into(), "=_FREE".into()],
            ..Options::default()
        },
        ..Spec::default()
    };
    let s = write(spec);
    assert!(
        s.starts_with("Content-Type: multipart/mixed; boundary=\"=_FREE\"\n"),
        "{s}"
    );
    assert!(s.contains("\n--=_TAKEN\nbody\n\n--=_FREE\n"), "{s}");
    // Base64 and QP parts can never collide: no redraw for them.
    let spec = Spec {
        parts: vec![attach("--=_TAKEN é\n".as_bytes(), "a.txt")],
        entity: true,
        options: Options {
            boundaries: vec!["=_TAKEN".into()],
            ..Options::default()
        },
        ..Spec::default()
    };
    let s = write(spec);
    assert!(s.contains("boundary=\"=_TAKEN\""), "{s}");
    assert!(s.contains("--=3D_TAKEN =C3=A9"), "{s}");
}

#[test]
fn entity_layout_byte_exact() {
    let spec = Spec {
        text: Some(Leaf::new(Source::bytes(b"hi\n".to_vec()), "text", None)),
        parts: vec![attach(b"\x00\xff", "x.bin")],
        entity: true,
        options: Options {
            boundaries: vec!["=_B".into()],
            crlf: true,
            ..Options::default()
        },
        ..Spec::default()
    };
    assert_eq!(
        write(spec),
        "Content-Type: multipart/mixed; boundary=\"=_B\"\r\n\r\n\
         --=_B\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\n\
         hi\r\n\r\n\
         --=_B\r\n\
         Content-Type: application/octet-stream; name=x.bin\r\n\
         Content-Disposition: attachment; filename=x.bin\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n\
         AP8=\r\n\r\n\
         --=_B--\r\n"
    );
}

#[test]
fn sniffed_text_that_turns_binary_is_octet_stream() {
    let mut data = b"text ".repeat(20_000);
    data.push(0xFF);
    let spec = |data: &[u8], t: Option<&str>| {
        let mut leaf = Leaf::new(Source::bytes(data.to_vec()), "f", Some("f.zzz".into()));
        leaf.overrides.content_type = t.map(str::to_owned);
        Spec {
            parts: vec![Item::Leaf(leaf)],
            entity: true,
            ..Spec::default()
        }
    };
    let s = write(spec(&data, None));
    assert!(
        s.contains("Content-Type: application/octet-stream; name=f.zzz"),
        "{s:.400}"
    );
    // bug_text_without_charset: a type given for text that is not
    // UTF-8 needs a charset (it used to go out without one).
    let e = prepare(spec(&data, Some("text/plain"))).unwrap_err();
    assert!(matches!(e, Error::Data(..)), "{e}");
    assert!(e.to_string().contains("give ;charset="), "{e}");
    // A guessed text type is dropped: the bytes go as they are.
    let mut leaf = Leaf::new(Source::bytes(data.clone()), "f", Some("f.txt".into()));
    leaf.overrides.charset = None;
    let s = write(Spec {
        parts: vec![Item::Leaf(leaf)],
        entity: true,
        ..Spec::default()
    });
    assert!(
        s.contains("Content-Type: application/octet-stream; name=f.txt"),
        "{s:.400}"
    );
    assert!(s.contains("Content-Transfer-Encoding: base64"), "{s:.400}");
    let s = write(spec(b"short text\n", None));
    assert!(
        s.contains("Content-Type: text/plain; charset=us-ascii; name=f.zzz"),
        "{s:.400}"
    );
}

#[test]
fn header_arguments_cannot_inject() {
    for bad in ["a\r\nBcc: x@y", "a\nb", "a\0b", "a\rb"] {
        let cases = [
            Spec {
                subject: Some(bad.into()),
                ..Spec::default()
            },
            Spec {
                to: vec![format!("x@y{bad}")],
                ..Spec::default()
            },
            Spec {
                fields: vec![format!("X-A: {bad}")],
                ..Spec::default()
            },
            Spec {
                parts: vec![Item::Leaf(Leaf::new(
                    Source::bytes(b"x".to_vec()),
                    "f",
                    Some(bad.into()),
                ))],
                ..Spec::default()
            },
        ];
        for spec in cases {
            let e = prepare(spec).unwrap_err();
            assert!(matches!(e, Error::Usage(_)), "{e}");
        }
    }
}

#[test]
fn address_fields() {
    let f = |v: &str| address_field("To", "-t", &[v.to_owned()]);
    let cases: &[(&str, &str)] = &[
        ("a@b.example", "To: a@b.example"),
        (
            "A B <a@b.example>, c@d.example",
            "To: A B <a@b.example>, c@d.example",
        ),
        (
            "\"Smith, J\" <j@x.example>",
            "To: \"Smith, J\" <j@x.example>",
        ),
        (
            "Jöhn <j@x.example>",
            "To: =?UTF-8?B?SsO2aG4=?= <j@x.example>",
        ),
        // A comment is not part of the display name (RFC 5322 §3.2.2).
        (
            "Müller (Sales) <m@x.example>",
            "To: =?UTF-8?Q?M=C3=BCller?= <m@x.example>",
        ),
        (
            "\"Müller, Hans\" <m@x.example>",
            "To: =?UTF-8?B?TcO8bGxlciw=?= Hans <m@x.example>",
        ),
        (
            "\"Müller (Sales)\" <m@x.example>",
            "To: =?UTF-8?B?TcO8bGxlciAoU2FsZXMp?= <m@x.example>",
        ),
        ("undisclosed-recipients:;", "To: undisclosed-recipients: ;"),
        (
            "team: a@x.example, b@x.example;",
            "To: team: a@x.example, b@x.example;",
        ),
    ];
    for &(input, want) in cases {
        assert_eq!(f(input).unwrap(), want, "{input:?}");
    }
    for bad in ["", "John Smith", "a@b, (", "<>", "local"] {
        assert!(matches!(f(bad), Err(Error::Usage(_))), "{bad:?}");
    }
    let many: Vec<String> = (0..10).map(|i| format!("person{i}@example.org")).collect();
    let s = address_field("Cc", "-c", &many).unwrap();
    assert!(s.lines().all(|l| l.len() <= WIDTH), "{s}");
    assert_eq!(s.matches('@').count(), 10);
}

#[test]
fn operands() {
    let none = |_: &Path| false;
    let (path, op) = parse_operand("a.pdf;type=application/pdf;name=b c.pdf", none).unwrap();
    assert_eq!(path, Path::new("a.pdf"));
    assert_eq!(op.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(op.name.as_deref(), Some("b c.pdf"));
    let (path, op) = parse_operand("weird;name=x", |p| p == Path::new("weird;name=x")).unwrap();
    assert_eq!(path, Path::new("weird;name=x"));
    assert_eq!(op.name, None);
    let (path, op) = parse_operand("a;b.txt;cid=logo;disposition=INLINE", none).unwrap();
    assert_eq!(
        (path.as_path(), op.cid.as_deref()),
        (Path::new("a;b.txt"), Some("logo"))
    );
    assert!(parse_operand("a;type=x;size=3", none).is_err());
    // bug_name_override_is_a_basename: directories are cut, / and \.
    for (arg, want) in [
        ("a.txt;name=../../etc/passwd", "passwd"),
        ("a.txt;name=C:\\Windows\\evil.exe", "evil.exe"),
        ("a.txt;name=x/y\\z.txt", "z.txt"),
        ("a.txt;name=plain name.txt", "plain name.txt"),
    ] {
        let (_, op) = parse_operand(arg, none).unwrap();
        assert_eq!(op.name.as_deref(), Some(want), "{arg}");
    }
    for arg in ["a;name=", "a;name=dir/", "a;name=..", "a;name=x\\."] {
        assert!(
            matches!(parse_operand(arg, none), Err(Error::Usage(_))),
            "{arg}"
        );
    }
    assert!(parse_operand("a;disposition=weird", none).is_err());
    assert_eq!(
        basename(Path::new("/x/y/report.pdf")).as_deref(),
        Some("report.pdf")
    );
    assert_eq!(basename(Path::new("-")), None);
    assert_eq!(basename(Path::new("/")), None);
    // bug_non_utf8_file_names: any bytes, read leniently.
    let latin = OsStr::from_bytes(b"/d/lat\xe9.txt;name=caf\xe9 \x80.txt");
    let (path, op) = parse_operand(latin, none).unwrap();
    assert_eq!(path.as_os_str().as_bytes(), b"/d/lat\xe9.txt");
    assert_eq!(basename(&path).as_deref(), Some("laté.txt"));
    assert_eq!(op.name.as_deref(), Some("café €.txt"));
    assert!(parse_operand(OsStr::from_bytes(b"a;type=text/\xff"), none).is_err());
    for (bytes, want) in [
        (&b"plain.txt"[..], "plain.txt"),
        ("日本.txt".as_bytes(), "日本.txt"),
        (b"\xe6\x97\xa5\xff\xe9", "日ÿé"),
        (b"cut\xe6\x97", "cutæ—"),
        (b"\x81\x9d", "\u{81}\u{9d}"),
    ] {
        assert_eq!(file_name_text(bytes), want, "{bytes:?}");
    }
}

#[test]
fn sniffing_and_guessing() {
    assert!(!looks_binary(b"plain text\n"));
    assert!(!looks_binary("日本語".as_bytes()));
    assert!(!looks_binary(&"é".as_bytes()[..1])); // cut character
    assert!(looks_binary(b"a\0b"));
    assert!(looks_binary(b"\xff\xfe"));
    assert!(looks_binary(&[1u8; 10]));
    assert_eq!(guess(Some("a.PDF")).as_deref(), Some("application/pdf"));
    assert_eq!(guess(Some("m.eml")).as_deref(), Some("message/rfc822"));
    assert_eq!(guess(Some("noext")), None);
}

#[test]
fn line_copy_normalises_line_ends() {
    for (input, crlf, want) in [
        (&b"a\nb\r\nc"[..], false, &b"a\nb\nc"[..]),
        (b"a\nb\r\nc", true, b"a\r\nb\r\nc"),
        (b"a\rb\r", true, b"a\rb\r"),
    ] {
        for step in [1, 2, 100] {
            let mut out = Vec::new();
            let mut o = Out {
                inner: &mut out,
                crlf,
                written: 0,
            };
            let reader = io::BufReader::with_capacity(step, input);
            copy_lines(reader, &mut o).unwrap();
            assert_eq!(out, want, "{input:?} {step}");
        }
    }
}

#[test]
fn bug_split_of_an_8bit_message_says_why() {
    // It used to say "invalid byte 0x80 at byte 0" (a made-up offset).
    for text in ["grüße\n", "plain\n"] {
        let mut p = prepare(Spec {
            text: Some(Leaf::new(Source::bytes(text), "notes.txt", None)),
            parts: vec![attach("über\n".as_bytes(), "b.txt")],
            options: Options {
                eight_bit: true,
                ..Options::default()
            },
            ..Spec::default()
        })
        .unwrap();
        let e = p.split(100_000, |_, _| Ok(Vec::new())).unwrap_err();
        let Error::Usage(m) = e else { panic!("{e}") };
        let first = if text == "plain\n" {
            "b.txt"
        } else {
            "notes.txt"
        };
        assert!(m.contains("--split needs a 7-bit message"), "{m}");
        assert!(m.contains(&format!("{first} would be 8bit")), "{m}");
    }
}

#[test]
fn bug_thin_binary_files_settle() {
    // The rules mime-build's binary used to hold: stdin read once; the
    // text body is stdin when nothing else is given.
    let os = |s: &str| OsString::from(s);
    let mut f = Files::default();
    f.settle().unwrap();
    assert_eq!(f.text, Some(os("-")));
    let mut f = Files {
        attachments: vec![os("a.pdf")],
        ..Files::default()
    };
    f.settle().unwrap();
    assert_eq!(f.text, None);
    for f in [
        Files {
            text: Some(os("-")),
            attachments: vec![os("-;name=x")],
            ..Files::default()
        },
        Files {
            inline: vec![os("-"), os("-")],
            ..Files::default()
        },
        Files {
            html: Some(os("-")),
            entities: vec![os("-")],
            ..Files::default()
        },
    ] {
        let mut f = f;
        assert!(matches!(f.settle(), Err(Error::Usage(_))), "{f:?}");
    }
    let mut f = Files {
        text: Some(os("-")),
        attachments: vec![os("-x"), os("x;name=-")],
        ..Files::default()
    };
    f.settle().unwrap();
}

#[test]
fn split_plan_cuts_between_lines() {
    let mut f = temp_file().unwrap();
    f.write_all(b"aaaa\nbbbb\ncccc\ndd").unwrap();
    assert_eq!(plan(&mut f, 10).unwrap(), [(0, 10), (10, 17)]);
    assert_eq!(
        plan(&mut f, 5).unwrap(),
        [(0, 5), (5, 10), (10, 15), (15, 17)]
    );
    assert_eq!(plan(&mut f, 100).unwrap(), [(0, 17)]);
    let mut e = temp_file().unwrap();
    assert_eq!(plan(&mut e, 100).unwrap(), [(0, 0)]);
}

/// Issue 13 item 11: `--inline chart.png` had a random Content-ID, so
/// the HTML could not name it; now it is the name without its extension,
/// a valid msg-id (RFC 5322 §3.6.4) unique in the message.
#[test]
fn bug_default_content_id_comes_from_the_file_name() {
    let none = |_: &str| false;
    for (name, want) in [
        (Some("chart.png"), "chart@example.org"),
        (Some("chart"), "chart@example.org"),
        (Some("report.2024.pdf"), "report.2024@example.org"),
        (Some(".hidden"), "hidden@example.org"),
        (Some("Grafik ä.png"), "Grafik__@example.org"),
        (Some("a..b.png"), "a.b@example.org"),
        (Some("<x>.gif"), "_x_@example.org"),
        (Some("..png"), "png@example.org"),
        (Some("."), "part@example.org"),
        (None, "part@example.org"),
    ] {
        let id = default_cid(name, "example.org", none);
        assert_eq!(id, want, "{name:?}");
        let (left, _) = id.split_once('@').unwrap();
        assert!(super::fields::is_dot_atom_text(left), "{id}");
    }
    let taken = ["chart@example.org", "Chart-2@Example.org"];
    let id = default_cid(Some("chart.svg"), "example.org", |id| {
        taken.iter().any(|t| t.eq_ignore_ascii_case(id))
    });
    assert_eq!(id, "chart-3@example.org");
}
