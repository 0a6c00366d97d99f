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
