//! The exit-status policy: the sysexits codes (`sysexits.h`, as sendmail and
//! msmtp use them, because `smtp-send` stands where `sendmail` stands) and the
//! one trait through which every library error says which code it means.
//!
//! The library decides *which* code an error deserves (only it knows whether
//! a reply was 4xx or 5xx); `cli` asks that through [`Status`] and never
//! names a library error type or a number. Nothing else in the crate writes
//! an exit code as a literal.

use std::io;

/// Success; also stdout closed early by the reader.
pub const OK: u8 = 0;
/// A predicate said no (mime-hdr: no such field), as grep does.
pub const NO: u8 = 1;
/// Bad flags or operands (`EX_USAGE`).
pub const USAGE: u8 = 64;
/// Malformed input (in strict mode), unsendable message (`EX_DATAERR`).
pub const DATAERR: u8 = 65;
/// An input file cannot be opened (`EX_NOINPUT`).
pub const NOINPUT: u8 = 66;
/// A recipient was refused for good (`EX_NOUSER`).
pub const NOUSER: u8 = 67;
/// The host name of a server does not exist (`EX_NOHOST`).
pub const NOHOST: u8 = 68;
/// The server refused the message for good (`EX_UNAVAILABLE`).
pub const UNAVAILABLE: u8 = 69;
/// Internal error: a bug (`EX_SOFTWARE`).
pub const SOFTWARE: u8 = 70;
/// Read or write failure (`EX_IOERR`).
pub const IOERR: u8 = 74;
/// Temporary failure: try again later (`EX_TEMPFAIL`).
pub const TEMPFAIL: u8 = 75;
/// The peer broke the protocol (`EX_PROTOCOL`).
pub const PROTOCOL: u8 = 76;
/// Authentication failed or the server could not prove itself (`EX_NOPERM`).
pub const NOPERM: u8 = 77;
/// Configuration error: unusable TLS or credential files, no server
/// (`EX_CONFIG`).
pub const CONFIG: u8 = 78;

/// An error that knows its exit code. Every public error type of the
/// library implements it; `cli::exit_code` finds it in an error chain
/// through `crate::status_of`.
pub trait Status: std::error::Error + 'static {
    /// The code of `mailpipe(7)` this error exits with.
    fn exit_code(&self) -> u8;

    /// The I/O error this error wraps, if any: `cli` needs it to tell a
    /// closed stdout (EPIPE: exit quietly) from other failures.
    fn io_error(&self) -> Option<&io::Error> {
        None
    }
}
