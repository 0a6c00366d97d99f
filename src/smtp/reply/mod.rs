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

/// Lossy UTF-8 with control characters (but not HT), bidi controls and
/// line separators replaced by `?`
/// ([`is_bad_control`](crate::codec::encoded_word::is_bad_control)).
fn clean_text(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .chars()
        .map(|c| {
            if crate::codec::encoded_word::is_bad_control(c) {
                '?'
            } else {
                c
            }
        })
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
mod tests;

#[cfg(test)]
#[path = "tests/client.rs"]
mod client_tests;
