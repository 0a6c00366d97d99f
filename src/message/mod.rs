//! RFC 5322 messages and MIME (RFC 2045-2049): header blocks, address lists,
//! dates, content types and parameters, the streaming multipart parser and
//! the message builder. (mbox and Maildir live in `mailbox/`, beside
//! this layer.)

pub mod address;
pub mod build;
pub mod date;
pub mod dkim;
pub mod downgrade;
pub mod header;
pub mod mime;
pub mod multipart;

use std::fmt;
use std::io;

/// What was wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The header block is larger than [`crate::limits::MAX_HEADER_BYTES`].
    HeaderTooLarge,
    /// The header block has more than [`crate::limits::MAX_HEADER_FIELDS`] fields.
    TooManyFields,
}

/// A message could not be parsed; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong.
    pub kind: ParseErrorKind,
    /// Line of the input where it was found, counted from 1.
    pub line: u64,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ParseErrorKind::HeaderTooLarge => write!(
                f,
                "header block larger than {} bytes",
                crate::limits::MAX_HEADER_BYTES
            )?,
            ParseErrorKind::TooManyFields => write!(
                f,
                "header block has more than {} fields",
                crate::limits::MAX_HEADER_FIELDS
            )?,
        }
        write!(f, " (line {})", self.line)
    }
}

/// Error of a message reader: I/O failed or the message broke a limit.
#[derive(Debug)]
pub enum Error {
    /// Reading the input failed.
    Io(io::Error),
    /// The message was malformed or over a limit.
    Parse(ParseError),
}

crate::io::io_or_data_error!(Error, Parse, ParseError);
