//! Why a submission failed: [`Error`], each with the exit code of
//! `mailpipe(7)` (through [`crate::exit::Status`]), and [`Failed`], the
//! error that ends a run as `smtp-send` says it.

use std::fmt;
use std::io;

use crate::io::strip_os_error;
use crate::message;
use crate::send::url;
use crate::smtp::client;
use crate::smtp::tls;

// Errors

/// Why a submission failed. `Display` is one lowercase line that names the
/// stage, the server and its reply where there is one.
#[derive(Debug)]
pub enum Error {
    /// Bad command line input (exit 64).
    Usage(String),
    /// The message cannot be sent as it is (exit 65).
    Message(String),
    /// Reading the message failed (exit 74).
    Input(io::Error),
    /// Configuration: no server, no password, unusable certificate file
    /// (exit 78).
    Config(String),
    /// A FILE operand cannot be opened (exit 66).
    Open(String),
    /// Writing our output (`--dry-run`, `--probe`) failed (exit 74).
    Output(io::Error),
    /// No connection: exit 68 for a host name the resolver does not know,
    /// else 75 (refused, timed out, DNS not answering).
    Connect(url::ConnectError),
    /// The TLS handshake failed (77 verification or a refused client
    /// certificate, 76 no TLS spoken, 75 connection lost, 78 bad name).
    Tls {
        /// The server, as given.
        server: String,
        /// Why.
        err: tls::HandshakeError,
    },
    /// A policy refusal before saying anything secret (exit 77): STARTTLS
    /// required and not offered, AUTH without TLS, no usable mechanism.
    Security(String),
    /// The `--pipe` command ended before its greeting (78 when the shell
    /// could not run it, 75 when it said so, else 69).
    Command {
        /// The command, as given.
        cmd: String,
        /// How it ended.
        exited: url::CommandExited,
    },
    /// The session failed (exit code from `client::Error::exit_code`).
    Smtp {
        /// The server, as given.
        server: String,
        /// Why, with the stage and the server's reply.
        err: client::Error,
    },
    /// `--each`: not tried because the server could not be reached for an
    /// earlier message (the reason, and its exit code).
    NotSent(String, u8),
    /// A service the session needs does not answer now: an `oauth =`
    /// token endpoint that times out, refuses the connection or answers
    /// 5xx (exit 75: try later; `--queue` keeps the message).
    Unavailable(String),
    /// Some recipients refused or deferred (`outcome::summary` of the
    /// results, and `outcome::exit_code`).
    Refused(String, u8),
    /// A later transaction for the same message failed after earlier ones
    /// delivered it to some recipients (the server took fewer per
    /// transaction, RFC 5321 §4.5.3.1.10): the exit code is `err`'s.
    Partial {
        /// Recipients that have the message.
        delivered: usize,
        /// Recipients in all.
        total: usize,
        /// Why the rest do not.
        err: Box<Error>,
    },
}

impl Error {
    /// Whether this is our output's reader having gone away (EPIPE).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The error as `smtp-send` reports it on a line of its own: a send
    /// through a server (-S, `$SMTP_SERVER`, an account's `server`) is
    /// the only place a failed connection comes back as an
    /// [`Error::Connect`] (--mx, --flush and -bs turn it into results), so
    /// only there is the hint about -S added.
    ///
    /// `mode` [`Mode::Probe`]: the error of `--probe`, which sends nothing,
    /// so says nothing of a message (issue 13: it ended "(not sent)").
    pub fn reported(&self, mode: Mode) -> impl fmt::Display + '_ {
        struct Reported<'a>(&'a Error, Mode);
        impl fmt::Display for Reported<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let hint = match (self.0, self.1) {
                    (Error::Connect(_), Mode::Send) => {
                        " (not sent: check -S or $SMTP_SERVER, or try again later)"
                    }
                    (Error::Connect(_), Mode::Probe) => " (check -S or $SMTP_SERVER)",
                    (Error::Tls { .. }, Mode::Send) => " (not sent)",
                    _ => "",
                };
                write!(f, "{}{hint}", self.0)
            }
        }
        Reported(self, mode)
    }
}

impl Error {
    /// The same failure again, for the next message it stops: the text and
    /// exit code kept (a configuration error stays one; the others, which
    /// own what cannot be copied, come back as [`Error::NotSent`]).
    pub fn again(&self) -> Error {
        match self {
            Error::Config(m) => Error::Config(m.clone()),
            Error::Usage(m) => Error::Usage(m.clone()),
            e => Error::NotSent(e.to_string(), crate::exit::Status::exit_code(e)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Message(m) | Error::Config(m) | Error::Unavailable(m) => {
                f.write_str(m)
            }
            Error::Input(e) => write!(f, "reading the message: {}", strip_os_error(e)),
            Error::Open(m) => f.write_str(m),
            Error::Output(e) => write!(f, "writing the output: {}", strip_os_error(e)),
            // No hint here: this text also goes into results (--json,
            // --mx, a queue's last reply, -bs's reply); `report` adds it
            // where the server came from -S.
            Error::Connect(e) => write!(f, "{e}"),
            Error::Tls { server, err } => write!(f, "{server}: TLS: {err}"),
            Error::Security(m) => f.write_str(m),
            Error::Smtp { server, err } => write!(f, "{server}: {err}"),
            Error::Command { cmd, exited } => write!(f, "--pipe {cmd:?}: {exited}"),
            Error::NotSent(why, _) => write!(f, "not sent: an earlier message failed: {why}"),
            Error::Refused(why, _) => f.write_str(why),
            Error::Partial {
                delivered,
                total,
                err,
            } => write!(
                f,
                "{err} (already delivered to {delivered} of {total} recipients: \
                 a retry sends them a second copy)"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Input(e) | Error::Output(e) => e.source(),
            _ => None,
        }
    }
}

impl crate::exit::Status for Error {
    /// The exit code of `mailpipe(7)` for this error.
    fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => crate::exit::USAGE,
            Error::Message(_) => crate::exit::DATAERR,
            Error::Input(_) => crate::exit::IOERR,
            Error::Config(_) => crate::exit::CONFIG,
            Error::Open(_) => crate::exit::NOINPUT,
            Error::Output(_) => crate::exit::IOERR,
            Error::Connect(e) => e.exit_code(),
            Error::Tls { err, .. } => err.exit_code(),
            Error::Security(_) => crate::exit::NOPERM,
            Error::Unavailable(_) => crate::exit::TEMPFAIL,
            Error::Smtp { err, .. } => err.exit_code(),
            Error::Command { exited, .. } => exited.exit_code(),
            Error::NotSent(_, code) | Error::Refused(_, code) => *code,
            Error::Partial { err, .. } => err.exit_code(),
        }
    }
}

impl From<message::Error> for Error {
    fn from(e: message::Error) -> Self {
        match e {
            message::Error::Io(e) => Error::Input(e),
            message::Error::Parse(e) => Error::Message(e.to_string()),
        }
    }
}

/// The error that ends a run of `smtp-send`, as its last line says it
/// ([`Error::reported`]: with the hint about -S for a failed connection);
/// its exit code is the error's.
#[derive(Debug)]
pub struct Failed(pub Box<Error>, pub Mode);

/// What the run was doing when it failed, for the words of its last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sending (or queueing) a message.
    Send,
    /// `--probe`: nothing was to be sent.
    Probe,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.reported(self.1).fmt(f)
    }
}

// No source: the line above says all of it (a source would be printed
// again after it).
impl std::error::Error for Failed {}

impl crate::exit::Status for Failed {
    fn exit_code(&self) -> u8 {
        crate::exit::Status::exit_code(&*self.0)
    }
}
