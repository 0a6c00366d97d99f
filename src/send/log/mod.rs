//! `--log FILE` and `--log syslog`: a trail of what was sent, as msmtp's
//! `logfile` and `syslog` leave one (issue 14), for the admin who asks
//! "did the backup report go out?".
//!
//! Every delivery attempt ([`Log::attempt`], made by the
//! route's `Deliverer` for every message it is
//! given) and every message's final disposition ([`Log::settled`], made
//! where the run or the queue decides it) is one line of `key=value` fields
//! ([`Record::line`]): `event=attempt|message`, `id=` (the queue id when the
//! message is queued or flushed, else its Message-ID), `status=` (message
//! lines: delivered, queued, deferred, rejected, failed), `from=<…>`, one
//! `rcpt=<addr>,CODE,STATUS` per recipient (`-` for no reply), `server=`,
//! `size=`, the server's last reply (`reply=`, it names the relay's own
//! queue id) or why there was none (`error=`), and `exit=` on message
//! lines. A value with a space, a quote, a backslash or a control character
//! is written in double quotes, `\"` and `\\` escaped and control
//! characters as `\n`, `\u{1b}`: never raw. Nothing else of the message is
//! written (no Subject), and no secret (the session's user and password are
//! not part of any field).
//!
//! A file gets the time first (`logfile_time_format`, msmtp's default
//! `%b %d %H:%M:%S`), each line with one `write(2)` on a descriptor opened
//! with `O_APPEND` (created 0600), so concurrent cron jobs do not
//! interleave. Syslog gets an RFC 3164 datagram
//! ([`datagram`]: `<PRI>Mmm dd hh:mm:ss smtp-send[PID]: line`) on
//! `/dev/log` (or `MAILPIPE_SYSLOG_SOCKET`, for tests).
//!
//! A log that cannot be opened or written is one warning through
//! [`Notices`](crate::send::notice::Notices), never an error: the mail
//! matters more than its trail.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::codec::encoded_word::is_bad_control;
use crate::exit;
use crate::exit::Status as _;
use crate::io::strip_os_error;
use crate::message::header;
use crate::send::error::Error;
use crate::send::notice;
use crate::send::outcome::{self, RcptResult, Status};
use crate::send::prepare::Prepared;
use crate::smtp::client::Stage;
use crate::smtp::envelope::Mailbox;

/// msmtp's `logfile_time_format` default.
pub const DEFAULT_TIME_FORMAT: &str = "%b %d %H:%M:%S";

/// The environment variable that replaces `/dev/log` (tests bind their own
/// socket there).
pub const SYSLOG_SOCKET_VAR: &str = "MAILPIPE_SYSLOG_SOCKET";

/// The syslog tag (RFC 3164 §4.1.3 TAG): the program, whatever name it was
/// invoked by (`sendmail`), so one filter finds every line.
const TAG: &str = "smtp-send";

/// Syslog facility codes (RFC 3164 §4.1.1, the values of syslog.h).
const FACILITIES: &[(&str, u8)] = &[
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// The `mail` facility: `--log syslog`'s default.
pub const MAIL: u8 = 2;

/// Severities (RFC 3164 §4.1.1): an attempt, a delivered or queued message
/// is news; a message that did not go is an error the admin wants to see.
const INFO: u8 = 6;
const ERR: u8 = 3;

/// Where the log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Appended to a file.
    File(PathBuf),
    /// Sent to syslog with this facility code.
    Syslog(u8),
}

/// The facility named `name` (`mail`, `local3`, or syslog.h's `LOG_MAIL`,
/// any case).
pub fn facility(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("log_").unwrap_or(&lower);
    FACILITIES
        .iter()
        .find(|(n, _)| *n == bare)
        .map(|&(_, code)| code)
}

impl Target {
    /// `--log`'s value: `syslog`, `syslog:FACILITY`, else a file name.
    ///
    /// Errors: an unknown facility (the message names those known).
    pub fn parse(spec: &str) -> Result<Target, String> {
        if spec == "syslog" {
            return Ok(Target::Syslog(MAIL));
        }
        if let Some(name) = spec.strip_prefix("syslog:") {
            return facility(name).map(Target::Syslog).ok_or_else(|| {
                let known: Vec<&str> = FACILITIES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown syslog facility {name:?} (want one of {})",
                    known.join(", ")
                )
            });
        }
        if spec.is_empty() {
            return Err("empty file name".to_owned());
        }
        Ok(Target::File(PathBuf::from(spec)))
    }
}

enum Sink {
    File(File),
    Syslog(UnixDatagram, u8),
}

struct Inner {
    /// `None` once it could not be opened (said once).
    sink: Option<Sink>,
    /// As given, for the warning (`--log FILE: why`).
    name: String,
    time_format: String,
    notices: notice::Shared,
    warned: AtomicBool,
    /// The last attempt, which the message's [`Log::settled`] line repeats
    /// with its fate.
    last: Mutex<Option<Record>>,
}

/// The run's log: a cheap handle shared by the route and the code that
/// decides a message's fate; [`Log::none`] writes nothing.
#[derive(Clone, Default)]
pub struct Log(Option<Arc<Inner>>);

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(i) => write!(f, "Log({:?})", i.name),
            None => f.write_str("Log(none)"),
        }
    }
}

/// What became of a message, on its `event=message` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate<'a> {
    /// Every recipient has it.
    Delivered,
    /// Stored in the queue (the id) for a later `--flush`.
    Queued(&'a str),
    /// Not sent, try again later (no `--queue`): exit 75.
    Deferred,
    /// Refused for good by the server, for some recipients or all.
    Rejected,
    /// Not sent for another reason (an error of ours, AUTH, TLS), or given
    /// up by a flush (moved to `failed/`).
    Failed,
}

impl Fate<'_> {
    fn as_str(self) -> &'static str {
        match self {
            Fate::Delivered => "delivered",
            Fate::Queued(_) => "queued",
            Fate::Deferred => "deferred",
            Fate::Rejected => "rejected",
            Fate::Failed => "failed",
        }
    }
}

/// One attempt, as the log writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The queue id, else the Message-ID (`-` when the message has none).
    pub id: String,
    /// The envelope sender.
    pub from: String,
    /// The result per recipient.
    pub results: Vec<RcptResult>,
    /// The server(s) that answered, or the route's.
    pub server: String,
    /// The message's size in bytes (`None`: not read, as for a queued
    /// message given up without an attempt).
    pub size: Option<u64>,
    /// The exit code the attempt alone gives.
    pub exit: u8,
}

impl Record {
    /// The record of one attempt to send `msg` (`queue_id`: when it comes
    /// from or goes to the queue) along the route named `server`.
    pub fn of(
        msg: &Prepared,
        queue_id: Option<&str>,
        sent: &Result<Vec<RcptResult>, Error>,
        server: &str,
    ) -> Record {
        let (results, exit) = match sent {
            Ok(list) => (list.clone(), outcome::exit_code(list)),
            Err(e) => (
                outcome::from_error(&msg.envelope.rcpts, e, server),
                e.exit_code(),
            ),
        };
        // With --mx each domain has its own host: name those that answered.
        let mut servers: Vec<&str> = Vec::new();
        for r in &results {
            if !r.server.is_empty() && !servers.contains(&r.server.as_str()) {
                servers.push(&r.server);
            }
        }
        let server = if servers.is_empty() {
            server.to_owned()
        } else {
            servers.join(",")
        };
        Record {
            id: queue_id.map_or_else(|| message_id(msg.head()), str::to_owned),
            from: msg.envelope.from.to_string(),
            results,
            server,
            size: Some(msg.len()),
            exit,
        }
    }

    /// The line (without the time): `event=attempt …`, or with a fate and
    /// exit code `event=message status=… … exit=N`.
    pub fn line(&self, settled: Option<(Fate<'_>, u8)>) -> String {
        let mut out = String::new();
        let event = if settled.is_some() {
            "message"
        } else {
            "attempt"
        };
        field(&mut out, "event", event);
        let id = match settled {
            Some((Fate::Queued(id), _)) => id,
            _ => &self.id,
        };
        field(&mut out, "id", id);
        if let Some((fate, _)) = settled {
            field(&mut out, "status", fate.as_str());
        }
        field(&mut out, "from", &format!("<{}>", self.from));
        // Queued: the deferred recipients; all those without the message
        // when the whole attempt failed and was queued (`--queue` keeps
        // more than 4xx: an AUTH or TLS failure the admin will fix).
        let queued = matches!(settled, Some((Fate::Queued(_), _)));
        let any_deferred = self.results.iter().any(|r| r.status == Status::Deferred);
        for r in &self.results {
            let code = r
                .reply
                .as_ref()
                .map_or_else(|| "-".to_owned(), |r| format!("{:03}", r.code));
            let status = if queued
                && (r.status == Status::Deferred || (!any_deferred && !r.is_delivered()))
            {
                "queued"
            } else {
                r.status.as_str()
            };
            field(&mut out, "rcpt", &format!("<{}>,{code},{status}", r.rcpt));
        }
        field(&mut out, "server", &self.server);
        if let Some(size) = self.size {
            field(&mut out, "size", &size.to_string());
        }
        // The deciding answer: the last reply (after the message, it names
        // the relay's queue id), else why there was none.
        let replied = self
            .results
            .iter()
            .rev()
            .find_map(|r| r.reply.as_ref())
            .map(outcome::coded);
        match replied {
            Some(reply) => field(&mut out, "reply", &reply),
            None => {
                if let Some(r) = self.results.iter().find(|r| !r.detail.is_empty()) {
                    field(&mut out, "error", &r.detail);
                }
            }
        }
        if let Some((_, exit)) = settled {
            field(&mut out, "exit", &exit.to_string());
        }
        out
    }

    /// The fate `exit` means for this attempt's message, when nothing was
    /// queued: 0 delivered, 75 deferred; else rejected when the server
    /// refused a recipient (or the message), failed otherwise.
    fn fate(&self, exit: u8) -> Fate<'static> {
        match exit {
            exit::OK => Fate::Delivered,
            exit::TEMPFAIL => Fate::Deferred,
            _ if self
                .results
                .iter()
                .any(|r| r.status == Status::Rejected && r.reply.is_some()) =>
            {
                Fate::Rejected
            }
            _ => Fate::Failed,
        }
    }
}

/// The message's Message-ID (unfolded, trimmed), `-` without one.
fn message_id(head: &[u8]) -> String {
    let Ok(block) = header::read_block(&mut &head[..]) else {
        return "-".to_owned();
    };
    block
        .get(b"Message-ID")
        .map(|f| {
            String::from_utf8_lossy(&header::unfold(f.value))
                .trim()
                .to_owned()
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

/// ` key=value`, the value quoted when it must be (module docs).
fn field(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(key);
    out.push('=');
    let raw = |c: char| c.is_control() || is_bad_control(c);
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\' || raw(c));
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' ' => out.push(' '),
            // Tabs, line ends, escapes, bidi overrides, other spaces:
            // `\t`, `\n`, `\u{1b}`, never raw.
            c if raw(c) || c.is_whitespace() => {
                for e in c.escape_default() {
                    out.push(e);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The RFC 3164 datagram of `line`: `<PRI>TIMESTAMP TAG[PID]: line`, PRI
/// = facility × 8 + severity (§4.1.1), the timestamp `Mmm dd hh:mm:ss`
/// local time, the day padded with a space (§4.1.2). No HOSTNAME: the
/// local syslogd (and journald) add it, as for syslog(3)'s own datagrams.
pub fn datagram(facility: u8, severity: u8, timestamp: &str, pid: u32, line: &str) -> Vec<u8> {
    format!(
        "<{}>{timestamp} {TAG}[{pid}]: {line}",
        u16::from(facility) * 8 + u16::from(severity)
    )
    .into_bytes()
}

/// Now, local time, in `format` (strftime); `None` when the format is bad.
fn now(format: &str) -> Option<String> {
    jiff::fmt::strtime::format(format, &jiff::ZonedDateTime::now()).ok()
}

impl Log {
    /// No log.
    pub fn none() -> Log {
        Log(None)
    }

    /// The log `target` (its file opened now, or the syslog socket
    /// connected), lines of a file timed with `time_format` (strftime;
    /// [`DEFAULT_TIME_FORMAT`] when `None`). What cannot be opened is a
    /// warning to `notices`, and the log writes nothing.
    pub fn open(target: &Target, time_format: Option<&str>, notices: notice::Shared) -> Log {
        let (name, sink) = match target {
            Target::File(path) => (path.display().to_string(), open_file(path).map(Sink::File)),
            Target::Syslog(facility) => (
                "syslog".to_owned(),
                connect_syslog(&syslog_path()).map(|s| Sink::Syslog(s, *facility)),
            ),
        };
        Log::with_sink(name, sink, time_format, notices)
    }

    /// The log writing to `sink` (or, when it could not be opened, the
    /// warning why), named `name` in warnings.
    fn with_sink(
        name: String,
        sink: Result<Sink, String>,
        time_format: Option<&str>,
        notices: notice::Shared,
    ) -> Log {
        // Empty is msmtp's "the default".
        let mut time_format = time_format
            .filter(|f| !f.is_empty())
            .unwrap_or(DEFAULT_TIME_FORMAT)
            .to_owned();
        if now(&time_format).is_none() {
            notices.warn(&format_args!(
                "--log-time-format {time_format:?}: not a strftime format; using {DEFAULT_TIME_FORMAT:?}"
            ));
            time_format = DEFAULT_TIME_FORMAT.to_owned();
        }
        let warned = sink.is_err();
        let sink = match sink {
            Ok(s) => Some(s),
            Err(why) => {
                notices.warn(&format_args!("--log {name}: {why}"));
                None
            }
        };
        Log(Some(Arc::new(Inner {
            sink,
            name,
            time_format,
            notices,
            warned: AtomicBool::new(warned),
            last: Mutex::new(None),
        })))
    }

    /// Logs an attempt to send `msg` (see [`Record::of`]) and keeps it for
    /// the message's [`Log::settled`] line.
    pub fn attempt(
        &self,
        msg: &Prepared,
        queue_id: Option<&str>,
        sent: &Result<Vec<RcptResult>, Error>,
        server: &str,
    ) {
        let Some(inner) = &self.0 else { return };
        let record = Record::of(msg, queue_id, sent, server);
        inner.write(&record.line(None), INFO);
        *inner.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(record);
    }

    /// Logs the fate of the message last attempted: queued as `queued`, or
    /// what `exit` (the run's exit code for it) means ([`Fate`]).
    pub fn settled(&self, queued: Option<&str>, exit: u8) {
        self.settle(|r| (queued.map_or_else(|| r.fate(exit), Fate::Queued), exit));
    }

    /// Logs the message last attempted as `fate`, with `exit`, or the
    /// attempt's own exit code when `None` (a flush decides per message).
    pub fn settled_as(&self, fate: Fate<'_>, exit: Option<u8>) {
        self.settle(|r| (fate, exit.unwrap_or(r.exit)));
    }

    /// Logs the queued message `id` (from `from` to `rcpts`) as failed
    /// without an attempt: a flush gave it up (`why`, `--max-age`).
    pub fn given_up(&self, id: &str, from: &str, rcpts: &[Mailbox], why: &str) {
        let Some(inner) = &self.0 else { return };
        let results = rcpts
            .iter()
            .map(|r| {
                RcptResult::without_reply(r.clone(), Status::Rejected, Stage::Connect, why, "")
            })
            .collect();
        let record = Record {
            id: id.to_owned(),
            from: from.to_owned(),
            results,
            server: "-".to_owned(),
            size: None,
            exit: exit::UNAVAILABLE,
        };
        inner.write(&record.line(Some((Fate::Failed, record.exit))), ERR);
    }

    fn settle<'a>(&self, how: impl FnOnce(&Record) -> (Fate<'a>, u8)) {
        let Some(inner) = &self.0 else { return };
        // Taken: a message never attempted (a flush's busy one) gets no
        // line, rather than another's.
        let last = inner.last.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(record) = last {
            let (fate, exit) = how(&record);
            let severity = match fate {
                Fate::Delivered | Fate::Queued(_) => INFO,
                _ => ERR,
            };
            inner.write(&record.line(Some((fate, exit))), severity);
        }
    }
}

impl Inner {
    /// Writes `line` whole, or warns (once) why it could not.
    fn write(&self, line: &str, severity: u8) {
        let res = match &self.sink {
            None => return,
            Some(Sink::File(f)) => {
                let time = now(&self.time_format).unwrap_or_default();
                // One write(2) of the whole line: O_APPEND makes it atomic
                // against the other writers of the file.
                (&*f).write_all(format!("{time} {line}\n").as_bytes())
            }
            Some(Sink::Syslog(sock, facility)) => {
                let time = now("%b %e %H:%M:%S").unwrap_or_default();
                let d = datagram(*facility, severity, &time, std::process::id(), line);
                sock.send(&d).map(drop)
            }
        };
        if let Err(e) = res
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            self.notices
                .warn(&format_args!("--log {}: {}", self.name, strip_os_error(&e)));
        }
    }
}

/// Opens the log file to append (created 0600: it names who mails whom).
fn open_file(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| strip_os_error(&e))
}

/// `/dev/log`, or [`SYSLOG_SOCKET_VAR`] when set.
fn syslog_path() -> PathBuf {
    std::env::var_os(SYSLOG_SOCKET_VAR)
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("/dev/log"), PathBuf::from)
}

/// A datagram socket connected to the syslog socket `path`. A stream-only
/// `/dev/log` is refused by connect (`EPROTOTYPE`): said in the warning,
/// which is all that a lost log costs.
fn connect_syslog(path: &Path) -> Result<UnixDatagram, String> {
    let sock = UnixDatagram::unbound().map_err(|e| strip_os_error(&e))?;
    sock.connect(path).map_err(|e| {
        let why = strip_os_error(&e);
        if e.raw_os_error() == Some(nix::libc::EPROTOTYPE) {
            format!("{}: not a datagram socket ({why})", path.display())
        } else {
            format!("{}: {why}", path.display())
        }
    })?;
    Ok(sock)
}

#[cfg(test)]
mod tests;
