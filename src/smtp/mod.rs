//! SMTP (RFC 5321) and its extensions: the pieces shared by the receiver
//! (`smtp-recv`) and, later, the client (`smtp-send`).
//!
//! - [`reply`]: replies with enhanced status codes (RFC 3463, RFC 2034).
//! - [`command`]: command lines (RFC 5321 §4.1).
//! - [`envelope`]: paths and ESMTP parameters (RFC 5321 §4.1.2), the envelope.
//! - [`dot`]: the DATA reader (dot-unstuffing, end of data, smuggling defence)
//!   and BDAT chunks (RFC 3030).
//! - [`auth`]: SASL mechanisms for AUTH (RFC 4954).
//! - [`tls`]: rustls configuration.
//! - [`server`]: the receiving session, a state machine with no I/O.
//! - [`recv`]: drives server sessions over sockets or stdin/stdout.
//! - [`client`]: the sending session, generic over the stream.
//! - [`sasl`]: client side of the AUTH mechanisms.
//! - [`url`]: where to send: `host[:port]` and `smtp://`-style server URLs.
//! - [`credentials`]: passwords from the environment, files, commands, netrc.
//! - [`submit`]: preparing a message for submission (envelope, missing fields).
//! - [`relay`]: `smtp-send -bs`, an SMTP session on stdin/stdout relayed onward.
//! - [`config`]: smtp-send's configuration file (accounts, `~/.msmtprc`).
//! - [`outcome`]: per-recipient results of a delivery, and their exit code.
//! - [`queue`]: the retry queue of `smtp-send` (`--queue`, `--flush`, `--list`).

pub mod auth;
pub mod client;
pub mod command;
pub mod dot;
pub mod envelope;
pub mod reply;
pub mod sasl;
pub mod server;
pub mod tls;
pub mod trace;
