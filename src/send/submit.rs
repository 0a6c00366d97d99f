//! Submitting a message: the work behind `smtp-send`.
//!
//! Two halves:
//!
//! 1. **Preparation** ([`prepare`]), before any connection: the header block
//!    is read (bounded by [`crate::limits::MAX_HEADER_BYTES`]), the envelope
//!    is found (`-f`, else `Sender:`, else `From:`; recipients from the
//!    arguments and, with `-t`, from `To:`/`Cc:`/`Bcc:` or the first
//!    `Resent-*` block), the header is rewritten (`Bcc:` removed; `Date:`,
//!    `Message-ID:` and `From:` added when missing) and the body is scanned
//!    once: 8-bit bytes (BODY=8BITMIME, RFC 6152), the size on the wire
//!    (SIZE=, RFC 1870) and lines longer than 998 octets (RFC 5321
//!    §4.5.3.1.6, refused here, exit 65, so that nothing is sent). A seekable
//!    input (a regular file, also as stdin) is scanned in place and read again
//!    to send; a pipe is spooled while it is scanned, to memory up to
//!    [`MEM_SPOOL`] and beyond that to an unlinked temporary file in
//!    `$TMPDIR`, so memory stays constant whatever the message size.
//! 2. **The session** ([`Session`]): connect, greeting, EHLO, STARTTLS, EHLO
//!    again, AUTH, then one transaction per message (RSET between messages),
//!    QUIT; also [`probe`] and [`dry_run`].
//!
//! Errors are [`Error`], each with the exit code of `mailpipe(7)`
//! ([`Error::exit_code`]).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::exit::Status as _;
use crate::io::strip_os_error;
use crate::limits::IO_BUF;
use crate::message::{self, address, build, date, header};
use crate::send::outcome::{self, RcptResult};
use crate::send::url::{self, Transport};
use crate::send::{credentials, mx, queue};
use crate::smtp::client::{self, Client, SendEnvelope};
use crate::smtp::command::Command;
use crate::smtp::dot;
use crate::smtp::envelope::{self, Mailbox, ReversePath};
use crate::smtp::reply::Reply;
use crate::smtp::sasl::{self, Mechanism, Secret};
use crate::smtp::tls;

// ---------------------------------------------------------------------------
// sendmail compatibility

/// sendmail options accepted and ignored, as they are written on a command
/// line (`-oi` is not here: it means `-i`). `-B` (body type) is also
/// accepted and ignored, by the command line parser, since the body type is
/// found by scanning the message.
pub const SENDMAIL_NOOPS: &[&str] = &["-odi", "-odb", "-oem", "-oep", "-em", "-ep", "-bm"];

/// Normalises a sendmail-style command line for clap: `-oi` becomes `-i`;
/// `-V ENVID` (or `-VENVID`) becomes `--envid` (a `-V` with nothing after
/// it stays `--version`); the no-op options of [`SENDMAIL_NOOPS`] are
/// dropped. (`-N` and `-R` are short options of their own.) Arguments after
/// `--`, and the value after an option of `cli` that takes one (`-f -oi`
/// keeps `-oi` as the sender), are left alone. `argv[0]` is kept.
///
/// clap cannot parse these itself: `-oi` would be read as a cluster of the
/// short options `-o` and `-i`.
pub fn sendmail_args(
    argv: impl IntoIterator<Item = OsString>,
    cli: &clap::Command,
) -> Vec<OsString> {
    let mut valued: Vec<String> = Vec::new();
    for arg in cli.get_arguments() {
        if arg.is_positional() || !arg.get_action().takes_values() {
            continue;
        }
        for s in arg
            .get_short()
            .into_iter()
            .chain(arg.get_all_short_aliases().unwrap_or_default())
        {
            valued.push(format!("-{s}"));
        }
        for l in arg
            .get_long()
            .into_iter()
            .chain(arg.get_all_aliases().unwrap_or_default())
        {
            valued.push(format!("--{l}"));
        }
    }
    let mut out = Vec::new();
    let mut args = argv.into_iter().collect::<Vec<_>>().into_iter();
    if let Some(argv0) = args.next() {
        out.push(argv0);
    }
    let mut value_next = false;
    let mut rest = false;
    while let Some(arg) = args.next() {
        if rest || value_next {
            value_next = false;
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            rest = true;
        } else if s == "-oi" {
            out.push("-i".into());
            continue;
        } else if s == "-bs" {
            // sendmail's "SMTP on stdin/stdout" (clap: one-letter shorts only).
            out.push("--bs".into());
            continue;
        } else if let Some(id) = s.strip_prefix("-V")
            && (!id.is_empty() || args.len() > 0)
        {
            // sendmail -V ENVID (RFC 3461 ENVID); a lone -V at the end
            // stays clap's --version.
            if id.is_empty() {
                out.push("--envid".into());
                value_next = true;
            } else {
                out.push(format!("--envid={id}").into());
            }
            continue;
        } else if SENDMAIL_NOOPS.contains(&s) {
            continue;
        } else if valued.iter().any(|v| v == s) {
            value_next = true;
        }
        out.push(arg);
    }
    out
}

/// Whether the program was invoked as `sendmail` (`argv[0]`'s file name):
/// then a line with a single `.` ends the input unless `-i` is given.
pub fn invoked_as_sendmail(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new("sendmail"))
}

// ---------------------------------------------------------------------------
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
    /// The session failed (exit code from [`client::Error::exit_code`]).
    Smtp {
        /// The server, as given.
        server: String,
        /// Why, with the stage and the server's reply.
        err: client::Error,
    },
    /// `--each`: not tried because the server could not be reached for an
    /// earlier message (the reason, and its exit code).
    NotSent(String, u8),
    /// Some recipients refused or deferred ([`outcome::summary`] of the
    /// results, and [`outcome::exit_code`]).
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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Message(m) | Error::Config(m) => f.write_str(m),
            Error::Input(e) => write!(f, "reading the message: {}", strip_os_error(e)),
            Error::Open(m) => f.write_str(m),
            Error::Output(e) => write!(f, "writing the output: {}", strip_os_error(e)),
            // No hint here: this text also goes into results (--json,
            // --mx, a queue's last reply, -bs's reply); `report` adds it
            // where the server came from -S.
            Error::Connect(e) => write!(f, "{e}"),
            Error::Tls { server, err } => write!(f, "{server}: TLS: {err} (not sent)"),
            Error::Security(m) => f.write_str(m),
            Error::Smtp { server, err } => write!(f, "{server}: {err}"),
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
            Error::Connect(e) if e.is_unknown_host() => crate::exit::NOHOST,
            Error::Connect(_) => crate::exit::TEMPFAIL,
            Error::Tls { err, .. } => err.exit_code(),
            Error::Security(_) => crate::exit::NOPERM,
            Error::Smtp { err, .. } => err.exit_code(),
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

// ---------------------------------------------------------------------------
// Addresses

/// Parses the `-f` argument: `''` and `'<>'` are the null sender (RFC 5321
/// §4.5.5); otherwise one address (`a@b`, `<a@b>` or `Name <a@b>`). An
/// address without a domain gets `@hostname` (as sendmail qualifies it).
pub fn parse_sender(arg: &str, hostname: &str) -> Result<ReversePath, Error> {
    let trimmed = arg.trim();
    if trimmed.is_empty() || trimmed == "<>" {
        return Ok(ReversePath::Null);
    }
    match &parse_addresses(trimmed.as_bytes(), hostname)
        .map_err(|e| Error::Usage(format!("-f: {e}")))?[..]
    {
        [one] => Ok(ReversePath::Mailbox(one.clone())),
        _ => Err(Error::Usage(format!(
            "-f: want one address, got {trimmed:?}"
        ))),
    }
}

/// Parses a RECIPIENT argument: one address or a comma-separated list.
pub fn parse_recipient_arg(arg: &str, hostname: &str) -> Result<Vec<Mailbox>, Error> {
    let list = parse_addresses(arg.as_bytes(), hostname)
        .map_err(|e| Error::Usage(format!("recipient {arg:?}: {e} ({})", address::HINT)))?;
    if list.is_empty() {
        return Err(Error::Usage(format!("recipient {arg:?}: no address")));
    }
    Ok(list)
}

/// Every mailbox of an RFC 5322 address list as an SMTP path. A defect
/// (anything the parser had to skip or guess) is an error, so the list is
/// exactly what was written; a missing domain is qualified with `hostname`.
fn parse_addresses(value: &[u8], hostname: &str) -> Result<Vec<Mailbox>, String> {
    let list = address::parse(value);
    if let Some(d) = list
        .defects
        .iter()
        .find(|d| d.kind != address::DefectKind::MissingDomain)
    {
        return Err(d.to_string());
    }
    list.mailboxes()
        .map(|m| smtp_mailbox(&m.addr, hostname))
        .collect()
}

/// An RFC 5322 addr-spec as an RFC 5321 Mailbox, checked by the SMTP path
/// grammar (which is what the server will apply).
fn smtp_mailbox(addr: &str, hostname: &str) -> Result<Mailbox, String> {
    let qualified;
    let addr = if addr.contains('@') {
        addr
    } else {
        qualified = format!("{addr}@{hostname}");
        &qualified
    };
    if addr.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(format!("control character in address {addr:?}"));
    }
    let path = format!("<{addr}>");
    match envelope::parse_forward_path(&path, true) {
        Ok((m, "")) => Ok(m),
        Ok(_) => Err(format!("not an SMTP address: {addr:?}")),
        Err(e) => Err(format!("not an SMTP address: {addr:?}: {e}")),
    }
}

// ---------------------------------------------------------------------------
// Header fixes: display names (Date and Message-ID: message::date, message::build)

/// `Name <addr>` for a `From:` field we add: an ASCII name quoted when it
/// holds specials (RFC 5322 §3.2.3), a non-ASCII name as RFC 2047 "B"
/// encoded-words (§5 (3): safe in a phrase whatever the characters).
fn display_mailbox(name: Option<&str>, addr: &str) -> String {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    match name {
        None => addr.to_owned(),
        Some(n) if n.is_ascii() => address::Mailbox {
            name: Some(n.to_owned()),
            addr: addr.to_owned(),
        }
        .to_string(),
        Some(n) => {
            use base64::Engine;
            let mut words = Vec::new();
            let mut chunk = String::new();
            for c in n.chars() {
                // 45 bytes of UTF-8 → 60 base64 characters: 72 in all with
                // `=?UTF-8?B?` and `?=`, within the 75 of RFC 2047 §2.
                if chunk.len() + c.len_utf8() > 45 {
                    words.push(std::mem::take(&mut chunk));
                }
                chunk.push(c);
            }
            words.push(chunk);
            let words: Vec<String> = words
                .iter()
                .map(|w| {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(w.as_bytes());
                    format!("=?UTF-8?B?{b64}?=")
                })
                .collect();
            format!("{} <{addr}>", words.join(" "))
        }
    }
}

// ---------------------------------------------------------------------------
// Scanning: 8-bit, wire size, long lines, sendmail's "." line

/// Longest line of message text, CRLF excluded (RFC 5321 §4.5.3.1.6: 1000
/// with CRLF; RFC 5322 §2.1.1: 998).
pub const MAX_TEXT_LINE: u64 = crate::limits::SMTP_MAX_TEXT_LINE as u64 - 2;

/// Messages up to this size are spooled in memory; larger ones go to an
/// unlinked temporary file (private limit: 1 MiB keeps memory small and
/// avoids the temporary file for nearly all mail).
pub const MEM_SPOOL: usize = 1024 * 1024;

/// What a scan of message text found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Bytes of input that belong to the message.
    pub len: u64,
    /// Size on the wire: every line end CRLF, a final CRLF added when
    /// missing; not counting dot-stuffing or the end marker (RFC 1870 §3).
    pub wire: u64,
    /// Whether a byte ≥ 0x80 occurs (needs BODY=8BITMIME, RFC 6152).
    pub eight_bit: bool,
    /// Whether the text ends with a line end (or is empty).
    pub ends_with_newline: bool,
    /// The first line over [`MAX_TEXT_LINE`] octets, when they are let
    /// through (`--downgrade` re-encodes them).
    pub long_line: Option<u64>,
}

/// A line over [`MAX_TEXT_LINE`] octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongLine {
    /// The line's number, counted from 1.
    pub line: u64,
}

/// Streaming scanner behind [`Scan`]; state carries across chunks.
#[derive(Debug, Default)]
struct Scanner {
    /// sendmail mode: a line that is a single `.` ends the message.
    dot_ends: bool,
    /// `--downgrade`: over-long lines are noted, not refused.
    allow_long: bool,
    long_line: Option<u64>,
    pos: u64,
    line_start: u64,
    line_no: u64,
    /// The last two bytes fed (for lines that straddle chunks).
    tail: [u8; 2],
    lf: u64,
    cr: u64,
    crlf: u64,
    eight_bit: bool,
    last: Option<u8>,
    ended: bool,
}

impl Scanner {
    fn new(dot_ends: bool) -> Scanner {
        Scanner {
            dot_ends,
            line_no: 1,
            ..Scanner::default()
        }
    }

    /// The byte at absolute offset `at`, which is in `chunk` or among the
    /// last two bytes before it.
    fn byte_at(&self, chunk: &[u8], at: u64) -> u8 {
        if at >= self.pos {
            chunk[(at - self.pos) as usize]
        } else {
            self.tail[(at + 2 - self.pos) as usize]
        }
    }

    /// Feeds the next bytes. Returns `Some(n)` when the message ends inside
    /// `chunk` (a `.` line in sendmail mode): only the first `n` bytes (and
    /// perhaps fewer of the earlier input: see [`Scanner::len`]) belong to it.
    fn feed(&mut self, chunk: &[u8]) -> Result<Option<usize>, LongLine> {
        if self.ended {
            return Ok(Some(0));
        }
        for i in memchr::memchr_iter(b'\n', chunk) {
            let at = self.pos + i as u64;
            let had_cr = if i > 0 {
                chunk[i - 1] == b'\r'
            } else {
                self.last == Some(b'\r')
            };
            let raw = at - self.line_start;
            let len = raw - u64::from(had_cr);
            if len > MAX_TEXT_LINE {
                self.long(self.line_no)?;
            }
            if self.dot_ends && len == 1 && self.byte_at(chunk, self.line_start) == b'.' {
                // The message ends before this line: undo what this
                // chunk's count would add for it.
                let upto = &chunk[..i];
                self.count(upto);
                if had_cr {
                    self.cr -= 1;
                }
                self.ended = true;
                let cut = self.line_start;
                let in_chunk = cut.saturating_sub(self.pos) as usize;
                self.pos = cut;
                self.last = if cut == 0 { None } else { Some(b'\n') };
                return Ok(Some(in_chunk));
            }
            self.lf += 1;
            if had_cr {
                self.crlf += 1;
            }
            self.line_start = at + 1;
            self.line_no += 1;
        }
        let end = self.pos + chunk.len() as u64;
        // A line still open: refuse it as soon as it is too long, without
        // waiting for its end (which may be gigabytes away).
        if end - self.line_start > MAX_TEXT_LINE + 1 {
            self.long(self.line_no)?;
        }
        self.count(chunk);
        if let Some(&b) = chunk.last() {
            self.last = Some(b);
        }
        match chunk.len() {
            0 => {}
            1 => self.tail = [self.tail[1], chunk[0]],
            n => self.tail = [chunk[n - 2], chunk[n - 1]],
        }
        self.pos = end;
        Ok(None)
    }

    /// Line `line` is over [`MAX_TEXT_LINE`]: refused, or noted when
    /// allowed.
    fn long(&mut self, line: u64) -> Result<(), LongLine> {
        if !self.allow_long {
            return Err(LongLine { line });
        }
        self.long_line.get_or_insert(line);
        Ok(())
    }

    fn count(&mut self, bytes: &[u8]) {
        self.cr += memchr::memchr_iter(b'\r', bytes).count() as u64;
        if !self.eight_bit && !bytes.is_ascii() {
            self.eight_bit = true;
        }
    }

    /// Ends the scan (at the end of input or after a `.` line).
    fn finish(&mut self) -> Result<Scan, LongLine> {
        if !self.ended {
            let raw = self.pos - self.line_start;
            let had_cr = self.last == Some(b'\r') && raw > 0;
            let open = raw - u64::from(had_cr);
            if open > MAX_TEXT_LINE {
                self.long(self.line_no)?;
            }
            if self.dot_ends && open == 1 && self.tail[(2 - raw) as usize] == b'.' {
                // A final "." without a line end also ends the message.
                if had_cr {
                    self.cr -= 1;
                }
                let cut = self.line_start;
                self.pos = cut;
                self.last = if cut == 0 { None } else { Some(b'\n') };
                self.ended = true;
            }
        }
        let ends_with_newline = matches!(self.last, None | Some(b'\n' | b'\r'));
        let bare_lf = self.lf - self.crlf;
        let bare_cr = self.cr - self.crlf;
        let final_crlf = if ends_with_newline { 0 } else { 2 };
        Ok(Scan {
            len: self.pos,
            wire: self.pos + bare_lf + bare_cr + final_crlf,
            eight_bit: self.eight_bit,
            ends_with_newline,
            long_line: self.long_line,
        })
    }
}

/// Scans `text` in one piece (for a header we built).
fn scan_bytes(text: &[u8]) -> Result<Scan, LongLine> {
    let mut s = Scanner::new(false);
    s.feed(text)?;
    s.finish()
}

// ---------------------------------------------------------------------------
// Preparation

/// Where a message comes from.
pub enum Source {
    /// A seekable regular file (also stdin redirected from a file): scanned
    /// in place, then read again to send.
    File(File),
    /// Anything else (a pipe, a terminal): spooled while scanned.
    Stream(Box<dyn BufRead>),
}

impl Source {
    /// A file opened for reading (or stdin as a `File`): a regular file is
    /// read in place, anything else (a pipe, a FIFO, a terminal) is a stream.
    pub fn from_file(file: File) -> Source {
        match file.metadata() {
            Ok(m) if m.is_file() => Source::File(file),
            _ => Source::Stream(Box::new(BufReader::with_capacity(IO_BUF, file))),
        }
    }
}

/// How to prepare a message (the envelope options of `smtp-send`).
#[derive(Debug, Clone, Default)]
pub struct PrepareOptions {
    /// `-f`: the envelope sender; `None` takes it from the message.
    pub from: Option<ReversePath>,
    /// RECIPIENT arguments.
    pub recipients: Vec<Mailbox>,
    /// `-t`: add the recipients of `To:`, `Cc:`, `Bcc:` (or of the first
    /// `Resent-*` block).
    pub extract: bool,
    /// `-F`: the full name for a `From:` we add.
    pub full_name: Option<String>,
    /// sendmail mode without `-i`: a line with a single `.` ends the input.
    pub dot_ends: bool,
    /// `--verbatim`: send the header as it is (nothing added or removed).
    pub verbatim: bool,
    /// `--downgrade`: a body line over 998 octets is re-encoded (its part
    /// to quoted-printable) instead of refused, and [`Prepared::fit`]
    /// makes the message 7-bit for a server without 8BITMIME.
    pub downgrade: bool,
    /// This host's name: qualifies addresses without a domain and names the
    /// Message-ID when the sender has no domain.
    pub hostname: String,
    /// The sender when neither `-f` nor the message gives one
    /// (`$USER@hostname`).
    pub default_sender: Option<Mailbox>,
    /// The time for `Date:` and `Message-ID:` (`None`: now).
    pub now: Option<SystemTime>,
    /// `--qualify-domain`: bare local names in the address fields of
    /// [`config::QUALIFIED_FIELDS`](crate::send::config::QUALIFIED_FIELDS)
    /// get `@domain` (envelope addresses are qualified with `hostname`).
    pub qualify_domain: Option<String>,
}

/// The envelope of a prepared message and what the server must be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM.
    pub from: ReversePath,
    /// RCPT TO, in order, each once.
    pub rcpts: Vec<Mailbox>,
    /// Size on the wire (SIZE=, RFC 1870).
    pub size: u64,
    /// Whether the message has 8-bit bytes (BODY=8BITMIME, RFC 6152).
    pub eight_bit: bool,
    /// Whether an address is not ASCII (SMTPUTF8, RFC 6531).
    pub smtputf8: bool,
    /// Whether the message is binary MIME ready for `BODY=BINARYMIME`
    /// (RFC 3030 §3): [`binary_mime`].
    pub binary: bool,
}

enum Body {
    Mem(Vec<u8>),
    File(BufReader<File>),
}

/// A message ready to send: its envelope, and its text as a [`BufRead`]
/// ([`Prepared::reader`]) with local line ends (the client turns them into
/// CRLF and dot-stuffs).
pub struct Prepared {
    /// The envelope and the message's properties.
    pub envelope: Envelope,
    head: Vec<u8>,
    body: Body,
    body_len: u64,
    /// Where the body starts in a `Body::File` (for [`Prepared::rewind`]).
    body_start: u64,
    /// `--downgrade` was given ([`PrepareOptions::downgrade`]: the one
    /// place the flag lives).
    downgrade: bool,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("envelope", &self.envelope)
            .field("head", &String::from_utf8_lossy(&self.head))
            .field("body_len", &self.body_len)
            .finish()
    }
}

impl Prepared {
    /// Whether it was prepared with `--downgrade` (a copy queued from it
    /// is read back the same way).
    pub(crate) fn downgrade(&self) -> bool {
        self.downgrade
    }

    /// The message text: the (rewritten) header, then the body.
    pub fn reader(&mut self) -> Box<dyn BufRead + '_> {
        let head = Cursor::new(&self.head[..]);
        match &mut self.body {
            Body::Mem(v) => Box::new(head.chain(&v[..self.body_len as usize])),
            Body::File(f) => Box::new(head.chain(f.take(self.body_len))),
        }
    }

    /// Makes the next [`Prepared::reader`] start again from the beginning
    /// (to send the message in another transaction).
    pub fn rewind(&mut self) -> io::Result<()> {
        if let Body::File(f) = &mut self.body {
            f.seek(SeekFrom::Start(self.body_start))?;
        }
        Ok(())
    }

    /// Bytes [`Prepared::reader`] gives (before CRLF and dot-stuffing).
    pub fn len(&self) -> u64 {
        self.head.len() as u64 + self.body_len
    }

    /// Whether the message is empty (no header, no body).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The header as it will be sent (with the line ends it has here).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// `--downgrade`, once the server's extensions are known: a message
    /// with 8-bit octets for a server without 8BITMIME is re-encoded to
    /// 7-bit ([`message::downgrade`], RFC 6152 §3) instead of refused.
    /// Without `--downgrade`, or when nothing needs it, nothing changes.
    pub fn fit(&mut self, caps: &client::Capabilities) -> Result<(), Error> {
        if self.downgrade && self.envelope.eight_bit && !caps.eightbitmime {
            self.downgrade_to(message::downgrade::Options { seven_bit: true })?;
        }
        Ok(())
    }

    /// Replaces the text by its re-encoding (spooled to a temporary file:
    /// two passes over the message, constant memory) and updates the size
    /// and the 8-bit flag.
    fn downgrade_to(&mut self, opts: message::downgrade::Options) -> Result<(), Error> {
        use message::downgrade;
        let failed = |e: message::multipart::Error| match e {
            message::multipart::Error::Io(e) => Error::Input(e),
            e => Error::Message(format!("--downgrade: {e}")),
        };
        self.rewind().map_err(Error::Input)?;
        let plan = downgrade::plan(self.reader(), &opts).map_err(failed)?;
        self.rewind().map_err(Error::Input)?;
        let mut spool = io::BufWriter::with_capacity(IO_BUF, spool_file().map_err(spool_error)?);
        let applied = downgrade::apply(self.reader(), &plan, &mut spool).map_err(|e| match e {
            message::multipart::Error::Io(e) => spool_error(e),
            e => failed(e),
        })?;
        let mut file = spool
            .into_inner()
            .map_err(|e| spool_error(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(spool_error)?;
        let mut head = vec![0; applied.header as usize];
        file.read_exact(&mut head).map_err(spool_error)?;
        let head_scan = scan_bytes(&head).map_err(|l| {
            Error::Message(format!(
                "header line {} is longer than {MAX_TEXT_LINE} octets (RFC 5322 §2.1.1): not sent",
                l.line
            ))
        })?;
        let (body, scan) = read_body(
            Rest::File(BufReader::with_capacity(IO_BUF, file)),
            false,
            false,
        )?;
        self.envelope.size = head_scan.wire + scan.wire;
        self.envelope.eight_bit = head_scan.eight_bit || scan.eight_bit;
        // A re-encoded message may no longer declare `binary`.
        self.envelope.binary = self.envelope.binary
            && header::read_block(&mut &head[..]).is_ok_and(|b| binary_mime(&b, &head));
        self.head = head;
        self.body_start = applied.header;
        self.body_len = scan.len;
        self.body = body;
        Ok(())
    }
}

/// A `BufRead` that keeps a copy of every byte consumed (the raw header,
/// for `--verbatim`); the header reader is bounded, so the copy is too.
pub(crate) struct Recorder<R> {
    pub(crate) inner: R,
    pub(crate) rec: Vec<u8>,
}

impl<R: BufRead> Read for Recorder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::io::lines::read_buffered(self, out)
    }
}

impl<R: BufRead> BufRead for Recorder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        // The bytes are still in the buffer fill_buf returned: no I/O here.
        if let Ok(buf) = self.inner.fill_buf() {
            self.rec.extend_from_slice(&buf[..n.min(buf.len())]);
        }
        self.inner.consume(n);
    }
}

/// The number (from 1) of the first line of `head` with a CR not followed
/// by LF, if any.
///
/// Such a header is refused rather than normalised: the header reader takes
/// `Subject: hi<CR>Bcc: x` as one field, but on the wire the CR becomes a
/// line end (dot.rs never sends a CR alone), so the receiver would see a
/// `Bcc:` field that `-t` neither removed nor took recipients from; and
/// `Subject: x<CR><CR><LF>` would end the header early, putting the fields
/// we add in the body. What the header means must be what is sent.
fn bare_cr_line(head: &[u8]) -> Option<u64> {
    let at = memchr::memchr_iter(b'\r', head).find(|&i| head.get(i + 1) != Some(&b'\n'))?;
    Some(memchr::memchr_iter(b'\n', &head[..at]).count() as u64 + 1)
}

/// Whether `line` (line end included) is sendmail's end-of-input `.` line.
fn is_dot_line(line: &[u8]) -> bool {
    matches!(line, b"." | b".\n" | b".\r\n" | b".\r")
}

/// Prepares one message from `source` (see the module documentation).
///
/// Errors: [`Error::Message`] (65) for a header over the limits, a bare CR
/// in a header line ([`bare_cr_line`]), a line over 998 octets, no
/// recipients with `-t`, a malformed address in a field recipients are
/// taken from, no sender; [`Error::Usage`] (64) for no
/// recipients at all without `-t`; [`Error::Input`] (74) when reading or
/// spooling fails.
pub fn prepare(source: Source, opts: &PrepareOptions) -> Result<Prepared, Error> {
    let (block, raw_head, rest) = match source {
        Source::File(file) => {
            let mut r = Recorder {
                inner: BufReader::with_capacity(IO_BUF, file),
                rec: Vec::new(),
            };
            let block = header::read_block(&mut r)?;
            (block, r.rec, Rest::File(r.inner))
        }
        Source::Stream(input) => {
            let mut r = Recorder {
                inner: input,
                rec: Vec::new(),
            };
            let block = header::read_block(&mut r)?;
            (block, r.rec, Rest::Stream(r.inner))
        }
    };
    // The header lines as read (the first body line, when the block ended
    // without an empty line, is body: its bare CRs become line ends).
    let header_len = raw_head.len() - block.body_start().map_or(0, <[u8]>::len);
    if let Some(line) = bare_cr_line(&raw_head[..header_len]) {
        return Err(Error::Message(format!(
            "bare CR in header line {line} (RFC 5322 §2.2: CR only before LF): not sent"
        )));
    }
    // sendmail mode: a "." line right where the header ends ends the input.
    let ends_in_head = opts.dot_ends && block.body_start().is_some_and(is_dot_line);
    let (from, rcpts) = envelope_of(&block, opts)?;
    let head = if opts.verbatim {
        let mut head = raw_head;
        if ends_in_head {
            head.truncate(head.len() - block.body_start().map_or(0, <[u8]>::len));
        }
        head
    } else {
        rewrite_header(&block, opts, &from, ends_in_head)
    };
    let head_scan = scan_bytes(&head).map_err(|l| {
        Error::Message(format!(
            "header line {} is longer than {MAX_TEXT_LINE} octets (RFC 5322 §2.1.1): not sent",
            l.line
        ))
    })?;
    let (mut body, body_scan) = if ends_in_head {
        (Body::Mem(Vec::new()), Scan::default())
    } else {
        read_body(rest, opts.dot_ends, opts.downgrade)?
    };
    let body_start = match &mut body {
        Body::File(f) => f.stream_position().map_err(Error::Input)?,
        Body::Mem(_) => 0,
    };
    let smtputf8 =
        from.mailbox().is_some_and(|m| !m.is_ascii()) || rcpts.iter().any(|m| !m.is_ascii());
    let mut prepared = Prepared {
        envelope: Envelope {
            from,
            rcpts,
            size: head_scan.wire + body_scan.wire,
            eight_bit: head_scan.eight_bit || body_scan.eight_bit,
            smtputf8,
            binary: binary_mime(&block, &head),
        },
        head,
        body,
        body_len: body_scan.len,
        body_start,
        downgrade: opts.downgrade,
    };
    if body_scan.long_line.is_some() {
        // --downgrade: over-long lines are re-encoded now, before any
        // server is asked (SIZE and --dry-run show the message as sent).
        prepared.downgrade_to(message::downgrade::Options { seven_bit: false })?;
    }
    Ok(prepared)
}

/// Whether a message (`block`, its header as read, and `head`, as it will
/// be sent) is binary MIME ready for `BODY=BINARYMIME` (RFC 3030 §3): it
/// declares `Content-Transfer-Encoding: binary` in its top-level header
/// (read by [`message::multipart::Encoding::parse`]), and that header is
/// already in canonical form (every line ending in CRLF, no bare CR or
/// LF), which says the body is too. Such a message is sent byte for byte
/// when the server offers BINARYMIME and CHUNKING; otherwise it goes as
/// text, refused if it holds a bare CR or LF (data that CRLF would alter),
/// and for every other message line ends are made CRLF as usual.
pub fn binary_mime(block: &header::Block, head: &[u8]) -> bool {
    use message::multipart::Encoding;
    let declared = block
        .get(b"Content-Transfer-Encoding")
        .is_some_and(|f| Encoding::parse(f.value) == Encoding::Binary);
    // Canonical: every LF preceded by CR, every CR followed by LF.
    declared
        && head.iter().enumerate().all(|(i, &b)| match b {
            b'\n' => i > 0 && head[i - 1] == b'\r',
            b'\r' => head.get(i + 1) == Some(&b'\n'),
            _ => true,
        })
}

/// The input after the header block.
enum Rest {
    File(BufReader<File>),
    Stream(Box<dyn BufRead>),
}

/// Scans the body; a file is read in place and rewound, a stream spooled.
fn read_body(rest: Rest, dot_ends: bool, allow_long: bool) -> Result<(Body, Scan), Error> {
    let long = |l: LongLine| {
        Error::Message(format!(
            "line {} of the body is longer than {MAX_TEXT_LINE} octets (RFC 5321 §4.5.3.1.6): not sent",
            l.line
        ))
    };
    let mut scanner = Scanner::new(dot_ends);
    scanner.allow_long = allow_long;
    match rest {
        Rest::File(mut reader) => {
            let start = reader.stream_position().map_err(Error::Input)?;
            loop {
                let chunk = crate::io::lines::fill(&mut reader).map_err(Error::Input)?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                if scanner.feed(chunk).map_err(long)?.is_some() {
                    break;
                }
                reader.consume(n);
            }
            let scan = scanner.finish().map_err(long)?;
            reader.seek(SeekFrom::Start(start)).map_err(Error::Input)?;
            Ok((Body::File(reader), scan))
        }
        Rest::Stream(mut input) => {
            let mut mem = Vec::new();
            let mut file: Option<File> = None;
            loop {
                let chunk = crate::io::lines::fill(&mut input).map_err(Error::Input)?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                let cut = scanner.feed(chunk).map_err(long)?;
                let keep = &chunk[..cut.unwrap_or(n)];
                match &mut file {
                    Some(f) => f.write_all(keep).map_err(spool_error)?,
                    None if mem.len() + keep.len() > MEM_SPOOL => {
                        let mut f = spool_file().map_err(spool_error)?;
                        f.write_all(&mem).map_err(spool_error)?;
                        f.write_all(keep).map_err(spool_error)?;
                        mem = Vec::new();
                        file = Some(f);
                    }
                    None => mem.extend_from_slice(keep),
                }
                input.consume(n);
                if cut.is_some() {
                    break;
                }
            }
            let scan = scanner.finish().map_err(long)?;
            match file {
                Some(mut f) => {
                    f.seek(SeekFrom::Start(0)).map_err(spool_error)?;
                    Ok((Body::File(BufReader::with_capacity(IO_BUF, f)), scan))
                }
                None => Ok((Body::Mem(mem), scan)),
            }
        }
    }
}

fn spool_error(e: io::Error) -> Error {
    Error::Input(io::Error::new(
        e.kind(),
        format!(
            "spooling to a temporary file in {}: {}",
            std::env::temp_dir().display(),
            strip_os_error(&e)
        ),
    ))
}

/// An anonymous temporary file in `$TMPDIR` (or /tmp), mode 0600: `O_TMPFILE`
/// where the file system has it (no name ever exists), else a random name
/// removed at once.
fn spool_file() -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let dir = std::env::temp_dir();
    if let Ok(fd) = rustix::fs::open(
        &dir,
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        return Ok(File::from(fd));
    }
    use ring::rand::SecureRandom;
    use std::os::unix::fs::OpenOptionsExt;
    let rng = ring::rand::SystemRandom::new();
    let mut last = io::Error::other("no temporary file name was free");
    for _ in 0..8 {
        let mut r = [0u8; 8];
        let _ = rng.fill(&mut r);
        let name = dir.join(format!(
            ".smtp-send.{}.{:x}",
            std::process::id(),
            u64::from_ne_bytes(r)
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&name)
        {
            Ok(f) => {
                std::fs::remove_file(&name)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// The first mailbox of a header field that has one, as an SMTP path.
pub(crate) fn field_mailbox(
    block: &header::Block,
    name: &str,
    hostname: &str,
) -> Result<Option<Mailbox>, Error> {
    first_mailbox(block.get(name.as_bytes()), name, hostname)
}

/// The first mailbox of `field` (named `name`), as an SMTP path.
fn first_mailbox(
    field: Option<header::Field<'_>>,
    name: &str,
    hostname: &str,
) -> Result<Option<Mailbox>, Error> {
    let Some(field) = field else {
        return Ok(None);
    };
    let list = address::parse(field.value);
    match list.mailboxes().next() {
        None => Ok(None),
        Some(m) => smtp_mailbox(&m.addr, hostname)
            .map(Some)
            .map_err(|e| Error::Message(format!("{name}: {e}"))),
    }
}

/// The envelope: sender from `-f`, `Sender:`, `From:` or the default;
/// recipients from the arguments and, with `-t`, the header, each once.
fn envelope_of(
    block: &header::Block,
    opts: &PrepareOptions,
) -> Result<(ReversePath, Vec<Mailbox>), Error> {
    // -t taking the recipients of a resent block takes its sender too
    // (RFC 5322 §3.6.6: Resent-Sender, else Resent-From).
    let resent = if opts.extract && opts.from.is_none() {
        first_resent_block(block)
    } else {
        None
    };
    let resent_sender = match &resent {
        Some(fields) => {
            let named = |n: &[u8]| {
                fields
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(n))
                    .copied()
            };
            match first_mailbox(named(b"Resent-Sender"), "Resent-Sender", &opts.hostname)? {
                Some(m) => Some(m),
                None => first_mailbox(named(b"Resent-From"), "Resent-From", &opts.hostname)?,
            }
        }
        None => None,
    };
    let from = match (&opts.from, resent_sender) {
        (Some(f), _) => f.clone(),
        (None, Some(m)) => ReversePath::Mailbox(m),
        (None, None) => match field_mailbox(block, "Sender", &opts.hostname)? {
            Some(m) => ReversePath::Mailbox(m),
            None => match field_mailbox(block, "From", &opts.hostname)? {
                Some(m) => ReversePath::Mailbox(m),
                None => match &opts.default_sender {
                    Some(m) => ReversePath::Mailbox(m.clone()),
                    None => {
                        return Err(Error::Message(
                            "no sender: give -f or a From: field".to_owned(),
                        ));
                    }
                },
            },
        },
    };
    let mut rcpts: Vec<Mailbox> = Vec::new();
    let add = |m: Mailbox, rcpts: &mut Vec<Mailbox>| {
        let dup = rcpts
            .iter()
            .any(|r| r.local == m.local && r.domain.eq_ignore_ascii_case(&m.domain));
        if !dup {
            rcpts.push(m);
        }
    };
    for m in &opts.recipients {
        add(m.clone(), &mut rcpts);
    }
    if opts.extract {
        for field in recipient_fields(block) {
            let name = String::from_utf8_lossy(field.name);
            for m in parse_addresses(field.value, &opts.hostname)
                .map_err(|e| Error::Message(format!("{name}: {e}")))?
            {
                add(m, &mut rcpts);
            }
        }
    }
    if rcpts.is_empty() {
        return Err(if opts.extract {
            Error::Message("no recipients: none given and none in To:, Cc: or Bcc:".to_owned())
        } else {
            Error::Usage("no recipients: give RECIPIENT arguments or -t".to_owned())
        });
    }
    Ok((from, rcpts))
}

/// The fields of the first (most recent, RFC 5322 §3.6.6) block of
/// `Resent-*` fields, if any. A block is a run of adjacent `Resent-*`
/// fields; it also ends where its `Resent-Date` or `Resent-From` would
/// repeat, since each block has exactly one of each (§3.6 table) and a
/// resend prepends its own block right before the previous one.
fn first_resent_block(block: &header::Block) -> Option<Vec<header::Field<'_>>> {
    let is_resent =
        |f: &header::Field<'_>| f.name.len() > 7 && f.name[..7].eq_ignore_ascii_case(b"Resent-");
    let mut fields = block.fields().skip_while(|f| !is_resent(f)).peekable();
    fields.peek()?;
    let (mut date, mut from) = (false, false);
    let mut out = Vec::new();
    for f in fields.take_while(is_resent) {
        let seen = if f.name.eq_ignore_ascii_case(b"Resent-Date") {
            &mut date
        } else if f.name.eq_ignore_ascii_case(b"Resent-From") {
            &mut from
        } else {
            out.push(f);
            continue;
        };
        if std::mem::replace(seen, true) {
            break;
        }
        out.push(f);
    }
    Some(out)
}

/// `-t`: the fields recipients come from: `Resent-To/Cc/Bcc` of the first
/// block of `Resent-*` fields ([`first_resent_block`]) when there is one,
/// else every `To`, `Cc` and `Bcc`.
fn recipient_fields(block: &header::Block) -> Vec<header::Field<'_>> {
    if let Some(resent) = first_resent_block(block) {
        return resent
            .into_iter()
            .filter(|f| {
                [&b"Resent-To"[..], b"Resent-Cc", b"Resent-Bcc"]
                    .iter()
                    .any(|n| f.name.eq_ignore_ascii_case(n))
            })
            .collect();
    }
    block
        .fields()
        .filter(|f| {
            [&b"To"[..], b"Cc", b"Bcc"]
                .iter()
                .any(|n| f.name.eq_ignore_ascii_case(n))
        })
        .collect()
}

/// The header to send: every field but `Bcc:` and `Resent-Bcc:` (RFC 5322
/// §3.6.3: blind copies must not show), then `From:`, `Date:` and
/// `Message-ID:` when missing (§3.6: From and Date are required,
/// Message-ID should be present), the empty line, and the first body line
/// when the input had no empty line before it. CRLF after our lines;
/// folded values keep their own line ends (the client normalises all).
fn rewrite_header(
    block: &header::Block,
    opts: &PrepareOptions,
    from: &ReversePath,
    ends_in_head: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    for f in block.fields() {
        if f.name.eq_ignore_ascii_case(b"Bcc") || f.name.eq_ignore_ascii_case(b"Resent-Bcc") {
            continue;
        }
        out.extend_from_slice(f.name);
        out.push(b':');
        let qualified = opts.qualify_domain.as_deref().and_then(|d| {
            let named = |n: &&str| f.name.eq_ignore_ascii_case(n.as_bytes());
            crate::send::config::QUALIFIED_FIELDS
                .iter()
                .any(named)
                .then(|| crate::send::config::qualify(f.value, d))
                .flatten()
        });
        out.extend_from_slice(qualified.as_deref().unwrap_or(f.value));
        out.extend_from_slice(b"\r\n");
    }
    let now = opts.now.unwrap_or_else(SystemTime::now);
    let sender = from.mailbox().or(opts.default_sender.as_ref());
    if block.get(b"From").is_none()
        && let Some(m) = sender
    {
        let line = format!(
            "From: {}\r\n",
            display_mailbox(opts.full_name.as_deref(), &m.to_string())
        );
        out.extend_from_slice(line.as_bytes());
    }
    if block.get(b"Date").is_none() {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        out.extend_from_slice(
            format!("Date: {}\r\n", date::format(secs, date::local_offset(secs))).as_bytes(),
        );
    }
    if block.get(b"Message-ID").is_none() {
        let domain = from
            .mailbox()
            .or(opts.default_sender.as_ref())
            .map(|m| m.domain.as_str())
            .filter(|d| !d.is_empty())
            .unwrap_or(&opts.hostname);
        out.extend_from_slice(format!("Message-ID: {}\r\n", build::message_id(domain)).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if !ends_in_head && let Some(line) = block.body_start() {
        out.extend_from_slice(line);
    }
    out
}

// ---------------------------------------------------------------------------
// The session

/// Where to send: a server, a command that speaks SMTP on its stdin and
/// stdout (`--pipe`), or each recipient domain's mail hosts (`--mx`).
#[derive(Debug, Clone)]
pub enum Target {
    /// A server from `-S` or `SMTP_SERVER`.
    Server(url::Server),
    /// `--pipe CMD`.
    Pipe(String),
    /// `--mx`: no server of its own; [`crate::send::mx`] makes a
    /// [`Target::Server`] of each mail host it tries.
    Mx,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Server(s) => s.fmt(f),
            Target::Pipe(cmd) => write!(f, "pipe {cmd:?}"),
            Target::Mx => f.write_str("MX hosts"),
        }
    }
}

/// How to reach the server and who to be there.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The server or command.
    pub target: Target,
    /// The EHLO name (`None`: this host's name when it is a domain, else the
    /// address literal of our end of the connection).
    pub helo: Option<String>,
    /// TLS verification and client certificate.
    pub tls: tls::ClientTls,
    /// AUTH user (`None`: no AUTH).
    pub user: Option<String>,
    /// Where the password comes from.
    pub credentials: credentials::Sources,
    /// `--auth`: the mechanism to use instead of the strongest offered.
    pub auth: Option<Mechanism>,
    /// `--insecure-auth`: AUTH allowed without TLS.
    pub insecure_auth: bool,
    /// `--timeout`: the wait for every reply instead of RFC 5321 §4.5.3.2's.
    pub timeout: Option<Duration>,
    /// `--connect-timeout`.
    pub connect_timeout: Duration,
    /// `-v`: the transcript goes to stderr.
    pub verbose: bool,
    /// How each message is handed over: LMTP, `--partial`, DSN, CHUNKING.
    pub delivery: Delivery,
    /// With [`url::Security::StartTlsIfOffered`]: a STARTTLS the server
    /// refuses with a reply (454, 5xx; not 421, which closes) leaves the
    /// session in cleartext on the same connection, with a warning (RFC
    /// 3207 §4: the client may go on; `--mx-tls may`). `false` (a
    /// configured server, `smtp://`): the refusal is the session's error.
    pub cleartext_after_starttls_refused: bool,
}

/// How messages are handed over in a session (issue 6's protocol options).
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// `--lmtp`: LHLO, one reply per recipient after the message (RFC 2033).
    pub lmtp: bool,
    /// `--partial`: send to the accepted recipients when some are refused.
    pub partial: bool,
    /// `--notify`, `--ret`, `--envid` (and ORCPT with any of them): RFC 3461.
    pub dsn: client::Dsn,
    /// `--no-chunking`: DATA even when the server offers CHUNKING.
    pub no_chunking: bool,
}

/// What a session needs from its connection besides reading and writing:
/// starting TLS on it, what TLS it has, and its timeouts. [`Transport`] is
/// the real one; the unit tests use a scripted in-memory stream.
pub trait Connection: Read + Write + Sized + Send + 'static {
    /// Runs the TLS handshake (after STARTTLS's 220, or at once for
    /// `smtps://`) and returns the protected connection.
    fn start_tls(
        self,
        config: &Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Result<Self, tls::HandshakeError>;
    /// The TLS version and cipher and the server's certificate, when the
    /// connection has TLS.
    fn tls_info(&self) -> Option<(String, Option<tls::CertInfo>)>;
    /// The time to allow each read and write from now on.
    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

impl Connection for Transport {
    fn start_tls(
        self,
        config: &Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Result<Self, tls::HandshakeError> {
        Transport::start_tls(self, config, server_name)
    }

    fn tls_info(&self) -> Option<(String, Option<tls::CertInfo>)> {
        self.tls()
            .map(|conn| (tls::describe(conn), tls::peer_certificate_info(conn)))
    }

    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        Transport::set_io_timeout(self, timeout)
    }
}

/// An open, greeted, EHLO'd (and, as asked, TLS-protected and
/// authenticated) session.
pub struct Session<C: Connection = Transport> {
    client: Client<C>,
    target: Target,
    greeting: Reply,
    tls: Option<(String, Option<tls::CertInfo>)>,
    /// Why the session has no TLS, for `--probe`.
    no_tls: &'static str,
    delivery: Delivery,
    /// The missing-DSN warning was given (once a session).
    dsn_warned: bool,
}

impl<C: Connection> fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.target.to_string())
            .finish()
    }
}

/// This host's name as `gethostname` gives it (lossily UTF-8).
pub fn local_hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The EHLO name: `name` if it is a fully qualified domain (RFC 5321
/// §4.1.1.1: "the fully-qualified domain name of the SMTP client"; a
/// single label such as `vm` is not one, and MX hosts often refuse it),
/// else the address literal of `local` (`[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`, §2.3.5).
fn helo_name(name: &str, local: Option<SocketAddr>) -> String {
    if envelope::is_domain(name, false) && name.trim_end_matches('.').contains('.') {
        return name.to_owned();
    }
    match local.map(|a| a.ip()) {
        Some(IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None => "localhost".to_owned(),
    }
}

/// The longest wait for the reply to a QUIT sent after a failure: the
/// outcome is decided already, so the server's answer only closes cleanly.
const QUIT_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// [`Session::abort`] for a client not yet in a session; returns `err`.
fn give_up<C: Connection>(client: Client<C>, err: Error) -> Error {
    client.quit_within(QUIT_AFTER_FAILURE);
    err
}

fn smtp_err(target: &Target) -> impl Fn(client::Error) -> Error + '_ {
    move |err| Error::Smtp {
        server: target.to_string(),
        err,
    }
}

impl Session<Transport> {
    /// Connects to the target of `opts` (or starts its `--pipe` command),
    /// then [`Session::start`].
    pub fn open(opts: &SessionOptions) -> Result<Session, Error> {
        let io_timeout = opts.timeout.unwrap_or(client::TIMEOUT_GREETING);
        let (transport, local, security, host) = match &opts.target {
            Target::Server(server) => {
                let (tcp, addr) = url::connect(server, opts.connect_timeout, io_timeout)
                    .map_err(Error::Connect)?;
                if opts.verbose {
                    let _ = writeln!(io::stderr(), "=== connected to {addr}");
                }
                let local = tcp.local_addr().ok();
                (
                    Transport::Tcp(tcp),
                    local,
                    server.security,
                    server.host.clone(),
                )
            }
            Target::Pipe(cmd) => {
                let t = url::pipe(cmd, io_timeout).map_err(|e| {
                    Error::Config(format!("--pipe {cmd:?}: {}", strip_os_error(&e)))
                })?;
                (t, None, url::Security::None, "localhost".to_owned())
            }
            Target::Mx => {
                return Err(Error::Usage(
                    "--mx: each mail host is connected to on its own, not as one server".to_owned(),
                ));
            }
        };
        Session::start(transport, opts, security, &host, local)
    }
}

impl<C: Connection> Session<C> {
    /// Over an open connection to `host`: reads the greeting, says EHLO,
    /// starts TLS as `security` asks (RFC 3207: a fresh EHLO after it, the
    /// earlier capabilities forgotten), and authenticates when a user is
    /// given (RFC 4954). `local` is our end, for the default EHLO name.
    pub fn start(
        conn: C,
        opts: &SessionOptions,
        security: url::Security,
        host: &str,
        local: Option<SocketAddr>,
    ) -> Result<Session<C>, Error> {
        let transcript = || -> client::Transcript {
            opts.verbose
                .then(|| Box::new(io::stderr()) as Box<dyn Write + Send>)
        };
        let target = opts.target.clone();
        let server_name = opts.tls.server_name(host).to_owned();
        let mut config = None;
        let mut tls_config = || -> Result<Arc<rustls::ClientConfig>, Error> {
            if config.is_none() {
                config =
                    Some(tls::client_config(&opts.tls).map_err(|e| Error::Config(e.to_string()))?);
            }
            Ok(Arc::clone(config.as_ref().expect("set above")))
        };
        let tls_err = |err: tls::HandshakeError| Error::Tls {
            server: target.to_string(),
            err,
        };
        let timeout = opts.timeout;
        let hook = move |s: &mut C, t: Duration| s.set_io_timeout(timeout.unwrap_or(t));

        let mut transport = conn;
        let mut tls = None;
        if security == url::Security::Implicit {
            transport = transport
                .start_tls(&tls_config()?, &server_name)
                .map_err(tls_err)?;
            tls = transport.tls_info();
        }
        let mut client = Client::new(transport, transcript());
        client.set_lmtp(opts.delivery.lmtp);
        client.set_timeout_hook(hook);
        if let Some((desc, _)) = &tls {
            client.note(&format!("TLS: {desc}"));
        }
        let helo = opts
            .helo
            .clone()
            .unwrap_or_else(|| helo_name(&local_hostname(), local));
        // RFC 5321 §4.1.1.10: a connection still in good order is closed
        // with QUIT, also after a refusal.
        let greeting = match client.greet() {
            Ok(g) => g,
            Err(e) => return Err(give_up(client, tls_rejection(e, &target))),
        };
        if let Err(e) = client.ehlo(&helo) {
            return Err(give_up(client, smtp_err(&target)(e)));
        }
        let mut no_tls = "";
        if security == url::Security::None {
            no_tls = if matches!(target, Target::Pipe(_)) {
                "none (--pipe: the command's own transport, if any, protects the session)"
            } else {
                "none (smtp+plain://)"
            };
        } else if !client.capabilities().starttls && security != url::Security::Implicit {
            if security == url::Security::StartTlsRequired {
                return Err(give_up(
                    client,
                    Error::Security(format!(
                        "{target}: the server does not offer STARTTLS, which smtp+starttls:// requires \
                     (not sent in plain text)"
                    )),
                ));
            }
            no_tls = "none (the server does not offer STARTTLS)";
        } else if security != url::Security::Implicit
            && let Err(e) = client.starttls()
        {
            // RFC 3207 §4: after a refusal the session is still in its
            // EHLO state; opportunistic TLS goes on there in cleartext,
            // rather than over a new connection.
            let go_on = opts.cleartext_after_starttls_refused
                && security == url::Security::StartTlsIfOffered
                && e.stage() == client::Stage::StartTls
                && matches!(e.kind(), client::ErrorKind::Reply(r) if r.code != 421);
            if !go_on {
                return Err(give_up(client, smtp_err(&target)(e)));
            }
            crate::cli::warn(format_args!(
                "{}; going on in cleartext (--mx-tls verify refuses instead)",
                smtp_err(&target)(e)
            ));
            no_tls = "none (STARTTLS refused: going on in cleartext)";
        } else if security != url::Security::Implicit {
            // STARTTLS accepted (220): the handshake, then EHLO again.
            let (transport, transcript) = client.into_parts();
            let transport = transport
                .start_tls(&tls_config()?, &server_name)
                .map_err(tls_err)?;
            tls = transport.tls_info();
            client = Client::new(transport, transcript);
            client.set_lmtp(opts.delivery.lmtp);
            client.set_timeout_hook(hook);
            if let Some((desc, _)) = &tls {
                client.note(&format!("TLS: {desc}"));
            }
            if let Err(e) = client.ehlo(&helo) {
                return Err(give_up(client, tls_rejection(e, &target)));
            }
        }
        let mut session = Session {
            client,
            target,
            greeting,
            tls,
            no_tls,
            delivery: opts.delivery.clone(),
            dsn_warned: false,
        };
        if let Some(user) = &opts.user
            && let Err(e) = session.authenticate(opts, user, host)
        {
            session.abort();
            return Err(e);
        }
        Ok(session)
    }

    /// Ends the session after a failure: QUIT, best effort, when the
    /// connection is still in good order (RFC 5321 §4.1.1.10), with a short
    /// wait ([`QUIT_AFTER_FAILURE`]).
    pub fn abort(self) {
        self.client.quit_within(QUIT_AFTER_FAILURE);
    }

    fn authenticate(&mut self, opts: &SessionOptions, user: &str, host: &str) -> Result<(), Error> {
        let target = self.target.to_string();
        // Over --pipe too: the command's transport (ssh) may well be
        // encrypted, but nothing here can know it, so saying so is the
        // user's job (--insecure-auth).
        if self.tls.is_none() && !opts.insecure_auth {
            return Err(Error::Security(match self.target {
                Target::Pipe(_) => format!(
                    "{target}: not sending a password over --pipe without --insecure-auth \
                     (give it if the command's transport, e.g. ssh, is encrypted)"
                ),
                Target::Server(_) | Target::Mx => format!(
                    "{target}: not sending a password over a connection without TLS \
                     (use smtps:// or a server with STARTTLS, or --insecure-auth)"
                ),
            }));
        }
        let offered = &self.client.capabilities().auth;
        if offered.is_empty() {
            return Err(Error::Security(format!(
                "{target}: the server does not offer AUTH (no user needed? then leave out --user and SMTP_USER)"
            )));
        }
        let mech = match opts.auth {
            Some(m) if offered.iter().any(|o| o.eq_ignore_ascii_case(m.name())) => m,
            Some(m) => {
                return Err(Error::Security(format!(
                    "{target}: the server does not offer AUTH {m} (it offers {})",
                    offered.join(" ")
                )));
            }
            None => Mechanism::choose(offered).ok_or_else(|| {
                Error::Security(format!(
                    "{target}: no AUTH mechanism we know is offered ({}); try --auth",
                    offered.join(" ")
                ))
            })?,
        };
        let found = credentials::password(user, host, &opts.credentials)
            .map_err(|e| Error::Config(e.to_string()))?
            .ok_or_else(|| {
                Error::Config(format!(
                    "no password for {user} at {host}: set SMTP_PASSWORD, --password-file, \
                     --password-cmd or a ~/.netrc entry"
                ))
            })?;
        if let Some(w) = &found.warning {
            crate::cli::warn(w);
        }
        self.client.note(&format!("password from {}", found.source));
        let secret = Secret::from(found.password.into_string());
        let mut exchange = sasl::start(mech, user, &secret, host);
        self.client
            .auth_with(mech, &mut *exchange)
            .map_err(smtp_err(&self.target))
    }

    /// Sends one prepared message; a progress bar on stderr when `progress`
    /// and the message is over [`PROGRESS_MIN`] bytes. When the server
    /// takes fewer recipients per transaction than the message has (`452`,
    /// RFC 5321 §4.5.3.1.10), the message goes to those it took, then
    /// again in a new transaction to the rest, until all have it.
    ///
    /// Returns one result per envelope recipient, in envelope order: the
    /// server's refusals (of a recipient, of MAIL, DATA or the message; in
    /// LMTP each recipient's own reply) are results, not errors. `Err` only
    /// when the message reached no one and the session cannot go on (lost
    /// connection, 421, protocol error), or the message cannot be sent or
    /// read at all (65, 74); [`outcome::from_error`] turns it into results.
    /// A failure after an earlier transaction delivered gives results too
    /// (check [`Session::is_usable`] before sending more).
    pub fn send(&mut self, msg: &mut Prepared, progress: bool) -> Result<Vec<RcptResult>, Error> {
        let all = msg.envelope.rcpts.clone();
        let mut rcpts = all.clone();
        let server = self.target.to_string();
        let mut results = Vec::with_capacity(all.len());
        loop {
            match self.send_once(msg, rcpts.clone(), progress) {
                Ok(sent) => {
                    for (m, r) in sent.refused {
                        results.push(RcptResult::from_reply(m, client::Stage::Rcpt, r, &server));
                    }
                    for (m, r) in sent.replies {
                        results.push(RcptResult::from_reply(m, client::Stage::Dot, r, &server));
                    }
                    if sent.deferred.is_empty() {
                        break;
                    }
                    self.client.note(&format!(
                        "{} of {} recipients deferred (452): a new transaction for them",
                        sent.deferred.len(),
                        rcpts.len()
                    ));
                    rcpts = sent.deferred;
                    msg.rewind().map_err(Error::Input)?;
                }
                Err(e) => {
                    let refusal = matches!(&e, Error::Smtp { err, .. } if matches!(
                        err.kind(),
                        client::ErrorKind::Reply(_) | client::ErrorKind::Rejected(_)
                    ));
                    if results.is_empty() && !(refusal && self.client.is_usable()) {
                        return Err(e);
                    }
                    let mut failed = outcome::from_error(&rcpts, &e, &server);
                    // --partial: those refused at RCPT keep their own reply.
                    for r in &mut failed {
                        if let Some((m, reply)) = self
                            .client
                            .refused_at_rcpt()
                            .iter()
                            .find(|(m, _)| *m == r.rcpt)
                        {
                            *r = RcptResult::from_reply(
                                m.clone(),
                                client::Stage::Rcpt,
                                reply.clone(),
                                &server,
                            );
                        }
                    }
                    results.extend(failed);
                    break;
                }
            }
        }
        results.sort_by_key(|r| all.iter().position(|m| *m == r.rcpt));
        Ok(results)
    }

    fn send_once(
        &mut self,
        msg: &mut Prepared,
        rcpts: Vec<Mailbox>,
        progress: bool,
    ) -> Result<client::Sent, Error> {
        // --downgrade: 7-bit for a server without 8BITMIME (a no-op after
        // the first transaction).
        msg.fit(self.client.capabilities())?;
        let env = SendEnvelope {
            from: msg.envelope.from.clone(),
            rcpts,
            size: Some(msg.envelope.size),
            eight_bit: msg.envelope.eight_bit,
            smtputf8: msg.envelope.smtputf8,
            partial: self.delivery.partial,
            dsn: self.delivery.dsn.clone(),
            chunking: !self.delivery.no_chunking,
            binary: msg.envelope.binary,
        };
        if env.dsn.is_requested() && !self.client.capabilities().dsn && !self.dsn_warned {
            // RFC 3461 §5.2 has a relay without DSN send the notices
            // itself; a client can only say that its request was dropped.
            self.dsn_warned = true;
            crate::cli::warn(format!(
                "{}: the server does not offer DSN (RFC 3461): --notify, --ret and --envid not sent",
                self.target
            ));
        }
        let len = msg.len();
        let result = if progress && len > PROGRESS_MIN {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(len),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bytes}/{total_bytes} [{wide_bar}] {binary_bytes_per_sec} {eta}",
            ) {
                bar.set_style(style);
            }
            let mut reader = bar.wrap_read(msg.reader());
            let r = self.client.send(&env, &mut reader);
            bar.finish_and_clear();
            r
        } else {
            self.client.send(&env, &mut msg.reader())
        };
        result.map_err(smtp_err(&self.target))
    }

    /// Whether another message can be sent on this connection.
    pub fn is_usable(&self) -> bool {
        self.client.is_usable()
    }

    /// Says QUIT. A failure here does not undo what was delivered.
    pub fn quit(self) -> Result<(), Error> {
        let target = self.target;
        self.client.quit().map_err(smtp_err(&target))
    }

    /// Writes what `--probe` shows: server, greeting, TLS, certificate,
    /// capabilities (after STARTTLS: the ones that count).
    pub fn describe(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "server: {}", self.target)?;
        writeln!(out, "greeting: {}", one_line(&self.greeting))?;
        match &self.tls {
            Some((desc, cert)) => {
                writeln!(out, "tls: {desc}")?;
                if let Some(c) = cert {
                    writeln!(out, "certificate subject: {}", c.subject)?;
                    writeln!(out, "certificate issuer: {}", c.issuer)?;
                    if !c.names.is_empty() {
                        writeln!(out, "certificate names: {}", c.names.join(", "))?;
                    }
                    let left = c.not_after_unix.map(|t| {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs() as i64);
                        let days = (t - now).div_euclid(86_400);
                        if days < 0 {
                            " (EXPIRED)".to_owned()
                        } else {
                            format!(" (expires in {days} days)")
                        }
                    });
                    writeln!(
                        out,
                        "certificate valid: {} to {}{}",
                        c.not_before,
                        c.not_after,
                        left.unwrap_or_default()
                    )?;
                    writeln!(out, "certificate fingerprint: {}", c.sha256)?;
                }
            }
            None => writeln!(out, "tls: {}", self.no_tls)?,
        }
        writeln!(out, "capabilities:")?;
        for line in &self.client.capabilities().lines {
            writeln!(out, "  {line}")?;
        }
        Ok(())
    }
}

/// A handshake that completed can still end in a refusal of our client
/// certificate, seen at the first read after it (TLS 1.3): exit 77, not 75.
fn tls_rejection(e: client::Error, target: &Target) -> Error {
    if let client::ErrorKind::Io(io) = e.kind()
        && let Some(err) = tls::HandshakeError::from_stream_error(io)
    {
        return Error::Tls {
            server: target.to_string(),
            err,
        };
    }
    smtp_err(target)(e)
}

/// A reply on one line (`250 2.0.0 Ok`; the lines of a multiline reply
/// joined with ` / `).
pub(crate) fn one_line(r: &Reply) -> String {
    r.to_string().replace('\n', " / ")
}

/// Messages over this many bytes get a progress bar (when stderr is a
/// terminal): below it one finishes before a bar would show.
pub const PROGRESS_MIN: u64 = 4 * 1024 * 1024;

/// `--dry-run`: writes what would go on the wire for the transaction (to a
/// server that offers SIZE, 8BITMIME, SMTPUTF8 and PIPELINING): the MAIL and
/// RCPT commands, DATA, the message as sent (CRLF line ends, dot-stuffed)
/// and the end-of-data line.
pub fn dry_run(msg: &mut Prepared, out: &mut dyn Write) -> Result<(), Error> {
    let env = SendEnvelope {
        from: msg.envelope.from.clone(),
        rcpts: msg.envelope.rcpts.clone(),
        size: Some(msg.envelope.size),
        eight_bit: msg.envelope.eight_bit,
        smtputf8: msg.envelope.smtputf8,
        ..SendEnvelope::default()
    };
    let caps = client::Capabilities {
        esmtp: true,
        size: Some(0),
        pipelining: true,
        eightbitmime: true,
        smtputf8: true,
        ..client::Capabilities::default()
    };
    let target = Target::Pipe("--dry-run".to_owned());
    let commands = client::envelope_commands(&env, &caps).map_err(smtp_err(&target))?;
    let write_err = |e: io::Error| Error::Output(e);
    for c in commands.iter().chain([&Command::Data]) {
        let wire = c
            .to_wire()
            .map_err(|e| Error::Message(format!("cannot send {c}: {e}")))?;
        out.write_all(&wire).map_err(write_err)?;
    }
    let opts = dot::StuffOptions {
        eight_bit: true,
        ..dot::StuffOptions::default()
    };
    dot::write_data(&mut msg.reader(), &mut &mut *out, &opts).map_err(|e| match e {
        dot::StuffError::Read(e) => Error::Input(e),
        dot::StuffError::Write(e) => Error::Output(e),
        e => Error::Message(e.to_string()),
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------
// The command

/// The command line of `smtp-send`, declared once: the binary flattens it
/// into its parser (the doc comments are the `--help` text) and hands it to
/// [`run`], which checks and converts it.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Options {
    /// Server: host[:port], [IPv6]:port, smtp://host[:port] (STARTTLS if offered),
    /// smtp+starttls:// (STARTTLS required), smtps:// (implicit TLS, port 465),
    /// smtp+plain:// (never TLS). Default: $SMTP_SERVER.
    #[arg(short = 'S', long, value_name = "SERVER")]
    pub server: Option<String>,
    /// Speak SMTP over CMD's stdin and stdout (run with sh -c) instead of connecting.
    #[arg(long, value_name = "CMD", conflicts_with = "server")]
    pub pipe: Option<String>,
    /// Envelope sender (MAIL FROM); '' or '<>' is the null sender
    /// [default: the message's Sender:, else From:].
    #[arg(short = 'f', long = "from", short_alias = 'r', value_name = "ADDR")]
    pub from: Option<String>,
    /// Also send to the addresses in To:, Cc: and Bcc: (or the first Resent-* block).
    #[arg(short = 't')]
    pub extract: bool,
    /// Full name for a From: field added to a message that has none.
    #[arg(short = 'F', long = "full-name", value_name = "NAME")]
    pub full_name: Option<String>,
    /// A line with a single "." does not end the message (sendmail -i, -oi).
    #[arg(short = 'i')]
    pub no_dot: bool,
    /// sendmail's body type: ignored (8-bit text is found by reading the message).
    #[arg(short = 'B', hide = true, value_parser = ["7BIT", "8BITMIME"])]
    pub body_type: Option<String>,
    /// Invoked as `sendmail` (set by the binary from argv[0], not a flag):
    /// without `-i`, a line with a single "." ends the input.
    #[arg(skip)]
    pub sendmail: bool,
    /// The operands are FILEs, each one message (with -t semantics), all sent
    /// over one connection.
    #[arg(long)]
    pub each: bool,
    /// User name for AUTH [default: $SMTP_USER].
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Read the password from the first line of FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "password_cmd")]
    pub password_file: Option<PathBuf>,
    /// Run CMD (sh -c) and use the first line it prints as the password or token.
    #[arg(long, value_name = "CMD")]
    pub password_cmd: Option<String>,
    /// Use this SASL mechanism: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2,
    /// OAUTHBEARER [default: the strongest offered].
    #[arg(long, value_name = "MECH")]
    pub auth: Option<String>,
    /// Allow AUTH on a connection without TLS, or over --pipe (the password can be read on the
    /// way unless the pipe's transport, e.g. ssh, is encrypted).
    #[arg(long)]
    pub insecure_auth: bool,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Accept exactly the server certificate with this SHA-256 fingerprint.
    #[arg(long, value_name = "SHA256:HEX")]
    pub tls_fingerprint: Option<String>,
    /// Do not verify the server's certificate at all (DANGEROUS: anyone on the way can read everything).
    #[arg(long)]
    pub tls_insecure: bool,
    /// Present this PEM client certificate.
    #[arg(long, value_name = "FILE", requires = "tls_client_key")]
    pub tls_client_cert: Option<PathBuf>,
    /// The private key of --tls-client-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_client_cert")]
    pub tls_client_key: Option<PathBuf>,
    /// Send and verify this TLS server name instead of the host's.
    #[arg(long, value_name = "NAME")]
    pub tls_sni: Option<String>,
    /// Wait at most SECONDS for each server reply, at every stage (also over --pipe)
    /// [default: RFC 5321 §4.5.3.2: 5 min, 2 min for DATA, 10 min after the message].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Give up connecting after SECONDS (per address) [default: 30].
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<f64>,
    /// Name to greet the server with (EHLO) [default: this host's name].
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// Send the header exactly as given: add no Date:, Message-ID: or From:, remove no Bcc:.
    #[arg(long, conflicts_with_all = ["extract", "each"])]
    pub verbatim: bool,
    /// Show the SMTP conversation on stderr (C: and S: lines; secrets hidden).
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the envelope and the exact bytes that would be sent; connect nowhere.
    #[arg(long, conflicts_with = "probe")]
    pub dry_run: bool,
    /// Connect, say EHLO and print the server's capabilities, TLS and certificate; send nothing.
    #[arg(long)]
    pub probe: bool,
    /// Print the outcome as JSON on standard output, one object per line: one
    /// per recipient when sending, one per message when flushing a queue.
    #[arg(long)]
    pub json: bool,

    // ---- protocol (issue 6): LMTP, DSN, CHUNKING, --partial --------------
    /// Speak LMTP (RFC 2033) to a local delivery agent such as Dovecot's lmtp: LHLO, and
    /// one reply per recipient after the message (use --pipe for a unix socket).
    #[arg(long, help_heading = "Protocol")]
    pub lmtp: bool,
    /// Deliver to the recipients the server accepts even when it refuses others
    /// (still exit 67, naming the refused ones).
    #[arg(long, help_heading = "Protocol")]
    pub partial: bool,
    /// DSN (RFC 3461): when the sender is notified: never, or a comma-separated list of
    /// success, failure, delay (sendmail -N). Sent only if the server offers DSN.
    #[arg(short = 'N', long, value_name = "WHEN", help_heading = "Protocol")]
    pub notify: Option<String>,
    /// DSN: what a notice returns of the message: full or hdrs (sendmail -R).
    #[arg(short = 'R', long, value_name = "full|hdrs", help_heading = "Protocol")]
    pub ret: Option<String>,
    /// DSN: an envelope id the notices quote (sendmail -V; up to 100 printable ASCII).
    #[arg(long, value_name = "ID", help_heading = "Protocol")]
    pub envid: Option<String>,
    /// Send with DATA even when the server offers CHUNKING (BDAT, RFC 3030).
    #[arg(long, help_heading = "Protocol")]
    pub no_chunking: bool,

    // ---- -bs: an SMTP session on stdin/stdout, relayed onward ------------
    /// Speak SMTP on standard input and output (sendmail -bs, as symfony/mailer
    /// uses it): each message is relayed to the server (or by MX with --mx) before its
    /// DATA is answered (250 only after the server's 250).
    #[arg(long = "bs", help_heading = "SMTP session on stdin/stdout",
          conflicts_with_all = ["extract", "each", "verbatim", "dry_run", "probe", "json",
                                "from", "full_name", "operands", "flush", "list", "drop"])]
    pub bs: bool,

    // ---- --downgrade: 8-bit to quoted-printable --------------------------
    /// When the server lacks 8BITMIME, re-encode 8-bit parts to 7-bit (text:
    /// quoted-printable, other: base64) instead of refusing the message; also
    /// re-encode parts with lines over 998 octets instead of refusing them.
    #[arg(long, help_heading = "Downgrade")]
    pub downgrade: bool,

    // ---- queue and retry: --queue, --flush, --list, --drop, --max-age ------
    /// On a temporary failure (4xx, no connection), store the message in DIR and exit 0
    /// (retry with --flush DIR); a permanent failure is never queued.
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Queue and retry",
        conflicts_with_all = ["dry_run", "probe"]
    )]
    pub queue: Option<PathBuf>,
    /// Retry every due message queued in DIR, over as few connections as possible; exit 0
    /// when the queue is empty, 75 when messages still wait.
    #[arg(long, value_name = "DIR", help_heading = "Queue and retry",
          conflicts_with_all = ["queue", "list", "each", "dry_run", "probe"])]
    pub flush: Option<PathBuf>,
    /// With --flush: try every message now, due or not.
    #[arg(long, requires = "flush", help_heading = "Queue and retry")]
    pub force: bool,
    /// Show the messages queued in DIR (and in DIR/failed): id, age, attempts, envelope,
    /// last reply.
    #[arg(long, value_name = "DIR", help_heading = "Queue and retry",
          conflicts_with_all = ["queue", "each", "dry_run", "probe"])]
    pub list: Option<PathBuf>,
    /// With --queue DIR: remove the queued (or failed) message ID.
    #[arg(
        long,
        value_name = "ID",
        requires = "queue",
        help_heading = "Queue and retry"
    )]
    pub drop: Option<String>,
    /// With --flush: give up on messages older than AGE (seconds, or with s, m, h, d, w),
    /// moving them to DIR/failed.
    #[arg(
        long,
        value_name = "AGE",
        default_value = "5d",
        value_parser = queue::parse_duration,
        requires = "flush",
        help_heading = "Queue and retry"
    )]
    pub max_age: u64,

    // ---- MX delivery: --mx, --dns ----------------------------------------
    /// Deliver to each recipient domain's own mail hosts (DNS MX records, RFC 5321 §5.1)
    /// instead of through a server; one transaction per domain.
    #[arg(long, help_heading = "MX delivery", conflicts_with_all = ["server", "pipe", "user", "auth", "probe", "lmtp",
                              // One server's certificate: --mx talks to many hosts.
                              "tls_sni", "tls_fingerprint"])]
    pub mx: bool,
    /// The DNS server for --mx: ADDR:PORT, [V6]:PORT or ADDR (port 53)
    /// [default: the servers of /etc/resolv.conf].
    #[arg(
        long,
        value_name = "ADDR:PORT",
        requires = "mx",
        help_heading = "MX delivery"
    )]
    pub dns: Option<String>,
    /// The mail hosts' port for --mx [default: 25] (other ports: tests, closed networks).
    #[arg(
        long,
        value_name = "PORT",
        requires = "mx",
        help_heading = "MX delivery"
    )]
    pub mx_port: Option<u16>,
    /// STARTTLS toward mail hosts: may (when offered; a certificate that does not verify
    /// is used anyway, with a warning), verify (a certificate valid for the MX host name is
    /// required, else the next host is tried), none.
    #[arg(
        long,
        value_name = "MODE",
        value_enum,
        default_value_t,
        help_heading = "MX delivery"
    )]
    pub mx_tls: crate::send::mx::MxTls,

    // ---- accounts and configuration: --config, -a, --print-config --------
    /// Read settings from FILE (TOML; msmtp's format when named *msmtprc) instead of
    /// $XDG_CONFIG_HOME/mailpipe/config.toml or ~/.msmtprc; FILE must exist.
    #[arg(long, value_name = "FILE", help_heading = "Configuration")]
    pub config: Option<PathBuf>,
    /// Use the settings of account NAME ([accounts.NAME]) of the configuration file
    /// [default: the account whose match_from matches the sender, else [default]].
    #[arg(short = 'a', long, value_name = "NAME", help_heading = "Configuration")]
    pub account: Option<String>,
    /// Print the effective settings and where each came from (secrets hidden); send nothing.
    #[arg(long, help_heading = "Configuration")]
    pub print_config: bool,
    /// Write bare local names (root, cron) in From:, To:, Cc:, Sender:, Reply-To: (and
    /// Resent-*) and in the envelope as NAME@DOMAIN (the cron case).
    #[arg(long, value_name = "DOMAIN", help_heading = "Configuration")]
    pub qualify_domain: Option<String>,
    /// Recipients (one address or a comma-separated list each); FILEs with --each.
    #[arg(value_name = "RECIPIENT")]
    pub operands: Vec<String>,
}

/// `--connect-timeout`'s default, in seconds.
pub const DEFAULT_CONNECT_TIMEOUT: f64 = 30.0;

/// Prints `prog: [name: ]error` on one line (control characters escaped).
/// The one-line error of a send through a server (-S, `$SMTP_SERVER`, an
/// account's `server`): only there does a failed connection come back as
/// an [`Error::Connect`] (--mx, --flush and -bs turn it into results), so
/// only there is the hint about -S added.
fn report(name: Option<&str>, err: &Error) {
    let hint = match err {
        Error::Connect(_) => " (not sent: check -S or $SMTP_SERVER, or try again later)",
        _ => "",
    };
    match name {
        Some(n) => crate::cli::say(format_args!("{n}: {err}{hint}")),
        None => crate::cli::say(format_args!("{err}{hint}")),
    }
}

fn seconds(what: &str, s: f64) -> Result<Duration, Error> {
    if s.is_finite() && s > 0.0 && s < 1e9 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(Error::Usage(format!(
            "{what}: want a number of seconds above 0, got {s}"
        )))
    }
}

fn read_config_file(what: &str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::Config(format!("{what} {}: {}", path.display(), strip_os_error(&e))))
}

/// The session options from the command line and the environment
/// (`SMTP_SERVER`, `SMTP_USER`).
fn session_options(o: &Options) -> Result<SessionOptions, Error> {
    let target = match (&o.pipe, &o.server) {
        (Some(cmd), _) => Target::Pipe(cmd.clone()),
        (None, Some(spec)) => {
            Target::Server(url::parse(spec).map_err(|e| Error::Usage(format!("-S: {e}")))?)
        }
        (None, None) if o.mx => Target::Mx,
        (None, None) => match std::env::var("SMTP_SERVER").ok().filter(|s| !s.is_empty()) {
            Some(spec) => Target::Server(
                url::parse(&spec).map_err(|e| Error::Config(format!("SMTP_SERVER: {e}")))?,
            ),
            None => {
                return Err(Error::Config(
                    "no server: use -S SERVER or set SMTP_SERVER".to_owned(),
                ));
            }
        },
    };
    let mut tls = tls::ClientTls {
        insecure: o.tls_insecure,
        sni: o.tls_sni.clone(),
        ..tls::ClientTls::default()
    };
    if let Some(p) = &o.ca_file {
        tls.ca_pem = Some(read_config_file("--ca-file", p)?);
        tls.ca_name = Some(format!("--ca-file {}", p.display()));
    }
    if let Some(f) = &o.tls_fingerprint {
        tls.fingerprint =
            Some(tls::Fingerprint::parse(f).map_err(|e| Error::Usage(e.to_string()))?);
    }
    if let (Some(c), Some(k)) = (&o.tls_client_cert, &o.tls_client_key) {
        tls.client_cert = Some(tls::ClientCert {
            cert_pem: read_config_file("--tls-client-cert", c)?,
            key_pem: read_config_file("--tls-client-key", k)?,
            cert_name: Some(format!("--tls-client-cert {}", c.display())),
            key_name: Some(format!("--tls-client-key {}", k.display())),
        });
    }
    let auth = match &o.auth {
        Some(name) => Some(Mechanism::parse(name).ok_or_else(|| {
            Error::Usage(format!(
                "--auth {name:?}: unknown mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER)"
            ))
        })?),
        None => None,
    };
    let credentials =
        credentials::Sources::from_env(o.password_file.clone(), o.password_cmd.clone());
    let mut user = o
        .user
        .clone()
        .or_else(|| std::env::var("SMTP_USER").ok())
        .filter(|u| !u.is_empty());
    if user.is_none()
        && !o.mx
        && let Target::Server(s) = &target
    {
        user = credentials::netrc_user(&s.host, &credentials)
            .map_err(|e| Error::Config(e.to_string()))?;
    }
    if auth.is_some() && user.is_none() {
        return Err(Error::Usage(
            "--auth needs a user: --user or SMTP_USER".to_owned(),
        ));
    }
    Ok(SessionOptions {
        target,
        helo: o.helo.clone(),
        tls,
        user,
        credentials,
        auth,
        insecure_auth: o.insecure_auth,
        timeout: o.timeout.map(|t| seconds("--timeout", t)).transpose()?,
        connect_timeout: seconds(
            "--connect-timeout",
            o.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        )?,
        verbose: o.verbose,
        delivery: delivery_options(o)?,
        cleartext_after_starttls_refused: false,
    })
}

/// `--lmtp`, `--partial`, the DSN options (ORCPT goes with any of them),
/// `--no-chunking`.
fn delivery_options(o: &Options) -> Result<Delivery, Error> {
    let notify = o
        .notify
        .as_deref()
        .map(client::Notify::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("--notify: {e}")))?;
    let ret = o
        .ret
        .as_deref()
        .map(client::Ret::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("--ret: {e}")))?;
    if let Some(id) = &o.envid
        && (id.is_empty()
            || id.chars().count() > client::MAX_ENVID
            || !id.bytes().all(|b| (32..=126).contains(&b)))
    {
        return Err(Error::Usage(format!(
            "--envid: want 1 to {} printable ASCII characters (RFC 3461 §4.4)",
            client::MAX_ENVID
        )));
    }
    let mut dsn = client::Dsn {
        notify,
        ret,
        envid: o.envid.clone(),
        orcpt: false,
    };
    dsn.orcpt = dsn.is_requested();
    Ok(Delivery {
        lmtp: o.lmtp,
        partial: o.partial,
        dsn,
        no_chunking: o.no_chunking,
    })
}

/// The login name of the real uid (getpwuid_r(3) of getuid(2), through
/// NSS), as sendmail uses for a sender when nothing else names one: PHP-FPM
/// workers, systemd services and bare cron jobs have neither `USER` nor
/// `LOGNAME`. `None` for a uid without a passwd entry (a container's
/// arbitrary uid): then "no sender" (65) as before.
fn real_user_name() -> Option<String> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::current()).ok()??;
    Some(user.name).filter(|n| !n.is_empty())
}

/// The preparation options from the command line and the environment
/// (`USER`/`LOGNAME`, else the real uid's login name, for the default
/// sender).
fn prepare_options(o: &Options) -> Result<PrepareOptions, Error> {
    let hostname = local_hostname();
    let mail_host = if let Some(d) = &o.qualify_domain {
        // --qualify-domain: addresses without a domain get this one.
        d.clone()
    } else if envelope::is_domain(&hostname, false) {
        hostname
    } else {
        "localhost".to_owned()
    };
    let from = o
        .from
        .as_deref()
        .map(|f| parse_sender(f, &mail_host))
        .transpose()?;
    let mut recipients = Vec::new();
    if !o.each {
        for arg in &o.operands {
            recipients.extend(parse_recipient_arg(arg, &mail_host)?);
        }
    }
    if let Some(name) = &o.full_name
        && name.chars().any(char::is_control)
    {
        return Err(Error::Usage("-F: control character in the name".to_owned()));
    }
    let default_sender = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| !u.is_empty())
        .or_else(real_user_name)
        .and_then(|u| smtp_mailbox(&u, &mail_host).ok());
    Ok(PrepareOptions {
        from,
        recipients,
        // --each implies -t: each file is a whole message with its recipients.
        extract: o.extract || o.each,
        full_name: o.full_name.clone(),
        dot_ends: o.sendmail && !o.no_dot,
        verbatim: o.verbatim,
        downgrade: o.downgrade,
        hostname: mail_host,
        default_sender,
        now: None,
        qualify_domain: o.qualify_domain.clone(),
    })
}

/// Runs `smtp-send`: prepares the message from `stdin` (or each FILE with
/// `--each`), then dry-runs, probes or delivers it. Errors are printed on
/// stderr as one line each; returns the exit code (the worst one with
/// `--each`).
pub fn run(o: Options, stdin: File, out: &mut dyn Write) -> u8 {
    match run_inner(&o, stdin, out) {
        Ok(code) => code,
        // The reader of our output went away (`--dry-run | head`): a
        // quiet success, as for any filter.
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            report(None, &e);
            e.exit_code()
        }
    }
}

/// `--tls-insecure` said out loud, once per run.
fn warn_tls_insecure(o: &Options) {
    if o.tls_insecure {
        crate::cli::warn(if o.mx {
            "--tls-insecure with --mx: mail hosts' certificates are NOT verified"
        } else {
            "--tls-insecure: the server's certificate is NOT verified; anyone on the way can read \
             and change this session, password and message included"
        });
    }
}

fn run_inner(o: &Options, stdin: File, out: &mut dyn Write) -> Result<u8, Error> {
    // ---- config: the account's settings merged into the options before
    // anything reads them (the message's header may be read to choose it).
    let mut resolved = crate::send::config::resolve(o, &stdin)?;
    if resolved.options.print_config {
        crate::send::config::print(&resolved, out).map_err(Error::Output)?;
        return Ok(0);
    }
    let merged = resolved.options.clone();
    let o = &merged;
    // The queue's own modes: nothing read from stdin.
    if let Some(dir) = &o.list {
        return queue::list(dir, o.json, out);
    }
    if let (Some(dir), Some(id)) = (&o.queue, &o.drop) {
        return queue::drop_message(dir, id);
    }
    if o.each && o.operands.is_empty() {
        return Err(Error::Usage("--each needs FILE operands".to_owned()));
    }
    let progress = !o.verbose && !o.bs && io::stderr().is_terminal();
    if let Some(dir) = &o.flush {
        // Nothing to send needs no server: a route that cannot be set up
        // (cron's `--flush DIR` without SMTP_SERVER) is an error only when
        // a message is due.
        warn_tls_insecure(o);
        let mut route = match session_options(o).and_then(|s| Route::of(o, s)) {
            Ok(r) => Deliverer::new(r, progress),
            Err(e) => Deliverer::unset(e),
        };
        let fo = queue::FlushOptions {
            max_age: o.max_age,
            downgrade: o.downgrade,
            force: o.force,
            json: o.json,
        };
        let code = queue::flush(dir, &fo, &mut route, out);
        route.finish();
        return code;
    }
    let popts = prepare_options(o)?;
    // --each: files, mbox files and Maildir folders, one message at a time.
    let each_prepared = || {
        crate::mailbox::each(&o.operands).map(|(name, file)| {
            let msg = open_file(file).and_then(|src| prepare(src, &popts));
            (name, msg)
        })
    };
    if o.dry_run {
        if o.each {
            let mut worst = 0;
            for (name, msg) in each_prepared() {
                match msg.and_then(|mut m| dry_run(&mut m, out)) {
                    Err(e) if e.is_broken_pipe() => return Ok(worst),
                    Err(e) => {
                        report(Some(&name), &e);
                        worst = worst.max(e.exit_code());
                    }
                    Ok(()) => {}
                }
            }
            return Ok(worst);
        }
        let mut msg = prepare(resolved.message(stdin), &popts)?;
        dry_run(&mut msg, out)?;
        return Ok(0);
    }
    // The options are checked (and their files read) before stdin is:
    // a usage or configuration error does not wait for a message.
    let sopts = session_options(o)?;
    if o.probe {
        let session = Session::open(&sopts)?;
        session.describe(out).map_err(Error::Output)?;
        let _ = session.quit();
        return Ok(0);
    }
    warn_tls_insecure(o);
    // Every mode below delivers through this one route.
    let route =
        |sopts| -> Result<Deliverer, Error> { Ok(Deliverer::new(Route::of(o, sopts)?, progress)) };
    if o.bs {
        return Ok(crate::send::relay::run(
            route(sopts)?,
            popts,
            o.queue.as_deref(),
            stdin,
            out,
        ));
    }
    if !o.each {
        // The message is checked before the route is set up: a message
        // that cannot be sent never opens a connection (nor starts DNS).
        let mut msg = prepare(resolved.message(stdin), &popts)?;
        let mut route = route(sopts)?;
        let rcpts = msg.envelope.rcpts.clone();
        let results = route.deliver(&mut msg);
        let server = route.server().to_owned();
        route.finish();
        if o.json {
            let list = match &results {
                Ok(list) => list.clone(),
                Err(e) => outcome::from_error(&rcpts, e, &server),
            };
            write_json(out, None, &list)?;
        }
        // --queue: the deferred recipients are queued, the rest decide.
        let results = match &o.queue {
            Some(dir) => queue::after_send(dir, &mut msg, results).map(|(rest, _)| rest),
            None => results,
        };
        return refusals(&results?);
    }
    let mut route = route(sopts)?;
    let messages = each_prepared();
    let server = route.server().to_owned();
    let mut json_err = None;
    let mut results = |name: &str, results: EachOutcome<'_>| {
        if o.json && json_err.is_none() {
            let list = match results {
                Ok(list) => list.to_vec(),
                Err((rcpts, e)) => outcome::from_error(rcpts, e, &server),
            };
            if let Err(e) = write_json(out, Some(name), &list) {
                json_err = Some(e);
            }
        }
    };
    let mut report_one = |name: &str, e: &Error| report(Some(name), e);
    let worst = match &o.queue {
        Some(dir) => queue::send_each(dir, messages, &mut route, &mut results, &mut report_one),
        None => send_each(messages, &mut route, &mut results, &mut report_one),
    };
    route.finish();
    match json_err {
        Some(e) => Err(e),
        None => Ok(worst),
    }
}

// ---------------------------------------------------------------------------
// The delivery route: one place that owns the relay session

/// Opens a relay session (connects, EHLO, STARTTLS, AUTH).
pub type Opener<C> = Box<dyn FnMut() -> Result<Session<C>, Error>>;

/// Where messages go.
#[derive(Debug)]
pub enum Route {
    /// Every message to one server (`-S`, `--pipe`, the account,
    /// `SMTP_SERVER`).
    Relay(Box<SessionOptions>),
    /// Each recipient domain's own mail hosts (`--mx`): the session
    /// options (TLS trust, EHLO name, timeouts) and the MX options. The
    /// resolver is made when the first message is delivered.
    Mx(Box<(SessionOptions, mx::MxOptions)>),
}

impl Route {
    /// The route `o` asks for, with its session options `sopts`.
    pub fn of(o: &Options, sopts: SessionOptions) -> Result<Route, Error> {
        if !o.mx {
            return Ok(Route::Relay(Box::new(sopts)));
        }
        let mxo = mx::MxOptions::from_options(o)?;
        Ok(Route::Mx(Box::new((sopts, mxo))))
    }
}

enum Way<C: Connection> {
    Relay(Opener<C>),
    /// `--mx`, with the resolver once made ([`Deliverer::ready`]): a
    /// message that cannot be sent, or an empty `--flush`, never starts a
    /// DNS runtime nor reads `/etc/resolv.conf`.
    Mx(Box<(SessionOptions, mx::MxOptions, Option<mx::Dns>)>),
    /// No route could be set up (`--flush` with no server configured): the
    /// reason, given when a message is due ([`Deliverer::ready`]).
    Unset(Option<Error>),
}

/// Delivers messages one after the other along a [`Route`]: the relay
/// session is opened when first needed, kept for the next message, replaced
/// when it becomes unusable, and a reused one that fails before the relay
/// can have taken the message (lost, or 421, before the end of DATA: RFC
/// 5321 §4.1.1.4) is replaced once and the message sent again. After a
/// failure to connect the later messages are not tried (they get
/// [`Error::NotSent`] with that failure's exit code) unless
/// [`Deliverer::retry_unreachable`]. With `--mx` each message goes through
/// [`mx::deliver`] (one session per domain).
pub struct Deliverer<C: Connection = Transport> {
    way: Way<C>,
    session: Option<Session<C>>,
    unreachable: Option<(String, u8)>,
    sticky: bool,
    progress: bool,
    server: String,
}

impl<C: Connection> fmt::Debug for Deliverer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer")
            .field("server", &self.server)
            .field("open", &self.session.is_some())
            .finish()
    }
}

impl Deliverer<Transport> {
    /// A deliverer along `route`; `progress` shows a progress bar on
    /// stderr for large messages sent to a relay.
    pub fn new(route: Route, progress: bool) -> Deliverer {
        match route {
            Route::Relay(sopts) => {
                let server = sopts.target.to_string();
                Deliverer::relay(Box::new(move || Session::open(&sopts)), &server, progress)
            }
            Route::Mx(mx) => Deliverer {
                way: Way::Mx(Box::new((mx.0, mx.1, None))),
                session: None,
                unreachable: None,
                sticky: true,
                progress,
                server: Target::Mx.to_string(),
            },
        }
    }
}

impl<C: Connection> Deliverer<C> {
    /// A deliverer to the relay whose sessions `open` opens (`server`
    /// names it in results made from an error).
    pub fn relay(open: Opener<C>, server: &str, progress: bool) -> Deliverer<C> {
        Deliverer {
            way: Way::Relay(open),
            session: None,
            unreachable: None,
            sticky: true,
            progress,
            server: server.to_owned(),
        }
    }

    /// A deliverer whose route could not be set up (why: `err`), for a
    /// `--flush` that may have nothing to send: [`Deliverer::ready`] and
    /// [`Deliverer::deliver`] return `err`.
    pub fn unset(err: Error) -> Deliverer<C> {
        Deliverer {
            way: Way::Unset(Some(err)),
            session: None,
            unreachable: None,
            sticky: true,
            progress: false,
            server: "-".to_owned(),
        }
    }

    /// Sets up what the route needs before its first message (the `--mx`
    /// resolver), once; or the error that keeps this route from sending
    /// anything (a configuration error, not the message's fault: a
    /// `--flush` stops at it and leaves the queue as it is).
    pub fn ready(&mut self) -> Result<(), Error> {
        match &mut self.way {
            Way::Relay(_) => Ok(()),
            Way::Mx(r) => {
                let (sopts, mxo, dns) = &mut **r;
                if dns.is_none() {
                    let timeout = mx::DNS_TIMEOUT.min(sopts.connect_timeout);
                    *dns = Some(mx::Dns::new(mxo.dns, timeout)?);
                }
                Ok(())
            }
            Way::Unset(err) => Err(err
                .take()
                .unwrap_or_else(|| Error::Config("no server".to_owned()))),
        }
    }

    /// Tries to connect again for every message, even after a failure
    /// (`-bs`: a long session whose relay may come back).
    pub fn retry_unreachable(mut self) -> Self {
        self.sticky = false;
        self
    }

    /// The relay as shown in results (`--mx` for MX delivery).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Delivers `msg`: the result per recipient, or the error that kept it
    /// from everyone ([`Session::send`]). `--mx` gives results only.
    pub fn deliver(&mut self, msg: &mut Prepared) -> Result<Vec<RcptResult>, Error> {
        self.ready()?;
        if let Way::Mx(r) = &self.way
            && let (sopts, mxo, Some(dns)) = &**r
        {
            return Ok(mx::deliver(msg, sopts, mxo, dns, self.progress, &mut |w| {
                crate::cli::warn(w)
            }));
        }
        if let Some((why, code)) = &self.unreachable {
            return Err(Error::NotSent(why.clone(), *code));
        }
        let reused = self.session.is_some();
        match self.send_once(msg) {
            Err(e) if reused && retry_safe(&e) => {
                msg.rewind().map_err(Error::Input)?;
                self.send_once(msg)
            }
            r => r,
        }
    }

    fn send_once(&mut self, msg: &mut Prepared) -> Result<Vec<RcptResult>, Error> {
        let s = match &mut self.session {
            Some(s) => s,
            None => {
                let Way::Relay(open) = &mut self.way else {
                    unreachable!("MX delivery opens no relay session");
                };
                match open() {
                    Ok(s) => self.session.insert(s),
                    Err(e) => {
                        if self.sticky {
                            self.unreachable = Some((e.to_string(), e.exit_code()));
                        }
                        return Err(e);
                    }
                }
            }
        };
        let res = s.send(msg, self.progress);
        if !s.is_usable()
            && let Some(s) = self.session.take()
        {
            // The next message reconnects.
            s.abort();
        }
        res
    }

    /// Ends the relay session, if one is open, with QUIT (a failing QUIT
    /// does not undo what was delivered).
    pub fn finish(mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.quit();
        }
    }
}

/// Whether a failure on a reused connection may be retried on a new one:
/// the connection was lost (or the relay said 421) before the end of the
/// message, so the relay must not have delivered it (RFC 5321 §4.1.1.4).
fn retry_safe(e: &Error) -> bool {
    let Error::Smtp { err, .. } = e else {
        return false;
    };
    let early = matches!(
        err.stage(),
        client::Stage::Mail | client::Stage::Rcpt | client::Stage::Data | client::Stage::Rset
    );
    let lost = match err.kind() {
        client::ErrorKind::Io(_) => true,
        client::ErrorKind::Reply(r) => r.code == 421,
        _ => false,
    };
    early && lost
}

/// `--json`: one object per recipient and line (with `"message"`: the FILE,
/// under `--each`).
fn write_json(
    out: &mut dyn Write,
    message: Option<&str>,
    results: &[RcptResult],
) -> Result<(), Error> {
    for r in results {
        let mut v = r.json();
        if let Some(name) = message {
            v["message"] = name.into();
        }
        writeln!(out, "{v}").map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)
}

/// The exit code of a message's results, with the one-line
/// [`outcome::summary`] as the error when some recipients lack the message.
fn refusals(results: &[RcptResult]) -> Result<u8, Error> {
    match outcome::summary(results) {
        Some(why) => Err(Error::Refused(why, outcome::exit_code(results))),
        None => Ok(0),
    }
}

/// What became of one message's recipients in [`send_each`]: the results,
/// or the envelope recipients and the error that stopped the attempt.
pub type EachOutcome<'a> = Result<&'a [RcptResult], (&'a [Mailbox], &'a Error)>;

/// `--each`: sends every message through `route` (one relay session,
/// see [`Deliverer`]). A refused message leaves the session usable (the
/// client resets the transaction). An error with one message is given to
/// `report` with its name and the others still go; if the server cannot
/// be reached, the messages after are not tried. Every message that got as
/// far as having recipients is also given to `results` (for `--json`).
/// Returns the worst exit code (0 when all were sent).
pub fn send_each<C: Connection>(
    messages: impl IntoIterator<Item = (String, Result<Prepared, Error>)>,
    route: &mut Deliverer<C>,
    results: &mut dyn FnMut(&str, EachOutcome<'_>),
    report: &mut dyn FnMut(&str, &Error),
) -> u8 {
    each_message(messages, report, |name, mut msg, fail| {
        let rcpts = msg.envelope.rcpts.clone();
        match route.deliver(&mut msg) {
            Ok(list) => {
                results(name, Ok(&list));
                if let Err(e) = refusals(&list) {
                    fail(&e);
                }
            }
            Err(e) => {
                results(name, Err((&rcpts, &e)));
                fail(&e);
            }
        }
        0
    })
}

/// The loop of `--each` ([`send_each`], [`queue::send_each`]): `one` gets
/// every message that could be prepared, with its name and `fail`, which
/// gives an error to `report` and counts its exit code; a message that
/// could not be prepared goes to `report` at once. `one` returns an exit
/// code to count without a report (0 for none). Returns the worst exit
/// code.
pub fn each_message(
    messages: impl IntoIterator<Item = (String, Result<Prepared, Error>)>,
    report: &mut dyn FnMut(&str, &Error),
    mut one: impl FnMut(&str, Prepared, &mut dyn FnMut(&Error)) -> u8,
) -> u8 {
    let mut worst = 0;
    for (name, msg) in messages {
        let mut failed = 0;
        let mut fail = |e: &Error| {
            report(&name, e);
            failed = failed.max(e.exit_code());
        };
        let code = match msg {
            Ok(m) => one(&name, m, &mut fail),
            Err(e) => {
                fail(&e);
                0
            }
        };
        worst = worst.max(code).max(failed);
    }
    worst
}

/// An `--each` message from [`crate::mailbox::each`] (which refuses a
/// directory that is not a Maildir).
fn open_file(file: io::Result<File>) -> Result<Source, Error> {
    let file = file.map_err(|e| Error::Open(strip_os_error(&e)))?;
    Ok(Source::from_file(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> clap::Command {
        clap::Command::new("smtp-send")
            .arg(
                clap::Arg::new("from")
                    .short('f')
                    .long("from")
                    .short_alias('r'),
            )
            .arg(
                clap::Arg::new("i")
                    .short('i')
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(clap::Arg::new("user").long("user"))
            .arg(clap::Arg::new("notify").short('N').long("notify"))
            .arg(clap::Arg::new("rcpt").num_args(0..))
    }

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn sendmail_args_normalises_and_drops_no_ops() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["sendmail", "-oi", "a@b"], &["sendmail", "-i", "a@b"]),
            (&["x", "-oem", "-oi", "-odi", "-t"], &["x", "-i", "-t"]),
            (
                &["x", "-odb", "-oep", "-em", "-ep", "-bm", "a@b"],
                &["x", "a@b"],
            ),
            // mutt's default: sendmail -oem -oi
            (&["x", "-oem", "-oi"], &["x", "-i"]),
            // a value of an option is left alone
            (&["x", "-f", "-oi", "a@b"], &["x", "-f", "-oi", "a@b"]),
            (&["x", "-r", "-oem"], &["x", "-r", "-oem"]),
            (
                &["x", "--user", "-oi", "-oi"],
                &["x", "--user", "-oi", "-i"],
            ),
            (&["x", "--user=-oi", "-oi"], &["x", "--user=-oi", "-i"]),
            // after --, everything is an operand
            (&["x", "--", "-oi"], &["x", "--", "-oi"]),
            // unknown -o options go on to clap, which refuses them
            (&["x", "-oX"], &["x", "-oX"]),
            // sendmail -V ENVID; a lone -V is --version
            (&["x", "-V", "id1", "a@b"], &["x", "--envid", "id1", "a@b"]),
            (&["x", "-Vid1", "a@b"], &["x", "--envid=id1", "a@b"]),
            (&["x", "-V"], &["x", "-V"]),
            (&["x", "-f", "-V", "a@b"], &["x", "-f", "-V", "a@b"]),
            (&["x", "-N", "-oi"], &["x", "-N", "-oi"]),
        ];
        for (input, want) in cases {
            assert_eq!(sendmail_args(args(input), &cli()), args(want), "{input:?}");
        }
    }

    #[test]
    fn sendmail_name() {
        assert!(invoked_as_sendmail(OsStr::new("/usr/sbin/sendmail")));
        assert!(invoked_as_sendmail(OsStr::new("sendmail")));
        assert!(!invoked_as_sendmail(OsStr::new("smtp-send")));
        assert!(!invoked_as_sendmail(OsStr::new(
            "/usr/sbin/sendmail.postfix"
        )));
    }

    use crate::smtp::envelope::test_mailbox as mb;

    #[test]
    fn senders() {
        assert_eq!(parse_sender("", "h.example").unwrap(), ReversePath::Null);
        assert_eq!(parse_sender("<>", "h.example").unwrap(), ReversePath::Null);
        for s in [
            "a@b.example",
            "<a@b.example>",
            "A Person <a@b.example>",
            " a@b.example ",
        ] {
            assert_eq!(
                parse_sender(s, "h").unwrap(),
                ReversePath::Mailbox(mb("a@b.example")),
                "{s}"
            );
        }
        assert_eq!(
            parse_sender("root", "h.example").unwrap(),
            ReversePath::Mailbox(mb("root@h.example"))
        );
        for bad in ["a@b, c@d", "a@b\r\nRCPT TO:<x@y>", "<a@b", "a b@c"] {
            let e = parse_sender(bad, "h").unwrap_err();
            assert_eq!(e.exit_code(), 64, "{bad}: {e}");
        }
    }

    #[test]
    fn recipient_arguments() {
        assert_eq!(
            parse_recipient_arg("a@x, B <b@y>", "h").unwrap(),
            vec![mb("a@x"), mb("b@y")]
        );
        assert_eq!(
            parse_recipient_arg("\"j d\"@x", "h").unwrap(),
            vec![mb("\"j d\"@x")]
        );
        assert_eq!(
            parse_recipient_arg("üser@bücher.example", "h").unwrap(),
            vec![mb("üser@bücher.example")]
        );
        for bad in ["", "a@x, (", "<a@x", "a@x>", "a@[1.2.3]"] {
            assert!(parse_recipient_arg(bad, "h").is_err(), "{bad:?}");
        }
    }

    fn scan_chunks(chunks: &[&[u8]], dot: bool) -> Result<Scan, LongLine> {
        let mut s = Scanner::new(dot);
        for c in chunks {
            if s.feed(c)?.is_some() {
                break;
            }
        }
        s.finish()
    }

    #[test]
    fn scan_sizes_and_8bit() {
        let cases: &[(&[u8], u64, bool)] = &[
            (b"", 0, false),
            (b"a\r\n", 3, false),
            (b"a\n", 3, false),
            (b"a", 3, false),
            (b"a\rb", 6, false),
            (b"a\r\r\n", 5, false),
            (b"a\nb\r\nc", 9, false),
            ("é\n".as_bytes(), 4, true),
            (b"\n\n", 4, false),
        ];
        for (text, wire, eight) in cases {
            let s = scan_bytes(text).unwrap();
            assert_eq!(
                (s.wire, s.eight_bit, s.len),
                (*wire, *eight, text.len() as u64),
                "{text:?}"
            );
        }
    }

    #[test]
    fn scan_line_limit() {
        let ok = [vec![b'x'; 998], b"\r\n".to_vec()].concat();
        assert!(scan_bytes(&ok).is_ok());
        let ok_lf = [vec![b'x'; 998], b"\n".to_vec()].concat();
        assert!(scan_bytes(&ok_lf).is_ok());
        let long = [b"a\n".to_vec(), vec![b'x'; 999], b"\n".to_vec()].concat();
        assert_eq!(scan_bytes(&long), Err(LongLine { line: 2 }));
        let long_last = [b"a\n".to_vec(), vec![b'x'; 999]].concat();
        assert_eq!(scan_bytes(&long_last), Err(LongLine { line: 2 }));
        // refused early, before the line ends
        let mut s = Scanner::new(false);
        assert!(s.feed(&[b'x'; 5000]).is_err());
    }

    #[test]
    fn scan_dot_line_ends_input_in_sendmail_mode() {
        let cases: &[(&[&[u8]], u64)] = &[
            (&[b"a\n.\nb\n"], 2),
            (&[b"a\n.\r\nb\n"], 2),
            (&[b".\nb\n"], 0),
            (&[b"a\n."], 2),
            (&[b"a\n.\r"], 2),
            (&[b"a\n", b".", b"\nb"], 2),
            (&[b"a\n.", b"\r", b"\nb"], 2),
            (&[b"a\n..\nb\n"], 7),
            (&[b"a\n.b\n"], 5),
            (&[b"a.\n"], 3),
        ];
        for (chunks, len) in cases {
            let s = scan_chunks(chunks, true).unwrap();
            assert_eq!(s.len, *len, "{chunks:?}");
            let text: Vec<u8> = chunks.concat()[..*len as usize].to_vec();
            assert_eq!(s.wire, scan_bytes(&text).unwrap().wire, "{chunks:?}");
            // without sendmail mode nothing ends early
            let all = scan_chunks(chunks, false).unwrap();
            assert_eq!(all.len, chunks.concat().len() as u64);
        }
    }

    proptest::proptest! {
        #[test]
        fn scan_is_the_same_for_any_split(
            text in proptest::collection::vec(proptest::sample::select(vec![b'a', b'.', b'\r', b'\n', 0xc3]), 0..64),
            cuts in proptest::collection::vec(0usize..64, 0..6),
            dot in proptest::bool::ANY,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts { chunks.push(&text[prev..c]); prev = c; }
            chunks.push(&text[prev..]);
            let whole = scan_chunks(&[&text], dot);
            let split = scan_chunks(&chunks, dot);
            proptest::prop_assert_eq!(whole.clone(), split);
            if let Ok(s) = whole {
                // the wire size is the size of the normalised text
                let t = &text[..s.len as usize];
                let mut wire = Vec::new();
                let mut i = 0;
                while i < t.len() {
                    match t[i] {
                        b'\r' if t.get(i + 1) == Some(&b'\n') => { wire.extend_from_slice(b"\r\n"); i += 1; }
                        b'\r' | b'\n' => wire.extend_from_slice(b"\r\n"),
                        b => wire.push(b),
                    }
                    i += 1;
                }
                if !wire.is_empty() && !wire.ends_with(b"\r\n") { wire.extend_from_slice(b"\r\n"); }
                proptest::prop_assert_eq!(s.wire, wire.len() as u64);
            }
        }
    }

    fn opts() -> PrepareOptions {
        PrepareOptions {
            hostname: "host.example".to_owned(),
            now: Some(UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000)),
            ..PrepareOptions::default()
        }
    }

    fn text(p: &mut Prepared) -> String {
        let mut s = Vec::new();
        p.reader().read_to_end(&mut s).unwrap();
        String::from_utf8(s).unwrap()
    }

    fn stream(s: &str) -> Source {
        Source::Stream(Box::new(Cursor::new(s.as_bytes().to_vec())))
    }

    fn file(s: &[u8]) -> Source {
        let mut f = spool_file().unwrap();
        f.write_all(s).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        Source::from_file(f)
    }

    const FULL: &str =
        "From: A <a@a.example>\nTo: b@b.example\nDate: x\nMessage-ID: <1@a.example>\n\nbody\n";

    #[test]
    fn complete_message_is_sent_as_is() {
        let o = PrepareOptions {
            recipients: vec![mb("c@c.example")],
            ..opts()
        };
        let mut p = prepare(stream(FULL), &o).unwrap();
        assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("a@a.example")));
        assert_eq!(p.envelope.rcpts, vec![mb("c@c.example")]);
        assert_eq!(
            text(&mut p),
            "From: A <a@a.example>\r\nTo: b@b.example\r\nDate: x\r\nMessage-ID: <1@a.example>\r\n\r\nbody\n"
        );
        assert_eq!(p.envelope.size, FULL.len() as u64 + 6);
        assert!(!p.envelope.eight_bit && !p.envelope.smtputf8);
    }

    #[test]
    fn missing_fields_are_added() {
        let o = PrepareOptions {
            from: Some(ReversePath::Mailbox(mb("me@sender.example"))),
            full_name: Some("Cron Daemon".to_owned()),
            recipients: vec![mb("c@c.example")],
            ..opts()
        };
        let mut p = prepare(stream("Subject: hi\n\nbody"), &o).unwrap();
        let t = text(&mut p);
        let (head, body) = t.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, "body");
        let lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(lines[0], "Subject: hi");
        assert_eq!(lines[1], "From: Cron Daemon <me@sender.example>");
        assert_eq!(lines[2], "Date: Sun, 9 Sep 2001 01:46:40 +0000");
        assert!(
            lines[3].starts_with("Message-ID: <") && lines[3].ends_with("@sender.example>"),
            "{}",
            lines[3]
        );
        assert_eq!(p.envelope.size, t.len() as u64 + 2);
    }

    #[test]
    fn from_names() {
        assert_eq!(display_mailbox(None, "a@b"), "a@b");
        assert_eq!(display_mailbox(Some("  "), "a@b"), "a@b");
        assert_eq!(
            display_mailbox(Some("Doe, John"), "a@b"),
            "\"Doe, John\" <a@b>"
        );
        assert_eq!(
            display_mailbox(Some("Jörg"), "a@b"),
            "=?UTF-8?B?SsO2cmc=?= <a@b>"
        );
        let long = "ü".repeat(40);
        let m = display_mailbox(Some(&long), "a@b");
        assert!(m.split(' ').all(|w| w.len() <= 75), "{m}");
        assert_eq!(
            crate::message::header::decode(m.rsplit_once(' ').unwrap().0.as_bytes()),
            long
        );
    }

    #[test]
    fn extract_strips_bcc_and_dedupes() {
        let msg = "From: a@a.example\nTo: b@b.example, C <c@c.example>\nCc: b@B.EXAMPLE\nBcc: secret@d.example,\n  other@d.example\nSubject: s\n\nbody\n";
        let o = PrepareOptions {
            extract: true,
            recipients: vec![mb("x@x.example")],
            ..opts()
        };
        let mut p = prepare(stream(msg), &o).unwrap();
        assert_eq!(
            p.envelope.rcpts,
            [
                "x@x.example",
                "b@b.example",
                "c@c.example",
                "secret@d.example",
                "other@d.example"
            ]
            .map(mb)
        );
        let t = text(&mut p);
        assert!(!t.contains("Bcc") && !t.contains("secret"), "{t}");
        assert!(t.contains("Cc: b@B.EXAMPLE\r\n"));
    }

    #[test]
    fn bug_bare_cr_in_header_is_refused() {
        let o = PrepareOptions {
            extract: true,
            ..opts()
        };
        let cases: &[(&[u8], u64)] = &[
            // One field to the header reader, two lines on the wire.
            (
                b"From: a@a.example\nTo: t@b.example\nSubject: hi\rBcc: s@x.example\n\nb\n",
                3,
            ),
            // Would end the header early on the wire.
            (
                b"From: a@a.example\nTo: t@b.example\nSubject: x\r\r\nX: y\n\nb\n",
                3,
            ),
            (b"To: t@b.example\r\nSubject: x\r", 2),
            (b"From x\ry\nTo: t@b.example\n\nb\n", 1),
        ];
        for (msg, line) in cases {
            for verbatim in [false, true] {
                let o = PrepareOptions {
                    verbatim,
                    ..o.clone()
                };
                for src in [
                    Source::Stream(Box::new(Cursor::new(msg.to_vec()))),
                    file(msg),
                ] {
                    let e = prepare(src, &o).unwrap_err();
                    assert_eq!(e.exit_code(), 65, "{msg:?}");
                    assert!(
                        e.to_string()
                            .contains(&format!("bare CR in header line {line} ")),
                        "{msg:?}: {e}"
                    );
                }
            }
        }
        // In the body (the first body line included) a bare CR is a line
        // end, as dot.rs sends it; CRLF headers are fine.
        for msg in [
            "From: a@a.example\r\nTo: t@b.example\r\nSubject: x\r\n\r\na\rb\n",
            "From: a@a.example\nTo: t@b.example\nno colon\rhere\n",
        ] {
            if let Err(e) = prepare(stream(msg), &o) {
                panic!("{msg:?}: {e}");
            }
        }
    }

    #[test]
    fn bug_adjacent_resent_blocks_were_merged() {
        // Two resends: the newer block is first (RFC 5322 §3.6.6). -t took
        // both blocks' recipients and the original From as MAIL FROM.
        let msg = "Resent-Date: Mon, 2 Jan 2023 00:00:00 +0000\nResent-From: second@r.example\n\
                   Resent-To: now@n.example\nResent-Date: Sun, 1 Jan 2023 00:00:00 +0000\n\
                   Resent-From: first@r.example\nResent-To: before@b.example\n\
                   From: a@a.example\nTo: b@b.example\n\nbody\n";
        let o = PrepareOptions {
            extract: true,
            ..opts()
        };
        let p = prepare(stream(msg), &o).unwrap();
        assert_eq!(p.envelope.rcpts, ["now@n.example"].map(mb));
        assert_eq!(
            p.envelope.from,
            ReversePath::Mailbox(mb("second@r.example"))
        );
        // Resent-Sender wins over Resent-From; -f over both; without -t the
        // sender is Sender:/From: as before.
        let msg = "Resent-From: r@r.example\nResent-Sender: s@r.example\nResent-To: t@t.example\n\
                   Resent-From: old@r.example\nFrom: a@a.example\n\nbody\n";
        let p = prepare(stream(msg), &o).unwrap();
        assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("s@r.example")));
        assert_eq!(p.envelope.rcpts, ["t@t.example"].map(mb));
        let f = PrepareOptions {
            from: Some(ReversePath::Mailbox(mb("me@m.example"))),
            ..o.clone()
        };
        let p = prepare(stream(msg), &f).unwrap();
        assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("me@m.example")));
        let plain = PrepareOptions {
            recipients: vec![mb("x@x.example")],
            ..opts()
        };
        let p = prepare(stream(msg), &plain).unwrap();
        assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("a@a.example")));
    }

    #[test]
    fn extract_uses_the_first_resent_block() {
        let msg = "Resent-From: r@r.example\nResent-To: new@n.example\nResent-Bcc: hidden@n.example\nReceived: x\nResent-To: old@o.example\nFrom: a@a.example\nTo: b@b.example\n\nbody\n";
        let o = PrepareOptions {
            extract: true,
            ..opts()
        };
        let mut p = prepare(stream(msg), &o).unwrap();
        assert_eq!(
            p.envelope.rcpts,
            ["new@n.example", "hidden@n.example"].map(mb)
        );
        assert!(!text(&mut p).contains("hidden"));
    }

    #[test]
    fn envelope_errors() {
        let o = PrepareOptions {
            extract: true,
            ..opts()
        };
        let e = prepare(stream("From: a@a.example\n\nx\n"), &o).unwrap_err();
        assert_eq!(e.exit_code(), 65, "{e}");
        let e = prepare(
            stream("From: a@a.example\nTo: b@b.example, <broken\n\nx\n"),
            &o,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 65, "{e}");
        assert!(e.to_string().starts_with("To: "), "{e}");
        let e = prepare(stream("From: a@a.example\n\nx\n"), &opts()).unwrap_err();
        assert_eq!(e.exit_code(), 64, "{e}");
        let o = PrepareOptions {
            recipients: vec![mb("b@b")],
            ..opts()
        };
        let e = prepare(stream("Subject: x\n\nx\n"), &o).unwrap_err();
        assert_eq!(e.exit_code(), 65, "{e}");
        // the default sender when the message has none
        let o = PrepareOptions {
            default_sender: Some(mb("user@host.example")),
            ..o
        };
        let p = prepare(stream("Subject: x\n\nx\n"), &o).unwrap();
        assert_eq!(
            p.envelope.from,
            ReversePath::Mailbox(mb("user@host.example"))
        );
    }

    #[test]
    fn sender_comes_from_sender_then_from() {
        let o = PrepareOptions {
            recipients: vec![mb("b@b")],
            ..opts()
        };
        let p = prepare(stream("From: f@f.example\nSender: s@s.example\n\nx"), &o).unwrap();
        assert_eq!(p.envelope.from, ReversePath::Mailbox(mb("s@s.example")));
        let p = prepare(stream("From: Cron <root>\n\nx"), &o).unwrap();
        assert_eq!(
            p.envelope.from,
            ReversePath::Mailbox(mb("root@host.example"))
        );
        let o = PrepareOptions {
            from: Some(ReversePath::Null),
            ..o
        };
        let p = prepare(stream("From: f@f.example\n\nx"), &o).unwrap();
        assert_eq!(p.envelope.from, ReversePath::Null);
    }

    #[test]
    fn verbatim_keeps_the_bytes() {
        let msg = "From x  Mon\nFrom: a@a.example\nBcc: b@b.example\n\nbody";
        let o = PrepareOptions {
            verbatim: true,
            recipients: vec![mb("b@b")],
            ..opts()
        };
        let mut p = prepare(stream(msg), &o).unwrap();
        assert_eq!(text(&mut p), msg);
        let o = PrepareOptions {
            from: Some(ReversePath::Null),
            ..o
        };
        let mut p = prepare(stream(".first byte\n..\n"), &o).unwrap();
        assert_eq!(text(&mut p), ".first byte\n..\n");
    }

    #[test]
    fn headerless_input_gets_a_header() {
        let o = PrepareOptions {
            recipients: vec![mb("b@b")],
            from: Some(ReversePath::Mailbox(mb("a@a"))),
            ..opts()
        };
        let mut p = prepare(stream("just text\nmore\n"), &o).unwrap();
        let t = text(&mut p);
        assert!(t.starts_with("From: a@a\r\nDate: "), "{t}");
        assert!(t.ends_with("\r\n\r\njust text\nmore\n"), "{t}");
    }

    #[test]
    fn sendmail_dot_ends_input() {
        let o = PrepareOptions {
            dot_ends: true,
            recipients: vec![mb("b@b")],
            ..opts()
        };
        let mut p = prepare(
            stream("From: a@a\nDate: d\nMessage-ID: <m@a>\n\nbody\n.\nnot sent\n"),
            &o,
        )
        .unwrap();
        assert_eq!(
            text(&mut p),
            "From: a@a\r\nDate: d\r\nMessage-ID: <m@a>\r\n\r\nbody\n"
        );
        let mut p = prepare(
            stream("From: a@a\nDate: d\nMessage-ID: <m@a>\n.\nnot sent\n"),
            &o,
        )
        .unwrap();
        assert_eq!(
            text(&mut p),
            "From: a@a\r\nDate: d\r\nMessage-ID: <m@a>\r\n\r\n"
        );
        let o = PrepareOptions {
            verbatim: true,
            ..o
        };
        let mut p = prepare(stream("From: a@a\n.\nnot sent\n"), &o).unwrap();
        assert_eq!(text(&mut p), "From: a@a\n");
        let mut p = prepare(file(b"From: a@a\n\nx\n.\nnot sent\n"), &o).unwrap();
        assert_eq!(text(&mut p), "From: a@a\n\nx\n");
    }

    #[test]
    fn files_and_streams_agree_and_big_streams_spool() {
        let o = PrepareOptions {
            recipients: vec![mb("b@b")],
            verbatim: true,
            ..opts()
        };
        let mut big = b"From: a@a\n\n".to_vec();
        let line = "0123456789 é abcdefghijklmnopqrstuvwxyz\n";
        while big.len() < 3 * MEM_SPOOL {
            big.extend_from_slice(line.as_bytes());
        }
        big.extend_from_slice(b"no newline");
        let mut from_file = prepare(file(&big), &o).unwrap();
        let mut from_stream =
            prepare(Source::Stream(Box::new(Cursor::new(big.clone()))), &o).unwrap();
        assert!(matches!(from_stream.body, Body::File(_)));
        assert_eq!(from_file.envelope, from_stream.envelope);
        assert!(from_file.envelope.eight_bit);
        let mut a = Vec::new();
        from_file.reader().read_to_end(&mut a).unwrap();
        let mut b = Vec::new();
        from_stream.reader().read_to_end(&mut b).unwrap();
        assert!(a == big && b == big);
    }

    #[test]
    fn long_lines_refused_before_sending() {
        let o = PrepareOptions {
            recipients: vec![mb("b@b")],
            ..opts()
        };
        let msg = format!("From: a@a\n\nok\n{}\n", "x".repeat(1200));
        let e = prepare(stream(&msg), &o).unwrap_err();
        assert_eq!(e.exit_code(), 65);
        assert!(e.to_string().contains("line 2 of the body"), "{e}");
        let msg = format!("From: a@a\nSubject: {}\n\nok\n", "x".repeat(1200));
        let e = prepare(stream(&msg), &o).unwrap_err();
        assert_eq!(e.exit_code(), 65, "{e}");
    }

    #[test]
    fn downgrade_reencodes_long_lines_at_prepare() {
        let o = PrepareOptions {
            recipients: vec![mb("b@b")],
            downgrade: true,
            ..opts()
        };
        let msg = format!(
            "From: a@a\nDate: d\nMessage-ID: <m@a>\n\nok \u{e9}\n{}\n",
            "x".repeat(1200)
        );
        let mut p = prepare(stream(&msg), &o).unwrap();
        let t = text(&mut p);
        assert!(
            t.contains("Content-Transfer-Encoding: quoted-printable\r\n"),
            "{t}"
        );
        assert!(t.lines().all(|l| l.len() <= 76), "{t}");
        // The part is quoted-printable now, its 8-bit octets too.
        assert!(!p.envelope.eight_bit && t.contains("ok =C3=A9"));
        assert_eq!(p.envelope.size, wire_len(t.as_bytes()));
        assert_eq!(p.len(), t.len() as u64);
        assert!(t.starts_with(std::str::from_utf8(p.head()).unwrap()));
        assert!(p.head().ends_with(b"\r\n\r\n"));
    }

    fn wire_len(t: &[u8]) -> u64 {
        let s = scan_bytes(t).unwrap();
        s.wire
    }

    #[test]
    fn downgrade_fits_a_server_without_8bitmime() {
        let o = PrepareOptions {
            recipients: vec![mb("b@b.example")],
            verbatim: true,
            downgrade: true,
            ..opts()
        };
        let msg = "From: a@a.example\n\nh\u{e9}\n";
        let script = format!("{GREET}250 ok\n250 ok\n354 go\n250 queued\n221 bye\n");
        let (conn, out) = scripted(&script);
        let mut s =
            Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
        let mut p = prepare(stream(msg), &o).unwrap();
        s.send(&mut p, false).unwrap();
        s.quit().unwrap();
        let w = written(&out);
        assert!(
            w.contains(
                "DATA\r\nFrom: a@a.example\r\nMIME-Version: 1.0\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9\r\n.\r\n"
            ),
            "{w}"
        );
        assert!(w.contains("MAIL FROM:<a@a.example> SIZE=94\r\n"), "{w}");
        // Without --downgrade: refused as before, nothing sent.
        let o = PrepareOptions {
            downgrade: false,
            ..o
        };
        let (conn, out) = scripted(&format!("{GREET}221 bye\n"));
        let mut s =
            Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
        let e = s
            .send(&mut prepare(stream(msg), &o).unwrap(), false)
            .unwrap_err();
        assert_eq!(e.exit_code(), 65, "{e}");
        assert!(!written(&out).contains("MAIL"));
        // A header that cannot be made 7-bit: 65 naming the field.
        let o = PrepareOptions {
            downgrade: true,
            ..o
        };
        let (conn, _) = scripted(&format!("{GREET}221 bye\n"));
        let mut s =
            Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
        let mut p = prepare(stream("From: a@a.example\nSubject: \u{e9}\n\nx\n"), &o).unwrap();
        let e = s.send(&mut p, false).unwrap_err();
        assert_eq!(e.exit_code(), 65, "{e}");
        assert!(e.to_string().contains("header field Subject"), "{e}");
    }

    #[test]
    fn smtputf8_when_an_address_needs_it() {
        let o = PrepareOptions {
            recipients: vec![mb("ü@x.example")],
            ..opts()
        };
        let p = prepare(stream("From: a@a\n\nx\n"), &o).unwrap();
        assert!(p.envelope.smtputf8);
    }

    /// A scripted server: `read` gives the script one line at a time (so
    /// nothing is "early" after a 220 to STARTTLS), writes are kept in a
    /// shared buffer the test reads afterwards.
    struct Scripted {
        input: Cursor<Vec<u8>>,
        out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        tls: bool,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let rest = &self.input.get_ref()[self.input.position() as usize..];
            let line = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1);
            let n = line.min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.input.set_position(self.input.position() + n as u64);
            Ok(n)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Connection for Scripted {
        fn start_tls(
            mut self,
            _: &Arc<rustls::ClientConfig>,
            _: &str,
        ) -> Result<Self, tls::HandshakeError> {
            self.tls = true;
            Ok(self)
        }
        fn tls_info(&self) -> Option<(String, Option<tls::CertInfo>)> {
            self.tls.then(|| ("TLS-fake".to_owned(), None))
        }
        fn set_io_timeout(&mut self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    type Shared = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

    fn scripted(script: &str) -> (Scripted, Shared) {
        let out = Shared::default();
        let conn = Scripted {
            input: Cursor::new(script.replace('\n', "\r\n").into_bytes()),
            out: out.clone(),
            tls: false,
        };
        (conn, out)
    }

    #[test]
    fn bug_mx_route_starts_no_resolver_until_a_message_is_delivered() {
        let o = Options {
            mx: true,
            dns: Some("192.0.2.1:53".to_owned()),
            ..Options::default()
        };
        let mut d = Deliverer::new(Route::of(&o, session_opts(None)).unwrap(), false);
        assert!(matches!(&d.way, Way::Mx(r) if r.2.is_none()));
        d.ready().unwrap();
        assert!(matches!(&d.way, Way::Mx(r) if r.2.is_some()));
    }

    #[test]
    fn bug_binary_mime_is_decided_once_by_the_mime_parser() {
        let opts = PrepareOptions {
            from: Some(ReversePath::Mailbox(mb("a@example.org"))),
            recipients: vec![mb("b@example.org")],
            verbatim: true,
            hostname: "h".into(),
            ..PrepareOptions::default()
        };
        for (head, want) in [
            (&b"Content-Transfer-Encoding: binary\r\n\r\n"[..], true),
            (
                b"Subject: x\r\nCONTENT-TRANSFER-ENCODING:\r\n BINARY (raw)\r\n\r\n",
                true,
            ),
            // RFC 2045 §6's token ends at `;`, as multipart::Encoding reads it.
            (b"Content-Transfer-Encoding: binary;x\r\n\r\n", true),
            // Not canonical (LF line ends): sent as text.
            (b"Content-Transfer-Encoding: binary\n\n", false),
            (b"Content-Transfer-Encoding: 8bit\r\n\r\n", false),
            (b"Subject: binary\r\n\r\n", false),
            (b"\r\n", false),
        ] {
            let m = prepare(
                Source::Stream(Box::new(io::Cursor::new(head.to_vec()))),
                &opts,
            )
            .unwrap();
            assert_eq!(m.envelope.binary, want, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn bug_unset_route_gives_its_error_when_used() {
        let mut d: Deliverer = Deliverer::unset(Error::Config("no server".into()));
        assert_eq!(d.ready().unwrap_err().exit_code(), 78);
        let msg = b"From: a@example.org\nTo: b@example.org\n\nhi\n";
        let mut m = prepare(
            Source::Stream(Box::new(io::Cursor::new(msg.to_vec()))),
            &PrepareOptions {
                extract: true,
                hostname: "h".into(),
                ..PrepareOptions::default()
            },
        )
        .unwrap();
        assert_eq!(d.deliver(&mut m).unwrap_err().exit_code(), 78);
    }

    fn session_opts(user: Option<&str>) -> SessionOptions {
        SessionOptions {
            target: Target::Pipe("test".to_owned()),
            helo: Some("client.example".to_owned()),
            tls: tls::ClientTls {
                insecure: true,
                ..tls::ClientTls::default()
            },
            user: user.map(str::to_owned),
            credentials: credentials::Sources {
                env_password: Some(credentials::Password::new("pw".to_owned())),
                ..credentials::Sources::default()
            },
            auth: None,
            insecure_auth: false,
            timeout: None,
            connect_timeout: Duration::from_secs(1),
            delivery: Delivery::default(),
            verbose: false,
            cleartext_after_starttls_refused: false,
        }
    }

    fn written(out: &Shared) -> String {
        String::from_utf8(out.lock().unwrap().clone()).unwrap()
    }

    fn message(to: &str) -> Prepared {
        let o = PrepareOptions {
            verbatim: true,
            recipients: vec![mb(to)],
            ..opts()
        };
        prepare(stream("From: a@a.example\n\nhi\n"), &o).unwrap()
    }

    const GREET: &str = "220 srv ESMTP\n250-srv\n250-PIPELINING\n250 SIZE 1000\n";

    fn message_to(to: &[&str]) -> Prepared {
        let o = PrepareOptions {
            verbatim: true,
            recipients: to.iter().map(|t| mb(t)).collect(),
            ..opts()
        };
        prepare(stream("From: a@a.example\n\nhi\n"), &o).unwrap()
    }

    #[test]
    fn session_results_per_recipient() {
        use outcome::Status::*;
        let summary = |r: &[RcptResult]| -> Vec<(String, outcome::Status, client::Stage)> {
            r.iter()
                .map(|r| (r.rcpt.to_string(), r.status, r.stage))
                .collect()
        };
        let rcpts = ["b@b.example", "c@b.example", "d@b.example"];
        // Without --partial: a refusal is a result; nothing sent; RSET.
        let script = format!("{GREET}250 ok\n250 ok\n550 5.1.1 no\n250 ok\n250 reset\n");
        let (conn, out) = scripted(&script);
        let mut s =
            Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
        let r = s.send(&mut message_to(&rcpts), false).unwrap();
        assert_eq!(outcome::exit_code(&r), 67);
        assert_eq!(r[1].reply.as_ref().map(|r| r.code), Some(550));
        assert_eq!(r[0].detail, outcome::NOT_SENT);
        assert!(written(&out).ends_with("RSET\r\n") && s.is_usable());
        // --partial: the others get it; the message refused after all
        // keeps the RCPT refusal's own result.
        let mut opts = session_opts(None);
        opts.delivery.partial = true;
        let script =
            format!("{GREET}250 ok\n250 ok\n550 5.1.1 no\n250 ok\n354 go\n554 5.7.1 spam\n");
        let (conn, _) = scripted(&script);
        let mut s = Session::start(conn, &opts, url::Security::None, "srv", None).unwrap();
        let r = s.send(&mut message_to(&rcpts), false).unwrap();
        use client::Stage::{Dot, Rcpt};
        assert_eq!(
            summary(&r),
            [
                ("b@b.example".to_owned(), Rejected, Dot),
                ("c@b.example".to_owned(), Rejected, Rcpt),
                ("d@b.example".to_owned(), Rejected, Dot),
            ]
        );
        // LMTP: one reply per accepted recipient.
        let mut opts = session_opts(None);
        opts.delivery.lmtp = true;
        opts.delivery.partial = true;
        let script = "220 srv LMTP\n250-srv\n250 PIPELINING\n250 ok\n250 ok\n550 no\n\
                      250 ok\n354 go\n250 2.0.0 ok\n451 4.2.0 later\n";
        let (conn, out) = scripted(script);
        let mut s = Session::start(conn, &opts, url::Security::None, "srv", None).unwrap();
        let r = s.send(&mut message_to(&rcpts), false).unwrap();
        assert!(written(&out).starts_with("LHLO client.example\r\n"));
        assert_eq!(
            summary(&r),
            [
                ("b@b.example".to_owned(), Delivered, Dot),
                ("c@b.example".to_owned(), Rejected, Rcpt),
                ("d@b.example".to_owned(), Deferred, Dot),
            ]
        );
        assert_eq!(outcome::exit_code(&r), 75);
        // The connection lost: an error, not results.
        let script = format!("{GREET}250 ok\n");
        let (conn, _) = scripted(&script);
        let mut s =
            Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
        let e = s.send(&mut message_to(&rcpts), false).unwrap_err();
        assert_eq!(e.exit_code(), 75);
        let r = outcome::from_error(&message_to(&rcpts).envelope.rcpts, &e, "srv");
        assert!(r.iter().all(|r| r.status == Deferred));
    }

    #[test]
    fn session_plain_send_and_quit() {
        let script = format!("{GREET}250 ok\n250 ok\n354 go\n250 queued\n221 bye\n");
        let (conn, out) = scripted(&script);
        let mut s =
            Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
        s.send(&mut message("b@b.example"), false).unwrap();
        s.quit().unwrap();
        assert_eq!(
            written(&out),
            "EHLO client.example\r\nMAIL FROM:<a@a.example> SIZE=25\r\nRCPT TO:<b@b.example>\r\n\
             DATA\r\nFrom: a@a.example\r\n\r\nhi\r\n.\r\nQUIT\r\n"
        );
    }

    #[test]
    fn session_starttls_then_fresh_ehlo_and_auth() {
        let script = "220 srv\n250-srv\n250 STARTTLS\n220 go ahead\n\
                      250-srv\n250 AUTH PLAIN LOGIN\n235 ok\n221 bye\n";
        let (conn, out) = scripted(script);
        let opts = session_opts(Some("me"));
        let s = Session::start(conn, &opts, url::Security::StartTlsRequired, "srv", None).unwrap();
        assert!(s.tls.is_some());
        s.quit().unwrap();
        // AUTH only after TLS, with what the post-TLS EHLO offered.
        assert_eq!(
            written(&out),
            "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\nAUTH PLAIN AG1lAHB3\r\nQUIT\r\n"
        );
    }

    #[test]
    fn session_starttls_required_but_not_offered() {
        let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n221 bye\n");
        let e = Session::start(
            conn,
            &session_opts(None),
            url::Security::StartTlsRequired,
            "srv",
            None,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 77, "{e}");
        assert_eq!(written(&out), "EHLO client.example\r\nQUIT\r\n");
        // Offered-if-available: plain text is fine.
        let (conn, _) = scripted("220 srv\n250 srv\n");
        let s = Session::start(
            conn,
            &session_opts(None),
            url::Security::StartTlsIfOffered,
            "srv",
            None,
        )
        .unwrap();
        assert!(s.tls.is_none());
    }

    #[test]
    fn bug_auth_over_pipe_needs_insecure_auth() {
        // The password went in the clear over --pipe without asking.
        let mut opts = session_opts(Some("me"));
        let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n221 bye\n");
        let e = Session::start(conn, &opts, url::Security::None, "srv", None).unwrap_err();
        assert_eq!(e.exit_code(), 77, "{e}");
        assert!(e.to_string().contains("--insecure-auth"), "{e}");
        assert!(!written(&out).contains("AUTH"));
        opts.insecure_auth = true;
        let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n235 ok\n");
        Session::start(conn, &opts, url::Security::None, "srv", None).unwrap();
        assert!(written(&out).contains("AUTH PLAIN "));
    }

    #[test]
    fn session_auth_policy() {
        // No TLS, not a pipe: the password is not sent.
        let mut opts = session_opts(Some("me"));
        opts.target = Target::Server(url::parse("127.0.0.1:25").unwrap());
        let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n");
        let e =
            Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap_err();
        assert_eq!(e.exit_code(), 77, "{e}");
        assert!(!written(&out).contains("AUTH"));
        // --insecure-auth allows it.
        opts.insecure_auth = true;
        let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n235 ok\n");
        Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap();
        assert!(written(&out).contains("AUTH PLAIN "));
        // A forced mechanism the server does not offer.
        opts.auth = Some(Mechanism::CramMd5);
        let (conn, _) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n");
        let e =
            Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap_err();
        assert_eq!(e.exit_code(), 77, "{e}");
        // Refused credentials.
        opts.auth = None;
        let (conn, _) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n535 5.7.8 no\n");
        let e =
            Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap_err();
        assert_eq!(e.exit_code(), 77, "{e}");
        // No password anywhere.
        opts.credentials = credentials::Sources::default();
        let (conn, _) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n");
        let e =
            Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap_err();
        assert_eq!(e.exit_code(), 78, "{e}");
    }

    #[test]
    fn each_goes_on_after_a_refused_message_and_reconnects_after_a_lost_one() {
        // Connection 1: message 1 sent, message 2 refused at RCPT (RSET),
        // message 3 meets 421 at MAIL (connection lost before anything of
        // it was taken: sent again on a new one). Connection 2: messages 3
        // and 4 sent.
        let first = format!(
            "{GREET}250 ok\n250 ok\n354 go\n250 queued\n\
             250 ok\n550 5.1.1 unknown\n250 reset\n\
             421 4.3.0 closing\n"
        );
        let second = format!(
            "{GREET}250 ok\n250 ok\n354 go\n250 queued\n\
             250 ok\n250 ok\n354 go\n250 queued\n221 bye\n"
        );
        let conns = Arc::new(std::sync::Mutex::new(vec![
            scripted(&second),
            scripted(&first),
        ]));
        let outs: Arc<std::sync::Mutex<Vec<Shared>>> = Arc::default();
        let opts = session_opts(None);
        let msgs = vec![
            ("1".to_owned(), Ok(message("b@b.example"))),
            ("2".to_owned(), Ok(message("bad@b.example"))),
            (
                "bad".to_owned(),
                Err(Error::Open("No such file".to_owned())),
            ),
            ("3".to_owned(), Ok(message("c@b.example"))),
            ("4".to_owned(), Ok(message("d@b.example"))),
        ];
        let mut reported = Vec::new();
        let (c, o) = (Arc::clone(&conns), Arc::clone(&outs));
        let mut route = Deliverer::relay(
            Box::new(move || {
                let (conn, out) = c.lock().unwrap().pop().expect("a third connection");
                o.lock().unwrap().push(out);
                Session::start(conn, &opts, url::Security::None, "srv", None)
            }),
            "srv",
            false,
        );
        let worst = send_each(msgs, &mut route, &mut |_, _| {}, &mut |name, e| {
            reported.push((name.to_owned(), e.exit_code()))
        });
        route.finish();
        assert_eq!(reported, [("2".to_owned(), 67), ("bad".to_owned(), 66)]);
        assert_eq!(worst, 67);
        let outs = outs.lock().unwrap();
        assert_eq!(outs.len(), 2);
        assert!(written(&outs[1]).contains("RCPT TO:<c@b.example>\r\n"));
        assert!(written(&outs[1]).ends_with(
            "RCPT TO:<d@b.example>\r\nDATA\r\nFrom: a@a.example\r\n\r\nhi\r\n.\r\nQUIT\r\n"
        ));
        // Nothing reachable: the rest are not tried.
        let mut reported = Vec::new();
        let mut route = Deliverer::<Scripted>::relay(
            Box::new(|| Err(Error::Security("no".to_owned()))),
            "srv",
            false,
        );
        let worst = send_each(
            vec![
                ("1".to_owned(), Ok(message("b@b.example"))),
                ("2".to_owned(), Ok(message("b@b.example"))),
            ],
            &mut route,
            &mut |_, _| {},
            &mut |name, e| reported.push((name.to_owned(), e.exit_code())),
        );
        assert_eq!((worst, reported.len()), (77, 2));
    }

    #[test]
    fn dry_run_is_the_wire_form() {
        let mut msg = message("b@b.example");
        let mut out = Vec::new();
        dry_run(&mut msg, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "MAIL FROM:<a@a.example> SIZE=25\r\nRCPT TO:<b@b.example>\r\nDATA\r\n\
             From: a@a.example\r\n\r\nhi\r\n.\r\n"
        );
    }
}
