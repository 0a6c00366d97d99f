//! Unit tests of `encoded_word`.

use super::*;

fn dec(input: &str) -> String {
    decode(input.as_bytes()).text
}

fn clean(input: &[u8]) -> String {
    let d = decode(input);
    assert_eq!(
        d.defects,
        vec![],
        "defects for {:?}",
        String::from_utf8_lossy(input)
    );
    d.text
}

/// Each `(input, want)`: `input` decodes to `want` without a defect.
fn assert_clean(cases: &[(&[u8], &str)]) {
    for &(input, want) in cases {
        assert_eq!(clean(input), want, "{input:?}");
    }
}

#[test]
fn bug_one_rfc2047_encoder_encode_words() {
    // The words mime.rs and build.rs used to make with a second
    // encoder: all of the text encoded, words ≤ 75 (RFC 2047 §2),
    // split between characters, decoding back to the text (§6.2: the
    // space between adjacent words is dropped).
    let t = charset::Target::UTF_8;
    assert_eq!(
        encode_words("€.pdf", &t, Method::B, 0, None).unwrap(),
        "=?UTF-8?B?4oKsLnBkZg==?="
    );
    assert_eq!(
        encode_words(" padded ", &t, Method::B, 0, None).unwrap(),
        "=?UTF-8?B?IHBhZGRlZCA=?="
    );
    assert_eq!(
        encode_words("", &t, Method::B, 0, None).unwrap(),
        "=?UTF-8?B??="
    );
    let long = "日本語のファイル名, \"quoted\" ".repeat(9);
    for (col, width) in [(0, None), (20, Some(76)), (70, Some(76))] {
        let s = encode_words(&long, &t, Method::B, col, width).unwrap();
        let mut first = true;
        for line in s.split('\n') {
            let start = if first { col } else { 0 };
            first = false;
            if let Some(w) = width {
                assert!(start + line.len() <= w.max(col + 20), "{line:?}");
            }
            for w in line.split(' ').filter(|w| !w.is_empty()) {
                assert!(w.len() <= MAX_WORD && w.starts_with("=?UTF-8?B?"), "{w}");
            }
        }
        assert_eq!(clean(s.as_bytes()), long, "{s}");
    }
}

#[test]
fn rfc2047_section8_examples() {
    // RFC 2047 §8, the table of encoded-word / displayed-as pairs.
    let table: &[(&str, &str)] = &[
        ("(=?ISO-8859-1?Q?a?=)", "(a)"),
        ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
    ];
    for (input, want) in table {
        assert_eq!(clean(input.as_bytes()), *want, "{input}");
    }
    // RFC 2047 §8, the header examples.
    let table: &[(&str, &str)] = &[
        (
            "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
            "Keith Moore <moore@cs.utk.edu>",
        ),
        (
            "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
            "Keld Jørn Simonsen <keld@dkuug.dk>",
        ),
        (
            "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
            "André Pirard <PIRARD@vm1.ulg.ac.be>",
        ),
        (
            "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n    \
                 =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
            "If you can read this you understand the example.",
        ),
        (
            "Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n    \
                 (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
            "Nathaniel Borenstein <nsb@thumper.bellcore.com>    (םולש ןב ילטפנ)",
        ),
        (
            "=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>",
            "Olle Järnefors <ojarnef@admin.kth.se>",
        ),
        (
            "=?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?= <paf@nada.kth.se>",
            "Patrik Fältström <paf@nada.kth.se>",
        ),
    ];
    for (input, want) in table {
        assert_eq!(clean(input.as_bytes()), *want, "{input}");
    }
}

#[test]
fn k06_whitespace_between_words_and_text() {
    assert_clean(&[
        (b"=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"),
        (b"=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab"),
        (b"=?UTF-8?Q?a?=\n\t=?UTF-8?Q?b?=", "ab"),
        (b"x =?UTF-8?Q?y?= z", "x y z"),
        // Whitespace next to text is kept exactly, tabs and runs included.
        (b"x \t =?UTF-8?Q?y?=  z", "x \t y  z"),
        // Folding in plain text: the line break goes, the WSP stays.
        (b"a\r\n b\n\tc", "a b\tc"),
        (b"=?UTF-8?Q?a?=\r\n b", "a b"),
        // One final line end is ignored.
        (b"a =?UTF-8?Q?b?=\r\n", "a b"),
        // Glued words are adjacent too.
        (b"=?UTF-8?Q?a?==?UTF-8?Q?b?=", "ab"),
    ]);
}

#[test]
fn k07_character_split_across_words() {
    assert_eq!(
        clean(b"=?UTF-8?Q?pasi=C5=BEad=C4?=\r\n =?UTF-8?Q?=97jim=C5=B3?="),
        "pasižadėjimų"
    );
    // Same charset, different encodings (B then Q), different label case.
    assert_eq!(
        clean(b"=?utf-8?B?w6k=?= =?UTF-8?b?w6nD?= =?utf-8?q?=A9?="),
        "ééé"
    );
    // Shift_JIS split inside a two-byte character.
    assert_eq!(clean(b"=?shift_jis?Q?=93?= =?SHIFT_JIS?Q?=FA?="), "日");
    // Never joined across charsets: the halves stay invalid.
    let d = decode(b"=?UTF-8?Q?=C3?= =?ISO-8859-1?Q?=A9?=");
    assert_eq!(d.text, "\u{FFFD}©");
    assert_eq!(d.defects.len(), 1);
}

#[test]
fn k08_unknown_charsets_left_verbatim() {
    for input in [
        &b"=?x-unknown?Q?abc?="[..],
        b"=??Q?a?=",
        b"=?cp850?Q?a?=",
        b"=?iso-2022-kr?Q?a?=",
    ] {
        let d = decode(input);
        assert_eq!(d.text.as_bytes(), input);
        assert_eq!(d.defects.len(), 1, "{input:?}");
    }
    let d = decode(b"a =?x-unknown?Q?abc?= =?UTF-8?Q?b?=");
    assert_eq!(d.text, "a =?x-unknown?Q?abc?= b");
    assert_eq!(
        d.defects,
        vec![DecodeError {
            kind: DecodeErrorKind::UnknownCharset("x-unknown".into()),
            offset: 2
        }]
    );
    // A NUL in the label: not a word; the NUL itself is replaced.
    let d = decode(b"=?ut\x00f-8?Q?a?=");
    assert_eq!(d.text, "=?ut\u{FFFD}f-8?Q?a?=");
    assert_eq!(d.defects.len(), 1);
    // UTF-7 (RFC 2152) is decoded by our own decoder.
    assert_eq!(clean(b"=?utf-7?Q?+AGE-?="), "a");
    assert_eq!(
        clean(b"=?unicode-1-1-utf-7?Q?Hi_Mom_-+Jjo--!?="),
        "Hi Mom -\u{263A}-!"
    );
}

#[test]
fn k09_empty_malformed_long_and_glued_words() {
    assert_clean(&[
        (b"=?UTF-8?B??=", ""),
        (b"=?GBK?B??=", ""),
        (b"=?utf-8?Q??=", ""),
        (b"a =?UTF-8?Q??= b", "a  b"),
    ]);
    for input in [
        &b"=?UTF-8?X?abc?="[..],
        b"=?UTF-8?Q?a b?=",
        b"=?UTF-8?Q?a?b?=",
        b"=?UTF-8?B?SGk=SGk=?=",
        b"=?UTF-8?B?SGVsb?=",
        b"=?UTF-8?B?SGk-?=",
        b"=?UTF-8?Q?abc",
        b"=?UTF-8?Q?caf\xc3\xa9?=",
    ] {
        let d = decode(input);
        assert_eq!(d.text, String::from_utf8_lossy(input), "{input:?}");
        assert_eq!(d.defects.len(), 1, "{input:?}");
        assert_eq!(d.defects[0].kind, DecodeErrorKind::MalformedWord);
        assert_eq!(d.defects[0].offset, 0);
    }
    // > 75 characters: decoded, no defect.
    let long = format!("=?UTF-8?Q?{}?=", "a".repeat(200));
    assert_eq!(clean(long.as_bytes()), "a".repeat(200));
    // Glued to text: decoded (lenient, as Python and mblaze).
    assert_eq!(clean(b"[SPAM]=?UTF-8?B?SGk=?="), "[SPAM]Hi");
    assert_eq!(clean(b"=?UTF-8?B?SGk=?=there"), "Hithere");
    // A malformed word between two good ones is text: whitespace kept.
    let d = decode(b"=?UTF-8?Q?a?= =?UTF-8?X?b?= =?UTF-8?Q?c?=");
    assert_eq!(d.text, "a =?UTF-8?X?b?= c");
    assert_eq!(d.defects[0].offset, 14);
}

#[test]
fn q_and_b_details() {
    assert_clean(&[
        (b"=?UTF-8?Q?=c3=a9?=", "é"),
        (b"=?UTF-8?q?a=ZZb=4?=", "a=ZZb=4"),
        (b"=?UTF-8?Q?a=5Fb_c?=", "a_b c"),
        (b"=?UTF-8?B?SGk?=", "Hi"),
        (b"=?UTF-8?B?SGl=?=", "Hi"),
        (b"=?UTF-8*en?Q?a?=", "a"),
        (b"=?ISO-8859-1*fr-CA?Q?=E9?=", "é"),
        (b"=?iso-2022-jp?B?GyRCRnxLXBsoQg==?=", "日本"),
        (b"=?gb2312?B?1tDOxA==?=", "中文"),
        (b"=?ks_c_5601-1987?B?x9Gx2w==?=", "한글"),
        // Latin-1 labels decode as windows-1252 (WHATWG).
        (b"=?iso-8859-1?Q?=80?=", "€"),
        // Text that is not a word at all, and no defect for it.
        (b"=? 1+1=?2 =?x", "=? 1+1=?2 =?x"),
        (b"a=?b", "a=?b"),
    ]);
}

#[test]
fn k11_controls_never_come_out_raw() {
    let d = decode(b"=?UTF-8?Q?Hi=0D=0ABcc:_x@evil?=");
    assert_eq!(d.text, "Hi\u{FFFD}\u{FFFD}Bcc: x@evil");
    assert_eq!(d.defects.len(), 2);
    assert_eq!(d.defects[0].kind, DecodeErrorKind::InvalidByte(b'\r'));
    let d = decode(b"=?UTF-8?B?AAEC?=");
    assert_eq!(d.text, "\u{FFFD}\u{FFFD}\u{FFFD}");
    let d = decode(b"=?UTF-8?Q?a=09b=7F=C2=85?=");
    assert_eq!(d.text, "a\tb\u{FFFD}\u{FFFD}");
    // Raw controls and bare line breaks outside words, at exact offsets.
    let d = decode(b"a\rb\nc\x00\x1b\r\n");
    assert_eq!(d.text, "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}");
    let offsets: Vec<u64> = d.defects.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, [1, 3, 5, 6]);
    // A break not followed by WSP is not a fold.
    assert_eq!(decode(b"a\r\nb").text, "a\u{FFFD}\u{FFFD}b");
}

#[test]
fn bug_bidi_controls_and_separators_never_come_out() {
    // U+202E (RIGHT-TO-LEFT OVERRIDE) came out raw: "\u{202E}fdp.exe"
    // displays as "exe.pdf".
    let d = decode(b"=?UTF-8?B?4oCu?=");
    assert_eq!(d.text, "\u{FFFD}");
    assert_eq!(d.defects[0].kind, DecodeErrorKind::Unmappable('\u{202E}'));
    for c in [
        '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{2028}', '\u{2029}',
    ] {
        let raw = format!("a{c}b");
        assert_eq!(decode(raw.as_bytes()).text, "a\u{FFFD}b", "{c:?}");
        let word = format!(
            "=?UTF-8?B?{}?=",
            crate::codec::base64::encode_to_string(raw.as_bytes())
        );
        assert_eq!(decode(word.as_bytes()).text, "a\u{FFFD}b", "{c:?}");
        assert!(encode(raw.as_bytes(), &charset::Target::UTF_8, Method::Auto).is_err());
    }
    // Marks, and other characters with the same lead byte, stay.
    for ok in [
        "\u{200E}\u{200F}",
        "\u{2027}\u{202F}\u{2065}\u{206A}",
        "“–€”",
    ] {
        assert_eq!(clean(ok.as_bytes()), ok);
    }
    // In a windows-1252 word, 0x85 is "…", not a control.
    assert_eq!(clean(b"=?windows-1252?Q?=85?="), "…");
}

#[test]
fn raw_8bit_text() {
    assert_eq!(clean("Grüße =?UTF-8?Q?a?=".as_bytes()), "Grüße a");
    let d = decode(b"caf\xe9 =?UTF-8?Q?a?=");
    assert_eq!(d.text, "caf\u{FFFD} a");
    assert_eq!(
        d.defects,
        vec![DecodeError {
            kind: DecodeErrorKind::InvalidByte(0xE9),
            offset: 3
        }]
    );
}

#[test]
fn invalid_bytes_in_a_charset_are_replaced_with_a_defect() {
    let d = decode(b"x =?UTF-8?Q?=FF?=");
    assert_eq!(d.text, "x \u{FFFD}");
    assert_eq!(
        d.defects,
        vec![DecodeError {
            kind: DecodeErrorKind::MalformedWord,
            offset: 2
        }]
    );
    assert_eq!(dec("=?shift_jis?Q?=82?="), "\u{FFFD}");
}

#[test]
fn decoder_reuse_and_offsets() {
    let mut d = Decoder::new();
    let (mut out, mut defects) = (String::new(), Vec::new());
    d.decode_into(b"=?UTF-8?Q?=C3?=", 100, &mut out, &mut defects);
    d.decode_into(b" =?x?Q?a?=", 200, &mut out, &mut defects);
    assert_eq!(out, "\u{FFFD} =?x?Q?a?=");
    let offsets: Vec<u64> = defects.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, [100, 201]);
}

#[test]
fn decode_lines_unfolds_and_reports() {
    let input = b"Subject: =?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=\r\nTo: x\n\n  y\n=?x?Q?z?=";
    let mut out = Vec::new();
    let s = decode_lines(&mut &input[..], &mut out, &DecodeOptions::default()).unwrap();
    assert_eq!(out, b"Subject: ab\nTo: x\n\n  y\n=?x?Q?z?=\n");
    assert_eq!(s.lines, 5);
    assert_eq!(s.defects, 1);
    assert_eq!(s.first.unwrap().offset, 51);
    let latin1 = DecodeOptions {
        to: Some(charset::target(b"latin1").unwrap()),
        strict: false,
    };
    let mut out = Vec::new();
    decode_lines(&mut &b"=?UTF-8?Q?=C3=A9?="[..], &mut out, &latin1).unwrap();
    assert_eq!(out, b"\xe9\n");
    let err = decode_lines(&mut &b"a\n=?UTF-8?Q?=E2=82=AC?="[..], &mut out, &latin1);
    match err {
        Err(Error::Decode(e)) => {
            assert_eq!(e.kind, DecodeErrorKind::Unmappable('€'));
            assert_eq!(e.offset, 2);
        }
        other => panic!("{other:?}"),
    }
}

/// Issue 13 item 10: `mime-word -d -t latin1` reported the offset of the
/// line, not of the character it could not write.
#[test]
fn bug_unmappable_offset_is_the_characters_not_the_lines() {
    let latin1 = DecodeOptions {
        to: Some(charset::target(b"latin1").unwrap()),
        strict: false,
    };
    for (input, offset) in [
        // Raw UTF-8: the character itself (line 2 starts at 4).
        ("abc\nxy Grüße €uro\n", 4 + 11),
        // After a fold and an encoded-word, and a second € in raw text.
        ("s\n =?UTF-8?Q?=C3=A9?= € €", 22),
        ("é é =?UTF-8?Q?a?= €", 20),
        // Inside encoded-words: the first of the run that holds it.
        ("a\nxy =?UTF-8?Q?a?= =?UTF-8?Q?=E2=82=AC?=", 2 + 3),
        ("a\nxy =?UTF-8?Q?a?= b =?UTF-8?Q?=E2=82=AC?=", 2 + 19),
    ] {
        let mut out = Vec::new();
        match decode_lines(&mut input.as_bytes(), &mut out, &latin1) {
            Err(Error::Decode(e)) => {
                assert_eq!(e.kind, DecodeErrorKind::Unmappable('€'), "{input:?}");
                assert_eq!(e.offset, offset, "{input:?}");
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }
}

#[test]
fn decode_lines_strict_stops_before_the_bad_line() {
    let strict = DecodeOptions {
        to: None,
        strict: true,
    };
    let mut out = Vec::new();
    let err = decode_lines(
        &mut &b"=?UTF-8?Q?a?=\nb =?x?Q?y?=\nc\n"[..],
        &mut out,
        &strict,
    );
    assert_eq!(out, b"a\n");
    match err {
        Err(Error::Decode(e)) => assert_eq!(e.offset, 16),
        other => panic!("{other:?}"),
    }
}

#[test]
fn decode_lines_bounds_a_logical_line() {
    let mut input = b"a\n".to_vec();
    input.extend(std::iter::repeat_n(b' ', MAX_LINE));
    let err =
        decode_lines(&mut &input[..], &mut Vec::new(), &DecodeOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io(ref e) if e.kind() == std::io::ErrorKind::InvalidData));
}

#[test]
fn bug_folded_line_error_names_max_line() {
    // The limit of a logical line is MAX_LINE, not the room left when a
    // continuation line is read.
    let mut input = b"a\n".to_vec();
    input.extend(b" b".repeat(MAX_LINE));
    let err =
        decode_lines(&mut &input[..], &mut Vec::new(), &DecodeOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("line longer than {MAX_LINE} bytes"),
    );
}

proptest::proptest! {
    #[test]
    fn decode_never_panics_and_never_emits_controls(input in proptest::collection::vec(
        proptest::prop_oneof![
            proptest::sample::select(b"=?_ \t\r\nQqBb-UTF8utf8x".to_vec()),
            proptest::num::u8::ANY,
        ], 0..200)) {
        let d = decode(&input);
        proptest::prop_assert!(!d.text.chars().any(is_bad_control));
    }
}
