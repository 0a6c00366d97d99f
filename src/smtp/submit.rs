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

use crate::limits::IO_BUF;
use crate::message::{self, address, header};
use crate::smtp::envelope::{self, Mailbox, ReversePath};

// ---------------------------------------------------------------------------
// sendmail compatibility

/// sendmail options accepted and ignored, as they are written on a command
/// line (`-oi` is not here: it means `-i`). `-B` (body type) is also
/// accepted and ignored, by the command line parser, since the body type is
/// found by scanning the message.
pub const SENDMAIL_NOOPS: &[&str] = &["-odi", "-odb", "-oem", "-oep", "-em", "-ep", "-bm"];

/// Normalises a sendmail-style command line for clap: `-oi` becomes `-i`;
/// the no-op options of [`SENDMAIL_NOOPS`] are dropped. Arguments after
/// `--`, and the value after an option of `cli` that takes one (`-f -oi`
/// keeps `-oi` as the sender), are left alone. `argv[0]` is kept.
///
/// clap cannot parse these itself: `-oi` would be read as a cluster of the
/// short options `-o` and `-i`.
pub fn sendmail_args(argv: impl IntoIterator<Item = OsString>, cli: &clap::Command) -> Vec<OsString> {
    let mut valued: Vec<String> = Vec::new();
    for arg in cli.get_arguments() {
        if arg.is_positional() || !arg.get_action().takes_values() {
            continue;
        }
        for s in arg.get_short().into_iter().chain(arg.get_all_short_aliases().unwrap_or_default()) {
            valued.push(format!("-{s}"));
        }
        for l in arg.get_long().into_iter().chain(arg.get_all_aliases().unwrap_or_default()) {
            valued.push(format!("--{l}"));
        }
    }
    let mut out = Vec::new();
    let mut args = argv.into_iter();
    if let Some(argv0) = args.next() {
        out.push(argv0);
    }
    let mut value_next = false;
    let mut rest = false;
    for arg in args {
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
}

impl Error {
    /// The exit code of `mailpipe(7)` for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 64,
            Error::Message(_) => 65,
            Error::Input(_) => 74,
            Error::Config(_) => 78,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Message(m) | Error::Config(m) => f.write_str(m),
            Error::Input(e) => write!(f, "reading the message: {}", strip_os_error(e)),
        }
    }
}

impl std::error::Error for Error {}

fn strip_os_error(e: &io::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" (os error ") {
        Some(i) if msg.ends_with(')') => msg[..i].to_owned(),
        _ => msg,
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
    match &parse_addresses(trimmed.as_bytes(), hostname).map_err(|e| Error::Usage(format!("-f: {e}")))?[..] {
        [one] => Ok(ReversePath::Mailbox(one.clone())),
        _ => Err(Error::Usage(format!("-f: want one address, got {trimmed:?}"))),
    }
}

/// Parses a RECIPIENT argument: one address or a comma-separated list.
pub fn parse_recipient_arg(arg: &str, hostname: &str) -> Result<Vec<Mailbox>, Error> {
    let list = parse_addresses(arg.as_bytes(), hostname)
        .map_err(|e| Error::Usage(format!("recipient {arg:?}: {e}")))?;
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
// Header fixes: Date, Message-ID, display names

/// RFC 5322 §3.3 date-time for `t`, in UTC (`+0000`): `Thu, 26 Nov 2026
/// 18:45:00 +0000`. (UTC rather than the local zone: finding the local
/// offset needs the zone database; `+0000` says truthfully that the time is
/// UTC, §3.3.)
pub fn rfc5322_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const WDAY: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        WDAY[days.rem_euclid(7) as usize],
        MON[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic
/// Gregorian (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A new `Message-ID:` value (RFC 5322 §3.6.4): `<time.random@domain>`,
/// 96 random bits from the operating system, so two messages never share
/// one.
pub fn message_id(t: SystemTime, domain: &str) -> String {
    use ring::rand::SecureRandom;
    let mut rnd = [0u8; 12];
    // The system generator does not fail on Linux; if it did, the time in
    // nanoseconds and the process id still make the id unique enough.
    let _ = ring::rand::SystemRandom::new().fill(&mut rnd);
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut id = format!("<{}.{:x}.", d.as_secs(), d.subsec_nanos() ^ std::process::id());
    for b in rnd {
        id.push_str(&format!("{b:02x}"));
    }
    id.push('@');
    id.push_str(domain);
    id.push('>');
    id
}

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
pub const MAX_TEXT_LINE: u64 = 998;

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
                return Err(LongLine { line: self.line_no });
            }
            if self.dot_ends
                && len == 1
                && self.byte_at(chunk, self.line_start) == b'.'
            {
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
            return Err(LongLine { line: self.line_no });
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
                return Err(LongLine { line: self.line_no });
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
    /// This host's name: qualifies addresses without a domain and names the
    /// Message-ID when the sender has no domain.
    pub hostname: String,
    /// The sender when neither `-f` nor the message gives one
    /// (`$USER@hostname`).
    pub default_sender: Option<Mailbox>,
    /// The time for `Date:` and `Message-ID:` (`None`: now).
    pub now: Option<SystemTime>,
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
    /// The message text: the (rewritten) header, then the body.
    pub fn reader(&mut self) -> Box<dyn BufRead + '_> {
        let head = Cursor::new(&self.head[..]);
        match &mut self.body {
            Body::Mem(v) => Box::new(head.chain(&v[..self.body_len as usize])),
            Body::File(f) => Box::new(head.chain(f.take(self.body_len))),
        }
    }

    /// The header as it will be sent (with the line ends it has here).
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

/// A `BufRead` that keeps a copy of every byte consumed (the raw header,
/// for `--verbatim`); the header reader is bounded, so the copy is too.
struct Recorder<R> {
    inner: R,
    rec: Vec<u8>,
}

impl<R: BufRead> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
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

/// Whether `line` (line end included) is sendmail's end-of-input `.` line.
fn is_dot_line(line: &[u8]) -> bool {
    matches!(line, b"." | b".\n" | b".\r\n" | b".\r")
}

/// Prepares one message from `source` (see the module documentation).
///
/// Errors: [`Error::Message`] (65) for a header over the limits, a line
/// over 998 octets, no recipients with `-t`, a malformed address in a
/// field recipients are taken from, no sender; [`Error::Usage`] (64) for no
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
    let (body, body_scan) = if ends_in_head {
        (Body::Mem(Vec::new()), Scan::default())
    } else {
        read_body(rest, opts.dot_ends)?
    };
    let smtputf8 = from.mailbox().is_some_and(|m| !m.is_ascii()) || rcpts.iter().any(|m| !m.is_ascii());
    Ok(Prepared {
        envelope: Envelope {
            from,
            rcpts,
            size: head_scan.wire + body_scan.wire,
            eight_bit: head_scan.eight_bit || body_scan.eight_bit,
            smtputf8,
        },
        head,
        body,
        body_len: body_scan.len,
    })
}

/// The input after the header block.
enum Rest {
    File(BufReader<File>),
    Stream(Box<dyn BufRead>),
}

/// Scans the body; a file is read in place and rewound, a stream spooled.
fn read_body(rest: Rest, dot_ends: bool) -> Result<(Body, Scan), Error> {
    let long = |l: LongLine| {
        Error::Message(format!(
            "line {} of the body is longer than {MAX_TEXT_LINE} octets (RFC 5321 §4.5.3.1.6): not sent",
            l.line
        ))
    };
    let mut scanner = Scanner::new(dot_ends);
    match rest {
        Rest::File(mut reader) => {
            let start = reader.stream_position().map_err(Error::Input)?;
            loop {
                let chunk = match reader.fill_buf() {
                    Ok(c) => c,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::Input(e)),
                };
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
                let chunk = match input.fill_buf() {
                    Ok(c) => c,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::Input(e)),
                };
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
        format!("spooling to a temporary file in {}: {}", std::env::temp_dir().display(), strip_os_error(&e)),
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
        let name = dir.join(format!(".smtp-send.{}.{:x}", std::process::id(), u64::from_ne_bytes(r)));
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
fn field_mailbox(block: &header::Block, name: &str, hostname: &str) -> Result<Option<Mailbox>, Error> {
    let Some(field) = block.get(name.as_bytes()) else {
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
fn envelope_of(block: &header::Block, opts: &PrepareOptions) -> Result<(ReversePath, Vec<Mailbox>), Error> {
    let from = match &opts.from {
        Some(f) => f.clone(),
        None => match field_mailbox(block, "Sender", &opts.hostname)? {
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

/// `-t`: the fields recipients come from: `Resent-To/Cc/Bcc` of the first
/// (most recent, RFC 5322 §3.6.6) block of `Resent-*` fields when there is
/// one, else every `To`, `Cc` and `Bcc`.
fn recipient_fields(block: &header::Block) -> Vec<header::Field<'_>> {
    let is_resent = |f: &header::Field<'_>| f.name.len() > 7 && f.name[..7].eq_ignore_ascii_case(b"Resent-");
    let fields: Vec<header::Field<'_>> = block.fields().collect();
    if let Some(first) = fields.iter().position(is_resent) {
        return fields[first..]
            .iter()
            .take_while(|f| is_resent(f))
            .filter(|f| {
                [&b"Resent-To"[..], b"Resent-Cc", b"Resent-Bcc"]
                    .iter()
                    .any(|n| f.name.eq_ignore_ascii_case(n))
            })
            .copied()
            .collect();
    }
    fields
        .into_iter()
        .filter(|f| [&b"To"[..], b"Cc", b"Bcc"].iter().any(|n| f.name.eq_ignore_ascii_case(n)))
        .collect()
}

/// The header to send: every field but `Bcc:` and `Resent-Bcc:` (RFC 5322
/// §3.6.3: blind copies must not show), then `From:`, `Date:` and
/// `Message-ID:` when missing (§3.6: From and Date are required,
/// Message-ID should be present), the empty line, and the first body line
/// when the input had no empty line before it. CRLF after our lines;
/// folded values keep their own line ends (the client normalises all).
fn rewrite_header(block: &header::Block, opts: &PrepareOptions, from: &ReversePath, ends_in_head: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    for f in block.fields() {
        if f.name.eq_ignore_ascii_case(b"Bcc") || f.name.eq_ignore_ascii_case(b"Resent-Bcc") {
            continue;
        }
        out.extend_from_slice(f.name);
        out.push(b':');
        out.extend_from_slice(f.value);
        out.extend_from_slice(b"\r\n");
    }
    let now = opts.now.unwrap_or_else(SystemTime::now);
    let sender = from.mailbox().or(opts.default_sender.as_ref());
    if block.get(b"From").is_none()
        && let Some(m) = sender
    {
        let line = format!("From: {}\r\n", display_mailbox(opts.full_name.as_deref(), &m.to_string()));
        out.extend_from_slice(line.as_bytes());
    }
    if block.get(b"Date").is_none() {
        out.extend_from_slice(format!("Date: {}\r\n", rfc5322_date(now)).as_bytes());
    }
    if block.get(b"Message-ID").is_none() {
        let domain = from
            .mailbox()
            .or(opts.default_sender.as_ref())
            .map(|m| m.domain.as_str())
            .filter(|d| !d.is_empty())
            .unwrap_or(&opts.hostname);
        out.extend_from_slice(format!("Message-ID: {}\r\n", message_id(now, domain)).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if !ends_in_head && let Some(line) = block.body_start() {
        out.extend_from_slice(line);
    }
    out
}
