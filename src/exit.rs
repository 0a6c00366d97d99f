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

/// An error that is only its message: `$name(String)` whose `Display` is
/// the message as it is, an `Error` with no source, and a [`Status`] of the
/// one code `$code` (a constant of this module). Written once here, so the
/// many "this file or spec cannot be used" errors of the crate differ only
/// in name, documentation and code. The attributes (docs, derives) and the
/// visibilities of the type and its field are the caller's, as if the
/// struct were written out where the macro is used:
///
/// ```ignore
/// crate::exit::message_error! {
///     /// A server spec that cannot be used.
///     #[derive(Debug)]
///     pub struct UrlError(String) => CONFIG;
/// }
/// ```
macro_rules! message_error {
    ($(#[$attr:meta])* $vis:vis struct $name:ident($field_vis:vis String) => $code:ident;) => {
        $(#[$attr])*
        $vis struct $name($field_vis String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::error::Error for $name {}

        impl $crate::exit::Status for $name {
            fn exit_code(&self) -> u8 {
                $crate::exit::$code
            }
        }
    };
}
pub(crate) use message_error;
