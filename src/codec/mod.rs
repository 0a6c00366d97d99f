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

impl std::error::Error for DecodeError {}

/// Error of a streaming codec: reading or writing failed, or the data was bad.
#[derive(Debug)]
pub enum Error {
    /// Reading the input or writing the output failed.
    Io(io::Error),
    /// The input was malformed.
    Decode(DecodeError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => e.fmt(f),
            Error::Decode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    // Transparent: the wrapped error's own source, so `{:#}` never repeats it.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => e.source(),
            Error::Decode(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}
