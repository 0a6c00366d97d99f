//! Why an OAuth operation failed, and the exit code that means.

use std::fmt;
use std::io;

use crate::exit;

/// An `smtp-oauth` failure. `Display` is one line without the program name;
/// no variant ever holds a token or a secret.
#[derive(Debug)]
pub enum Error {
    /// The refresh token is expired or revoked (`invalid_grant`, RFC 6749
    /// §5.2): only a new sign-in helps. Holds the account name.
    SignIn(String),
    /// The authorization server refused (`access_denied`, `invalid_client`,
    /// an expired device code, a `state` that does not match).
    Denied(String),
    /// Try again later: a 5xx answer, a timeout, no connection.
    Temporary(String),
    /// The server broke the protocol: malformed or oversized JSON, a
    /// redirect where an answer was due, an unexpected status.
    Protocol(String),
    /// Unusable local setup: an account name, missing account, a store
    /// others can read, a CA file, a URL that is not `https`.
    Config(String),
    /// Reading or writing the store or the terminal failed.
    Io(String, io::Error),
}

impl Error {
    /// An [`Error::Io`] about `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |e| Error::Io(what, e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SignIn(name) => write!(f, "{name}: sign in again: smtp-oauth login {name}"),
            Error::Denied(m) | Error::Temporary(m) | Error::Protocol(m) | Error::Config(m) => {
                f.write_str(m)
            }
            Error::Io(what, e) => write!(f, "{what}: {}", crate::io::strip_os_error(e)),
        }
    }
}

impl std::error::Error for Error {}

impl exit::Status for Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::SignIn(_) | Error::Denied(_) => exit::NOPERM,
            Error::Temporary(_) => exit::TEMPFAIL,
            Error::Protocol(_) => exit::PROTOCOL,
            Error::Config(_) => exit::CONFIG,
            Error::Io(_, _) => exit::IOERR,
        }
    }

    fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io(_, e) => Some(e),
            _ => None,
        }
    }
}
