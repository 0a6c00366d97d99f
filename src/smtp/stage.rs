//! The steps of an SMTP session (RFC 5321 §3), as both sides see them: the
//! client names the step an error happened in ([`super::client::Error`]),
//! the server the step a failure injection acts at
//! ([`super::server::Injection`]).

use std::fmt;

/// One step of an SMTP session.
///
/// The variant's name, lower-cased, is `smtp-send --json`'s `"stage"`
/// (`"rcpt"`, `"dot"`); [`Display`](fmt::Display) is the client's wording
/// in messages (`RCPT`, `end of data`). The server's `--reply` stage words
/// are its own (`helo` is [`Stage::Ehlo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Opening the connection (the client's caller does it); on the server,
    /// the connection just accepted, before the greeting is sent.
    Connect,
    /// The 220 greeting (RFC 5321 §4.2).
    Greeting,
    /// EHLO or HELO (RFC 5321 §4.1.1.1).
    Ehlo,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// AUTH (RFC 4954).
    Auth,
    /// MAIL FROM (and, on the client, the checks before it).
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The DATA command and the message text; on the server also the first
    /// BDAT of a transaction (RFC 3030).
    Data,
    /// The reply after the end of data (`.` or BDAT LAST).
    Dot,
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::StartTls => "STARTTLS",
            Stage::Auth => "AUTH",
            Stage::Mail => "MAIL",
            Stage::Rcpt => "RCPT",
            Stage::Data => "DATA",
            Stage::Dot => "end of data",
            Stage::Rset => "RSET",
            Stage::Quit => "QUIT",
        })
    }
}
