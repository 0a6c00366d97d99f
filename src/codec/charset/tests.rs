//! Unit tests of `charset`.

use super::*;
use encoding_rs::*;

#[test]
fn labels_and_mail_aliases() {
    let table: &[(&str, Option<&'static Encoding>)] = &[
        ("UTF-8", Some(UTF_8)),
        (" utf8 ", Some(UTF_8)),
        ("utf_8", Some(UTF_8)),
        ("ISO-8859-1", Some(WINDOWS_1252)),
        ("latin1", Some(WINDOWS_1252)),
        ("latin-1", Some(WINDOWS_1252)),
        ("us-ascii", Some(WINDOWS_1252)),
        ("cp1252", Some(WINDOWS_1252)),
        ("iso-8859-15", Some(ISO_8859_15)),
        ("gb2312", Some(GBK)),
        ("cp936", Some(GBK)),
        ("GB18030", Some(GB18030)),
        ("ks_c_5601-1987", Some(EUC_KR)),
        ("cp949", Some(EUC_KR)),
        ("x-sjis", Some(SHIFT_JIS)),
        ("cp932", Some(SHIFT_JIS)),
        ("ISO-2022-JP", Some(ISO_2022_JP)),
        ("big5", Some(BIG5)),
        ("cp950", Some(BIG5)),
        ("koi8-r", Some(KOI8_R)),
        ("windows-1251", Some(WINDOWS_1251)),
        ("utf-16le", Some(UTF_16LE)),
        ("iso-2022-kr", None),
        ("hz-gb-2312", None),
        ("x-user-defined", None),
        ("utf-7", None),
        ("cp850", None),
        ("ibm437", None),
        ("x-unknown", None),
        ("", None),
    ];
    for (label, want) in table {
        assert_eq!(lookup(label.as_bytes()), *want, "{label}");
    }
    assert_eq!(find(b"UNICODE-1-1-UTF-7"), Some(Charset::Utf7));
    assert_eq!(find(b"utf-7"), Some(Charset::Utf7));
    assert_eq!(find(b"cp-850"), None);
}

#[test]
fn bug_utf16_without_bom_is_big_endian() {
    // RFC 2781 §4.3: text labelled "UTF-16" without a BOM is big-endian;
    // WHATWG's mapping of the label to UTF-16LE gave "愀戀" for "ab".
    let dec = |label: &[u8], bytes: &[u8]| {
        let mut s = String::new();
        let bad = find(label).unwrap().decode_into(bytes, &mut s);
        (s, bad)
    };
    for label in [
        &b"utf-16"[..],
        b"UTF-16",
        b" ucs-2",
        b"ISO-10646-UCS-2",
        b"csUnicode",
    ] {
        assert_eq!(find(label), Some(Charset::Utf16));
        assert_eq!(dec(label, b"\0a\0b"), ("ab".into(), false));
        assert_eq!(dec(label, b"\xfe\xff\0a\0b"), ("ab".into(), false));
        assert_eq!(dec(label, b"\xff\xfea\0b\0"), ("ab".into(), false));
    }
    // Labels that state the order keep it; a BOM there is a character.
    assert_eq!(dec(b"utf-16le", b"a\0b\0"), ("ab".into(), false));
    assert_eq!(dec(b"utf-16be", b"\0a"), ("a".into(), false));
    assert_eq!(dec(b"unicode", b"a\0"), ("a".into(), false));
    assert_eq!(dec(b"utf-16", b"\0a\0"), ("a\u{FFFD}".into(), true));
    assert_eq!(target(b"utf-16"), Err(TargetError::DecodeOnly));
}

#[test]
fn utf7_rfc2152_examples() {
    // RFC 2152 §"Examples" (the text-form examples).
    let table: &[(&[u8], &str, bool)] = &[
        (b"Hi Mom -+Jjo--!", "Hi Mom -\u{263A}-!", false),
        (b"+ZeVnLIqe-", "\u{65E5}\u{672C}\u{8A9E}", false),
        (b"A+ImIDkQ.", "A\u{2262}\u{391}.", false),
        (b"1 +- 1", "1 + 1", false),
        (b"+AGE-", "a", false),
        (b"+2D3cAA-", "\u{1F400}", false),
        (b"+2D0-", "\u{FFFD}", true),
        (b"\xff", "\u{FFFD}", true),
    ];
    for (input, want, bad) in table {
        let mut out = String::new();
        assert_eq!(utf7_decode(input, &mut out), *bad, "{input:?}");
        assert_eq!(out, *want);
    }
}

#[test]
fn decode_into_reports_malformed_bytes() {
    let mut s = String::new();
    assert!(!Charset::Encoding(SHIFT_JIS).decode_into(b"\x93\xfa\x96{", &mut s));
    assert_eq!(s, "日本");
    s.clear();
    assert!(Charset::Encoding(UTF_8).decode_into(b"a\xffb", &mut s));
    assert_eq!(s, "a\u{FFFD}b");
    s.clear();
    assert!(!Charset::Encoding(WINDOWS_1252).decode_into(b"\x80", &mut s));
    assert_eq!(s, "€");
}

#[test]
fn targets_keep_latin1_and_ascii_honest() {
    let t = target(b"latin1").unwrap();
    assert_eq!(t.name(), "ISO-8859-1");
    let mut v = Vec::new();
    assert_eq!(t.encode_into("é", &mut v), Ok(()));
    assert_eq!(v, b"\xe9");
    assert_eq!(t.encode_into("a€", &mut v), Err(('€', 1)));
    let t = target(b"cp1252").unwrap();
    assert_eq!(t.name(), "windows-1252");
    v.clear();
    assert_eq!(t.encode_into("€", &mut v), Ok(()));
    assert_eq!(v, b"\x80");
    assert_eq!(target(b"US-ASCII").unwrap().name(), "US-ASCII");
    assert!(target(b"ascii").unwrap().encode_into("é", &mut v).is_err());
    assert_eq!(target(b"gb2312").unwrap().name(), "GBK");
    assert_eq!(target(b"utf-16"), Err(TargetError::DecodeOnly));
    assert_eq!(target(b"utf-7"), Err(TargetError::DecodeOnly));
    assert_eq!(target(b"nope"), Err(TargetError::Unknown));
}

#[test]
fn stateful_targets_end_in_ascii() {
    let t = target(b"iso-2022-jp").unwrap();
    assert!(t.is_stateful());
    let mut v = Vec::new();
    t.encode_into("日本", &mut v).unwrap();
    assert_eq!(v, b"\x1b$BF|K\\\x1b(B");
    v.clear();
    assert_eq!(t.encode_into("日€", &mut v), Err(('€', 3)));
    let t = target(b"shift_jis").unwrap();
    v.clear();
    assert_eq!(t.encode_into("ab€", &mut v), Err(('€', 2)));
}
