//! Transfer and header encodings: pure, streaming, bytes in and bytes out.
//!
//! - [`base64`]: RFC 2045 §6.8 with MIME line wrapping.
//! - [`qp`]: quoted-printable, RFC 2045 §6.7.
//! - [`encoded_word`]: RFC 2047 encoded-words in header fields.
//! - [`charset`]: MIME charset labels to `encoding_rs` encodings.

pub mod base64;
pub mod charset;
pub mod encoded_word;
pub mod qp;

use std::fmt;
use std::io;

/// What was wrong with encoded input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// A byte that may not appear here (outside the base64 alphabet, say).
    InvalidByte(u8),
    /// Base64 padding (`=`) followed by more data.
    MisplacedPadding,
    /// Input ended inside an encoding unit (a single base64 character left).
    Truncated,
    /// A quoted-printable `=` not followed by two hex digits or a line end.
    BadEscape,
    /// A charset label no decoder knows.
    UnknownCharset(String),
    /// An RFC 2047 encoded-word that does not follow the syntax.
    MalformedWord,
    /// A character the target charset cannot represent.
    Unmappable(char),
}

/// Malformed encoded input, with the byte offset (from the start of the
/// input) where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What was wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset in the input, counted from 0.
    pub offset: u64,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::InvalidByte(b) => write!(f, "invalid byte 0x{b:02X}")?,
            DecodeErrorKind::MisplacedPadding => {
                f.write_str("padding '=' before the end of data")?
            }
            DecodeErrorKind::Truncated => f.write_str("input ends inside an encoded unit")?,
            DecodeErrorKind::BadEscape => f.write_str("malformed '=' escape")?,
            DecodeErrorKind::UnknownCharset(c) => write!(f, "unknown charset {c:?}")?,
            DecodeErrorKind::MalformedWord => f.write_str("malformed encoded-word")?,
            DecodeErrorKind::Unmappable(c) => write!(
                f,
                "character {c:?} (U+{:04X}) not representable",
                u32::from(*c)
            )?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

/// Error of a streaming codec: reading or writing failed, or the data was bad.
#[derive(Debug)]
pub enum Error {
    /// Reading the input or writing the output failed.
    Io(io::Error),
    /// The input was malformed.
    Decode(DecodeError),
}

crate::io::io_or_data_error!(Error, Decode, DecodeError);

/// A `Content-Transfer-Encoding` (RFC 2045 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// `7bit`: ASCII lines of at most 998 octets, no NUL, CR only in CRLF.
    SevenBit,
    /// `8bit`: as 7bit, with octets ≥ 128 (needs 8BITMIME to travel).
    EightBit,
    /// `binary`: anything (needs BINARYMIME, which nothing here offers:
    /// [`choose`] never picks it; known for reading).
    Binary,
    /// `quoted-printable` (RFC 2045 §6.7).
    QuotedPrintable,
    /// `base64` (RFC 2045 §6.8).
    Base64,
}

impl TransferEncoding {
    /// The value written in `Content-Transfer-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferEncoding::SevenBit => "7bit",
            TransferEncoding::EightBit => "8bit",
            TransferEncoding::Binary => "binary",
            TransferEncoding::QuotedPrintable => "quoted-printable",
            TransferEncoding::Base64 => "base64",
        }
    }

    /// Whether the content goes out as it is (7bit, 8bit, binary), so
    /// that a multipart boundary could collide with its lines.
    pub fn is_identity(self) -> bool {
        matches!(
            self,
            TransferEncoding::SevenBit | TransferEncoding::EightBit | TransferEncoding::Binary
        )
    }
}

/// What a streaming pass over a part's content found: the input of
/// [`choose`]. Line lengths exclude the line end (LF or CRLF).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bytes in all.
    pub len: u64,
    /// Bytes ≥ 0x80.
    pub eight_bit: u64,
    /// NUL bytes.
    pub nul: u64,
    /// CR bytes not part of a CRLF.
    pub bare_cr: u64,
    /// Longest line.
    pub longest_line: u64,
    /// Estimated size of the quoted-printable encoding (text mode, LF).
    pub qp_len: u64,
    /// Whether the bytes are valid UTF-8.
    pub utf8: bool,
}

impl Summary {
    /// Size of the base64 encoding: 4 per 3 bytes, plus a line end per
    /// 76 characters (RFC 2045 §6.8).
    pub fn base64_len(&self) -> u64 {
        let chars = self.len.div_ceil(3) * 4;
        chars + chars.div_ceil(76)
    }

    /// Whether the content may go out as it is in a 7bit or 8bit body
    /// (RFC 2045 §2.7-2.8): no NUL, CR only in CRLF, lines ≤ 998 octets.
    pub fn is_line_safe(&self) -> bool {
        self.nul == 0 && self.bare_cr == 0 && self.longest_line <= 998
    }
}

/// What a part is, for [`choose`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// `text/*`: line-oriented text.
    Text,
    /// `message/*` and ready-made entities: never base64 or QP
    /// (RFC 2046 §5.2.1, RFC 2045 §6.4 for composite types).
    Message,
    /// Anything else: binary data.
    Other,
}

/// What the transport and the user allow, for [`choose`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// 8bit text may be sent as it is (the transport has 8BITMIME).
    pub eight_bit: bool,
    /// Base64 for everything but message/* (robust against any gateway).
    pub binary_safe: bool,
}

/// Chooses the transfer encoding of a part (RFC 2045 §6, RFC 2046 §5.2.1).
/// Never `binary`: that needs BINARYMIME (RFC 3030), which no transport
/// here offers.
///
/// - `message/*` (and ready entities) may only be 7bit, 8bit or binary
///   (RFC 2046 §5.2.1, RFC 2045 §6.4): `7bit` when the content is ASCII
///   and line-safe, `8bit` when line-safe and `eight_bit` allows; anything
///   else cannot travel as message/* and gets `base64`, which tells the
///   caller to send the bytes as `application/octet-stream` instead (or
///   to refuse a ready entity, whose type it cannot change).
/// - Other (non-text) parts: `base64`; `summary` is not looked at.
/// - Text, with `binary_safe`: `base64`.
/// - Text that is ASCII and line-safe: `7bit`; with 8-bit bytes and
///   line-safe, when `eight_bit` allows: `8bit`; otherwise
///   quoted-printable, or base64 when that is smaller (most CJK text).
pub fn choose(summary: &Summary, kind: PartKind, rules: Rules) -> TransferEncoding {
    let safe = summary.is_line_safe();
    let ascii = summary.eight_bit == 0;
    match kind {
        PartKind::Message if safe && ascii => TransferEncoding::SevenBit,
        PartKind::Message if safe && rules.eight_bit => TransferEncoding::EightBit,
        PartKind::Message => TransferEncoding::Base64,
        PartKind::Other => TransferEncoding::Base64,
        PartKind::Text if rules.binary_safe => TransferEncoding::Base64,
        PartKind::Text if safe && ascii => TransferEncoding::SevenBit,
        PartKind::Text if safe && rules.eight_bit => TransferEncoding::EightBit,
        PartKind::Text if summary.qp_len <= summary.base64_len() => {
            TransferEncoding::QuotedPrintable
        }
        PartKind::Text => TransferEncoding::Base64,
    }
}

#[cfg(test)]
mod choose_tests {
    use super::*;
    use TransferEncoding::*;

    fn sum(len: u64, eight_bit: u64, nul: u64, bare_cr: u64, longest: u64, qp: u64) -> Summary {
        Summary {
            len,
            eight_bit,
            nul,
            bare_cr,
            longest_line: longest,
            qp_len: qp,
            utf8: true,
        }
    }

    #[test]
    fn choice_table() {
        let none = Rules::default();
        let eight = Rules {
            eight_bit: true,
            binary_safe: false,
        };
        let safe = Rules {
            eight_bit: false,
            binary_safe: true,
        };
        let ascii = sum(1000, 0, 0, 0, 72, 1000);
        let latin = sum(1000, 30, 0, 0, 72, 1060); // QP smaller than base64 (1351)
        let cjk = sum(1000, 900, 0, 0, 72, 2800); // base64 smaller
        let long = sum(5000, 0, 0, 0, 5000, 5130);
        let nul = sum(10, 0, 1, 0, 9, 12);
        let cr = sum(10, 0, 0, 1, 9, 12);
        let exactly_998 = sum(998, 0, 0, 0, 998, 1024);
        let cases: &[(&Summary, PartKind, Rules, TransferEncoding)] = &[
            // RFC 2045 §2.7: ASCII lines ≤ 998, no NUL, no bare CR → 7bit.
            (&ascii, PartKind::Text, none, SevenBit),
            (&exactly_998, PartKind::Text, none, SevenBit),
            (&long, PartKind::Text, none, QuotedPrintable),
            (&nul, PartKind::Text, eight, QuotedPrintable),
            (&cr, PartKind::Text, none, QuotedPrintable),
            (&latin, PartKind::Text, none, QuotedPrintable),
            (&cjk, PartKind::Text, none, Base64),
            // --8bit: 8bit when line-safe (RFC 6152).
            (&latin, PartKind::Text, eight, EightBit),
            (&cjk, PartKind::Text, eight, EightBit),
            (&long, PartKind::Text, eight, QuotedPrintable),
            // --binary-safe: base64 for text, not for message/*.
            (&ascii, PartKind::Text, safe, Base64),
            (&ascii, PartKind::Message, safe, SevenBit),
            // Non-text: always base64, whatever the content.
            (&ascii, PartKind::Other, none, Base64),
            (&Summary::default(), PartKind::Other, eight, Base64),
            // message/*: only 7bit or 8bit (RFC 2046 §5.2.1); never binary
            // (no BINARYMIME). What cannot be either is base64: the caller
            // sends it as application/octet-stream (bug_message_parts_keep
            // _the_7bit_promise: 8bit used to ignore --8bit).
            (&ascii, PartKind::Message, none, SevenBit),
            (&latin, PartKind::Message, none, Base64),
            (&latin, PartKind::Message, eight, EightBit),
            (&long, PartKind::Message, none, Base64),
            (&long, PartKind::Message, eight, Base64),
            (&nul, PartKind::Message, eight, Base64),
            // Empty text is 7bit.
            (&Summary::default(), PartKind::Text, none, SevenBit),
        ];
        for (k, &(s, kind, rules, want)) in cases.iter().enumerate() {
            assert_eq!(
                choose(s, kind, rules),
                want,
                "case {k}: {s:?} {kind:?} {rules:?}"
            );
        }
    }

    #[test]
    fn base64_size() {
        assert_eq!(sum(0, 0, 0, 0, 0, 0).base64_len(), 0);
        assert_eq!(sum(57, 0, 0, 0, 0, 0).base64_len(), 77);
        assert_eq!(sum(58, 0, 0, 0, 0, 0).base64_len(), 82);
        assert_eq!(
            TransferEncoding::QuotedPrintable.as_str(),
            "quoted-printable"
        );
        assert!(TransferEncoding::EightBit.is_identity() && !Base64.is_identity());
    }
}
