//! SMTP command lines (RFC 5321 §4.1.1) and their ESMTP extensions:
//! parsing for the server, and `Display` as the wire form for a client.
//!
//! ```text
//! helo = "HELO" SP Domain CRLF
//! ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
//! mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
//! rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
//!        Forward-path ) [SP Rcpt-parameters] CRLF
//! data = "DATA" CRLF                    rset = "RSET" CRLF
//! vrfy = "VRFY" SP String CRLF          expn = "EXPN" SP String CRLF
//! help = "HELP" [ SP String ] CRLF      noop = "NOOP" [ SP String ] CRLF
//! quit = "QUIT" CRLF
//! starttls = "STARTTLS" CRLF                            ; RFC 3207 §4
//! auth = "AUTH" SP sasl-mech [SP initial-response]      ; RFC 4954 §4
//! bdat = "BDAT" SP chunk-size [ SP end-marker ] CRLF    ; RFC 3030 §2
//! ```
//!
//! Verbs and the `FROM:`/`TO:` keywords are case-insensitive (RFC 5321
//! §2.4). The line reaches [`parse`] without its CRLF.
//!
//! Length limits, CRLF included: 512 octets (RFC 5321 §4.5.3.1.4) for most
//! commands; [`MAX_MAIL_LINE`] for MAIL and RCPT, whose extensions each add
//! to the limit (RFC 1870 §3 SIZE +26, RFC 3461 §4 ORCPT +500 and ENVID +100,
//! RFC 4954 §5 AUTH= +500, RFC 6531 §3.4 SMTPUTF8 +10); [`MAX_LINE`] for
//! AUTH (RFC 4954 §4: 12288).
//!
//! Deliberate leniency, common in clients and accepted by Postfix: trailing
//! spaces and tabs, spaces after `FROM:`/`TO:` and between the verb and its
//! argument, several spaces between parameters. Everything else is strict:
//! no path without angle brackets, no control characters, UTF-8 only in
//! paths and parameter values and only under SMTPUTF8 (RFC 6531 §3.4).

use std::fmt;

use super::envelope::{self, Mailbox, Params, PathError, ReversePath};
use super::reply::Reply;
use crate::limits;

/// Longest command line in octets, CRLF included (RFC 5321 §4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = limits::SMTP_MAX_COMMAND_LINE;

/// Longest MAIL or RCPT line, CRLF included (see the limit's notes).
pub const MAX_MAIL_LINE: usize = limits::SMTP_MAX_MAIL_LINE;

/// Longest line a driver must read before calling `Session::line` (AUTH
/// commands and responses, RFC 4954 §4), CRLF included. A longer line is
/// reported with `Session::line_too_long` instead.
pub const MAX_LINE: usize = limits::SMTP_MAX_AUTH_LINE;

/// One parsed SMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain` (the argument as sent).
    Helo(String),
    /// `EHLO domain` (the argument as sent).
    Ehlo(String),
    /// `MAIL FROM:<path> params`.
    Mail {
        /// The reverse-path (`<>` is [`ReversePath::Null`]).
        from: ReversePath,
        /// ESMTP parameters, not yet checked against the extensions.
        params: Params,
    },
    /// `RCPT TO:<path> params`.
    Rcpt {
        /// The forward-path (source route dropped).
        to: Mailbox,
        /// ESMTP parameters, not yet checked against the extensions.
        params: Params,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2).
    Bdat {
        /// Octets of the chunk that follows the command line.
        size: u64,
        /// The chunk ends the message.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [string]` (the argument is ignored).
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy(String),
    /// `EXPN string`.
    Expn(String),
    /// `HELP [string]` (the argument is ignored).
    Help,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4); the mechanism is
    /// upper-cased, the initial response kept as sent (base64 or `=`).
    Auth {
        /// SASL mechanism name, upper-cased.
        mechanism: String,
        /// Initial response, as sent.
        initial: Option<String>,
    },
    /// A known but obsolete command: TURN, SEND, SOML, SAML (answered 502,
    /// RFC 5321 §4.2.4 / Appendix F).
    NotImplemented(&'static str),
}

/// Why a command line was refused. [`CommandError::reply`] gives the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Unknown verb or empty line: 500 5.5.2.
    Unknown,
    /// Bad arguments: 501 5.5.4 with this text.
    Syntax(&'static str),
    /// Line longer than the verb's limit: 500 5.5.2 (RFC 5321 §4.5.3.1.10).
    TooLong,
    /// Bad MAIL FROM path: 501 5.1.7, or 553 5.6.7 for non-ASCII without
    /// SMTPUTF8 (RFC 6531 §3.7.4.1).
    BadSender(PathError),
    /// Bad RCPT TO path: 501 5.1.3, or 553 5.6.7.
    BadRecipient(PathError),
    /// Bad ESMTP parameter syntax: 501 5.5.4 (553 5.6.7 for non-ASCII).
    BadParams(PathError),
}

impl CommandError {
    /// The reply for this error (with its enhanced code, RFC 3463).
    pub fn reply(&self) -> Reply {
        let path = |e: &PathError, who: &str, sub: u16| match e {
            PathError::Utf8NotPermitted => Reply::new(
                553,
                Some((5, 6, 7)),
                format!("Non-ASCII addresses not permitted for that {who}"),
            ),
            e => Reply::new(
                501,
                Some((5, 1, sub)),
                format!("Bad {who} address syntax: {e}"),
            ),
        };
        match self {
            CommandError::Unknown => {
                Reply::new(500, Some((5, 5, 2)), "Error: command not recognized")
            }
            CommandError::Syntax(text) => Reply::new(501, Some((5, 5, 4)), *text),
            CommandError::TooLong => Reply::new(500, Some((5, 5, 2)), "Error: line too long"),
            CommandError::BadSender(e) => path(e, "sender", 7),
            CommandError::BadRecipient(e) => path(e, "recipient", 3),
            CommandError::BadParams(PathError::Utf8NotPermitted) => Reply::new(
                553,
                Some((5, 6, 7)),
                "Non-ASCII parameter values need SMTPUTF8",
            ),
            CommandError::BadParams(e) => {
                Reply::new(501, Some((5, 5, 4)), format!("Bad parameters: {e}"))
            }
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reply().fmt(f)
    }
}

/// Trailing whitespace a client may leave (and a CR, if the driver kept it).
fn trim_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b' ' | b'\t' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

/// RFC 5321 §4.1.1: the argument text must be printable; CR, LF, NUL and
/// the other controls are refused (a bare CR or LF in a command is a
/// smuggling vector, research §2.2).
fn text_arg(arg: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.chars().any(char::is_control) {
        return None;
    }
    Some(s)
}

/// Parses one command line (without CRLF). `smtputf8_allowed`: whether
/// UTF-8 may appear in this command's path (RFC 6531 §3.4). The session
/// passes, for MAIL, whether SMTPUTF8 was advertised (the parser then also
/// requires the `SMTPUTF8` parameter on that same MAIL command); for RCPT,
/// whether the transaction's MAIL carried `SMTPUTF8`.
pub fn parse(line: &[u8], smtputf8_allowed: bool) -> Result<Command, CommandError> {
    if line.len() + 2 > MAX_LINE {
        return Err(CommandError::TooLong);
    }
    let raw_len = line.len();
    let line = trim_end(line);
    let verb = verb(line);
    let rest = trim_start(line.get(verb.len() + 1..).unwrap_or(b""));
    if verb.is_empty() || verb.len() > 8 || !verb.iter().all(u8::is_ascii_alphabetic) {
        return Err(CommandError::Unknown);
    }
    let mut up = [0u8; 8];
    up[..verb.len()].copy_from_slice(verb);
    up.make_ascii_uppercase();
    let verb = &up[..verb.len()];
    let limit = match verb {
        b"MAIL" | b"RCPT" => MAX_MAIL_LINE,
        b"AUTH" => MAX_LINE,
        _ => MAX_COMMAND_LINE,
    };
    if raw_len + 2 > limit {
        return Err(CommandError::TooLong);
    }
    let no_args = |c: Command, usage: &'static str| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(CommandError::Syntax(usage))
        }
    };
    match verb {
        b"HELO" | b"EHLO" => {
            let usage = if verb == b"HELO" {
                "Syntax: HELO hostname"
            } else {
                "Syntax: EHLO hostname"
            };
            let arg = text_arg(rest).ok_or(CommandError::Syntax(usage))?;
            if arg.is_empty() || arg.contains(' ') {
                return Err(CommandError::Syntax(usage));
            }
            Ok(if verb == b"HELO" {
                Command::Helo(arg.to_owned())
            } else {
                Command::Ehlo(arg.to_owned())
            })
        }
        b"MAIL" => {
            let (from, params) = path_command(
                rest,
                b"FROM:",
                "Syntax: MAIL FROM:<address> [parameters]",
                smtputf8_allowed,
                envelope::parse_reverse_path,
                CommandError::BadSender,
            )?;
            // RFC 6531 §3.4: a non-ASCII reverse-path needs SMTPUTF8 on MAIL.
            if from.mailbox().is_some_and(|m| !m.is_ascii()) && !params.contains("SMTPUTF8") {
                return Err(CommandError::BadSender(PathError::Utf8NotPermitted));
            }
            Ok(Command::Mail { from, params })
        }
        b"RCPT" => {
            let (to, params) = path_command(
                rest,
                b"TO:",
                "Syntax: RCPT TO:<address> [parameters]",
                smtputf8_allowed,
                envelope::parse_forward_path,
                CommandError::BadRecipient,
            )?;
            Ok(Command::Rcpt { to, params })
        }
        b"DATA" => no_args(Command::Data, "Syntax: DATA"),
        b"RSET" => no_args(Command::Rset, "Syntax: RSET"),
        b"QUIT" => no_args(Command::Quit, "Syntax: QUIT"),
        // RFC 3207 §4: "501 Syntax error (no parameters allowed)".
        b"STARTTLS" => no_args(Command::StartTls, "Syntax error (no parameters allowed)"),
        b"NOOP" => Ok(Command::Noop),
        b"HELP" => Ok(Command::Help),
        b"VRFY" | b"EXPN" => {
            let usage = if verb == b"VRFY" {
                "Syntax: VRFY address"
            } else {
                "Syntax: EXPN list"
            };
            let arg = text_arg(rest)
                .filter(|a| !a.is_empty())
                .ok_or(CommandError::Syntax(usage))?
                .to_owned();
            Ok(if verb == b"VRFY" {
                Command::Vrfy(arg)
            } else {
                Command::Expn(arg)
            })
        }
        b"BDAT" => parse_bdat(rest),
        b"AUTH" => parse_auth(rest),
        b"TURN" => Ok(Command::NotImplemented("TURN")),
        b"SEND" => Ok(Command::NotImplemented("SEND")),
        b"SOML" => Ok(Command::NotImplemented("SOML")),
        b"SAML" => Ok(Command::NotImplemented("SAML")),
        _ => Err(CommandError::Unknown),
    }
}

/// The verb of a command line as [`parse`] sees it: the first word after
/// trailing whitespace and CR are removed, not yet upper-cased. The session
/// checks command order on this, so the two can never disagree.
pub fn verb(line: &[u8]) -> &[u8] {
    let line = trim_end(line);
    match memchr::memchr(b' ', line) {
        Some(i) => &line[..i],
        None => line,
    }
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ').count();
    &s[n..]
}

/// `envelope::parse_reverse_path` or `parse_forward_path`: a path of type
/// `P` and what follows it.
type PathParser<'a, P> = fn(&'a str, bool) -> Result<(P, &'a str), PathError>;

/// MAIL and RCPT share one grammar (RFC 5321 §4.1.1.2, §4.1.1.3): `kw`
/// (`FROM:` / `TO:`, case-insensitive), optional spaces, a path that
/// `parse` reads (its errors made by `bad`), then parameters. Anything
/// else before the path is the syntax error `usage`.
fn path_command<'a, P>(
    rest: &'a [u8],
    kw: &[u8],
    usage: &'static str,
    utf8: bool,
    parse: PathParser<'a, P>,
    bad: fn(PathError) -> CommandError,
) -> Result<(P, Params), CommandError> {
    if rest.len() < kw.len() || !rest[..kw.len()].eq_ignore_ascii_case(kw) {
        return Err(CommandError::Syntax(usage));
    }
    let arg = text_arg(trim_start(&rest[kw.len()..])).ok_or(CommandError::Syntax(usage))?;
    let (path, tail) = parse(arg, utf8).map_err(bad)?;
    let params = envelope::parse_params(tail, utf8).map_err(CommandError::BadParams)?;
    Ok((path, params))
}

/// RFC 3030 §2: `chunk-size = 1*DIGIT`, `end-marker = "LAST"`.
fn parse_bdat(rest: &[u8]) -> Result<Command, CommandError> {
    const USAGE: &str = "Syntax: BDAT size [LAST]";
    let mut words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let size = words.next().ok_or(CommandError::Syntax(USAGE))?;
    if size.len() > 20 || !size.iter().all(u8::is_ascii_digit) {
        return Err(CommandError::Syntax(USAGE));
    }
    let size = std::str::from_utf8(size)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(CommandError::Syntax(USAGE))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case(b"LAST") => true,
        Some(_) => return Err(CommandError::Syntax(USAGE)),
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax(USAGE));
    }
    Ok(Command::Bdat { size, last })
}

/// RFC 4954 §4: `"AUTH" SP sasl-mech [SP initial-response]`, with
/// `sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_")` (RFC 4422 §3.1,
/// matched case-insensitively) and `initial-response = base64 / "="`.
fn parse_auth(rest: &[u8]) -> Result<Command, CommandError> {
    const USAGE: &str = "Syntax: AUTH mechanism [initial-response]";
    let mut words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let mech = words.next().ok_or(CommandError::Syntax(USAGE))?;
    if mech.len() > 20
        || !mech
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(CommandError::Syntax(USAGE));
    }
    let initial = match words.next() {
        None => None,
        Some(w) if w.iter().all(|&b| b.is_ascii_graphic()) => {
            Some(String::from_utf8_lossy(w).into_owned())
        }
        Some(_) => return Err(CommandError::Syntax(USAGE)),
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax(USAGE));
    }
    Ok(Command::Auth {
        mechanism: String::from_utf8_lossy(mech).to_ascii_uppercase(),
        initial,
    })
}

impl fmt::Display for Command {
    /// The wire form without CRLF, as a client sends it (RFC 5321 §4.1.1).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params = |f: &mut fmt::Formatter<'_>, p: &Params| {
            if p.is_empty() {
                Ok(())
            } else {
                write!(f, " {p}")
            }
        };
        match self {
            Command::Helo(d) => write!(f, "HELO {d}"),
            Command::Ehlo(d) => write!(f, "EHLO {d}"),
            Command::Mail { from, params: p } => {
                write!(f, "MAIL FROM:<{from}>")?;
                params(f, p)
            }
            Command::Rcpt { to, params: p } => {
                write!(f, "RCPT TO:<{to}>")?;
                params(f, p)
            }
            Command::Data => f.write_str("DATA"),
            Command::Bdat { size, last } => {
                write!(f, "BDAT {size}{}", if *last { " LAST" } else { "" })
            }
            Command::Rset => f.write_str("RSET"),
            Command::Noop => f.write_str("NOOP"),
            Command::Quit => f.write_str("QUIT"),
            Command::Vrfy(s) => write!(f, "VRFY {s}"),
            Command::Expn(s) => write!(f, "EXPN {s}"),
            Command::Help => f.write_str("HELP"),
            Command::StartTls => f.write_str("STARTTLS"),
            Command::Auth { mechanism, initial } => match initial {
                Some(i) => write!(f, "AUTH {mechanism} {i}"),
                None => write!(f, "AUTH {mechanism}"),
            },
            Command::NotImplemented(v) => f.write_str(v),
        }
    }
}

// ---------------------------------------------------------------------
// Client side: the wire form of a command.
// ---------------------------------------------------------------------

/// A command the client refuses to send: its wire form would contain CR,
/// LF or NUL (reliability notes §2.3.3: a CR or LF in an argument would end
/// the command early and smuggle a second one, the CVE-2015-9097 class).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeCommand(pub String);

impl fmt::Display for UnsafeCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing to send a command with CR, LF or NUL in it: {:?}",
            self.0
        )
    }
}

impl std::error::Error for UnsafeCommand {}

impl Command {
    /// The line a client sends: the `Display` form and CRLF (RFC 5321
    /// §2.3.8). Refused when the form has a CR, LF or NUL of its own.
    pub fn to_wire(&self) -> Result<Vec<u8>, UnsafeCommand> {
        let mut line = self.to_string().into_bytes();
        if line.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(UnsafeCommand(String::from_utf8_lossy(&line).into_owned()));
        }
        line.extend_from_slice(b"\r\n");
        Ok(line)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "tests/client.rs"]
mod client_tests;
