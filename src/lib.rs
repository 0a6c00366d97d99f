//! mailpipe: small Unix-style mail utilities over one library.
//!
//! # Architecture
//!
//! The library does all the work; each binary in `src/bin/` is a clap struct
//! plus one or two library calls. The folders are layers, and a module only
//! imports from its own folder or a lower layer (checked by
//! `scripts/check-layers`; `ARCHITECTURE.md` is the map):
//!
//! - [`cli`]: the only code that touches argv, stdin, stdout and files:
//!   opening inputs (`-` is stdin), buffered stdout, printing errors once as
//!   `prog: cause: cause`, and mapping errors to exit codes.
//! - [`send`]: `smtp-send`'s application: options, preparing a message,
//!   routes (relay or MX), the queue, configuration and credentials.
//! - [`recv`]: `smtp-recv`'s application: listening, and durable storage.
//! - [`smtp`]: the protocol (RFC 5321 and extensions), no files, no
//!   programs: commands, replies, envelopes, DATA/BDAT, SASL, TLS, the client
//!   session and the server session with its driver.
//! - [`message`]: RFC 5322 messages and MIME: header blocks, addresses,
//!   dates, the multipart walker, downgrading and the message builder.
//! - [`mailbox`]: mbox and Maildir, reading and writing.
//! - [`codec`]: transfer and header encodings, pure and streaming:
//!   base64 (RFC 2045 §6.8), quoted-printable (RFC 2045 §6.7),
//!   encoded-words (RFC 2047) and charset labels (encoding_rs).
//! - [`io`]: byte plumbing with no mail knowledge (bounded line reading,
//!   spools, temporary files, globs).
//! - [`limits`]: every limit on untrusted input, with its source.
//! - [`exit`]: the sysexits codes and the [`exit::Status`] trait.
//!
//! # Errors
//!
//! Each area owns a small error type ([`codec::Error`], [`message::ParseError`])
//! whose `Display` is lowercase without a prefix, so causes chain cleanly under
//! `{:#}`. Each implements [`exit::Status`]: the library decides which exit
//! code an error means, [`cli::exit_code`] asks. Binaries use `anyhow` for
//! context. The library never prints: warnings and progress go through a sink
//! its caller passes.
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
    is::<io::dns::SetupError>(cause)
        .or_else(|| is::<codec::DecodeError>(cause))
        .or_else(|| is::<codec::Error>(cause))
        .or_else(|| is::<message::ParseError>(cause))
        .or_else(|| is::<message::Error>(cause))
        .or_else(|| is::<message::build::Error>(cause))
        .or_else(|| is::<message::multipart::Error>(cause))
        .or_else(|| is::<message::dkim::key::KeyError>(cause))
        .or_else(|| is::<message::dkim::sign::Error>(cause))
        .or_else(|| is::<smtp::client::Error>(cause))
        .or_else(|| is::<smtp::tls::HandshakeError>(cause))
        .or_else(|| is::<smtp::tls::TlsError>(cause))
        .or_else(|| is::<send::url::ConnectError>(cause))
        .or_else(|| is::<send::url::UrlError>(cause))
        .or_else(|| is::<send::credentials::CredError>(cause))
        .or_else(|| is::<send::oauth::error::Error>(cause))
        .or_else(|| is::<send::error::Error>(cause))
        .or_else(|| is::<send::error::Failed>(cause))
        .or_else(|| is::<recv::ConfigError>(cause))
        .or_else(|| is::<recv::RecvError>(cause))
}
