//! Unit tests of `header`.

use super::*;
use proptest::prelude::*;

fn fields(input: &[u8]) -> Vec<(String, String)> {
    let block = read_block(&mut &input[..]).unwrap();
    block
        .fields()
        .map(|f| {
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            (s(f.name), s(f.value))
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn bug_one_address_field_table() {
    // RFC 5322 §3.6.2-3.6.3 and §3.6.6; mime-hdr's default is smaller.
    for name in [
        "from",
        "Sender",
        "REPLY-TO",
        "to",
        "Cc",
        "bcc",
        "Resent-From",
        "resent-bcc",
    ] {
        assert!(is_address_field(name), "{name}");
    }
    for name in [
        "Subject",
        "Message-ID",
        "Resent-Date",
        "X-To",
        "Return-Path",
    ] {
        assert!(!is_address_field(name), "{name}");
    }
    assert!(DEFAULT_ADDRESS_FIELDS.iter().all(|f| is_address_field(f)));
}

#[test]
fn reads_lf_and_crlf_blocks_keeping_folds() {
    let want = pairs(&[("Subject", " a\r\n b"), ("To", " x@y")]);
    assert_eq!(fields(b"Subject: a\r\n b\r\nTo: x@y\r\n\r\nbody\r\n"), want);
    let want = pairs(&[("Subject", " a\n\tb"), ("To", "x@y")]);
    assert_eq!(fields(b"Subject: a\n\tb\nTo:x@y\n\nbody\n"), want);
    // RFC 5322 §4.5.3: obsolete white space before the colon.
    assert_eq!(fields(b"Subject \t: x\n"), pairs(&[("Subject", " x")]));
    // No final line end, no body.
    assert_eq!(fields(b"A: 1"), pairs(&[("A", " 1")]));
    assert_eq!(fields(b""), pairs(&[]));
    assert_eq!(fields(b"\n"), pairs(&[]));
    // Empty values, white-space-only continuation lines (obs-FWS).
    assert_eq!(
        fields(b"A:\nB: \n \nC: c\n"),
        pairs(&[("A", ""), ("B", " \n "), ("C", " c")])
    );
}

#[test]
fn leaves_the_body_unread() {
    let input = b"From: a@b\r\nSubject: hi\r\n\r\nFrom: not a header\r\n\r\nmore";
    let mut r = &input[..];
    let block = read_block(&mut r).unwrap();
    assert_eq!(block.len(), 2);
    assert_eq!(r, b"From: not a header\r\n\r\nmore");
    assert_eq!(block.body_start(), None);
    // A small BufReader: the rest stays in the reader, not consumed.
    let mut r = io::BufReader::with_capacity(7, &input[..]);
    read_block(&mut r).unwrap();
    let mut rest = Vec::new();
    io::Read::read_to_end(&mut r, &mut rest).unwrap();
    assert_eq!(rest, b"From: not a header\r\n\r\nmore");
}

#[test]
fn lenient_starts_and_ends() {
    // mbox From_ line skipped (first line only).
    let mbox = b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nSubject: s\n\nb";
    assert_eq!(fields(mbox), pairs(&[("Subject", " s")]));
    // A continuation before any field is ignored.
    assert_eq!(fields(b" lost\nA: 1\n"), pairs(&[("A", " 1")]));
    // A line that is neither field nor continuation starts the body.
    let input = b"A: 1\nthis is body\nB: 2\n";
    let mut r = &input[..];
    let block = read_block(&mut r).unwrap();
    assert_eq!(block.len(), 1);
    assert_eq!(block.body_start(), Some(&b"this is body\n"[..]));
    assert_eq!(r, b"B: 2\n");
    for not_field in [
        &b":x\n"[..],
        b"B\xc3\xa4d: x\n",
        b"no colon\n",
        b"From x\n",
        b"\r\n",
    ] {
        let mut input = b"A: 1\n".to_vec();
        input.extend_from_slice(not_field);
        assert_eq!(fields(&input), pairs(&[("A", " 1")]), "{not_field:?}");
    }
    // Body without any header.
    assert_eq!(read_block(&mut &b"hello world\n"[..]).unwrap().len(), 0);
}

#[test]
fn limits_are_parse_errors() {
    let err = |input: &[u8]| match read_block(&mut &input[..]) {
        Err(Error::Parse(e)) => e,
        other => panic!("want a parse error, got {other:?}"),
    };
    // One line of 10 MB without a newline.
    let e = err(&vec![b'x'; 10 << 20]);
    assert_eq!(
        e,
        ParseError {
            kind: ParseErrorKind::HeaderTooLarge,
            line: 1
        }
    );
    // 2 MB of valid fields.
    let mut line = b"X-Filler: ".to_vec();
    line.resize(2000, b'f');
    line.push(b'\n');
    let big = line.repeat(1000);
    assert_eq!(err(&big).kind, ParseErrorKind::HeaderTooLarge);
    // Exactly at the limits is fine; one more field is not.
    let many = b"A: b\n".repeat(MAX_HEADER_FIELDS);
    assert_eq!(read_block(&mut &many[..]).unwrap().len(), MAX_HEADER_FIELDS);
    let mut more = many.clone();
    more.extend_from_slice(b"A: b\n");
    let e = err(&more);
    assert_eq!(
        e,
        ParseError {
            kind: ParseErrorKind::TooManyFields,
            line: 10_001
        }
    );
    let mut exact = b"A: ".to_vec();
    exact.resize(MAX_HEADER_BYTES - 2, b'a');
    exact.extend_from_slice(b"\n\n");
    assert_eq!(read_block(&mut &exact[..]).unwrap().len(), 1);
}

#[test]
fn unfolds_per_rfc5322_2_2_3() {
    let table: &[(&[u8], &[u8])] = &[
        (b"a\r\n b", b"a b"),
        (b"a\n\tb", b"a\tb"),
        (b"a\r\n\r\n b", b"a\r\n b"),
        (b"a\r\nb", b"a\r\nb"),
        (b"a\n", b"a\n"),
        (b"\n x\n y", b" x y"),
        (b"plain", b"plain"),
    ];
    for (input, want) in table {
        assert_eq!(&*unfold(input), *want, "{input:?}");
    }
}

#[test]
fn field_names() {
    assert!(is_field_name(b"X-Spam-Score"));
    assert!(is_field_name(b"X-My_Header.1"));
    assert!(!is_field_name(b""));
    assert!(!is_field_name(b"a:b"));
    assert!(!is_field_name(b"a b"));
    assert!(!is_field_name("ä".as_bytes()));
}

fn print(
    input: &[u8],
    names: &[&str],
    show: Show,
    label: bool,
    prefix: Option<&str>,
) -> (bool, String) {
    let block = read_block(&mut &input[..]).unwrap();
    let mut select = Select::new(names, show, label).unwrap();
    let mut out = Vec::new();
    let printed = select.print(&block, prefix, &mut out).unwrap();
    (printed.any, String::from_utf8(out).unwrap())
}

#[test]
fn bug_defects_are_reported_not_dropped() {
    // The decoder's defects were collected and thrown away: mime-hdr
    // never warned about words it left undecoded or broken lists.
    let msg = b"Subject: =?x-unknown?Q?a?= =?UTF-8?Q?b?=\nX: ok\nTo: <a@b, c@d\nCc: e@f\n\n";
    let report = |names: &[&str], show| {
        let block = read_block(&mut &msg[..]).unwrap();
        let mut select = Select::new(names, show, false).unwrap();
        select.print(&block, None, &mut Vec::new()).unwrap()
    };
    let r = report(&[], Show::Value);
    assert_eq!((r.any, r.defects), (true, 1));
    let first = r.first.unwrap();
    assert_eq!(
        first.to_string(),
        "Subject: unknown charset \"x-unknown\" at byte 0"
    );
    assert_eq!(report(&["x", "cc"], Show::Value).first, None);
    let r = report(&["to", "cc"], Show::Addresses);
    assert_eq!((r.any, r.defects), (true, 1));
    assert_eq!(
        r.first.unwrap().to_string(),
        "To: '<' without '>' at byte 1"
    );
    let r = report(&["subject", "to"], Show::Value);
    assert_eq!(r.defects, 1, "a value is not an address list");
}

const MSG: &[u8] = b"From: Ann <ann@x>\r\nTo: b@y,\r\n c@z\r\nSubject:  hi \r\n there \r\n\
                         cc: \"D, E\" <d@w>\r\nTO: g: f@v;\r\n\r\nbody";

#[test]
fn selects_in_the_order_asked_every_occurrence() {
    let v = Show::Value;
    assert_eq!(
        print(MSG, &["subject"], v, false, None),
        (true, "hi \t there\n".replace('\t', ""))
    );
    assert_eq!(
        print(MSG, &["cc:to"], v, false, None),
        (
            true,
            "cc: \"D, E\" <d@w>\nTo: b@y, c@z\nTO: g: f@v;\n".into()
        )
    );
    assert_eq!(
        print(MSG, &["to", "To", "TO"], v, false, None).1,
        "b@y, c@z\ng: f@v;\n"
    );
    assert_eq!(
        print(MSG, &["subject"], v, true, Some("m.eml")).1,
        "m.eml:Subject: hi  there\n"
    );
    assert_eq!(
        print(MSG, &["x-missing"], v, false, None),
        (false, String::new())
    );
    let all = print(MSG, &[], v, false, None).1;
    assert_eq!(all.lines().count(), 5);
    assert!(all.starts_with("From: Ann <ann@x>\nTo: b@y, c@z\n"));
}

#[test]
fn prints_addresses() {
    let (printed, out) = print(MSG, &[], Show::Mailboxes, false, None);
    assert!(printed);
    assert_eq!(out, "Ann <ann@x>\nb@y\nc@z\nf@v\n\"D, E\" <d@w>\n");
    let out = print(MSG, &["cc"], Show::Addresses, true, Some("f")).1;
    assert_eq!(out, "f:cc: d@w\n");
    assert_eq!(
        print(
            b"To: undisclosed-recipients:;\n",
            &[],
            Show::Addresses,
            false,
            None
        ),
        (false, "".into())
    );
}

#[test]
fn output_never_holds_raw_controls() {
    let (_, out) = print(
        b"X: a\x00b\x1bc\x7f\td\n",
        &["x"],
        Show::Value,
        false,
        Some("a\nb"),
    );
    assert_eq!(out, "a\u{FFFD}b:a\u{FFFD}b\u{FFFD}c\u{FFFD}\td\n");
    let (_, out) = print(b"To: \"a\x01b\"@x\n", &[], Show::Addresses, false, None);
    assert_eq!(out, "\"a\u{FFFD}b\"@x\n");
}

#[test]
fn bug_bidi_controls_reach_no_output() {
    // U+202E in a decoded display name, a raw address and a file name
    // came out raw, reversing what follows it on screen.
    let msg = "To: =?UTF-8?B?4oCuZ25w?= <a\u{202E}b@x>\nX: \u{2029}\n".as_bytes();
    let (_, out) = print(msg, &["to"], Show::Mailboxes, false, Some("f\u{2066}"));
    assert_eq!(out, "f\u{FFFD}:\u{FFFD}gnp <a\u{FFFD}b@x>\n");
    let (_, out) = print(msg, &["x"], Show::Value, false, None);
    assert_eq!(out, "\u{FFFD}\n");
}

#[test]
fn decodes_encoded_words_on_one_line() {
    let msg = "Subject: =?UTF-8?Q?Hi=0D=0ABcc:_x@evil?=\r\nX: =?utf-8?q?a?=\r\n =?utf-8?q?b?= c\r\n\
                   From: =?UTF-8?Q?Doe=2C_John?= <j@x>\r\n\r\n";
    let (_, out) = print(msg.as_bytes(), &[], Show::Value, false, None);
    assert_eq!(
        out,
        "Subject: Hi\u{FFFD}\u{FFFD}Bcc: x@evil\nX: ab c\nFrom: Doe, John <j@x>\n"
    );
    let (_, out) = print(msg.as_bytes(), &["from"], Show::Mailboxes, false, None);
    assert_eq!(out, "\"Doe, John\" <j@x>\n");
    assert_eq!(decode(b" =?ISO-8859-1?Q?a=E9?= \r\n"), "aé");
}

#[test]
fn bad_names_are_refused() {
    assert_eq!(
        Select::new(&["to:"], Show::Value, false).unwrap_err(),
        BadName(String::new())
    );
    assert!(Select::new(&["a b"], Show::Value, false).is_err());
    assert!(Select::new(&["to:cc", "from"], Show::Value, false).is_ok());
}

proptest! {
    #[test]
    fn any_input_reads_without_panic(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut r = &input[..];
        if let Ok(block) = read_block(&mut r) {
            let mut select = Select::new(&[] as &[&str], Show::Value, false).unwrap();
            let mut out = Vec::new();
            select.print(&block, None, &mut out).unwrap();
            prop_assert!(out.iter().filter(|&&b| b == b'\n').count() == block.len());
        }
    }

    #[test]
    fn folding_round_trips(words in proptest::collection::vec("[a-z]{1,8}", 1..20), crlf in any::<bool>()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let folded = words.join(&format!("{eol} "));
        let msg = format!("Subject: {folded}{eol}{eol}body");
        let block = read_block(&mut msg.as_bytes()).unwrap();
        let value = block.get(b"subject").unwrap().value;
        let want = format!(" {}", words.join(" "));
        prop_assert_eq!(&*unfold(value), want.as_bytes());
    }
}
