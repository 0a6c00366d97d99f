//! Unit tests of `encoded_word`.

use super::*;
use crate::codec::charset::{Target, target};
use proptest::prelude::*;

fn enc(text: &str) -> String {
    encode(text.as_bytes(), &Target::UTF_8, Method::Auto).unwrap()
}

/// The encoded-words in `s` (for length checks).
fn words(s: &str) -> Vec<&str> {
    s.split([' ', '\t', '\n'])
        .filter(|w| w.starts_with("=?"))
        .collect()
}

fn unfold(s: &str) -> String {
    s.replace('\n', "")
}

#[test]
fn only_words_that_need_it_are_encoded() {
    let table: &[(&str, &str)] = &[
        ("", ""),
        ("plain ascii", "plain ascii"),
        // Auto, per run: Q "M=C3=BCller" (11) < B (12); Q (10) > B (8).
        (
            "Müller aus Köln",
            "=?UTF-8?Q?M=C3=BCller?= aus =?UTF-8?B?S8O2bG4=?=",
        ),
        ("Grüße", "=?UTF-8?B?R3LDvMOfZQ==?="),
        // A run keeps its inner whitespace inside the word.
        ("ü  ö x", "=?UTF-8?B?w7wgIMO2?= x"),
        ("  a\tü ", "  a\t=?UTF-8?B?w7w=?= "),
        // Looks like an encoded-word: encoded so it is not mis-decoded.
        ("see =?x?Q?y?=", "see =?UTF-8?B?PT94P1E/eT89?="),
        ("a=?b", "=?UTF-8?Q?a=3D=3Fb?="),
        // Auto picks B when shorter.
        ("日本語", "=?UTF-8?B?5pel5pys6Kqe?="),
    ];
    for (text, want) in table {
        assert_eq!(enc(text), *want, "{text:?}");
        assert_eq!(decode(want.as_bytes()).text, *text);
    }
    let q = encode("ü  ö x".as_bytes(), &Target::UTF_8, Method::Q).unwrap();
    assert_eq!(q, "=?UTF-8?Q?=C3=BC__=C3=B6?= x");
    let q = encode("日本".as_bytes(), &Target::UTF_8, Method::Q).unwrap();
    assert_eq!(q, "=?UTF-8?Q?=E6=97=A5=E6=9C=AC?=");
    let b = encode("é".as_bytes(), &Target::UTF_8, Method::B).unwrap();
    assert_eq!(b, "=?UTF-8?B?w6k=?=");
}

#[test]
fn long_runs_split_on_character_boundaries() {
    let text = "é".repeat(100);
    let out = enc(&text);
    for w in words(&out) {
        assert!(w.len() <= MAX_WORD, "{w}");
        // Each word decodes on its own: no character split.
        assert_eq!(decode(w.as_bytes()).defects, vec![]);
    }
    assert_eq!(decode(out.as_bytes()).text, text);
    assert!(!out.contains('\n'));
}

#[test]
fn other_charsets() {
    let latin1 = target(b"iso-8859-1").unwrap();
    let out = encode("Keld Jørn Simonsen".as_bytes(), &latin1, Method::Q).unwrap();
    assert_eq!(out, "Keld =?ISO-8859-1?Q?J=F8rn?= Simonsen");
    let jis = target(b"iso-2022-jp").unwrap();
    let text = "会議の議事録".repeat(8);
    let out = encode(text.as_bytes(), &jis, Method::B).unwrap();
    let ws = words(&out);
    assert!(ws.len() > 1);
    for w in ws {
        assert!(w.len() <= MAX_WORD);
        // Self-contained: ends in ASCII state, decodes alone.
        let d = decode(w.as_bytes());
        assert_eq!(d.defects, vec![], "{w}");
    }
    assert_eq!(decode(out.as_bytes()).text, text);
}

#[test]
fn errors_name_the_character_and_offset() {
    use DecodeErrorKind::*;
    let (latin1, utf8) = (target(b"latin1").unwrap(), Target::UTF_8);
    let jis = target(b"iso-2022-jp").unwrap();
    // (text, target, what is wrong, at which byte)
    let cases: [(&[u8], &Target, DecodeErrorKind, u64); 4] = [
        ("a €".as_bytes(), &latin1, Unmappable('€'), 2),
        (b"ab\xff", &utf8, InvalidByte(0xFF), 2),
        (b"a\nb", &utf8, InvalidByte(b'\n'), 1),
        // Half-width katakana would come back full-width from ISO-2022-JP.
        ("日本ｶ".as_bytes(), &jis, Unmappable('ｶ'), 6),
    ];
    for (text, target, kind, offset) in cases {
        let e = encode(text, target, Method::Auto).unwrap_err();
        assert_eq!(e, DecodeError { kind, offset }, "{text:?}");
    }
    let e = encode("x\u{85}".as_bytes(), &utf8, Method::Auto).unwrap_err();
    assert_eq!(e.kind, Unmappable('\u{85}'));
    assert!(encode("\t".as_bytes(), &Target::UTF_8, Method::Auto).is_ok());
}

#[test]
fn fields_fold_at_78() {
    let text = "Grüße aus Köln und überall sonst, wo es schön ist: ein sehr langer Betreff \
                    mit vielen Wörtern und Umlauten äöü ÄÖÜ ß, der gefaltet werden muss";
    let out = encode_field("Subject", text.as_bytes(), &Target::UTF_8, Method::Auto).unwrap();
    assert!(out.starts_with("Subject: "));
    for line in out.split('\n') {
        assert!(line.len() <= FOLD_WIDTH, "{line:?}");
    }
    assert!(out.lines().count() > 1);
    let value = unfold(&out);
    assert_eq!(decode(&value.as_bytes()["Subject: ".len()..]).text, text);
    assert_eq!(
        encode_field("X", b"", &Target::UTF_8, Method::Q).unwrap(),
        "X:"
    );
    // A plain word longer than a line is encoded and split (below).
    // A long field name: the first word folds rather than overflow.
    let name = "X-".repeat(36);
    let out = encode_field(&name, "ééééé".as_bytes(), &Target::UTF_8, Method::Q).unwrap();
    assert!(out.split('\n').all(|l| l.len() <= FOLD_WIDTH), "{out}");
}

#[test]
fn encode_lines_reports_stream_offsets() {
    // No operands: each line of the input is a value.
    let none: &[&str] = &[];
    let lines = |input: &[u8], out: &mut Vec<u8>| {
        encode_text(none, &mut &input[..], out, &Target::UTF_8, Method::Q, None)
    };
    let mut out = Vec::new();
    assert_eq!(lines(b"a\r\n\xc3\xa9\n", &mut out).unwrap(), 2);
    assert_eq!(out, b"a\n=?UTF-8?Q?=C3=A9?=\n");
    let err = lines(b"ok\nbad\xff\n", &mut out);
    match err.unwrap_err() {
        Error::Decode(e) => assert_eq!(e.offset, 6),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bug_operands_or_lines_chosen_in_the_library() {
    let t = &Target::UTF_8;
    let none: &[&str] = &[];
    let mut out = Vec::new();
    let n = encode_text(
        &["a", "é"],
        &mut &b"unused"[..],
        &mut out,
        t,
        Method::Q,
        None,
    );
    assert_eq!((n.unwrap(), &out[..]), (1, &b"a =?UTF-8?Q?=C3=A9?=\n"[..]));
    out.clear();
    let n = encode_text(none, &mut &b"x\n\xc3\xa9"[..], &mut out, t, Method::Q, None);
    assert_eq!((n.unwrap(), &out[..]), (2, &b"x\n=?UTF-8?Q?=C3=A9?=\n"[..]));
    // An operand's LF is refused, at its offset in the joined text.
    let err = encode_text(&["ab", "c\nd"], &mut &b""[..], &mut out, t, Method::Q, None);
    assert!(matches!(err, Err(Error::Decode(e)) if e.offset == 4));
    out.clear();
    let opts = DecodeOptions::default();
    let s = decode_text(
        &["=?UTF-8?Q?a?=", "=?UTF-8?Q?b?="],
        &mut &b"x"[..],
        &mut out,
        &opts,
    );
    assert_eq!((s.unwrap().lines, &out[..]), (1, &b"ab\n"[..]));
    out.clear();
    let s = decode_text(none, &mut &b"=?x?Q?a?=\n"[..], &mut out, &opts).unwrap();
    assert_eq!((s.lines, s.defects, &out[..]), (1, 1, &b"=?x?Q?a?=\n"[..]));
}

/// Text without control characters: any Unicode, with extra weight on
/// whitespace runs, ASCII and encoded-word look-alikes.
fn header_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => any::<char>().prop_filter("no controls", |c| !is_bad_control(*c)),
            2 => proptest::sample::select(vec![' ', ' ', '\t', 'a', '=', '?', '_', 'Q', 'é']),
            1 => Just('日'),
        ],
        0..120,
    )
    .prop_map(|v| {
        let mut s: String = v.into_iter().collect();
        if s.len() % 7 == 3 {
            s.push_str(" =?UTF-8?Q?x?= ");
        }
        s
    })
}

fn check_round_trip(text: &str, target: &Target, method: Method) -> Result<(), TestCaseError> {
    let out = encode(text.as_bytes(), target, method).unwrap();
    prop_assert!(out.is_ascii());
    prop_assert!(!out.contains(['\r', '\n']));
    for w in words(&out) {
        prop_assert!(w.len() <= MAX_WORD, "{}", w);
    }
    let d = decode(out.as_bytes());
    prop_assert_eq!(&d.text, text);
    prop_assert_eq!(d.defects, vec![]);
    // Plain ASCII words without `=?` are left readable.
    for word in text.split([' ', '\t']) {
        if word.is_ascii() && !word.contains("=?") && !word.is_empty() {
            prop_assert!(out.contains(word));
        }
    }
    let field = encode_field("Subject", text.as_bytes(), target, method).unwrap();
    for line in field.split('\n') {
        prop_assert!(line.len() <= FOLD_WIDTH, "{:?}", line);
        prop_assert!(!line.trim().is_empty() || field == "Subject:");
    }
    let value = unfold(&field);
    let body = value.strip_prefix("Subject:").unwrap();
    let body = body.strip_prefix(' ').unwrap_or(body);
    prop_assert_eq!(&decode(body.as_bytes()).text, text);
    Ok(())
}

/// `encode_field` lines, each checked: at most 78, never only blanks,
/// and the value decodes back to `text`.
fn field_lines(name: &str, text: &str, method: Method) -> Vec<String> {
    let field = encode_field(name, text.as_bytes(), &Target::UTF_8, method).unwrap();
    for line in field.split('\n') {
        assert!(line.len() <= FOLD_WIDTH, "{} > 78: {line:?}", line.len());
        assert!(!line.trim().is_empty(), "blank line in {field:?}");
    }
    let value = unfold(&field);
    let body = value.strip_prefix(&format!("{name}:")).unwrap();
    let body = body.strip_prefix(' ').unwrap_or(body);
    assert_eq!(decode(body.as_bytes()).text, text);
    field.split('\n').map(str::to_owned).collect()
}

#[test]
fn bug_fields_never_pass_78_columns() {
    // A plain word longer than a line stayed whole (1211 columns), and
    // blanks at the end stayed on the last line (117 columns).
    let long = format!("x {} y", "a".repeat(1200));
    let lines = field_lines("Subject", &long, Method::Auto);
    assert!(
        lines[0].starts_with("Subject: x =?UTF-8?Q?aaa"),
        "{lines:?}"
    );
    assert!(lines.last().unwrap().ends_with("?= y"), "{lines:?}");
    let trailing = format!("{}{}", "é".repeat(20), " ".repeat(40));
    let lines = field_lines("Subject", &trailing, Method::Auto);
    assert!(lines.iter().all(|l| !l.ends_with(' ')), "{lines:?}");
    // A word that fits stays plain, its trailing blanks too.
    assert_eq!(field_lines("Subject", "ab  ", Method::Q), ["Subject: ab  "]);
    assert_eq!(
        field_lines("Subject", "é ", Method::Q),
        ["Subject: =?UTF-8?Q?=C3=A9_?="]
    );
    // Long runs of blanks: leading, inner, trailing, alone.
    let name = "X".repeat(MAX_FIELD_NAME);
    for text in [
        format!("{}a", " ".repeat(200)),
        format!("a{}b", "\t".repeat(200)),
        format!("a{}", " ".repeat(200)),
        format!("é{}", " ".repeat(200)),
        format!("é{}é", " ".repeat(200)),
        " ".repeat(200),
        "   ".to_owned(),
        "b".repeat(77),
        format!("{} {}", "b".repeat(77), "c".repeat(78)),
    ] {
        for m in [Method::Auto, Method::B, Method::Q] {
            field_lines("Subject", &text, m);
            field_lines(&name, &text, m);
        }
    }
    assert_eq!(field_lines("S", "  ", Method::Q), ["S:   "]);
    assert!(field_name(&name).is_ok());
    assert!(field_name(&format!("{name}X")).is_err());
    assert!(field_name("Sübject").is_err());
}

proptest! {
    #[test]
    fn long_names_and_blank_runs_fold_within_78(
        name_len in 1..=MAX_FIELD_NAME,
        text in proptest::collection::vec(prop_oneof![
            4 => Just(' '), 1 => Just('\t'), 3 => Just('a'), 1 => Just('é'), 1 => Just('日'),
        ], 0..400).prop_map(|v| v.into_iter().collect::<String>()),
    ) {
        let field = encode_field(&"N".repeat(name_len), text.as_bytes(), &Target::UTF_8, Method::Auto).unwrap();
        for line in field.split('\n') {
            prop_assert!(line.len() <= FOLD_WIDTH, "{:?}", line);
        }
    }

    #[test]
    fn utf8_round_trip(text in header_text(), m in prop_oneof![Just(Method::Auto), Just(Method::B), Just(Method::Q)]) {
        check_round_trip(&text, &Target::UTF_8, m)?;
    }

    #[test]
    fn latin1_round_trip(text in "[ \ta-zA-Z0-9=?_\u{A0}-\u{FF}]{0,150}") {
        check_round_trip(&text, &target(b"iso-8859-1").unwrap(), Method::Auto)?;
    }

    #[test]
    fn japanese_round_trip(text in "[ a-z0-9\u{3041}-\u{3093}\u{30A1}-\u{30F3}日本語会議事録東京大阪]{0,100}",
                           cs in proptest::sample::select(vec!["shift_jis", "iso-2022-jp", "euc-jp"]),
                           m in prop_oneof![Just(Method::Auto), Just(Method::B), Just(Method::Q)]) {
        check_round_trip(&text, &target(cs.as_bytes()).unwrap(), m)?;
    }

    #[test]
    fn gb18030_round_trip(text in header_text()) {
        // gb18030 encodes all of Unicode except a few PUA code points
        // it maps differently; skip texts it rejects.
        let t = target(b"gb18030").unwrap();
        if encode(text.as_bytes(), &t, Method::Auto).is_ok() {
            check_round_trip(&text, &t, Method::Auto)?;
        }
    }
}
