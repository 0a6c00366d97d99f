//! mailpipe: small Unix-style mail utilities over one library.
//!
//! # Architecture
//!
//! The library does all the work; each binary in `src/bin/` is a clap struct
//! plus one or two library calls. Module map:
//!
//! - [`cli`]: the only code that touches argv, stdin, stdout and files:
//!   opening inputs (`-` is stdin), buffered stdout, printing errors once as
//!   `prog: cause: cause`, and mapping errors to sysexits codes.
//! - [`limits`]: every limit on untrusted input, with its source.
//! - [`io`]: byte plumbing with no mail knowledge (bounded line reading).
//! - [`codec`]: transfer and header encodings, pure and streaming:
//!   base64 (RFC 2045 §6.8), quoted-printable (RFC 2045 §6.7),
//!   encoded-words (RFC 2047) and charset labels (encoding_rs).
//! - [`message`]: RFC 5322 header blocks and address lists.
//! - [`smtp`]: SMTP commands, replies, DATA, the server session and its driver.
//! - [`store`]: durable message storage for receivers (Maildir, mbox, files, commands).
//!
//! # Errors
//!
//! Each area owns a small error type ([`codec::Error`], [`message::ParseError`])
//! whose `Display` is lowercase without a prefix, so causes chain cleanly under
//! `{:#}`. Binaries use `anyhow` for context; [`cli::exit_code`] maps a chain
//! to the exit code table of `mailpipe(7)`.
//!
//! # I/O
//!
//! Library functions take `impl BufRead` / `impl Write`, never paths or std
//! handles. Data stays bytes until decoded (hostile mail is not UTF-8). Every
//! read of untrusted input is bounded by a constant from [`limits`]. Nothing
//! buffers a whole body: memory does not grow with input size.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub mod cli;
pub mod codec;
pub mod exit;
pub mod io;
pub mod limits;
pub mod mailbox;
pub mod message;
pub mod recv;
pub mod send;
pub mod smtp;

/// The library's error types, each asked through [`exit::Status`]: the one
/// place that lists them, so that `cli` names none. An error type that can
/// reach a binary's `main` is added here when it is written.
pub(crate) fn status_of<'a>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a dyn exit::Status> {
    fn is<'a, E: exit::Status>(
        cause: &'a (dyn std::error::Error + 'static),
    ) -> Option<&'a dyn exit::Status> {
        cause.downcast_ref::<E>().map(|e| e as &dyn exit::Status)
    }
    is::<codec::DecodeError>(cause)
        .or_else(|| is::<codec::Error>(cause))
        .or_else(|| is::<message::ParseError>(cause))
        .or_else(|| is::<message::Error>(cause))
        .or_else(|| is::<message::build::Error>(cause))
        .or_else(|| is::<message::multipart::Error>(cause))
        .or_else(|| is::<smtp::client::Error>(cause))
        .or_else(|| is::<smtp::tls::HandshakeError>(cause))
        .or_else(|| is::<smtp::tls::TlsError>(cause))
        .or_else(|| is::<send::url::ConnectError>(cause))
        .or_else(|| is::<send::url::UrlError>(cause))
        .or_else(|| is::<send::credentials::CredError>(cause))
        .or_else(|| is::<send::error::Error>(cause))
        .or_else(|| is::<send::error::Failed>(cause))
        .or_else(|| is::<recv::ConfigError>(cause))
}
