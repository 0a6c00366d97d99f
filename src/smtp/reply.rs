//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463,
//! RFC 2034).
//!
//! A [`Reply`] is a three-digit code, an optional enhanced status code
//! `class.subject.detail`, and one or more text lines. [`Reply::to_wire`]
//! writes the multi-line form of RFC 5321 §4.2.1: every line but the last
//! has a `-` after the code, and (RFC 2034 §3) the enhanced code is repeated
//! on every line. Whoever builds a reply decides whether it carries an
//! enhanced code: RFC 2034 §3 exempts the 220 greeting and the EHLO lines,
//! and 3xx replies (354, 334) cannot carry one (RFC 3463 §3.1 defines the
//! classes 2, 4 and 5 only).
//!
//! Reply text never contains CR, LF or other control characters on the
//! wire: `to_wire` replaces them by `?`, so a reply can never split into two
//! (RFC 5321 §4.2: textstring is HT, SP and printable characters).

use std::fmt;

/// One SMTP reply, possibly multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code (RFC 5321 §4.2.1), 200..=599.
    pub code: u16,
    /// Enhanced status code `(class, subject, detail)` (RFC 3463 §2).
    pub enhanced: Option<(u8, u16, u16)>,
    /// Text lines, without CRLF; at least one except in [`Reply::none`].
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, enhanced: Option<(u8, u16, u16)>, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply (for example the EHLO keywords, RFC 5321 §4.1.1.1).
    pub fn multi(code: u16, enhanced: Option<(u8, u16, u16)>, lines: Vec<String>) -> Reply {
        Reply {
            code,
            enhanced,
            lines,
        }
    }

    /// The empty reply: nothing is sent (`to_wire` is empty). Used with
    /// `Action::Close` when the connection ends without a word.
    pub fn none() -> Reply {
        Reply {
            code: 0,
            enhanced: None,
            lines: Vec::new(),
        }
    }

    /// Whether this is [`Reply::none`].
    pub fn is_none(&self) -> bool {
        self.code == 0 || self.lines.is_empty()
    }

    /// Wire form: `"250-first\r\n250 last\r\n"`; the enhanced code follows
    /// the reply code on every line when `with_enhanced` and the reply has
    /// one (RFC 2034 §3). The separator is always written, so an empty text
    /// gives `"334 \r\n"` as RFC 4954 §4 requires for an empty challenge.
    pub fn to_wire(&self, with_enhanced: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if self.is_none() {
            return out;
        }
        let enhanced = self.enhanced.filter(|_| with_enhanced);
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            out.extend_from_slice(format!("{:03}", self.code % 1000).as_bytes());
            let sep = if i == last { b' ' } else { b'-' };
            let mut text = Vec::new();
            if let Some((c, s, d)) = enhanced {
                text.extend_from_slice(format!("{c}.{s}.{d}").as_bytes());
                if !line.is_empty() {
                    text.push(b' ');
                }
            }
            // RFC 5321 §4.2: textstring = 1*(%d09 / %d32-126), extended to
            // UTF-8 by RFC 6531; control characters must never reach the
            // wire (a CR or LF here would forge a second reply).
            text.extend(line.bytes().map(|b| {
                if (b < 0x20 && b != b'\t') || b == 0x7f {
                    b'?'
                } else {
                    b
                }
            }));
            out.push(sep);
            out.extend_from_slice(&text);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Positive completion or intermediate (2xx or 3xx, RFC 5321 §4.2.1).
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// Transient negative (4xx, RFC 5321 §4.2.1): the client may retry.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// Permanent negative (5xx, RFC 5321 §4.2.1).
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    /// The wire form with enhanced codes, lines joined by `\n`, no CRLF
    /// (for logs and test messages).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = self.to_wire(true);
        let text = String::from_utf8_lossy(&wire);
        f.write_str(text.trim_end_matches("\r\n").replace("\r\n", "\n").as_str())
    }
}

/// Parses an enhanced status code `class.subject.detail` (RFC 3463 §2:
/// class 2, 4 or 5; subject and detail 1 to 3 digits) at the start of
/// `text`, followed by a space or the end. Returns the code and the rest of
/// the text after the space.
pub fn split_enhanced(text: &str) -> Option<((u8, u16, u16), &str)> {
    let (head, rest) = match text.split_once(' ') {
        Some((h, r)) => (h, r),
        None => (text, ""),
    };
    let mut parts = head.split('.');
    let (c, s, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |p: &str, max: usize| {
        if p.is_empty() || p.len() > max || !p.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            p.parse::<u16>().ok()
        }
    };
    let class = num(c, 1)?;
    if !matches!(class, 2 | 4 | 5) {
        return None;
    }
    Some(((class as u8, num(s, 3)?, num(d, 3)?), rest))
}

// ---------------------------------------------------------------------
// Client side: reading a server's reply with bounds.
// ---------------------------------------------------------------------

use std::io::{self, BufRead};

/// Longest reply line the client reads, in octets, line end included.
const MAX_REPLY_LINE: usize = crate::limits::SMTP_MAX_REPLY_LINE;

/// Most lines in one reply.
const MAX_REPLY_LINES: usize = crate::limits::SMTP_MAX_REPLY_LINES;

/// Why [`read_reply`] could not return a reply.
#[derive(Debug)]
pub enum ReplyError {
    /// Reading failed, or the connection closed (`UnexpectedEof`) before a
    /// complete reply.
    Io(io::Error),
    /// Not RFC 5321 §4.2 syntax (the text says what), or codes that differ
    /// between the lines of one reply.
    Malformed(String),
    /// A line longer than 8192 octets or a reply of more than 100 lines.
    TooLong,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Io(e) => e.fmt(f),
            ReplyError::Malformed(why) => write!(f, "malformed reply: {why}"),
            ReplyError::TooLong => write!(
                f,
                "reply too long (over {MAX_REPLY_LINE} octets in a line or {MAX_REPLY_LINES} lines)"
            ),
        }
    }
}

impl std::error::Error for ReplyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplyError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl Reply {
    /// The text lines joined with single spaces (without the code and the
    /// enhanced code), for messages.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// Reads one reply (RFC 5321 §4.2): `250-…` continuation lines, then
/// `250 …` (or a bare `250`). See [`read_reply_with`].
pub fn read_reply(input: &mut impl BufRead) -> Result<Reply, ReplyError> {
    read_reply_with(input, |_| {})
}

/// Reads one reply and calls `on_line` with each raw line (line end
/// removed) as it arrives, for a transcript.
///
/// Bounded: at most 100 lines of at most 8192 octets each
/// ([`ReplyError::TooLong`]), so a hostile server cannot make the client
/// allocate without limit. Strict where it matters for staying in step with
/// the server: each line is three digits (`%x32-35 %x30-35 %x30-39`, RFC 5321
/// §4.2) followed by `-`, a space or the line end, and every line carries
/// the same code ([`ReplyError::Malformed`] otherwise). Lenient where it does
/// not: a bare LF ends a line as well as CRLF, and text that is not UTF-8 is
/// decoded lossily.
///
/// The enhanced status code (RFC 3463, RFC 2034 §3) is taken from the start
/// of the first line when its class matches the reply's first digit (so a
/// 334 challenge or an EHLO keyword is never mistaken for one); it is then
/// removed from every line that repeats it. Control characters in the text
/// become `?` (they could not be shown safely, and `to_wire` would do the
/// same).
pub fn read_reply_with(
    input: &mut impl BufRead,
    mut on_line: impl FnMut(&[u8]),
) -> Result<Reply, ReplyError> {
    let mut code = None;
    let mut raw: Vec<String> = Vec::new();
    let mut buf = Vec::new();
    loop {
        if raw.len() == MAX_REPLY_LINES {
            return Err(ReplyError::TooLong);
        }
        buf.clear();
        match crate::io::lines::read_line(input, &mut buf, MAX_REPLY_LINE) {
            Ok(_) => {}
            Err(e)
                if e.kind() == io::ErrorKind::InvalidData
                    && e.get_ref()
                        .is_some_and(|i| i.is::<crate::io::lines::TooLong>()) =>
            {
                return Err(ReplyError::TooLong);
            }
            Err(e) => return Err(ReplyError::Io(e)),
        }
        if buf.last() != Some(&b'\n') {
            return Err(ReplyError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            )));
        }
        let line = crate::io::lines::trim_eol(&buf);
        on_line(line);
        let (this, last, text) = split_reply_line(line)?;
        match code {
            None => code = Some(this),
            Some(c) if c != this => {
                return Err(ReplyError::Malformed(format!(
                    "code {this} in a continuation of a {c} reply"
                )));
            }
            Some(_) => {}
        }
        raw.push(clean_text(text));
        if last {
            break;
        }
    }
    let code = code.unwrap_or_default();
    let enhanced = split_enhanced(&raw[0])
        .map(|(e, _)| e)
        .filter(|&(class, _, _)| u16::from(class) == code / 100);
    let lines = match enhanced {
        None => raw,
        Some((c, s, d)) => {
            let prefix = format!("{c}.{s}.{d}");
            raw.into_iter()
                .map(|l| match l.strip_prefix(&prefix) {
                    Some("") => String::new(),
                    Some(rest) if rest.starts_with(' ') => rest[1..].to_owned(),
                    _ => l,
                })
                .collect()
        }
    };
    Ok(Reply {
        code,
        enhanced,
        lines,
    })
}

/// `"250-text"` → `(250, false, "text")`; `"250 text"` and `"250"` are last.
fn split_reply_line(line: &[u8]) -> Result<(u16, bool, &[u8]), ReplyError> {
    let bad = || {
        let shown: String = String::from_utf8_lossy(&line[..line.len().min(40)])
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        ReplyError::Malformed(format!("not a reply line: {shown:?}"))
    };
    let (digits, rest) = (line.get(..3).ok_or_else(bad)?, &line[3..]);
    if !(b'2'..=b'5').contains(&digits[0])
        || !(b'0'..=b'5').contains(&digits[1])
        || !digits[2].is_ascii_digit()
    {
        return Err(bad());
    }
    let code = digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    match rest.first() {
        None => Ok((code, true, rest)),
        Some(b' ') => Ok((code, true, &rest[1..])),
        Some(b'-') => Ok((code, false, &rest[1..])),
        Some(_) => Err(bad()),
    }
}

/// Lossy UTF-8 with control characters (but not HT) replaced by `?`.
fn clean_text(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}

/// The codes of a transcript's final reply lines (those without `-` after
/// the code), for tests that check a whole dialogue.
#[cfg(test)]
pub(crate) fn codes(replies: &str) -> Vec<u16> {
    replies
        .lines()
        .filter(|l| l.as_bytes().get(3) != Some(&b'-'))
        .map(|l| l[..3].parse().unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let cases: &[(Reply, bool, &[u8])] = &[
            (
                Reply::new(250, Some((2, 0, 0)), "Ok"),
                true,
                b"250 2.0.0 Ok\r\n",
            ),
            (Reply::new(250, Some((2, 0, 0)), "Ok"), false, b"250 Ok\r\n"),
            (Reply::new(220, None, "mx ESMTP"), true, b"220 mx ESMTP\r\n"),
            (Reply::new(354, None, "End data"), true, b"354 End data\r\n"),
            (Reply::new(334, None, ""), true, b"334 \r\n"),
            (Reply::new(250, Some((2, 0, 0)), ""), true, b"250 2.0.0\r\n"),
            (
                Reply::new(452, Some((4, 5, 3)), "Too many recipients"),
                true,
                b"452 4.5.3 Too many recipients\r\n",
            ),
            // RFC 5321 §4.1.1.1 EHLO response: continuation lines use '-'.
            (
                Reply::multi(
                    250,
                    None,
                    vec!["mx".into(), "PIPELINING".into(), "SIZE 1000".into()],
                ),
                true,
                b"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
            ),
            // RFC 2034 §3: the enhanced code is on every line.
            (
                Reply::multi(550, Some((5, 1, 1)), vec!["a".into(), "b".into()]),
                true,
                b"550-5.1.1 a\r\n550 5.1.1 b\r\n",
            ),
            (
                Reply::multi(250, None, vec!["".into(), "x".into()]),
                true,
                b"250-\r\n250 x\r\n",
            ),
            // Control characters never reach the wire.
            (
                Reply::new(550, None, "a\r\n250 forged\0"),
                true,
                b"550 a??250 forged?\r\n",
            ),
            (
                Reply::new(550, None, "tab\there"),
                true,
                b"550 tab\there\r\n",
            ),
            (Reply::none(), true, b""),
        ];
        for (reply, enh, want) in cases {
            assert_eq!(
                reply.to_wire(*enh),
                *want,
                "{reply:?}: {:?}",
                String::from_utf8_lossy(want)
            );
        }
    }

    #[test]
    fn classes() {
        for (code, pos, tr, perm) in [
            (250, true, false, false),
            (354, true, false, false),
            (421, false, true, false),
            (554, false, false, true),
        ] {
            let r = Reply::new(code, None, "x");
            assert_eq!(
                (r.is_positive(), r.is_transient(), r.is_permanent()),
                (pos, tr, perm)
            );
        }
        assert!(Reply::none().is_none());
        assert!(!Reply::new(250, None, "").is_none());
    }

    #[test]
    fn display() {
        let r = Reply::multi(250, Some((2, 0, 0)), vec!["a".into(), "b".into()]);
        assert_eq!(r.to_string(), "250-2.0.0 a\n250 2.0.0 b");
    }

    #[test]
    fn enhanced_prefix() {
        assert_eq!(
            split_enhanced("4.3.0 try later"),
            Some(((4, 3, 0), "try later"))
        );
        assert_eq!(split_enhanced("5.1.10"), Some(((5, 1, 10), "")));
        assert_eq!(split_enhanced("5.100.999 x"), Some(((5, 100, 999), "x")));
        for bad in [
            "3.0.0 x",
            "5.1 x",
            "5.1.1.1 x",
            "5.1.1000 x",
            "x.1.1",
            "",
            "try",
            "5..1",
        ] {
            assert_eq!(split_enhanced(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;
    use std::io::BufReader;

    fn read(bytes: &[u8]) -> Result<Reply, ReplyError> {
        read_reply(&mut BufReader::with_capacity(3, bytes))
    }

    #[test]
    fn replies() {
        let cases: &[(&[u8], Reply)] = &[
            (b"220 mx ESMTP\r\n", Reply::new(220, None, "mx ESMTP")),
            (b"250\r\n", Reply::new(250, None, "")),
            (b"250 \r\n", Reply::new(250, None, "")),
            // A bare LF ends a line too.
            (b"250 ok\n", Reply::new(250, None, "ok")),
            // RFC 5321 §4.2.1 multi-line.
            (
                b"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
                Reply::multi(
                    250,
                    None,
                    vec!["mx".into(), "PIPELINING".into(), "SIZE 1000".into()],
                ),
            ),
            (
                b"250-\r\n250 x\r\n",
                Reply::multi(250, None, vec!["".into(), "x".into()]),
            ),
            // RFC 2034 §3: the enhanced code on every line is taken out.
            (
                b"550-5.1.1 a\r\n550 5.1.1 b\r\n",
                Reply::multi(550, Some((5, 1, 1)), vec!["a".into(), "b".into()]),
            ),
            (b"250 2.0.0\r\n", Reply::new(250, Some((2, 0, 0)), "")),
            // Class must match the code; 3xx never has one (RFC 3463 §3.1).
            (b"250 5.0.0 odd\r\n", Reply::new(250, None, "5.0.0 odd")),
            (b"334 2.0.0\r\n", Reply::new(334, None, "2.0.0")),
            (
                b"334 VXNlcm5hbWU6\r\n",
                Reply::new(334, None, "VXNlcm5hbWU6"),
            ),
            // Control characters never survive; bad UTF-8 is replaced.
            (
                b"550 a\x1bb\tc\xff\r\n",
                Reply::new(550, None, "a?b\tc\u{fffd}"),
            ),
        ];
        for (wire, want) in cases {
            assert_eq!(
                &read(wire).unwrap(),
                want,
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        // Round trip with the server's wire form.
        let r = Reply::multi(550, Some((5, 7, 1)), vec!["x".into(), "y z".into()]);
        assert_eq!(read(&r.to_wire(true)).unwrap(), r);
        assert_eq!(r.text(), "x y z");
    }

    #[test]
    fn leaves_the_next_reply_alone() {
        let mut input = BufReader::with_capacity(5, &b"250-a\r\n250 b\r\n354 go\r\n"[..]);
        assert_eq!(read_reply(&mut input).unwrap().code, 250);
        assert_eq!(read_reply(&mut input).unwrap().code, 354);
        assert!(matches!(read_reply(&mut input), Err(ReplyError::Io(_))));
    }

    #[test]
    fn hostile_replies() {
        // 100 lines are fine, 101 are not; 10,000 stop at 101.
        let ok = [b"250-x\r\n".repeat(99), b"250 y\r\n".to_vec()].concat();
        assert_eq!(read(&ok).unwrap().lines.len(), 100);
        let over = [b"250-x\r\n".repeat(100), b"250 y\r\n".to_vec()].concat();
        assert!(matches!(read(&over), Err(ReplyError::TooLong)));
        let mut endless = BufReader::new(std::io::repeat(b'x'));
        let lines = b"250-x\r\n".repeat(10_000);
        assert!(matches!(read(&lines), Err(ReplyError::TooLong)));
        // One line of 8192 octets with its CRLF passes; longer does not,
        // and an endless line stops at the limit.
        let line = |n: usize| [b"250 ".to_vec(), vec![b'a'; n - 6], b"\r\n".to_vec()].concat();
        assert!(read(&line(8192)).is_ok());
        assert!(matches!(read(&line(8193)), Err(ReplyError::TooLong)));
        assert!(matches!(read(&line(1 << 20)), Err(ReplyError::TooLong)));
        // An endless line is too long before it can be judged.
        assert!(matches!(read_reply(&mut endless), Err(ReplyError::TooLong)));
        let mut endless = BufReader::new(std::io::repeat(b'2'));
        assert!(matches!(read_reply(&mut endless), Err(ReplyError::TooLong)));
        let mut endless = BufReader::new(std::io::Read::chain(&b"250 "[..], std::io::repeat(b'a')));
        assert!(matches!(read_reply(&mut endless), Err(ReplyError::TooLong)));
        for bad in [
            &b"250-a\r\n251 b\r\n"[..],
            b"2500 x\r\n",
            b"25\r\n",
            b"\r\n",
            b"abc def\r\n",
            b"160 x\r\n",
            b"260 x\r\n",
            b"250_x\r\n",
        ] {
            assert!(
                matches!(read(bad), Err(ReplyError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Truncated: the connection closed.
        for cut in [&b""[..], b"250", b"250-a\r\n", b"250 x"] {
            match read(cut) {
                Err(ReplyError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
                other => panic!("{cut:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn raw_lines_for_the_transcript() {
        let mut seen = Vec::new();
        let r = read_reply_with(&mut &b"250-2.0.0 a\r\n250 2.0.0 b\n"[..], |l| {
            seen.push(l.to_vec())
        })
        .unwrap();
        assert_eq!(seen, [b"250-2.0.0 a".to_vec(), b"250 2.0.0 b".to_vec()]);
        assert_eq!(r.lines, ["a", "b"]);
    }
}
