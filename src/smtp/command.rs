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
            const USAGE: &str = "Syntax: MAIL FROM:<address> [parameters]";
            let arg = strip_keyword(rest, b"FROM:").ok_or(CommandError::Syntax(USAGE))?;
            let arg = text_arg(arg).ok_or(CommandError::Syntax(USAGE))?;
            let (from, tail) = envelope::parse_reverse_path(arg, smtputf8_allowed)
                .map_err(CommandError::BadSender)?;
            let params =
                envelope::parse_params(tail, smtputf8_allowed).map_err(CommandError::BadParams)?;
            // RFC 6531 §3.4: a non-ASCII reverse-path needs SMTPUTF8 on MAIL.
            if from.mailbox().is_some_and(|m| !m.is_ascii()) && !params.contains("SMTPUTF8") {
                return Err(CommandError::BadSender(PathError::Utf8NotPermitted));
            }
            Ok(Command::Mail { from, params })
        }
        b"RCPT" => {
            const USAGE: &str = "Syntax: RCPT TO:<address> [parameters]";
            let arg = strip_keyword(rest, b"TO:").ok_or(CommandError::Syntax(USAGE))?;
            let arg = text_arg(arg).ok_or(CommandError::Syntax(USAGE))?;
            let (to, tail) = envelope::parse_forward_path(arg, smtputf8_allowed)
                .map_err(CommandError::BadRecipient)?;
            let params =
                envelope::parse_params(tail, smtputf8_allowed).map_err(CommandError::BadParams)?;
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

/// `FROM:` / `TO:` (case-insensitive), then optional spaces.
fn strip_keyword<'a>(rest: &'a [u8], kw: &[u8]) -> Option<&'a [u8]> {
    if rest.len() < kw.len() || !rest[..kw.len()].eq_ignore_ascii_case(kw) {
        return None;
    }
    Some(trim_start(&rest[kw.len()..]))
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
mod tests {
    use super::*;

    fn mb(local: &str, domain: &str) -> Mailbox {
        Mailbox {
            local: local.into(),
            domain: domain.into(),
        }
    }

    fn params(p: &[(&str, Option<&str>)]) -> Params {
        Params(
            p.iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
                .collect(),
        )
    }

    #[test]
    fn valid_commands() {
        use Command::*;
        let cases: Vec<(&[u8], Command)> = vec![
            (b"HELO client.example", Helo("client.example".into())),
            (b"helo x", Helo("x".into())),
            (b"EHLO [192.0.2.1]", Ehlo("[192.0.2.1]".into())),
            (b"eHlO  x  ", Ehlo("x".into())),
            (b"EHLO x\r", Ehlo("x".into())),
            (
                b"MAIL FROM:<a@b>",
                Mail {
                    from: ReversePath::Mailbox(mb("a", "b")),
                    params: Params::default(),
                },
            ),
            (
                b"mail from:<>",
                Mail {
                    from: ReversePath::Null,
                    params: Params::default(),
                },
            ),
            (
                b"MAIL FROM: <a@b> SIZE=10 BODY=8BITMIME",
                Mail {
                    from: ReversePath::Mailbox(mb("a", "b")),
                    params: params(&[("SIZE", Some("10")), ("BODY", Some("8BITMIME"))]),
                },
            ),
            (
                b"MAIL FROM:<@r1,@r2:\"x y\"@[IPv6:::1]> smtputf8",
                Mail {
                    from: ReversePath::Mailbox(mb("\"x y\"", "[IPv6:::1]")),
                    params: params(&[("SMTPUTF8", None)]),
                },
            ),
            (
                b"RCPT TO:<Postmaster>",
                Rcpt {
                    to: mb("Postmaster", ""),
                    params: Params::default(),
                },
            ),
            (
                b"Rcpt To:<u@d> NOTIFY=NEVER ORCPT=rfc822;u@d",
                Rcpt {
                    to: mb("u", "d"),
                    params: params(&[("NOTIFY", Some("NEVER")), ("ORCPT", Some("rfc822;u@d"))]),
                },
            ),
            (b"DATA", Data),
            (b"data ", Data),
            (
                b"BDAT 0 LAST",
                Bdat {
                    size: 0,
                    last: true,
                },
            ),
            (
                b"bdat 1000",
                Bdat {
                    size: 1000,
                    last: false,
                },
            ),
            (
                b"BDAT 007 last",
                Bdat {
                    size: 7,
                    last: true,
                },
            ),
            (
                b"BDAT 18446744073709551615",
                Bdat {
                    size: u64::MAX,
                    last: false,
                },
            ),
            (b"RSET", Rset),
            (b"NOOP", Noop),
            (b"noop anything at all", Noop),
            (b"QUIT", Quit),
            (b"VRFY someone", Vrfy("someone".into())),
            (b"EXPN list", Expn("list".into())),
            (b"HELP", Help),
            (b"HELP MAIL", Help),
            (b"STARTTLS", StartTls),
            (b"starttls", StartTls),
            (
                b"AUTH plain",
                Auth {
                    mechanism: "PLAIN".into(),
                    initial: None,
                },
            ),
            (
                b"AUTH PLAIN AHVzZXIAcGFzcw==",
                Auth {
                    mechanism: "PLAIN".into(),
                    initial: Some("AHVzZXIAcGFzcw==".into()),
                },
            ),
            (
                b"AUTH CRAM-MD5",
                Auth {
                    mechanism: "CRAM-MD5".into(),
                    initial: None,
                },
            ),
            (
                b"AUTH LOGIN =",
                Auth {
                    mechanism: "LOGIN".into(),
                    initial: Some("=".into()),
                },
            ),
            (b"TURN", NotImplemented("TURN")),
            (b"send FROM:<a@b>", NotImplemented("SEND")),
            (b"SOML", NotImplemented("SOML")),
            (b"saml x", NotImplemented("SAML")),
        ];
        for (line, want) in cases {
            let got = parse(line, false);
            assert_eq!(got, Ok(want), "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn invalid_commands() {
        use CommandError::*;
        let cases: &[(&[u8], CommandError)] = &[
            (b"", Unknown),
            (b"   ", Unknown),
            (b" HELO x", Unknown),
            (b"FOO", Unknown),
            (b"ETRN x", Unknown),
            (b"MAIL1 FROM:<a@b>", Unknown),
            (b"\xffHELO", Unknown),
            (b"HELO", Syntax("Syntax: HELO hostname")),
            (b"HELO ", Syntax("Syntax: HELO hostname")),
            (b"EHLO a b", Syntax("Syntax: EHLO hostname")),
            (b"EHLO a\0", Syntax("Syntax: EHLO hostname")),
            (b"EHLO a\rb", Syntax("Syntax: EHLO hostname")),
            (b"EHLO \xff", Syntax("Syntax: EHLO hostname")),
            (b"MAIL", Syntax("Syntax: MAIL FROM:<address> [parameters]")),
            (
                b"MAIL TO:<a@b>",
                Syntax("Syntax: MAIL FROM:<address> [parameters]"),
            ),
            (
                b"MAIL FROM<a@b>",
                Syntax("Syntax: MAIL FROM:<address> [parameters]"),
            ),
            (
                b"MAIL FROM:<a@b>\x01",
                Syntax("Syntax: MAIL FROM:<address> [parameters]"),
            ),
            (
                b"MAIL FROM:<a\n@b>",
                Syntax("Syntax: MAIL FROM:<address> [parameters]"),
            ),
            (
                b"MAIL FROM:a@b",
                BadSender(PathError::Syntax("path must be in angle brackets")),
            ),
            (
                b"MAIL FROM:",
                BadSender(PathError::Syntax("path must be in angle brackets")),
            ),
            (
                b"MAIL FROM:<a@b>SIZE=1",
                BadParams(PathError::Syntax("space expected after path")),
            ),
            (
                b"MAIL FROM:<a@b> SIZE=",
                BadParams(PathError::Syntax("empty parameter value")),
            ),
            (b"RCPT TO:<>", BadRecipient(PathError::Syntax("empty path"))),
            (
                b"RCPT FROM:<a@b>",
                Syntax("Syntax: RCPT TO:<address> [parameters]"),
            ),
            (
                b"RCPT TO:<a@b> A A",
                BadParams(PathError::Syntax("duplicate parameter")),
            ),
            (b"DATA x", Syntax("Syntax: DATA")),
            (b"RSET x", Syntax("Syntax: RSET")),
            (b"QUIT now", Syntax("Syntax: QUIT")),
            (
                b"STARTTLS x",
                Syntax("Syntax error (no parameters allowed)"),
            ),
            (b"VRFY", Syntax("Syntax: VRFY address")),
            (b"EXPN", Syntax("Syntax: EXPN list")),
            (b"BDAT", Syntax("Syntax: BDAT size [LAST]")),
            (b"BDAT x", Syntax("Syntax: BDAT size [LAST]")),
            (b"BDAT -1", Syntax("Syntax: BDAT size [LAST]")),
            (b"BDAT 1 FIRST", Syntax("Syntax: BDAT size [LAST]")),
            (b"BDAT 1 LAST x", Syntax("Syntax: BDAT size [LAST]")),
            (
                b"BDAT 18446744073709551616",
                Syntax("Syntax: BDAT size [LAST]"),
            ),
            (b"AUTH", Syntax("Syntax: AUTH mechanism [initial-response]")),
            (
                b"AUTH PL@IN",
                Syntax("Syntax: AUTH mechanism [initial-response]"),
            ),
            (
                b"AUTH ABCDEFGHIJKLMNOPQRSTU",
                Syntax("Syntax: AUTH mechanism [initial-response]"),
            ),
            (
                b"AUTH PLAIN a b",
                Syntax("Syntax: AUTH mechanism [initial-response]"),
            ),
            (
                b"AUTH PLAIN \xc3\xa9",
                Syntax("Syntax: AUTH mechanism [initial-response]"),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(
                parse(line, false),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    /// RFC 6531 §3.4: UTF-8 paths only with SMTPUTF8 allowed and, on MAIL,
    /// the SMTPUTF8 parameter.
    #[test]
    fn smtputf8() {
        let utf8_mail = "MAIL FROM:<jösé@exämple.org> SMTPUTF8".as_bytes();
        assert!(matches!(parse(utf8_mail, true), Ok(Command::Mail { .. })));
        assert_eq!(
            parse(utf8_mail, false),
            Err(CommandError::BadSender(PathError::Utf8NotPermitted))
        );
        let no_param = "MAIL FROM:<jösé@exämple.org>".as_bytes();
        assert_eq!(
            parse(no_param, true),
            Err(CommandError::BadSender(PathError::Utf8NotPermitted))
        );
        let rcpt = "RCPT TO:<δ@δ.gr>".as_bytes();
        assert!(matches!(parse(rcpt, true), Ok(Command::Rcpt { .. })));
        assert_eq!(
            parse(rcpt, false),
            Err(CommandError::BadRecipient(PathError::Utf8NotPermitted))
        );
        assert_eq!(
            parse("RCPT TO:<a@b> X=é".as_bytes(), false),
            Err(CommandError::BadParams(PathError::Utf8NotPermitted))
        );
        // UTF-8 in EHLO is accepted (IDN U-labels), invalid UTF-8 is not.
        assert_eq!(
            parse("EHLO münchen.de".as_bytes(), false),
            Ok(Command::Ehlo("münchen.de".into()))
        );
    }

    /// RFC 5321 §4.5.3.1.4: 512 octets with CRLF, i.e. 510 without.
    #[test]
    fn line_limits() {
        let noop = |n: usize| {
            let mut l = b"NOOP ".to_vec();
            l.resize(n, b'x');
            l
        };
        assert_eq!(parse(&noop(510), false), Ok(Command::Noop));
        assert_eq!(parse(&noop(511), false), Err(CommandError::TooLong));
        let mail = |n: usize| {
            let mut l = b"MAIL FROM:<a@b>".to_vec();
            l.resize(n, b' ');
            l.extend_from_slice(b" X");
            l
        };
        assert!(parse(&mail(MAX_MAIL_LINE - 4), false).is_ok());
        assert_eq!(
            parse(&mail(MAX_MAIL_LINE - 3), false),
            Err(CommandError::TooLong)
        );
        let auth = |n: usize| {
            let mut l = b"AUTH PLAIN ".to_vec();
            l.resize(n, b'A');
            l
        };
        assert!(parse(&auth(MAX_LINE - 2), false).is_ok());
        assert_eq!(
            parse(&auth(MAX_LINE - 1), false),
            Err(CommandError::TooLong)
        );
        assert_eq!(
            parse(&vec![b'x'; 100_000], false),
            Err(CommandError::TooLong)
        );
    }

    /// Error replies, byte-exact.
    #[test]
    fn error_replies() {
        let cases: &[(CommandError, &[u8])] = &[
            (
                CommandError::Unknown,
                b"500 5.5.2 Error: command not recognized\r\n",
            ),
            (CommandError::TooLong, b"500 5.5.2 Error: line too long\r\n"),
            (
                CommandError::Syntax("Syntax: QUIT"),
                b"501 5.5.4 Syntax: QUIT\r\n",
            ),
            (
                CommandError::BadSender(PathError::PathTooLong),
                b"501 5.1.7 Bad sender address syntax: path too long\r\n",
            ),
            (
                CommandError::BadRecipient(PathError::Syntax("bad domain")),
                b"501 5.1.3 Bad recipient address syntax: bad domain\r\n",
            ),
            (
                CommandError::BadRecipient(PathError::Utf8NotPermitted),
                b"553 5.6.7 Non-ASCII addresses not permitted for that recipient\r\n",
            ),
            (
                CommandError::BadSender(PathError::Utf8NotPermitted),
                b"553 5.6.7 Non-ASCII addresses not permitted for that sender\r\n",
            ),
            (
                CommandError::BadParams(PathError::Syntax("duplicate parameter")),
                b"501 5.5.4 Bad parameters: duplicate parameter\r\n",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.reply().to_wire(true), *want, "{e:?}");
        }
    }

    /// Display is the wire form, and parsing it gives the same command.
    #[test]
    fn display_round_trip() {
        let lines: &[&str] = &[
            "HELO x",
            "EHLO [1.2.3.4]",
            "MAIL FROM:<>",
            "MAIL FROM:<\"a b\"@c> SIZE=5 BODY=7BIT",
            "RCPT TO:<Postmaster>",
            "RCPT TO:<a@b> NOTIFY=SUCCESS,DELAY",
            "DATA",
            "BDAT 5 LAST",
            "BDAT 0",
            "RSET",
            "NOOP",
            "QUIT",
            "VRFY x y",
            "EXPN x",
            "HELP",
            "STARTTLS",
            "AUTH PLAIN",
            "AUTH LOGIN dXNlcg==",
            "TURN",
        ];
        for line in lines {
            let c = parse(line.as_bytes(), false).unwrap();
            assert_eq!(c.to_string(), *line);
        }
        let routed = parse(b"MAIL FROM:<@x:a@b>", false).unwrap();
        assert_eq!(routed.to_string(), "MAIL FROM:<a@b>");
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let mb = |l: &str, d: &str| Mailbox {
            local: l.into(),
            domain: d.into(),
        };
        let cases: Vec<(Command, &[u8])> = vec![
            (
                Command::Ehlo("client.example".into()),
                b"EHLO client.example\r\n",
            ),
            (Command::Helo("h".into()), b"HELO h\r\n"),
            (
                Command::Mail {
                    from: ReversePath::Null,
                    params: Params::default(),
                },
                b"MAIL FROM:<>\r\n",
            ),
            (
                Command::Mail {
                    from: ReversePath::Mailbox(mb("a", "b.example")),
                    params: Params(vec![
                        ("SIZE".into(), Some("1234".into())),
                        ("BODY".into(), Some("8BITMIME".into())),
                        ("SMTPUTF8".into(), None),
                    ]),
                },
                b"MAIL FROM:<a@b.example> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n",
            ),
            (
                Command::Rcpt {
                    to: mb("\"x y\"", "c.example"),
                    params: Params::default(),
                },
                b"RCPT TO:<\"x y\"@c.example>\r\n",
            ),
            (Command::Data, b"DATA\r\n"),
            (Command::Rset, b"RSET\r\n"),
            (Command::Quit, b"QUIT\r\n"),
            (Command::StartTls, b"STARTTLS\r\n"),
            (
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: Some("AGEAYg==".into()),
                },
                b"AUTH PLAIN AGEAYg==\r\n",
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(cmd.to_wire().unwrap(), want, "{cmd:?}");
            // The server parser reads back what the client writes.
            let line = &want[..want.len() - 2];
            assert_eq!(parse(line, true).unwrap(), cmd);
        }
    }

    #[test]
    fn no_injection() {
        let evil = ["a>\r\nRCPT TO:<evil", "a\nDATA", "a\rb", "a\0b"];
        for e in evil {
            let cmds = [
                Command::Ehlo(e.into()),
                Command::Rcpt {
                    to: Mailbox {
                        local: e.into(),
                        domain: "x".into(),
                    },
                    params: Params::default(),
                },
                Command::Mail {
                    from: ReversePath::Null,
                    params: Params(vec![("X".into(), Some(e.into()))]),
                },
            ];
            for c in cmds {
                assert!(c.to_wire().is_err(), "{c:?}");
            }
        }
    }
}
