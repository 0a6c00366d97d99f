//! Unit tests of `mime`.

use super::*;
use proptest::prelude::*;

fn ct(s: &str) -> ContentType {
    ContentType::parse(s.as_bytes())
}

fn kinds(p: &Params) -> Vec<DefectKind> {
    p.defects.iter().map(|d| d.kind.clone()).collect()
}

/// (input, essence, [(name, value)], defects?)
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    bool,
);

#[test]
fn types_and_plain_params() {
    let cases: &[Case] = &[
        ("text/plain", "text/plain", &[], false),
        (
            "Text/HTML; Charset=\"UTF-8\"",
            "text/html",
            &[("charset", "UTF-8")],
            false,
        ),
        // RFC 2045 §5.1 examples (comment after the value).
        (
            "text/plain; charset=us-ascii (Plain text)",
            "text/plain",
            &[("charset", "us-ascii")],
            false,
        ),
        (
            "text/plain; charset=\"us-ascii\"",
            "text/plain",
            &[("charset", "us-ascii")],
            false,
        ),
        (
            " multipart/mixed (c) ; boundary = \"a b;c\" ; ",
            "multipart/mixed",
            &[("boundary", "a b;c")],
            false,
        ),
        (
            "multipart/mixed;\n boundary=\"x\\\"y\"",
            "multipart/mixed",
            &[("boundary", "x\"y")],
            false,
        ),
        // Tokens may hold `=` in real mail (base64-ish boundaries).
        (
            "multipart/mixed; boundary==_abc=",
            "multipart/mixed",
            &[("boundary", "=_abc=")],
            false,
        ),
        ("", "text/plain", &[], true),
        ("garbage", "text/plain", &[], true),
        ("text/; charset=x", "text/plain", &[("charset", "x")], true),
        ("/plain", "text/plain", &[], true),
        (
            "text/plain; name=my file.pdf",
            "text/plain",
            &[("name", "my file.pdf")],
            true,
        ),
        (
            "text/plain; name=\"open",
            "text/plain",
            &[("name", "open")],
            true,
        ),
        ("text/plain; charset", "text/plain", &[], true),
        ("text/plain; =x; a=b", "text/plain", &[("a", "b")], true),
        ("text/plain; a=1; A=2", "text/plain", &[("a", "1")], true),
        ("text/plain (unterminated; a=b", "text/plain", &[], true),
        ("text/plain;;; a=b;", "text/plain", &[("a", "b")], false),
        (
            "application/pdf; name=\"=?UTF-8?B?4oKsLnBkZg==?=\"",
            "application/pdf",
            &[("name", "€.pdf")],
            false,
        ),
        (
            "text/plain; name=\"caf\u{e9}\"",
            "text/plain",
            &[("name", "café")],
            false,
        ),
    ];
    for &(input, essence, params, defects) in cases {
        let t = ct(input);
        assert_eq!(t.essence(), essence, "{input:?}");
        let got: Vec<(&str, &str)> = t
            .params
            .list
            .iter()
            .map(|p| (&p.name[..], &p.value[..]))
            .collect();
        assert_eq!(got, params, "{input:?}");
        assert_eq!(
            !t.params.defects.is_empty(),
            defects,
            "{input:?}: {:?}",
            t.params.defects
        );
    }
}

#[test]
fn invalid_bytes_in_plain_value() {
    let t = ContentType::parse(b"text/plain; name=\"a\xFFb\"");
    assert_eq!(t.param("name"), Some("a\u{FFFD}b"));
    assert_eq!(
        t.params.param("name").map(|p| &p.raw[..]),
        Some(&b"a\xFFb"[..])
    );
    assert_eq!(kinds(&t.params), [DefectKind::InvalidBytes("name".into())]);
}

#[test]
fn disposition() {
    let d = Disposition::parse(b"Attachment; filename=genome.jpeg;\r\n modification-date=\"Wed, 12 Feb 1997 16:29:51 -0500\"");
    assert_eq!(d.kind, "attachment");
    assert!(d.is_attachment());
    assert_eq!(d.filename(), Some("genome.jpeg"));
    assert_eq!(
        d.params.get("Modification-Date"),
        Some("Wed, 12 Feb 1997 16:29:51 -0500")
    );
    assert!(d.params.defects.is_empty());
    let d = Disposition::parse(b"; filename=x");
    assert_eq!(d.kind, "");
    assert_eq!(d.filename(), Some("x"));
    assert_eq!(kinds(&d.params), [DefectKind::InvalidType]);
}

#[test]
fn rfc2231_examples() {
    // §3
    let t = ct(
        "message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
    );
    assert_eq!(
        t.param("url"),
        Some("ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
    );
    assert_eq!(t.param("access-type"), Some("URL"));
    assert!(t.params.defects.is_empty());
    // §4
    let t = ct("application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
    let p = t.params.param("title").unwrap();
    assert_eq!(p.value, "This is ***fun***");
    assert_eq!(p.charset.as_deref(), Some("us-ascii"));
    assert_eq!(p.language.as_deref(), Some("en-us"));
    // §4.1
    let t = ct(
        "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
    );
    let p = t.params.param("title").unwrap();
    assert_eq!(p.value, "This is even more ***fun*** isn't it!");
    assert_eq!(p.language.as_deref(), Some("en"));
    assert!(t.params.defects.is_empty());
}

#[test]
fn rfc2231_damage_k12() {
    let f = |s: &str| {
        let d = Disposition::parse(s.as_bytes());
        (d.filename().map(str::to_owned), kinds(&d.params))
    };
    // (Content-Disposition, the filename, its defects)
    let cases: Vec<(&str, &str, Vec<DefectKind>)> = vec![
        // A character split across sections: joined before decoding.
        (
            "attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC.txt",
            "€.txt",
            vec![],
        ),
        // Out of order: sorted.
        (
            "attachment; filename*1*=%AC.txt; filename*0*=utf-8''%E2%82",
            "€.txt",
            vec![],
        ),
        // A missing section: defect, the rest joined.
        (
            "attachment; filename*0=\"a\"; filename*2=\"c\"",
            "ac",
            vec![DefectKind::MissingSection("filename".into(), 1)],
        ),
        (
            "attachment; filename*1=\"b\"",
            "b",
            vec![DefectKind::MissingSection("filename".into(), 0)],
        ),
        // Bad % kept literally.
        (
            "attachment; filename*=utf-8''a%ZZb%4",
            "a%ZZb%4",
            vec![DefectKind::BadPercent("filename".into())],
        ),
        // Duplicate section.
        (
            "attachment; filename*0=a; filename*0=b; filename*1=c",
            "ac",
            vec![DefectKind::DuplicateSection("filename".into(), 0)],
        ),
        // Unknown charset, missing charset, invalid bytes.
        (
            "attachment; filename*=x-nope''a%C3%A9",
            "aé",
            vec![DefectKind::UnknownCharset("x-nope".into())],
        ),
        (
            "attachment; filename*=a%20b",
            "a b",
            vec![DefectKind::MissingCharset("filename".into())],
        ),
        (
            "attachment; filename*=utf-8''%FF",
            "\u{FFFD}",
            vec![DefectKind::InvalidBytes("filename".into())],
        ),
        // Other charsets; empty charset.
        (
            "attachment; filename*=iso-8859-1'de'%E4.txt",
            "ä.txt",
            vec![],
        ),
        ("attachment; filename*=''a%20b", "a b", vec![]),
        // RFC 2231 wins over the plain form given for old readers.
        (
            "attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC.txt",
            "€.txt",
            vec![],
        ),
        // Huge section numbers allocate nothing.
        (
            "attachment; filename*0=a; filename*4294967295=b",
            "ab",
            vec![DefectKind::MissingSection("filename".into(), 1)],
        ),
    ];
    for (input, name, defects) in cases {
        assert_eq!(f(input), (Some(name.into()), defects), "{input:?}");
    }
}

#[test]
fn too_many_params() {
    let mut s = String::from("text/plain");
    for i in 0..MAX_PARAMS + 5 {
        s.push_str(&format!("; p{i}=v"));
    }
    let t = ct(&s);
    assert_eq!(t.params.list.len(), MAX_PARAMS);
    assert_eq!(kinds(&t.params), [DefectKind::TooManyParams]);
}

#[test]
fn boundary_bytes_exact() {
    let t = ContentType::parse(b"multipart/mixed; boundary=\"\xE9=_x\"");
    assert_eq!(t.boundary(), Some(&b"\xE9=_x"[..]));
    assert!(t.is_multipart());
}

fn write(name: &str, value: &str) -> String {
    let mut f = FieldWriter::new("Content-Disposition", "attachment");
    f.param(name, value);
    f.finish()
}

#[test]
fn writing_params() {
    let cases: &[(&str, &str)] = &[
        ("a.pdf", "Content-Disposition: attachment; filename=a.pdf"),
        (
            "my file.pdf",
            "Content-Disposition: attachment; filename=\"my file.pdf\"",
        ),
        (
            "a\"b\\c",
            "Content-Disposition: attachment; filename=\"a\\\"b\\\\c\"",
        ),
        ("", "Content-Disposition: attachment; filename=\"\""),
        (
            "€.txt",
            "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.txt",
        ),
        (
            "a\r\nb",
            "Content-Disposition: attachment; filename*=UTF-8''a%0D%0Ab",
        ),
        (
            "it's 100%",
            "Content-Disposition: attachment; filename=\"it's 100%\"",
        ),
        (
            "=?x?=",
            "Content-Disposition: attachment; filename*=UTF-8''%3D%3Fx%3F%3D",
        ),
        // Tokens, but Python ends an unquoted value at `*`, `'`, `%`.
        (
            "_a*b%c'd",
            "Content-Disposition: attachment; filename=\"_a*b%c'd\"",
        ),
    ];
    for &(value, want) in cases {
        assert_eq!(write("filename", value), want, "{value:?}");
    }
    let mut f = FieldWriter::new("Content-Type", "multipart/mixed");
    f.param("boundary", "=_abc");
    assert_eq!(
        f.finish(),
        "Content-Type: multipart/mixed; boundary=\"=_abc\""
    );
    let mut f = FieldWriter::new(
        "Content-Type",
        "application/vnd.openxmlformats-officedocument",
    );
    f.param("name", "quarterly-report.docx");
    assert_eq!(
        f.finish(),
        "Content-Type: application/vnd.openxmlformats-officedocument;\n name=quarterly-report.docx"
    );
}

#[test]
fn writing_long_values_continues() {
    let long = "é".repeat(40);
    let s = write("filename", &long);
    assert!(s.contains("filename*0*=UTF-8''%C3%A9"), "{s}");
    assert!(s.contains("filename*1*=%C3%A9"), "{s}");
    for line in s.lines() {
        assert!(line.len() <= WIDTH, "{line:?}");
    }
    let back = Disposition::parse(s.split_once(':').unwrap().1.as_bytes());
    assert_eq!(back.filename(), Some(&long[..]));
    assert!(back.params.defects.is_empty());
    let ascii = "x".repeat(150) + " \"q\"";
    let s = write("filename", &ascii);
    assert!(s.contains("filename*0=\"xxx"), "{s}");
    for line in s.lines() {
        assert!(line.len() <= WIDTH, "{line:?}");
    }
    let back = Disposition::parse(s.split_once(':').unwrap().1.as_bytes());
    assert_eq!(back.filename(), Some(&ascii[..]));
}

#[test]
fn writing_encoded_word_name() {
    let mut f = FieldWriter::new("Content-Type", "application/pdf");
    f.param_encoded_word("name", "€.pdf");
    assert_eq!(
        f.finish(),
        "Content-Type: application/pdf; name=\"=?UTF-8?B?4oKsLnBkZg==?=\""
    );
    let mut f = FieldWriter::new("Content-Type", "application/pdf");
    f.param_encoded_word("name", "plain.pdf");
    assert_eq!(f.finish(), "Content-Type: application/pdf; name=plain.pdf");
    let long = "日本語のファイル名".repeat(8);
    let mut f = FieldWriter::new("Content-Type", "application/pdf");
    f.param_encoded_word("name", &long);
    let s = f.finish();
    for line in s.lines() {
        assert!(line.len() <= WIDTH, "{line:?}");
    }
    assert_eq!(
        ContentType::parse(s.split_once(':').unwrap().1.as_bytes()).param("name"),
        Some(&long[..])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn written_params_read_back(value in "\\PC{0,120}|[ -~]{0,200}", ew in any::<bool>()) {
        let mut f = FieldWriter::new("Content-Type", "application/octet-stream");
        if ew {
            f.param_encoded_word("name", &value);
        } else {
            f.param("name", &value);
        }
        f.param("x", "y");
        let s = f.finish();
        for line in s.lines() {
            prop_assert!(line.len() <= WIDTH, "{:?}", line);
        }
        prop_assert!(s.is_ascii());
        let back = ContentType::parse(s.split_once(':').unwrap().1.as_bytes());
        // Decoded encoded-words never hold line or paragraph separators
        // (encoded_word's spoofing rule): they come back as U+FFFD.
        let want = match ew {
            true => value.replace(['\u{2028}', '\u{2029}'], "\u{FFFD}"),
            false => value.clone(),
        };
        prop_assert_eq!(back.param("name"), Some(&want[..]));
        prop_assert_eq!(back.param("x"), Some("y"));
        prop_assert!(back.params.defects.is_empty(), "{:?}", back.params.defects);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = ContentType::parse(&bytes);
        let _ = Disposition::parse(&bytes);
    }
}
