//! Why a message cannot be built, and how arguments are quoted in the
//! messages that say so.

use std::fmt;
use std::io;

use crate::codec::DecodeError;

/// Why a message cannot be built.
#[derive(Debug)]
pub enum Error {
    /// An argument that would break the message (exit 64): a line break
    /// in a header argument, a malformed address, a bad override.
    Usage(String),
    /// An input that cannot be encoded as asked (exit 65): text that is
    /// not UTF-8 without a charset, a character the target lacks.
    Data(String, DecodeError),
    /// An input that cannot be sent as it is (exit 65): a ready entity
    /// that is not 7bit (or 8bit with [`Options::eight_bit`](super::Options::eight_bit)), a `--part`
    /// file that is not a MIME entity.
    Invalid(String),
    /// Reading an input or writing the output failed.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
            Error::Data(what, e) => write!(f, "{what}: {e}"),
            Error::Invalid(m) => f.write_str(m),
            Error::Io(e) => e.fmt(f),
        }
    }
}

crate::io::io_transparent_error!(Error {
    Error::Usage(_) => crate::exit::USAGE,
    Error::Data(..) | Error::Invalid(_) => crate::exit::DATAERR,
});

impl Error {
    /// The error for `anyhow` (whose exit code `crate::status_of` finds:
    /// usage 64, data 65, I/O 74).
    pub fn into_anyhow(self) -> anyhow::Error {
        anyhow::Error::from(self)
    }
}

pub(super) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// An argument quoted for an error message, cut after 60 characters: a
/// 2000-character argument need not be repeated whole.
pub(super) struct Shown<'a>(pub(super) &'a str);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(60) {
            Some((at, _)) => write!(f, "{:?}…", &self.0[..at]),
            None => write!(f, "{:?}", self.0),
        }
    }
}
