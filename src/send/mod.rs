//! The programs' sending side: `smtp-send`'s application logic.
//!
//! # Files, bottom up (each imports only those above it)
//!
//! - [`error`]: [`error::Error`], why a submission failed, with its exit code.
//! - [`notice`]: [`notice::Notices`], where warnings, reports, the `-v`
//!   transcript and the progress bar go (the library never prints).
//! - [`sendmail`]: sendmail's command line conventions.
//! - [`url`], [`credentials`]: the server's address and transport; passwords.
//! - [`aliases`]: `--aliases FILE`, local names replaced by addresses.
//! - [`address`]: `-f`, RECIPIENT and header addresses as SMTP paths
//!   (recipients without `@` through the aliases first).
//! - [`prepare`]: a message made ready before any connection (envelope,
//!   header rewrite, scan, spool).
//! - [`outcome`]: what became of each recipient, and the exit code of that.
//! - [`session`]: one SMTP client session (TLS, AUTH, transactions).
//! - [`mx`]: `--mx`, delivery to each domain's mail hosts.
//! - [`log`]: `--log FILE|syslog`, a line per attempt and per message.
//! - [`route`]: the [`route::Deliverer`] that owns the relay session.
//! - [`queue`]: `--queue`, `--flush`, `--list`, `--drop`.
//! - [`relay`]: `-bs`, SMTP on stdin and stdout, each message relayed.
//! - [`oauth`]: `smtp-oauth`, OAuth 2.0 sign-in and access tokens.
//! - [`options`]: the command line; [`config`]: the account of a
//!   configuration file merged into it.
//! - [`run`]: the modes, and the conversion of the options.
//!
//! # The path of a message
//!
//! [`run::run`] merges the configuration into the [`options::Options`], then
//! [`prepare::prepare`] reads the message from stdin (or each FILE of
//! `--each`) into a [`prepare::Prepared`]: envelope found, header
//! rewritten, body scanned and spooled; a message that cannot be sent stops
//! here. A [`route::Deliverer`] then opens a [`session::Session`] (or, with
//! `--mx`, one per domain's mail host) and sends it; the results per
//! recipient ([`outcome::RcptResult`]) decide the exit code, and with
//! `--queue` the deferred recipients are stored for a later `--flush`.

pub mod address;
pub mod aliases;
pub mod config;
pub mod credentials;
pub mod error;
pub mod log;
pub mod mx;
pub mod notice;
pub mod oauth;
pub mod options;
pub mod outcome;
pub mod prepare;
pub mod queue;
pub mod relay;
pub mod route;
pub mod run;
pub mod sendmail;
pub mod session;
pub mod url;
