//! Why a client session failed, and the exit code each failure means
//! (`exit::Status`): 4xx is temporary, 5xx permanent, AUTH and TLS refusals
//! a permission problem (RFC 3463 classes, sysexits codes).

use std::fmt;
use std::io;
use std::time::Duration;

use crate::exit::Status as _;
use crate::smtp::Stage;
use crate::smtp::envelope::Mailbox;
use crate::smtp::reply::Reply;
use crate::smtp::sasl::SaslError;

/// Longest reply text quoted in an error message.
const MAX_QUOTED: usize = 2000;

/// What went wrong (the `exit::Status` impl of [`Error`] gives each class its code).
#[derive(Debug)]
pub enum ErrorKind {
    /// The server refused a command (4xx or 5xx).
    Reply(Reply),
    /// Recipients refused, each with its reply; the transaction was
    /// abandoned (RSET) and nothing was sent.
    Rejected(Vec<(Mailbox, Reply)>),
    /// Talking to the server failed: the connection closed, a timeout
    /// (`TimedOut` or `WouldBlock` from a socket timeout), a reset.
    Io(io::Error),
    /// Reading the message failed (a local I/O error).
    Input(io::Error),
    /// The server broke the protocol (the text says how), with its reply if
    /// there was one.
    Protocol(String, Option<Reply>),
    /// The message cannot be sent to this server as it is (the text says
    /// why).
    Unsendable(String),
    /// The SASL exchange failed on our side (malformed challenge, or a
    /// server that could not prove it knows the password).
    Sasl(SaslError),
}

/// A failed step of the session: where, what was being done, and why.
/// `Display` is one line naming the stage and the server's reply, e.g.
/// `RCPT TO:<x@y> refused: 550 5.1.1 user unknown`.
#[derive(Debug)]
pub struct Error {
    pub(super) stage: Stage,
    /// The command (secrets left out) or step, for the message.
    pub(super) what: String,
    pub(super) kind: ErrorKind,
}

impl Error {
    pub(super) fn new(stage: Stage, what: impl Into<String>, kind: ErrorKind) -> Error {
        Error {
            stage,
            what: what.into(),
            kind,
        }
    }

    /// The stage the error happened in.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The server's reply, when a reply caused the error.
    pub fn reply(&self) -> Option<&Reply> {
        match &self.kind {
            ErrorKind::Reply(r) => Some(r),
            ErrorKind::Protocol(_, r) => r.as_ref(),
            ErrorKind::Rejected(list) => list.first().map(|(_, r)| r),
            _ => None,
        }
    }

    /// The refused recipients with their replies (empty unless RCPTs were
    /// refused).
    pub fn rejected(&self) -> &[(Mailbox, Reply)] {
        match &self.kind {
            ErrorKind::Rejected(list) => list,
            _ => &[],
        }
    }

    /// Worth trying again later (exit 75): a 4xx reply, recipients all
    /// refused with 4xx, a lost connection or a timeout.
    pub fn is_transient(&self) -> bool {
        self.exit_code() == crate::exit::TEMPFAIL
    }

    /// The server refused for good: a 5xx reply, or a recipient refused
    /// with 5xx.
    pub fn is_permanent(&self) -> bool {
        match &self.kind {
            ErrorKind::Reply(r) => r.is_permanent(),
            ErrorKind::Rejected(list) => list.iter().any(|(_, r)| r.is_permanent()),
            _ => false,
        }
    }

    /// An I/O error on the connection or on the message.
    #[cfg(test)]
    pub(super) fn is_io(&self) -> bool {
        matches!(self.kind, ErrorKind::Io(_) | ErrorKind::Input(_))
    }
}

/// `550 5.1.1 user unknown` on one line, shortened if very long.
fn summary(r: &Reply) -> String {
    let mut s = format!("{:03}", r.code);
    if let Some((c, sub, d)) = r.enhanced {
        s.push_str(&format!(" {c}.{sub}.{d}"));
    }
    let text = r.text();
    if !text.is_empty() {
        s.push(' ');
        if text.chars().count() > MAX_QUOTED {
            s.extend(text.chars().take(MAX_QUOTED));
            s.push('…');
        } else {
            s.push_str(&text);
        }
    }
    s
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Which time limit ended a wait for the server: carried inside an
/// `io::Error` of kind `TimedOut` (see the client's module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLimit {
    /// The whole reply did not arrive within this long (RFC 5321
    /// §4.5.3.2, or `--timeout`).
    Reply(Duration),
    /// The server took less than a command, or a block of message text,
    /// within this long.
    Send(Duration),
    /// The session's own end passed.
    Session,
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeLimit::Reply(t) => write!(f, "no complete reply within {} s", t.as_secs_f64()),
            TimeLimit::Send(t) => write!(
                f,
                "the server did not take what was sent within {} s",
                t.as_secs_f64()
            ),
            TimeLimit::Session => f.write_str("the session's time limit passed"),
        }
    }
}

impl std::error::Error for TimeLimit {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Reply(r) => write!(f, "{}: {}", self.what, summary(r)),
            ErrorKind::Rejected(list) => {
                for (i, (m, r)) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "RCPT TO:<{m}> refused: {}", summary(r))?;
                }
                f.write_str(" (message not sent)")
            }
            ErrorKind::Io(e) if is_timeout(e) => {
                write!(f, "{}: timed out waiting for the server", self.what)?;
                match e.get_ref().and_then(|i| i.downcast_ref::<TimeLimit>()) {
                    Some(limit) => write!(f, " ({limit})"),
                    None => Ok(()),
                }
            }
            ErrorKind::Io(e) => write!(f, "{}: {e}", self.what),
            ErrorKind::Input(e) => write!(f, "reading the message: {e}"),
            ErrorKind::Protocol(why, _) => {
                write!(f, "protocol error from the server at {}: {why}", self.what)
            }
            ErrorKind::Unsendable(why) => write!(f, "message not sent: {why}"),
            ErrorKind::Sasl(e) => write!(f, "{}: {e}", self.what),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) | ErrorKind::Input(e) => Some(e),
            ErrorKind::Sasl(e) => Some(e),
            _ => None,
        }
    }
}

impl crate::exit::Status for Error {
    /// The sysexits code (DESIGN.md): 75 temporary (4xx, lost connection,
    /// timeout), 69 permanent (5xx), 67 a recipient refused with 5xx (only
    /// 4xx refusals: 75), 77 authentication failed or required (5xx to AUTH,
    /// 530, 534, 535, 538; a server that could not prove itself), 65 the
    /// message cannot be sent as it is, 76 protocol violation, 74 the
    /// message could not be read.
    fn exit_code(&self) -> u8 {
        match &self.kind {
            ErrorKind::Reply(r) if r.is_transient() => crate::exit::TEMPFAIL,
            ErrorKind::Reply(r) if r.is_permanent() => {
                if self.stage == Stage::Auth || matches!(r.code, 530 | 534 | 535 | 538) {
                    crate::exit::NOPERM
                } else {
                    crate::exit::UNAVAILABLE
                }
            }
            ErrorKind::Reply(_) => crate::exit::PROTOCOL,
            ErrorKind::Rejected(list) => {
                if list.iter().any(|(_, r)| r.is_permanent()) {
                    crate::exit::NOUSER
                } else {
                    crate::exit::TEMPFAIL
                }
            }
            ErrorKind::Io(_) => crate::exit::TEMPFAIL,
            ErrorKind::Input(_) => crate::exit::IOERR,
            ErrorKind::Protocol(..) => crate::exit::PROTOCOL,
            ErrorKind::Unsendable(_) => crate::exit::DATAERR,
            ErrorKind::Sasl(SaslError::Malformed(_)) => crate::exit::PROTOCOL,
            ErrorKind::Sasl(_) => crate::exit::NOPERM,
        }
    }
}
