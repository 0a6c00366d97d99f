//! Unit tests of `mime-unpack --show`.

use super::*;

fn shown(msg: &[u8], html_cmd: Option<&str>) -> (String, Shown) {
    let opts = Options {
        html_cmd: html_cmd.map(str::to_owned),
    };
    let mut out = Vec::new();
    let s = show(msg, &mut out, &opts).unwrap();
    (String::from_utf8(out).unwrap(), s)
}

const MIXED: &[u8] = b"From: =?UTF-8?Q?J=C3=B6rg?= <j@example.org>\r\n\
To: a@example.org, \"Doe, Jane\" <jane@example.org>\r\n\
Subject: =?ISO-8859-1?Q?caf=E9?= menu\r\n\
Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n\
X-Other: not shown\r\n\
Content-Type: multipart/mixed; boundary=m\r\n\r\n\
--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n\
--a\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nVoil=E0 le menu.\r\n\
--a\r\nContent-Type: text/html\r\n\r\n<p>Voil&agrave;</p>\r\n--a--\r\n\
--m\r\nContent-Type: application/pdf; name=menu.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
--m\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi\r\n--m--\r\n";

#[test]
fn header_text_then_the_other_parts_numbered_as_the_listing() {
    let (out, s) = shown(MIXED, None);
    assert_eq!(
        out,
        "From: Jörg <j@example.org>\n\
         To: a@example.org, \"Doe, Jane\" <jane@example.org>\n\
         Date: Mon, 7 Dec 2026 10:00:00 +0000\n\
         Subject: café menu\n\
         \n\
         Voilà le menu.\n\
         \n\
         --- other parts: mime-unpack -x -p N saves part N, -p N prints it ---\n\
         1.2  text/html        19\n\
         2    application/pdf   9  menu.pdf\n\
         3    message/rfc822   20\n"
    );
    assert!(s.report.is_empty() && s.warnings.is_empty());
    // The numbers are the listing's (one numbering).
    let mut numbers = Vec::new();
    super::super::list::each_entry(MIXED, |e| {
        numbers.push(e.number);
        Ok(())
    })
    .unwrap();
    for n in ["1.2", "2", "3"] {
        assert!(numbers.iter().any(|m| m == n), "{n} in {numbers:?}");
    }
}

#[test]
fn alternative_prefers_plain_whichever_comes_first() {
    let msg = b"Subject: s\n\
Content-Type: multipart/alternative; boundary=a\n\n\
--a\nContent-Type: text/html\n\n<b>rich</b>\n\
--a\nContent-Type: text/plain\n\nplain\n--a--\n";
    let (out, _) = shown(msg, Some("sed 's/<[^>]*>//g'"));
    assert_eq!(
        out,
        "Subject: s\n\nplain\n\n\
         --- other parts: mime-unpack -x -p N saves part N, -p N prints it ---\n\
         1  text/html  11\n"
    );
}

#[test]
fn html_only_is_rendered_by_the_command_or_listed() {
    let msg = b"Subject: s\nContent-Type: text/html; charset=iso-8859-1\n\n\
<p>caf\xe9 <b>bold</b></p>\n";
    let (out, s) = shown(msg, Some("sed 's/<[^>]*>//g'"));
    assert_eq!(out, "Subject: s\n\ncafé bold\n");
    assert!(s.warnings.is_empty());
    let (out, _) = shown(msg, None);
    assert!(
        out.ends_with("1  text/html  24  (HTML: --html-cmd shows it)\n"),
        "{out}"
    );
    // An alternative without text/plain: its HTML is the text.
    let alt = b"Content-Type: multipart/alternative; boundary=a\n\n\
--a\nContent-Type: text/html\n\n<i>only</i>\n--a\n\
Content-Type: application/pdf\n\nx\n--a--\n";
    let (out, _) = shown(alt, Some("sed 's/<[^>]*>//g'"));
    assert!(out.starts_with("only\n"), "{out:?}");
    assert!(out.contains("\n2  application/pdf  1\n"), "{out:?}");
}

#[test]
fn a_failing_html_command_lists_the_part_with_a_warning() {
    let msg = b"Content-Type: text/html\n\n<p>x</p>\n";
    let (out, s) = shown(msg, Some("echo partial; exit 3"));
    assert!(out.contains("1  text/html  9"), "{out}");
    assert!(!out.contains("partial"), "{out}");
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].starts_with("part 1: --html-cmd: "),
        "{:?}",
        s.warnings
    );
}

#[test]
fn hostile_header_text_and_html_output_are_neutralised() {
    let msg = "Subject: =?UTF-8?Q?a=1B]0;pwned=07b_=E2=80=AEfdp.exe?=\n\
From: =?UTF-8?B?G1szMW0=?= <x@example.org>\n\
Content-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: text/plain; charset=utf-8\n\n\
line\x1b[2J one\r\x1b[1Aover \u{202E}txt.exe\u{2028}end\x07\n\
--b\nContent-Type: text/html\n\n<p>x</p>\n\
--b\nContent-Type: application/octet-stream; name=\"\u{202E}gpj.exe\x1b[8m\"\n\nz\n--b--\n";
    let (out, _) = shown(msg.as_bytes(), Some("printf 'evil\\033]52;c;x\\007\\n'"));
    for bad in ['\x1b', '\x07', '\r', '\u{202E}', '\u{2028}'] {
        assert!(!out.contains(bad), "{bad:?} in {out:?}");
    }
    assert!(
        out.contains("Subject: a\u{FFFD}]0;pwned\u{FFFD}b \u{FFFD}fdp.exe\n"),
        "{out}"
    );
    assert!(
        out.contains("From: \"\u{FFFD}[31m\" <x@example.org>\n"),
        "{out}"
    );
    assert!(
        out.contains("line\u{FFFD}[2J one\u{FFFD}\u{FFFD}[1Aover"),
        "{out}"
    );
    assert!(out.contains("evil\u{FFFD}]52;c;x\u{FFFD}\n"), "{out}");
    assert!(out.contains("\u{FFFD}gpj.exe\u{FFFD}[8m"), "{out}");
}

#[test]
fn clean_streams_crlf_and_utf8_split_across_writes() {
    let text = "é\r\n€ a\rb\r\n\u{202E}x\u{1F600}".as_bytes();
    for split in 0..=text.len() {
        let mut out = Vec::new();
        let mut c = Clean::new(&mut out);
        c.write_all(&text[..split]).unwrap();
        c.write_all(&text[split..]).unwrap();
        c.finish().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "é\n€ a\u{FFFD}b\n\u{FFFD}x\u{1F600}\n",
            "split at {split}"
        );
    }
    // Bytes that are not UTF-8 (a part without charset), and a final CR.
    let mut out = Vec::new();
    let mut c = Clean::new(&mut out);
    c.write_all(b"caf\xe9\r").unwrap();
    c.finish().unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "caf\u{FFFD}\u{FFFD}\n");
}

#[test]
fn an_html_command_printing_forever_is_cut() {
    let msg = b"Content-Type: text/html\n\n<p>x</p>\n";
    let (out, s) = shown(msg, Some("yes"));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(out.len() as u64, HTML_CMD_OUTPUT);
    assert!(out.starts_with("y\ny\n"));
}
