//! Building MIME messages (RFC 5322, RFC 2045-2049) from files: the work
//! behind `mime-build`.
//!
//! A [`Spec`] (what the user asked for: header arguments, body files,
//! attachments, options) is checked and turned into a [`Prepared`] message
//! by [`prepare`] before a byte is written: every argument that lands in a
//! header is checked (CR, LF and NUL are refused, so nothing can add a
//! header; addresses must parse strictly), text parts are scanned, content
//! types and transfer encodings chosen, boundaries generated and checked.
//! [`Prepared::write`] then streams the message out; [`Prepared::split`]
//! writes it as RFC 2046 §5.2.2 message/partial pieces
//! ([`Prepared::split_to_files`]: into new files, all or none). [`Files`]
//! turns `mime-build`'s file operands into the spec's leaves.
//!
//! # Choices
//!
//! - Structure: `multipart/mixed` ⊃ `multipart/related` ⊃
//!   `multipart/alternative`, each only when needed: text and HTML make an
//!   alternative (text first, RFC 2046 §5.1.4); inline files make the
//!   body (the HTML or the alternative) the root of a related
//!   (RFC 2387, with its `type` parameter); attachments or ready entities
//!   make a mixed whose first part is the body. `digest` makes the
//!   attachments a `multipart/digest` (RFC 2046 §5.1.5: message/rfc822
//!   members are written without headers).
//! - Content types: a per-file override, else from the file name's
//!   extension (`mime_guess`; `.eml` is message/rfc822), else a sniff:
//!   valid UTF-8 without NUL and with few control characters is
//!   text/plain, anything else application/octet-stream. A file cannot be
//!   given a multipart type, message/partial or message/external-body
//!   (usage error: `--part` takes ready entities); type names are at most
//!   127 characters (RFC 6838 §4.2).
//! - Text charset: `us-ascii` for ASCII, `utf-8` for valid UTF-8, else the
//!   per-file charset or [`Options::charset`], looked up and written by
//!   its MIME name (`latin1` → `ISO-8859-1`). Without one: the text and
//!   HTML bodies are a data error; an attachment whose text type was
//!   guessed goes as application/octet-stream (its bytes intact, no
//!   reader takes them for US-ASCII), one whose type was given is a data
//!   error. [`Options::to_charset`] converts UTF-8 bodies to another
//!   charset.
//! - Transfer encodings: [`codec::choose`] on a streaming scan of each
//!   text and message part; other parts are base64-encoded in one pass
//!   without a scan. Text in 7bit or 8bit has its line ends normalised
//!   (LF or CRLF in, the output's line end out); base64 text is sent as
//!   its bytes are. message/* is 7bit, or 8bit with
//!   [`Options::eight_bit`]; a message file that can be neither goes as
//!   application/octet-stream in base64, a ready entity that can be
//!   neither is an error. Nothing is `binary` (no BINARYMIME).
//! - Inputs are read twice (scan, then write): what is not a regular file
//!   is spooled once ([`Source::file`]); a reopened file gives exactly the
//!   bytes its scan saw.
//! - File names: the last component (of a `name=` override too, cut at
//!   `/` and `\`); bytes that are not UTF-8 read as windows-1252
//!   ([`file_name_text`]).
//! - Boundaries: `=_` plus 26 random letters and digits. `=_` cannot occur
//!   in base64 or quoted-printable output, and every part that goes out
//!   as it is (7bit, 8bit, ready entities) is scanned for lines
//!   starting with `--` and a boundary; on a match all boundaries are
//!   drawn again (RFC 2046 §5.1.1).
//! - Randomness (boundaries, Message-ID) comes from the standard library's
//!   `RandomState`, whose SipHash keys are drawn from the operating
//!   system's random source, hashed with a counter, the time and the pid.
//! - Header fields: From, To, Cc, Bcc, Reply-To, Subject, Date,
//!   Message-ID, the `-H` fields in order, MIME-Version, then the body's
//!   Content-* fields. Bcc is written (as `mutt` and `msmtp` expect): the
//!   sender (`smtp-send -t`) reads it and removes it. Date is UTC (see
//!   [`date`]); the Message-ID's domain is From's, else the host name.
//!   Content-*, MIME-Version fields cannot be given with `-H`; Date and
//!   Message-ID given with `-H` replace ours. Structured `-H` values are
//!   checked: addresses (From, Sender, Reply-To, To, Cc, Bcc, Resent-*),
//!   dates ([`date::normalize`]: written again), message ids (Message-ID,
//!   In-Reply-To, References: `<id@domain>` lists); Content-IDs must be
//!   msg-ids (or a bare dot-atom id). No line is over 998 octets
//!   (RFC 5322 §2.1.1): a word too long for a line is encoded, local
//!   parts over 64 and domains over 255 octets are refused (RFC 5321
//!   §4.5.3.1).
//! - Nothing half-written: all inputs are opened, scanned and checked
//!   before writing. A read error after that (a file that shrank or
//!   vanished) stops with an I/O error and a truncated message.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::codec::{
    self, DecodeError, DecodeErrorKind, PartKind, Rules, Summary, TransferEncoding, base64,
    charset, encoded_word, qp,
};
use crate::limits::IO_BUF;
use crate::message::address::{self, Address, Mailbox};
use crate::message::mime::{ContentType, FieldWriter};
use crate::message::{date, header};

/// Column header fields are folded at (RFC 5322 §2.1.1): the crate's one
/// fold width.
use encoded_word::FOLD_WIDTH as WIDTH;

/// Bytes looked at to sniff a file of unknown type.
const SNIFF: usize = 64 * 1024;

/// Random characters in a boundary (after `=_`): 26 of 62 symbols is
/// 154 bits, and the boundary stays well under 70 characters (RFC 2046
/// §5.1.1).
const BOUNDARY_RANDOM: usize = 26;

/// Progress is shown only for inputs larger than this.
const PROGRESS_MIN: u64 = 64 * 1024 * 1024;

/// Why a message cannot be built.
#[derive(Debug)]
pub enum Error {
    /// An argument that would break the message (exit 64): a line break
    /// in a header argument, a malformed address, a bad override.
    Usage(String),
    /// An input that cannot be encoded as asked (exit 65): text that is
    /// not UTF-8 without a charset, a character the target lacks.
    Data(String, DecodeError),
    /// An input that cannot be sent as it is (exit 65): a ready entity
    /// that is not 7bit (or 8bit with [`Options::eight_bit`]), a `--part`
    /// file that is not a MIME entity.
    Invalid(String),
    /// Reading an input or writing the output failed.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
            Error::Data(what, e) => write!(f, "{what}: {e}"),
            Error::Invalid(m) => f.write_str(m),
            Error::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    // Transparent for I/O: `{:#}` never repeats the cause.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => e.source(),
            _ => None,
        }
    }
}

impl crate::exit::Status for Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => crate::exit::USAGE,
            Error::Data(..) | Error::Invalid(_) => crate::exit::DATAERR,
            Error::Io(e) => crate::io::exit_code(e),
        }
    }

    fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// The error for `anyhow` (which [`cli`](crate::cli) maps: usage 64,
    /// data 65, I/O 74).
    pub fn into_anyhow(self) -> anyhow::Error {
        anyhow::Error::from(self)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

// ------------------------------------------------------------ randomness

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 unpredictable bits (see the module docs).
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(now);
    h.write_u32(std::process::id());
    h.finish()
}

const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random letters and digits.
fn random_alnum(n: usize) -> String {
    let mut s = String::with_capacity(n);
    let mut bits = random_u64();
    let mut left = 10; // 10 symbols of 6 bits per u64 (62/64 use is fine)
    while s.len() < n {
        if left == 0 {
            bits = random_u64();
            left = 10;
        }
        s.push(char::from(ALNUM[(bits & 63) as usize % 62]));
        bits >>= 6;
        left -= 1;
    }
    s
}

/// A fresh multipart boundary: `=_` and random characters (module docs).
pub fn boundary() -> String {
    format!("=_{}", random_alnum(BOUNDARY_RANDOM))
}

/// A unique `<id@domain>` for Message-ID: time, pid, a counter and
/// randomness.
pub fn message_id(domain: &str) -> String {
    format!(
        "<{}.{}.{}.{}@{domain}>",
        base36(date::unix_now().max(0) as u64),
        base36(u64::from(std::process::id())),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        random_alnum(12)
    )
}

fn base36(mut n: u64) -> String {
    let mut d = Vec::new();
    loop {
        d.push(ALNUM[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    d.reverse();
    String::from_utf8(d)
        .unwrap_or_default()
        .to_ascii_lowercase()
}

// ---------------------------------------------------------------- sources

type Opener = Box<dyn FnMut() -> io::Result<Box<dyn BufRead>>>;

enum SourceKind {
    Bytes(Vec<u8>),
    Spool(File),
    Reopen(Opener),
}

/// Where a part's content comes from. Content is read once to scan it
/// (text) and once to encode it, so a source can be opened again: a
/// regular file is reopened ([`Source::reopen`]); a pipe, FIFO, terminal
/// or standard input can be read only once and is copied to a temporary
/// file first ([`Source::spool`]).
pub struct Source {
    kind: SourceKind,
    len: Option<u64>,
    /// The length a scan found: later reads of a reopened file give
    /// exactly these bytes, so that what is written is what was checked
    /// (a file that grows meanwhile cannot bring in a boundary line; one
    /// that shrinks is an I/O error).
    scanned: Option<u64>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Content held in memory.
    pub fn bytes(data: impl Into<Vec<u8>>) -> Source {
        let data = data.into();
        Source {
            len: Some(data.len() as u64),
            kind: SourceKind::Bytes(data),
            scanned: None,
        }
    }

    /// Content that `open` gives afresh each time it is called: a regular
    /// file the caller has already checked it can open (anything else can
    /// be read once only: [`spool`](Self::spool) it); `len` is its size if
    /// known (for progress).
    pub fn reopen(
        len: Option<u64>,
        open: impl FnMut() -> io::Result<Box<dyn BufRead>> + 'static,
    ) -> Source {
        Source {
            kind: SourceKind::Reopen(Box::new(open)),
            len,
            scanned: None,
        }
    }

    /// The file at `path`, opened with `open` (`-` is standard input, for
    /// `open` to give): a regular file is opened again for each read
    /// ([`reopen`](Self::reopen)); anything else (standard input, a pipe,
    /// a FIFO, a device) can be read once only and is spooled. `open`'s
    /// errors are returned as they are.
    pub fn file(
        path: &Path,
        open: impl Fn(&Path) -> anyhow::Result<Box<dyn BufRead>> + 'static,
    ) -> anyhow::Result<Source> {
        let input = open(path)?;
        Ok(match std::fs::metadata(path) {
            Ok(m) if m.is_file() && path.as_os_str() != "-" => {
                let path = path.to_owned();
                Source::reopen(Some(m.len()), move || {
                    open(&path).map_err(|e| io::Error::other(format!("{e:#}")))
                })
            }
            _ => Source::spool(input).map_err(|e| anyhow::Error::from(e).context(label(path)))?,
        })
    }

    /// Copies `input` (standard input, a pipe, a FIFO: anything that is not
    /// a regular file) to an unnamed temporary file, so that it can be read
    /// twice in constant memory.
    pub fn spool(mut input: impl Read) -> io::Result<Source> {
        let mut file = temp_file()?;
        let len = io::copy(&mut input, &mut file)?;
        Ok(Source {
            kind: SourceKind::Spool(file),
            len: Some(len),
            scanned: None,
        })
    }

    /// The content's size, when known.
    pub fn len(&self) -> Option<u64> {
        self.len
    }

    /// Whether the content is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len == Some(0)
    }

    fn open(&mut self) -> io::Result<Box<dyn BufRead + '_>> {
        Ok(match &mut self.kind {
            SourceKind::Bytes(b) => Box::new(&b[..]),
            SourceKind::Spool(f) => {
                f.seek(SeekFrom::Start(0))?;
                Box::new(BufReader::with_capacity(IO_BUF, &*f))
            }
            SourceKind::Reopen(open) => match self.scanned {
                Some(n) => Box::new(Exact(open()?.take(n))),
                None => open()?,
            },
        })
    }
}

/// Exactly the bytes a [`Take`](io::Take) allows: ending early (the file
/// shrank since it was scanned) is an error, not a short part.
struct Exact(io::Take<Box<dyn BufRead>>);

impl Exact {
    fn check(&mut self) -> io::Result<()> {
        if self.0.limit() > 0 && self.0.fill_buf()?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was read",
            ));
        }
        Ok(())
    }
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        self.0.read(buf)
    }
}

impl BufRead for Exact {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check()?;
        self.0.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.0.consume(n);
    }
}

/// An unnamed read-write temporary file (0600 in the temporary directory,
/// unlinked at once).
fn temp_file() -> io::Result<File> {
    crate::io::temp::unlinked_temp(&std::env::temp_dir())
}

// ---------------------------------------------------------------- scanning

/// A streaming scan of content: the [`Summary`] for [`codec::choose`],
/// and whether a line starts with `--` and one of the boundaries.
struct Scanner<'b> {
    sum: Summary,
    boundaries: &'b [String],
    collision: bool,
    line: u64,
    qp_line: u64,
    prev_cr: bool,
    head: Vec<u8>,
    utf8_carry: Vec<u8>,
    /// Offset and value of the first byte that is not UTF-8.
    bad_utf8: Option<(u64, u8)>,
    /// Bytes of the current block that completed the carry.
    utf8_skipped: usize,
}

/// Bytes of a line kept to compare with boundaries: `--` plus the
/// longest boundary (70, RFC 2046 §5.1.1).
const HEAD: usize = 72;

impl<'b> Scanner<'b> {
    fn new(boundaries: &'b [String]) -> Self {
        Scanner {
            sum: Summary {
                utf8: true,
                ..Summary::default()
            },
            boundaries,
            collision: false,
            line: 0,
            qp_line: 0,
            prev_cr: false,
            head: Vec::with_capacity(HEAD),
            utf8_carry: Vec::with_capacity(4),
            bad_utf8: None,
            utf8_skipped: 0,
        }
    }

    fn end_line(&mut self) {
        let len = self.line - u64::from(self.prev_cr);
        self.sum.longest_line = self.sum.longest_line.max(len);
        // Soft line breaks: `=` + line end per 75 encoded characters.
        let soft = self.qp_line.saturating_sub(1) / 75 * 2;
        self.sum.qp_len += self.qp_line + soft + 1;
        if self.head.starts_with(b"--")
            && self
                .boundaries
                .iter()
                .any(|b| self.head[2..].starts_with(b.as_bytes()))
        {
            self.collision = true;
        }
        self.head.clear();
        self.line = 0;
        self.qp_line = 0;
    }

    fn utf8(&mut self, mut data: &[u8]) {
        if !self.sum.utf8 {
            return;
        }
        if !self.utf8_carry.is_empty() {
            let width = match self.utf8_carry[0] {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - self.utf8_carry.len()).min(data.len());
            self.utf8_carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.utf8_skipped = take;
            if self.utf8_carry.len() < width {
                return;
            }
            if std::str::from_utf8(&self.utf8_carry).is_err() {
                self.sum.utf8 = false;
                let at = self.sum.len - (self.utf8_carry.len() - take) as u64;
                self.bad_utf8 = Some((at, self.utf8_carry[0]));
                return;
            }
            self.utf8_carry.clear();
        }
        if let Err(e) = std::str::from_utf8(data) {
            if e.error_len().is_some() {
                self.sum.utf8 = false;
                let at = self.sum.len + (self.utf8_skipped + e.valid_up_to()) as u64;
                self.bad_utf8 = Some((at, data[e.valid_up_to()]));
            } else {
                self.utf8_carry.extend_from_slice(&data[e.valid_up_to()..]);
            }
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.utf8_skipped = 0;
        self.utf8(data);
        self.sum.len += data.len() as u64;
        for &b in data {
            if b == b'\n' {
                self.end_line();
                self.prev_cr = false;
                continue;
            }
            if self.prev_cr {
                self.sum.bare_cr += 1;
            }
            self.prev_cr = b == b'\r';
            if self.head.len() < HEAD {
                self.head.push(b);
            }
            self.line += 1;
            self.qp_line += match b {
                b'\t' | b' ' => 1,
                b'=' => 3,
                0 => {
                    self.sum.nul += 1;
                    3
                }
                b'\r' => 3,
                0x01..=0x1F | 0x7F => 3,
                0x80..=0xFF => {
                    self.sum.eight_bit += 1;
                    3
                }
                _ => 1,
            };
        }
    }

    fn finish(mut self) -> (Summary, bool, Option<(u64, u8)>) {
        if self.prev_cr {
            self.sum.bare_cr += 1;
            self.prev_cr = false;
        }
        if self.line > 0 {
            self.end_line();
            // No line end was there to encode.
            self.sum.qp_len -= 1;
        }
        if !self.utf8_carry.is_empty() && self.sum.utf8 {
            self.sum.utf8 = false;
            let at = self.sum.len - self.utf8_carry.len() as u64;
            self.bad_utf8 = Some((at, self.utf8_carry[0]));
        }
        (self.sum, self.collision, self.bad_utf8)
    }
}

type Scan = (Summary, bool, Option<(u64, u8)>);

fn scan(source: &mut Source, boundaries: &[String]) -> io::Result<Scan> {
    let mut input = source.open()?;
    let mut s = Scanner::new(boundaries);
    loop {
        let block = input.fill_buf()?;
        if block.is_empty() {
            break;
        }
        let n = block.len();
        s.update(block);
        input.consume(n);
    }
    drop(input);
    let scan = s.finish();
    source.scanned = Some(scan.0.len);
    Ok(scan)
}

/// Whether the start of a file looks like binary data: a NUL, invalid
/// UTF-8 (a character cut at the end is fine), or more than 1 % control
/// characters other than TAB, LF, CR, FF and ESC.
fn looks_binary(head: &[u8]) -> bool {
    if memchr::memchr(0, head).is_some() {
        return true;
    }
    if let Err(e) = std::str::from_utf8(head)
        && (e.error_len().is_some() || head.len() - e.valid_up_to() > 3)
    {
        return true;
    }
    let controls = head
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)) || b == 0x7F)
        .count();
    controls * 100 > head.len()
}

fn sniff(source: &mut Source) -> io::Result<bool> {
    let mut input = source.open()?;
    let mut head = Vec::with_capacity(SNIFF);
    input.by_ref().take(SNIFF as u64).read_to_end(&mut head)?;
    Ok(looks_binary(&head))
}

// ---------------------------------------------------------------- the spec

/// One file to put in the message, with its per-file overrides.
#[derive(Debug)]
pub struct Leaf {
    /// The content.
    pub source: Source,
    /// How messages name the input (`report.pdf`, `stdin`).
    pub label: String,
    /// The file name written in `filename`/`name` parameters.
    pub filename: Option<String>,
    /// A `type/subtype` that replaces the guessed one.
    pub content_type: Option<String>,
    /// `inline` or `attachment`, replacing the default.
    pub disposition: Option<String>,
    /// The Content-ID (without `<>`), for inline files.
    pub cid: Option<String>,
    /// The charset of this text file.
    pub charset: Option<String>,
}

impl Leaf {
    /// A leaf with no overrides.
    pub fn new(source: Source, label: impl Into<String>, filename: Option<String>) -> Leaf {
        Leaf {
            source,
            label: label.into(),
            filename,
            content_type: None,
            disposition: None,
            cid: None,
            charset: None,
        }
    }

    /// Applies the overrides of an [`Operand`].
    pub fn with_overrides(mut self, op: &Operand) -> Leaf {
        if op.name.is_some() {
            self.filename.clone_from(&op.name);
        }
        self.content_type.clone_from(&op.content_type);
        self.disposition.clone_from(&op.disposition);
        self.cid.clone_from(&op.cid);
        self.charset.clone_from(&op.charset);
        self
    }
}

/// An attachment operand: a file and its overrides.
#[derive(Debug)]
pub enum Item {
    /// A file to encode as a part.
    Leaf(Leaf),
    /// A ready MIME entity (header block and body), copied as it is.
    Entity(Leaf),
}

/// Options that are not parts or header fields (`mime-build`'s, with
/// their help text).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Charset of text input that is not UTF-8.
    #[arg(long, value_name = "CS")]
    pub charset: Option<String>,
    /// Convert the UTF-8 text and HTML bodies to charset CS.
    #[arg(long, value_name = "CS")]
    pub to_charset: Option<String>,
    /// Send 8-bit text and messages as 8bit (the transport has 8BITMIME).
    #[arg(long = "8bit")]
    pub eight_bit: bool,
    /// Base64 for every part except message/*.
    #[arg(long)]
    pub binary_safe: bool,
    /// Write CRLF line ends (the wire form).
    #[arg(long)]
    pub crlf: bool,
    /// Boundaries to use before random ones (tests).
    #[doc(hidden)]
    #[arg(skip)]
    pub boundaries: Vec<String>,
}

/// The file operands of `mime-build` (with their help text), before they
/// are opened: each is `FILE` or `FILE;key=value;…` ([`parse_operand`]),
/// `-` for standard input.
#[derive(Debug, Default, clap::Args)]
pub struct Files {
    /// Text body from FILE (- is stdin). Default: stdin when nothing else is given.
    #[arg(long, value_name = "FILE")]
    pub text: Option<OsString>,
    /// HTML body from FILE (with --text: multipart/alternative).
    #[arg(long, value_name = "FILE")]
    pub html: Option<OsString>,
    /// File the HTML shows inline (FILE;cid=ID sets the Content-ID); repeatable.
    #[arg(long, value_name = "FILE")]
    pub inline: Vec<OsString>,
    /// Ready MIME entity (header block and body) to insert as a part; repeatable.
    #[arg(long = "part", value_name = "FILE")]
    pub entities: Vec<OsString>,
    /// Files to attach, each with optional overrides: FILE;type=T;name=N;disposition=inline;charset=CS.
    pub attachments: Vec<OsString>,
}

impl Files {
    /// Every operand, in the order they are opened.
    fn all(&self) -> impl Iterator<Item = &OsString> {
        (self.text.iter().chain(&self.html).chain(&self.inline))
            .chain(&self.attachments)
            .chain(&self.entities)
    }

    /// Applies `mime-build`'s rules: standard input (`-`) may be read
    /// once only; with no HTML body, attachment or entity the text body
    /// is standard input.
    pub fn settle(&mut self) -> Result<(), Error> {
        let stdin = |op: &&OsString| op.as_bytes().split(|&b| b == b';').next() == Some(b"-");
        if self.all().filter(stdin).count() > 1 {
            return Err(usage("standard input (-) can be used only once"));
        }
        if self.text.is_none()
            && self.html.is_none()
            && self.attachments.is_empty()
            && self.entities.is_empty()
        {
            self.text = Some("-".into());
        }
        Ok(())
    }

    /// [`settle`](Self::settle)s the operands, parses them and puts them
    /// into `spec` as leaves, each file's content from `open` (see
    /// [`Source::file`]).
    pub fn open_into(
        mut self,
        spec: &mut Spec,
        mut open: impl FnMut(&Path) -> anyhow::Result<Source>,
    ) -> anyhow::Result<()> {
        self.settle().map_err(Error::into_anyhow)?;
        let mut leaf = |arg: &OsString| -> anyhow::Result<Leaf> {
            let op = parse_operand(arg, |p| p.exists()).map_err(Error::into_anyhow)?;
            let source = open(&op.path)?;
            Ok(Leaf::new(source, label(&op.path), basename(&op.path)).with_overrides(&op))
        };
        spec.text = self.text.as_ref().map(&mut leaf).transpose()?;
        spec.html = self.html.as_ref().map(&mut leaf).transpose()?;
        for f in &self.inline {
            spec.inline.push(leaf(f)?);
        }
        for f in &self.attachments {
            spec.parts.push(Item::Leaf(leaf(f)?));
        }
        for f in &self.entities {
            spec.parts.push(Item::Entity(leaf(f)?));
        }
        Ok(())
    }
}

/// How messages name an input: `-` is `stdin`.
fn label(path: &Path) -> String {
    match path.as_os_str() == "-" {
        true => "stdin".to_owned(),
        false => path.display().to_string(),
    }
}

/// Everything `mime-build` was asked for.
#[derive(Debug, Default)]
pub struct Spec {
    /// `-f`: the From address.
    pub from: Option<String>,
    /// `-t`: To addresses (each value may be a list).
    pub to: Vec<String>,
    /// `-c`: Cc addresses.
    pub cc: Vec<String>,
    /// `-b`: Bcc addresses.
    pub bcc: Vec<String>,
    /// `-r`: Reply-To addresses.
    pub reply_to: Vec<String>,
    /// `-s`: the subject.
    pub subject: Option<String>,
    /// `-H`: extra fields `Name: value`.
    pub fields: Vec<String>,
    /// The text body.
    pub text: Option<Leaf>,
    /// The HTML body.
    pub html: Option<Leaf>,
    /// Files the HTML refers to by Content-ID.
    pub inline: Vec<Leaf>,
    /// Attachments and ready entities, in order.
    pub parts: Vec<Item>,
    /// Put the attachments in a multipart/digest.
    pub digest: bool,
    /// Write only a MIME entity, without message header fields.
    pub entity: bool,
    /// Everything else.
    pub options: Options,
}

/// A parsed attachment operand `FILE;key=value;…` (see [`parse_operand`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operand {
    /// The file (`-` is standard input).
    pub path: PathBuf,
    /// `type=`: the content type.
    pub content_type: Option<String>,
    /// `name=`: the file name to send.
    pub name: Option<String>,
    /// `disposition=`: `inline` or `attachment`.
    pub disposition: Option<String>,
    /// `cid=`: the Content-ID.
    pub cid: Option<String>,
    /// `charset=`: the charset of a text file.
    pub charset: Option<String>,
}

const KEYS: [&str; 5] = ["type", "name", "disposition", "cid", "charset"];

/// Splits `FILE;type=…;name=…;disposition=…;cid=…;charset=…`. An operand
/// naming an existing file (`exists`) is that file, `;` and all;
/// otherwise the file is what comes before the first `;key=`. The file
/// name may be any bytes; a `name=` value that is not UTF-8 is read as
/// [`file_name_text`] reads names; other values must be UTF-8.
pub fn parse_operand(
    arg: impl AsRef<OsStr>,
    exists: impl Fn(&Path) -> bool,
) -> Result<Operand, Error> {
    let arg = arg.as_ref();
    let bytes = arg.as_bytes();
    let first = KEYS
        .iter()
        .filter_map(|k| memchr::memmem::find(bytes, format!(";{k}=").as_bytes()))
        .min();
    let Some(at) = first.filter(|_| !exists(Path::new(arg))) else {
        return Ok(Operand {
            path: PathBuf::from(arg),
            ..Operand::default()
        });
    };
    let shown = String::from_utf8_lossy(bytes);
    let shown = Shown(&shown);
    let mut op = Operand {
        path: PathBuf::from(OsStr::from_bytes(&bytes[..at])),
        ..Operand::default()
    };
    for kv in bytes[at + 1..].split(|&b| b == b';') {
        let eq = memchr::memchr(b'=', kv).unwrap_or(kv.len());
        let (k, v) = (&kv[..eq], kv.get(eq + 1..).unwrap_or_default());
        let slot = match k {
            b"type" => &mut op.content_type,
            b"name" => &mut op.name,
            b"disposition" => &mut op.disposition,
            b"cid" => &mut op.cid,
            b"charset" => &mut op.charset,
            _ => {
                let k = String::from_utf8_lossy(k);
                return Err(usage(format!("{shown:?}: unknown override {k:?}")));
            }
        };
        *slot = Some(match std::str::from_utf8(v) {
            Ok(v) => v.to_owned(),
            Err(_) if k == b"name" => file_name_text(v),
            Err(_) => {
                let k = String::from_utf8_lossy(k);
                return Err(usage(format!("{shown:?}: {k}= is not UTF-8")));
            }
        });
    }
    // Only the last component of a name is sent, whichever separator a
    // reader's system uses: `name=../../etc/passwd` must not tell a
    // careless reader where to write.
    if let Some(n) = &mut op.name {
        let base = n.rsplit(['/', '\\']).next().unwrap_or("");
        if matches!(base, "" | "." | "..") {
            return Err(usage(format!(
                "{shown:?}: name={:?} has no file name",
                Shown(n)
            )));
        }
        *n = base.to_owned();
    }
    if let Some(d) = &op.disposition
        && !matches!(&d.to_ascii_lowercase()[..], "inline" | "attachment")
    {
        return Err(usage(format!(
            "{shown:?}: disposition must be inline or attachment"
        )));
    }
    Ok(op)
}

/// The last component of `path` as text (`None` for `-` and paths ending
/// in `..`), read by [`file_name_text`].
pub fn basename(path: &Path) -> Option<String> {
    if path.as_os_str() == "-" {
        return None;
    }
    path.file_name().map(|n| file_name_text(n.as_bytes()))
}

/// A file name's bytes as text: UTF-8 where they are valid UTF-8, and
/// every other byte as the windows-1252 character it is (the superset of
/// ISO-8859-1 that such names are nearly always in: `lat\xe9.txt` is
/// `laté.txt`). Nothing is lost to U+FFFD, and valid UTF-8 names are
/// untouched.
pub fn file_name_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).min(bad.len());
                for b in bad[..n].chunks(1) {
                    let (c, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(b);
                    out.push_str(&c);
                }
                rest = &bad[n..];
            }
        }
    }
    out
}

// ---------------------------------------------------------------- headers

/// An argument quoted for an error message, cut after 60 characters: a
/// 2000-character argument need not be repeated whole.
struct Shown<'a>(&'a str);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(60) {
            Some((at, _)) => write!(f, "{:?}…", &self.0[..at]),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// Refuses CR, LF and NUL in an argument that lands in a header.
fn check_arg(what: &str, value: &str) -> Result<(), Error> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(usage(format!(
            "{what} {:?}: contains a line break or NUL",
            Shown(value)
        )));
    }
    Ok(())
}

/// RFC 5322 §3.2.3 `atext`, ASCII only (RFC 6532's UTF-8 is not for
/// what we write unencoded).
fn is_atext(b: u8) -> bool {
    b.is_ascii() && address::is_atext(b)
}

/// Header-field layout: pieces separated by a space, folded before a
/// piece that would pass [`WIDTH`].
struct Line {
    out: String,
    col: usize,
}

impl Line {
    fn new(name: &str) -> Line {
        Line {
            out: format!("{name}:"),
            col: name.len() + 1,
        }
    }

    fn piece(&mut self, p: &str) {
        if self.col + 1 + p.len() > WIDTH && self.col > 1 {
            self.out.push_str("\n ");
            self.col = 1;
        } else {
            self.out.push(' ');
            self.col += 1;
        }
        self.out.push_str(p);
        self.col += p.len();
    }
}

/// Longest piece of an address field: a folded line holds a space, the
/// piece and the `,` or `:` after it within [`WIDTH`].
const MAX_PIECE: usize = WIDTH - 2;

/// The pieces of a display name (runs of white space become one space):
/// atoms as they are; a quoted string when it has specials; when it is
/// not printable ASCII (or holds `=?`), RFC 2047 words for the runs of
/// words that need them, the other words plain (as `encoded_word::encode`
/// does), so that adjacent encoded-words, which Python's address parser
/// joins with a space against RFC 2047 §6.2, only occur for runs longer
/// than one word. All of it is encoded when a plain word has specials,
/// and when a piece would not fit on a folded line (RFC 5322 §2.1.1: a
/// 2000-character word would make a 2000-octet line).
fn phrase(name: &str) -> Vec<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let fits = |p: &String| p.len() <= MAX_PIECE;
    let printable = name.bytes().all(|b| (b' '..=b'~').contains(&b)) && !name.contains("=?");
    if !printable {
        if let Ok(enc) =
            encoded_word::encode(name.as_bytes(), &charset::Target::UTF_8, Default::default())
        {
            let pieces: Vec<String> = enc.split(' ').map(str::to_owned).collect();
            let plain_ok = |p: &String| p.starts_with("=?") || p.bytes().all(is_atext);
            if pieces.iter().all(|p| plain_ok(p) && fits(p)) {
                return pieces;
            }
        }
    } else if name
        .split(' ')
        .all(|w| !w.is_empty() && w.bytes().all(is_atext))
    {
        let pieces: Vec<String> = name.split(' ').map(str::to_owned).collect();
        if pieces.iter().all(fits) {
            return pieces;
        }
    } else {
        let mut q = String::from("\"");
        for c in name.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        if fits(&q) {
            return vec![q];
        }
    }
    encoded_word::encode_words(
        &name,
        &charset::Target::UTF_8,
        encoded_word::Method::B,
        0,
        None,
    )
    .map(|w| w.split(' ').map(str::to_owned).collect())
    .unwrap_or_default() // UTF-8 represents every character
}

/// RFC 5321 §4.5.3.1.1-2: at most 64 octets of local part and 255 of
/// domain, so that every address can be delivered (and a field line stays
/// well under 998 octets).
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 255;

fn check_mailbox(m: &Mailbox, what: &str, v: &str) -> Result<(), Error> {
    let Some((local, domain)) = m.addr.rsplit_once('@') else {
        return Err(usage(format!(
            "{what} {:?}: address without a domain",
            Shown(v)
        )));
    };
    if local.len() > MAX_LOCAL {
        return Err(usage(format!(
            "{what} {:?}: local part longer than {MAX_LOCAL} octets (RFC 5321)",
            Shown(v)
        )));
    }
    if domain.len() > MAX_DOMAIN {
        return Err(usage(format!(
            "{what} {:?}: domain longer than {MAX_DOMAIN} octets (RFC 5321)",
            Shown(v)
        )));
    }
    Ok(())
}

fn mailbox_pieces(m: &Mailbox, pieces: &mut Vec<String>) {
    match &m.name {
        Some(n) => {
            pieces.extend(phrase(n));
            pieces.push(format!("<{}>", m.addr));
        }
        None => pieces.push(m.addr.clone()),
    }
}

/// An address field from user arguments: each parsed strictly, so the
/// field holds exactly the mailboxes typed.
fn address_field(name: &str, what: &str, values: &[String]) -> Result<String, Error> {
    let mut items: Vec<Vec<String>> = Vec::new();
    for v in values {
        check_arg(what, v)?;
        let list = address::parse(v.as_bytes())
            .strict()
            .map_err(|d| usage(format!("{what} {:?}: {d} ({})", Shown(v), address::HINT)))?;
        if list.is_empty() {
            return Err(usage(format!("{what} {:?}: no address", Shown(v))));
        }
        for a in list {
            let mut pieces = Vec::new();
            match a {
                Address::Mailbox(m) => {
                    check_mailbox(&m, what, v)?;
                    mailbox_pieces(&m, &mut pieces);
                }
                Address::Group(g) => {
                    let mut head = phrase(&g.name);
                    if let Some(last) = head.last_mut() {
                        last.push(':');
                    }
                    pieces.extend(head);
                    for (k, m) in g.members.iter().enumerate() {
                        check_mailbox(m, what, v)?;
                        mailbox_pieces(m, &mut pieces);
                        if k + 1 < g.members.len()
                            && let Some(last) = pieces.last_mut()
                        {
                            last.push(',');
                        }
                    }
                    match pieces.last_mut() {
                        Some(last) if !g.members.is_empty() => last.push(';'),
                        _ => pieces.push(";".to_owned()),
                    }
                }
            }
            items.push(pieces);
        }
    }
    let mut line = Line::new(name);
    let n = items.len();
    for (k, mut item) in items.into_iter().enumerate() {
        if k + 1 < n
            && let Some(last) = item.last_mut()
        {
            last.push(',');
        }
        for p in item {
            line.piece(&p);
        }
    }
    Ok(line.out)
}

/// Unstructured text as a folded field with RFC 2047 words where needed.
fn text_field(name: &str, what: &str, value: &str) -> Result<String, Error> {
    check_arg(what, value)?;
    encoded_word::encode_field(
        name,
        value.as_bytes(),
        &charset::Target::UTF_8,
        Default::default(),
    )
    .map_err(|e| usage(format!("{what} {:?}: {e}", Shown(value))))
}

/// Fields that may appear once (RFC 5322 §3.6) and that we write.
const ONCE: [&str; 9] = [
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
];

/// The message header fields (without the MIME ones), and the subject
/// text (for split pieces).
fn message_fields(spec: &Spec) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut from_domain = None;
    let std_fields: [(&str, &str, Vec<String>); 5] = [
        ("From", "-f", spec.from.iter().cloned().collect()),
        ("To", "-t", spec.to.clone()),
        ("Cc", "-c", spec.cc.clone()),
        ("Bcc", "-b", spec.bcc.clone()),
        ("Reply-To", "-r", spec.reply_to.clone()),
    ];
    for (name, what, values) in &std_fields {
        if values.is_empty() {
            continue;
        }
        if *name == "From" {
            from_domain = values.first().and_then(|v| domain_of(v));
        }
        out.push(address_field(name, what, values)?);
        seen.push(name.to_ascii_lowercase());
    }
    if let Some(s) = &spec.subject {
        out.push(text_field("Subject", "-s", s)?);
        seen.push("subject".to_owned());
    }
    let mut extra = Vec::new();
    for f in &spec.fields {
        check_arg("-H", f)?;
        let (name, value) = f
            .split_once(':')
            .ok_or_else(|| usage(format!("-H {:?}: not 'Name: value'", Shown(f))))?;
        let name = name.trim_end();
        let value = value.trim_start_matches([' ', '\t']);
        if let Err(e) = encoded_word::field_name(name) {
            return Err(usage(format!("-H {:?}: bad field name: {e}", Shown(f))));
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("content-") || lower == "mime-version" {
            return Err(usage(format!(
                "-H {:?}: {name} is written by mime-build",
                Shown(f)
            )));
        }
        if ONCE.contains(&&lower[..]) {
            if seen.contains(&lower) {
                return Err(usage(format!("-H {:?}: {name} given twice", Shown(f))));
            }
            seen.push(lower.clone());
        }
        let bad = |what: &str| usage(format!("-H {:?}: not {what}", Shown(f)));
        let ids = |one: bool| match msg_ids(value) {
            Some(ids) if !one || ids.len() == 1 => {
                let mut line = Line::new(name);
                ids.iter().for_each(|id| line.piece(id));
                Ok(line.out)
            }
            _ => Err(bad(if one {
                "one <id@domain>"
            } else {
                "a list of <id@domain>"
            })),
        };
        if header::is_address_field(name) {
            if lower == "from" {
                from_domain = domain_of(value);
            }
            extra.push(address_field(name, "-H", &[value.to_owned()])?);
        } else if matches!(&lower[..], "date" | "resent-date") {
            // RFC 5322 §3.3, written again in its current form.
            let d = date::normalize(value).ok_or_else(|| bad("an RFC 5322 date-time"))?;
            extra.push(format!("{name}: {d}"));
        } else if matches!(&lower[..], "message-id" | "resent-message-id") {
            extra.push(ids(true)?);
        } else if matches!(&lower[..], "in-reply-to" | "references") {
            extra.push(ids(false)?);
        } else {
            extra.push(text_field(name, "-H", value)?);
        }
    }
    if !seen.iter().any(|s| s == "date") {
        out.push(format!("Date: {}", date::now()));
    }
    if !seen.iter().any(|s| s == "message-id") {
        let domain = from_domain.unwrap_or_else(host_domain);
        out.push(format!("Message-ID: {}", message_id(&domain)));
    }
    out.extend(extra);
    out.push("MIME-Version: 1.0".to_owned());
    for f in &out {
        check_line_length(f)?;
    }
    Ok(out)
}

/// RFC 5322 §3.2.3 `dot-atom-text` (ASCII).
fn is_dot_atom_text(s: &str) -> bool {
    s.split('.')
        .all(|p| !p.is_empty() && p.bytes().all(is_atext))
}

/// RFC 5322 §3.6.4 `id-left "@" id-right` (what stands between `<` and
/// `>`): `dot-atom-text "@" (dot-atom-text / no-fold-literal)`; the
/// obsolete forms are not written.
fn is_msg_id(id: &str) -> bool {
    let Some((left, right)) = id.split_once('@') else {
        return false;
    };
    let literal = |r: &str| {
        r.len() >= 2
            && r.starts_with('[')
            && r.ends_with(']')
            && r[1..r.len() - 1]
                .bytes()
                .all(|b| matches!(b, 33..=90 | 94..=126))
    };
    is_dot_atom_text(left) && (is_dot_atom_text(right) || literal(right))
}

/// The `<id@domain>` of a Message-ID, In-Reply-To or References value
/// (RFC 5322 §3.6.4: msg-ids separated by white space; no comments).
fn msg_ids(value: &str) -> Option<Vec<&str>> {
    let mut ids = Vec::new();
    let mut rest = value.trim_matches([' ', '\t']);
    while !rest.is_empty() {
        let end = rest.find('>')?;
        let id = rest.strip_prefix('<')?.get(..end - 1)?;
        if !is_msg_id(id) {
            return None;
        }
        ids.push(&rest[..=end]);
        rest = rest[end + 1..].trim_start_matches([' ', '\t']);
    }
    (!ids.is_empty()).then_some(ids)
}

/// The MIME name of a charset label (`latin1` → `ISO-8859-1`,
/// `sjis` → `Shift_JIS`): the name the encoder writes in encoded-words
/// ([`charset::target`]), else, for charsets that can only be read
/// (UTF-16, UTF-7), the decoder's. Unknown labels are a usage error.
fn charset_name(what: &str, label: &str) -> Result<String, Error> {
    let name = match charset::target(label.as_bytes()) {
        Ok(t) => Some(t.name()),
        Err(_) => match charset::find(label.as_bytes()) {
            Some(charset::Charset::Utf16) => Some("UTF-16"),
            Some(charset::Charset::Utf7) => Some("UTF-7"),
            Some(charset::Charset::Encoding(e)) => Some(e.name()),
            None => None,
        },
    };
    name.map(str::to_owned)
        .ok_or_else(|| usage(format!("{what}{:?}: unknown charset", Shown(label))))
}

/// RFC 5322 §2.1.1: "Each line of characters MUST be no more than 998
/// characters". The checks on each argument keep every field within it;
/// this is the last guard, so that no argument can break the rule.
fn check_line_length(field: &str) -> Result<(), Error> {
    if field.split('\n').any(|l| l.len() > 998) {
        let name = field.split(':').next().unwrap_or("");
        return Err(usage(format!(
            "{name}: a line of the field would be longer than 998 octets"
        )));
    }
    Ok(())
}

/// The domain of the first mailbox in `value`, if it is a plain ASCII one
/// (a Message-ID must be ASCII).
fn domain_of(value: &str) -> Option<String> {
    let list = address::parse(value.as_bytes());
    let m = list.mailboxes().next()?;
    let (_, d) = m.addr.rsplit_once('@')?;
    (!d.is_empty()
        && d.bytes()
            .all(|b| is_atext(b) || b == b'.' || b == b'[' || b == b']'))
    .then(|| d.to_owned())
}

fn host_domain() -> String {
    let h = gethostname::gethostname().to_string_lossy().into_owned();
    if !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        h
    } else {
        "localhost".to_owned()
    }
}

// ---------------------------------------------------------------- the tree

#[derive(Debug)]
enum Body {
    Leaf {
        source: Source,
        cte: TransferEncoding,
    },
    Multi {
        boundary: usize,
        preamble: bool,
        parts: Vec<Node>,
    },
    Entity {
        source: Source,
    },
}

/// A node of the MIME tree: its Content-* fields and its body.
#[derive(Debug)]
struct Node {
    headers: Vec<String>,
    body: Body,
    /// For leaves: what the content type is, and its scan.
    info: Option<LeafInfo>,
}

#[derive(Debug)]
struct LeafInfo {
    mtype: String,
    kind: PartKind,
    role: Role,
    filename: Option<String>,
    disposition: Option<String>,
    cid: Option<String>,
    charset: Option<String>,
    label: String,
    summary: Option<Summary>,
    bad_utf8: Option<(u64, u8)>,
    /// Scanned and found a boundary line.
    collision: bool,
    /// The type came from a look at the start of the content.
    sniffed: bool,
    /// The type was given (`type=`), not guessed.
    typed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Body,
    Inline,
    Attachment,
    DigestMember,
    Entity,
}

/// A message ready to be written: every input checked and scanned.
#[derive(Debug)]
pub struct Prepared {
    fields: Vec<String>,
    root: Node,
    boundaries: Vec<String>,
    crlf: bool,
    content_ids: Vec<(String, String)>,
    total: u64,
    subject: Option<String>,
}

fn leaf_node(mut leaf: Leaf, role: Role, opts: &Options) -> Result<Node, Error> {
    for (what, v) in [
        ("name=", &leaf.filename),
        ("type=", &leaf.content_type),
        ("cid=", &leaf.cid),
        ("charset=", &leaf.charset),
    ] {
        if let Some(v) = v {
            check_arg(&format!("{} {what}", leaf.label), v)?;
        }
    }
    let label = leaf.label.clone();
    if let Some(c) = &mut leaf.cid {
        // RFC 2045 §7: a Content-ID is a msg-id (RFC 5322 §3.6.4); the
        // `@domain` may be left out (`cid=logo`, as mailers write and
        // readers take).
        let id = c.trim_start_matches('<').trim_end_matches('>');
        if !(is_dot_atom_text(id) || is_msg_id(id)) {
            return Err(usage(format!(
                "{label}: cid={:?}: not a Content-ID (id or id@domain, letters, digits and !#$%&'*+-/=?^_`{{|}}~)",
                Shown(c)
            )));
        }
        *c = id.to_owned();
    }
    if let Some(cs) = &mut leaf.charset {
        *cs = charset_name(&format!("{label}: charset="), cs)?;
    }
    let typed = leaf.content_type.is_some() && role != Role::Body;
    let sniffed = leaf.content_type.is_none()
        && matches!(role, Role::Attachment | Role::Inline)
        && guess(leaf.filename.as_deref()).is_none();
    let mtype = match (&leaf.content_type, role) {
        (Some(t), _) => {
            let ct = ContentType::parse(t.as_bytes());
            if !ct.params.defects.is_empty() || !ct.params.list.is_empty() || !t.contains('/') {
                return Err(usage(format!(
                    "{label}: type={:?} is not a type/subtype",
                    Shown(t)
                )));
            }
            let essence = ct.essence();
            // RFC 6838 §4.2: type and subtype names are at most 127
            // characters.
            if essence.split('/').any(|n| n.len() > MAX_TYPE_NAME) {
                return Err(usage(format!(
                    "{label}: type={:?}: a type or subtype longer than {MAX_TYPE_NAME} characters",
                    Shown(t)
                )));
            }
            // A file is a leaf: a multipart needs a boundary we would have
            // to find in it, message/partial and message/external-body
            // need parameters (RFC 2046 §5.2.2-5.2.3). Ready entities go
            // in with --part.
            if essence.starts_with("multipart/")
                || matches!(&essence[..], "message/partial" | "message/external-body")
            {
                return Err(usage(format!(
                    "{label}: type={:?} cannot be given to a file (use --part for a ready entity)",
                    Shown(t)
                )));
            }
            essence
        }
        (None, Role::Entity) => {
            check_entity(&mut leaf.source, &label)?;
            String::new()
        }
        (None, Role::DigestMember) => {
            guess(leaf.filename.as_deref()).unwrap_or_else(|| "message/rfc822".to_owned())
        }
        (None, _) => match guess(leaf.filename.as_deref()) {
            Some(t) => t,
            None => {
                if sniff(&mut leaf.source)? {
                    "application/octet-stream".to_owned()
                } else {
                    "text/plain".to_owned()
                }
            }
        },
    };
    let kind = if role == Role::Entity || mtype.starts_with("message/") {
        PartKind::Message
    } else if mtype.starts_with("text/") {
        PartKind::Text
    } else {
        PartKind::Other
    };
    let mut source = leaf.source;
    let mut charset = leaf.charset.clone();
    if kind == PartKind::Text
        && role == Role::Body
        && let Some(to) = &opts.to_charset
    {
        let (converted, name) = convert(source, to, &label)?;
        source = converted;
        charset = Some(name.to_owned());
    }
    Ok(Node {
        headers: Vec::new(),
        body: if role == Role::Entity {
            Body::Entity { source }
        } else {
            Body::Leaf {
                source,
                cte: TransferEncoding::Base64,
            }
        },
        info: Some(LeafInfo {
            mtype,
            kind,
            role,
            filename: leaf.filename,
            disposition: leaf.disposition.map(|d| d.to_ascii_lowercase()),
            cid: leaf.cid,
            charset,
            label,
            summary: None,
            bad_utf8: None,
            collision: false,
            sniffed,
            typed,
        }),
    })
}

/// Checks that a `--part` file is a MIME entity (RFC 2045 §2.4): header
/// fields, then an empty line (or the end). Its fields are copied as they
/// are, so a file that starts with anything else would put its first line
/// where the part's header belongs.
fn check_entity(source: &mut Source, label: &str) -> Result<(), Error> {
    let mut input = source.open()?;
    let not = |why: &str| Error::Invalid(format!("{label}: not a MIME entity: {why}"));
    if input.fill_buf()?.starts_with(b"From ") {
        return Err(not("it starts with an mbox From line"));
    }
    let block = match header::read_block(&mut input) {
        Ok(b) => b,
        Err(crate::message::Error::Io(e)) => return Err(e.into()),
        Err(crate::message::Error::Parse(e)) => return Err(not(&e.to_string())),
    };
    if block.is_empty() {
        return Err(not("no header fields"));
    }
    if block.body_start().is_some() {
        return Err(not("no empty line after the header fields"));
    }
    Ok(())
}

/// Longest type or subtype name (RFC 6838 §4.2 `restricted-name`).
const MAX_TYPE_NAME: usize = 127;

/// The content type for a file name's extension.
fn guess(filename: Option<&str>) -> Option<String> {
    let name = filename?;
    let ext = std::path::Path::new(name).extension()?.to_str()?;
    if ext.eq_ignore_ascii_case("eml") {
        return Some("message/rfc822".to_owned());
    }
    mime_guess::from_ext(ext)
        .first_raw()
        .map(str::to_ascii_lowercase)
        .filter(|t| !t.starts_with("multipart/") && t != "message/partial")
}

/// Converts UTF-8 text to `label` into a temporary file, in blocks split
/// between characters.
fn convert(mut source: Source, label: &str, what: &str) -> Result<(Source, &'static str), Error> {
    let target = charset::target(label.as_bytes())
        .map_err(|e| usage(format!("--to-charset {label:?}: {e}")))?;
    let mut input = source.open()?;
    let mut file = io::BufWriter::with_capacity(IO_BUF, temp_file()?);
    let mut carry: Vec<u8> = Vec::new();
    let mut out = Vec::with_capacity(IO_BUF * 2);
    let mut offset = 0u64;
    let mut len = 0u64;
    loop {
        let block = input.fill_buf()?;
        let eof = block.is_empty();
        carry.extend_from_slice(block);
        let n = block.len();
        input.consume(n);
        let valid = match std::str::from_utf8(&carry) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() && !eof => e.valid_up_to(),
            Err(e) => {
                let at = e.valid_up_to();
                return Err(Error::Data(
                    format!("{what}: --to-charset needs UTF-8 input"),
                    DecodeError {
                        kind: DecodeErrorKind::InvalidByte(carry[at]),
                        offset: offset + at as u64,
                    },
                ));
            }
        };
        let text = std::str::from_utf8(&carry[..valid]).unwrap_or_default();
        out.clear();
        target.encode_into(text, &mut out).map_err(|(c, at)| {
            Error::Data(
                format!("{what}: cannot convert to {}", target.name()),
                DecodeError {
                    kind: DecodeErrorKind::Unmappable(c),
                    offset: offset + at as u64,
                },
            )
        })?;
        file.write_all(&out)?;
        len += out.len() as u64;
        offset += valid as u64;
        carry.drain(..valid);
        if eof {
            break;
        }
    }
    let file = file.into_inner().map_err(|e| e.into_error())?;
    let source = Source {
        kind: SourceKind::Spool(file),
        len: Some(len),
        scanned: None,
    };
    Ok((source, target.name()))
}

fn multi(subtype: &str, parts: Vec<Node>, boundaries: &mut usize, extra: Option<&str>) -> Node {
    let b = *boundaries;
    *boundaries += 1;
    let mut headers = Vec::new();
    // Filled in by `finish_headers` once the boundary is known.
    headers.push(format!("multipart/{subtype}"));
    if let Some(t) = extra {
        headers.push(t.to_owned());
    }
    Node {
        headers,
        body: Body::Multi {
            boundary: b,
            preamble: false,
            parts,
        },
        info: None,
    }
}

/// Checks and scans everything `spec` names and lays out the tree;
/// nothing is written.
pub fn prepare(spec: Spec) -> Result<Prepared, Error> {
    let mut opts = spec.options.clone();
    if let Some(cs) = &opts.charset {
        opts.charset = Some(charset_name("--charset ", cs)?);
    }
    let has_headers = spec.from.is_some()
        || !spec.to.is_empty()
        || !spec.cc.is_empty()
        || !spec.bcc.is_empty()
        || !spec.reply_to.is_empty()
        || spec.subject.is_some()
        || !spec.fields.is_empty();
    if spec.entity && has_headers {
        return Err(usage(
            "--entity writes no message header fields (-f, -t, -s, -H …)",
        ));
    }
    if !spec.inline.is_empty() && spec.html.is_none() {
        return Err(usage("--inline needs --html"));
    }
    if spec.digest && !spec.parts.iter().any(|p| matches!(p, Item::Leaf(_))) {
        return Err(usage(
            "--digest needs files (.eml messages) to put in the digest",
        ));
    }
    let fields = if spec.entity {
        Vec::new()
    } else {
        message_fields(&spec)?
    };
    let subject = spec.subject.clone();
    let mut nb = 0usize;
    let mut total = 0u64;
    let mut add_len = |s: &Source| total += s.len().unwrap_or(0);

    // The body: text, HTML, or both as alternatives; inline files with it.
    let body_leaf = |mut l: Leaf, t: &str| {
        l.content_type.get_or_insert_with(|| t.to_owned());
        leaf_node(l, Role::Body, &opts)
    };
    let text = spec.text.map(|l| body_leaf(l, "text/plain")).transpose()?;
    let html = spec.html.map(|l| body_leaf(l, "text/html")).transpose()?;
    let mut body = match (text, html) {
        (Some(t), Some(h)) => Some(multi("alternative", vec![t, h], &mut nb, None)),
        (t, h) => t.or(h),
    };
    if !spec.inline.is_empty() {
        let root_type = match &body {
            Some(Node { info: Some(i), .. }) => i.mtype.clone(),
            _ => "multipart/alternative".to_owned(),
        };
        let mut parts: Vec<Node> = body.take().into_iter().collect();
        for l in spec.inline {
            parts.push(leaf_node(l, Role::Inline, &opts)?);
        }
        let t = format!("type={root_type}");
        body = Some(multi("related", parts, &mut nb, Some(&t)));
    }
    // Attachments and entities.
    let mut attached = Vec::new();
    for item in spec.parts {
        let (leaf, role) = match item {
            Item::Leaf(l) if spec.digest => (l, Role::DigestMember),
            Item::Leaf(l) => (l, Role::Attachment),
            Item::Entity(l) => (l, Role::Entity),
        };
        attached.push(leaf_node(leaf, role, &opts)?);
    }
    let mut root = if spec.digest && !attached.is_empty() {
        let digest = multi("digest", attached, &mut nb, None);
        match body {
            Some(b) => multi("mixed", vec![b, digest], &mut nb, None),
            None => digest,
        }
    } else if attached.is_empty() {
        match body {
            Some(b) => b,
            None => leaf_node(
                Leaf::new(Source::bytes(Vec::new()), "body", None),
                Role::Body,
                &opts,
            )?,
        }
    } else {
        let mut parts: Vec<Node> = body.into_iter().collect();
        parts.extend(attached);
        multi("mixed", parts, &mut nb, None)
    };
    if let Body::Multi { preamble, .. } = &mut root.body {
        *preamble = !spec.entity;
    }
    visit(&mut root, &mut |n| {
        if let Body::Leaf { source, .. } | Body::Entity { source } = &n.body {
            add_len(source);
        }
    });

    // Boundaries, and the scan of every part that may go out as it is.
    let mut boundaries: Vec<String> = Vec::new();
    let mut preset = opts.boundaries.clone().into_iter();
    let rules = Rules {
        eight_bit: opts.eight_bit,
        binary_safe: opts.binary_safe,
    };
    let mut rounds = 0;
    loop {
        boundaries.clear();
        for _ in 0..nb {
            boundaries.push(preset.next().unwrap_or_else(boundary));
        }
        let mut collided = false;
        let mut failed = None;
        visit(&mut root, &mut |n| {
            if failed.is_none() {
                match scan_node(n, &boundaries, rules, opts.charset.is_some()) {
                    Ok(c) => collided |= c,
                    Err(e) => failed = Some(e),
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        if !collided {
            break;
        }
        rounds += 1;
        if rounds > 64 {
            return Err(Error::Io(io::Error::other("cannot find a boundary")));
        }
    }
    let mut content_ids = Vec::new();
    let domain = domain_from_fields(&fields);
    finish(&mut root, &boundaries, &opts, &domain, &mut content_ids)?;
    Ok(Prepared {
        fields,
        root,
        boundaries,
        crlf: opts.crlf,
        content_ids,
        total,
        subject,
    })
}

fn domain_from_fields(fields: &[String]) -> String {
    fields
        .iter()
        .find_map(|f| {
            let (name, value) = f.split_once(':')?;
            name.eq_ignore_ascii_case("message-id").then_some(value)
        })
        .and_then(|id| id.rsplit_once('@'))
        .map(|(_, d)| d.trim_end_matches('>').to_owned())
        .unwrap_or_else(host_domain)
}

fn visit(n: &mut Node, f: &mut dyn FnMut(&mut Node)) {
    f(n);
    if let Body::Multi { parts, .. } = &mut n.body {
        for p in parts {
            visit(p, f);
        }
    }
}

/// Scans a leaf or entity when its encoding needs it; returns whether it
/// goes out as it is and has a boundary line.
fn scan_node(
    n: &mut Node,
    boundaries: &[String],
    rules: Rules,
    default_charset: bool,
) -> Result<bool, Error> {
    let Some(info) = &mut n.info else {
        return Ok(false);
    };
    let (source, cte) = match &mut n.body {
        Body::Leaf { source, cte } => (source, Some(cte)),
        Body::Entity { source } => (source, None),
        Body::Multi { .. } => return Ok(false),
    };
    if info.kind == PartKind::Other && info.summary.is_none() {
        if let Some(cte) = cte {
            *cte = codec::choose(&Summary::default(), PartKind::Other, rules);
        }
        return Ok(false);
    }
    let already_encoded = cte.as_ref().is_some_and(|c| !c.is_identity());
    if info.summary.is_some() && already_encoded {
        return Ok(false); // base64/QP need no new scan for new boundaries
    }
    let (sum, collision, bad) = scan(source, boundaries)?;
    info.bad_utf8 = bad;
    // A sniffed text file that is not text after all (the sniff saw only
    // its start).
    if info.sniffed && info.charset.is_none() && (sum.nul > 0 || !sum.utf8) {
        info.mtype = "application/octet-stream".to_owned();
        info.kind = PartKind::Other;
    }
    // A text file (not the body) that is not UTF-8, with no charset= and
    // no --charset: readers would take it for US-ASCII (RFC 2046
    // §4.1.2). A type the user gave needs the charset; a guessed one is
    // dropped and the bytes go as they are.
    if info.kind == PartKind::Text
        && info.role != Role::Body
        && info.charset.is_none()
        && !sum.utf8
        && !default_charset
    {
        if info.typed {
            let (offset, byte) = bad.unwrap_or_default();
            return Err(Error::Data(
                format!(
                    "{}: {} text is not UTF-8; give ;charset= or --charset",
                    info.label, info.mtype
                ),
                DecodeError {
                    kind: DecodeErrorKind::InvalidByte(byte),
                    offset,
                },
            ));
        }
        info.mtype = "application/octet-stream".to_owned();
        info.kind = PartKind::Other;
    }
    if info.kind == PartKind::Text && info.charset.is_none() {
        info.charset = if sum.utf8 && sum.eight_bit == 0 {
            Some("us-ascii".to_owned())
        } else if sum.utf8 {
            Some("utf-8".to_owned())
        } else {
            None
        };
    }
    let chosen = codec::choose(&sum, info.kind, rules);
    if info.kind == PartKind::Message && !chosen.is_identity() {
        // Not 7bit, and not 8bit with --8bit: it cannot travel as
        // message/* (RFC 2046 §5.2.1), so a file goes as its bytes.
        if info.role == Role::Entity {
            let why = if sum.is_line_safe() {
                "has 8-bit data: give --8bit (the transport must have 8BITMIME)"
            } else {
                "has NUL, a bare CR or a line over 998 octets: it needs a binary transport"
            };
            return Err(Error::Invalid(format!(
                "{}: ready entity {why}",
                info.label
            )));
        }
        info.mtype = "application/octet-stream".to_owned();
        info.kind = PartKind::Other;
    }
    info.collision = collision && chosen.is_identity();
    info.summary = Some(sum);
    if let Some(cte) = cte {
        *cte = chosen;
    }
    Ok(info.collision)
}

/// Writes the Content-* fields of every node, now that encodings and
/// boundaries are known.
fn finish(
    n: &mut Node,
    boundaries: &[String],
    opts: &Options,
    domain: &str,
    cids: &mut Vec<(String, String)>,
) -> Result<TransferEncoding, Error> {
    match &mut n.body {
        Body::Multi {
            boundary, parts, ..
        } => {
            // RFC 2045 §6.4: a multipart is 7bit unless a part is 8bit
            // (never binary: see codec::choose).
            let mut worst = TransferEncoding::SevenBit;
            for p in parts.iter_mut() {
                if finish(p, boundaries, opts, domain, cids)? == TransferEncoding::EightBit {
                    worst = TransferEncoding::EightBit;
                }
            }
            let mtype = n.headers.first().cloned().unwrap_or_default();
            let mut f = FieldWriter::new("Content-Type", &mtype);
            if let Some(t) = n.headers.get(1).and_then(|t| t.strip_prefix("type=")) {
                f.param("type", t);
            }
            f.param("boundary", &boundaries[*boundary]);
            n.headers = vec![f.finish()];
            if worst != TransferEncoding::SevenBit {
                n.headers
                    .push(format!("Content-Transfer-Encoding: {}", worst.as_str()));
            }
            Ok(worst)
        }
        Body::Entity { .. } => {
            let info = n.info.as_ref();
            let sum = info.and_then(|i| i.summary.clone()).unwrap_or_default();
            let rules = Rules {
                eight_bit: opts.eight_bit,
                binary_safe: opts.binary_safe,
            };
            Ok(codec::choose(&sum, PartKind::Message, rules))
        }
        Body::Leaf { cte, .. } => {
            let cte = *cte;
            let Some(info) = &mut n.info else {
                return Ok(cte);
            };
            if info.kind == PartKind::Text && info.charset.is_none() {
                info.charset = opts.charset.clone();
                if info.charset.is_none() && info.role == Role::Body {
                    let (offset, byte) = info.bad_utf8.unwrap_or_default();
                    return Err(Error::Data(
                        format!("{}: text is not UTF-8; give --charset", info.label),
                        DecodeError {
                            kind: DecodeErrorKind::InvalidByte(byte),
                            offset,
                        },
                    ));
                }
            }
            n.headers = leaf_headers(info, cte, domain, cids);
            for h in &n.headers {
                check_line_length(h).map_err(|e| usage(format!("{}: {e}", info.label)))?;
            }
            Ok(cte)
        }
    }
}

fn leaf_headers(
    info: &LeafInfo,
    cte: TransferEncoding,
    domain: &str,
    cids: &mut Vec<(String, String)>,
) -> Vec<String> {
    let mut h = Vec::new();
    if info.role == Role::DigestMember && info.mtype == "message/rfc822" {
        // RFC 2046 §5.1.5: the default type of a digest member.
        if cte != TransferEncoding::SevenBit {
            h.push(format!("Content-Transfer-Encoding: {}", cte.as_str()));
        }
        return h;
    }
    let mut f = FieldWriter::new("Content-Type", &info.mtype);
    if let Some(cs) = &info.charset
        && info.kind == PartKind::Text
    {
        f.param("charset", cs);
    }
    let named = matches!(info.role, Role::Inline | Role::Attachment)
        || (info.role == Role::DigestMember && info.mtype != "message/rfc822");
    if let (true, Some(name)) = (named, &info.filename) {
        f.param_encoded_word("name", name);
    }
    h.push(f.finish());
    if info.role == Role::Inline {
        let cid = info.cid.clone().unwrap_or_else(|| {
            let base: String = info
                .filename
                .as_deref()
                .unwrap_or("part")
                .chars()
                .map(|c| {
                    if c.is_ascii() && is_atext(c as u8) || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let base = base.trim_matches('.');
            let id = format!(
                "{}.{}@{domain}",
                if base.is_empty() { "part" } else { base },
                random_alnum(8)
            );
            cids.push((info.label.clone(), id.clone()));
            id
        });
        h.push(format!("Content-ID: <{cid}>"));
    }
    if named {
        let kind = info.disposition.clone().unwrap_or_else(|| {
            if info.role == Role::Inline {
                "inline"
            } else {
                "attachment"
            }
            .to_owned()
        });
        let mut f = FieldWriter::new("Content-Disposition", &kind);
        if let Some(name) = &info.filename {
            f.param("filename", name);
        }
        h.push(f.finish());
    }
    h.push(format!("Content-Transfer-Encoding: {}", cte.as_str()));
    h
}

// ---------------------------------------------------------------- writing

/// Output with line-end conversion and a byte count.
struct Out<'a> {
    inner: &'a mut dyn Write,
    crlf: bool,
    written: u64,
}

impl Write for Out<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Out<'_> {
    fn eol(&mut self) -> io::Result<()> {
        self.write_all(if self.crlf { b"\r\n" } else { b"\n" })
    }

    /// A header field (folds are LF) and its line end.
    fn field(&mut self, f: &str) -> io::Result<()> {
        for (k, line) in f.split('\n').enumerate() {
            if k > 0 {
                self.eol()?;
            }
            self.write_all(line.as_bytes())?;
        }
        self.eol()
    }
}

/// Progress on a terminal: a percentage, redrawn when it changes.
pub struct Progress {
    out: Box<dyn Write>,
    total: u64,
    done: u64,
    shown: u64,
}

impl Progress {
    /// Progress for `total` input bytes on `out`; `None` when the total is
    /// too small to be worth it.
    pub fn new(total: u64, out: Box<dyn Write>) -> Option<Progress> {
        (total > PROGRESS_MIN).then_some(Progress {
            out,
            total,
            done: 0,
            shown: u64::MAX,
        })
    }

    /// Progress on standard error when it is a terminal (someone
    /// watches) and the total is large enough.
    pub fn stderr(total: u64) -> Option<Progress> {
        use std::io::IsTerminal;
        Progress::new(total, Box::new(io::stderr())).filter(|_| io::stderr().is_terminal())
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        let pct = self.done.saturating_mul(100) / self.total.max(1);
        if pct != self.shown {
            self.shown = pct;
            let _ = write!(
                self.out,
                "\r{}: {pct:3}% of {} MiB",
                crate::cli::prog(),
                self.total >> 20
            );
            let _ = self.out.flush();
        }
    }

    fn done(&mut self) {
        let _ = writeln!(self.out);
    }
}

/// A reader that reports consumed bytes to a [`Progress`].
struct Counted<'a, R> {
    inner: R,
    progress: Option<&'a mut Progress>,
}

impl<R: BufRead> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = self.progress.as_deref_mut() {
            p.add(n as u64);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Some(p) = self.progress.as_deref_mut() {
            p.add(n as u64);
        }
        self.inner.consume(n);
    }
}

/// Copies lines, writing each LF or CRLF as the output's line end; other
/// bytes (a bare CR too) as they are.
fn copy_lines(mut input: impl BufRead, out: &mut Out<'_>) -> io::Result<()> {
    let mut pending_cr = false;
    loop {
        let block = input.fill_buf()?;
        if block.is_empty() {
            break;
        }
        let n = block.len();
        let mut rest = block;
        if pending_cr {
            pending_cr = false;
            if rest[0] != b'\n' {
                out.write_all(b"\r")?;
            }
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let line = &rest[..i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            out.write_all(line)?;
            out.eol()?;
            rest = &rest[i + 1..];
        }
        if let Some(r) = rest.strip_suffix(b"\r") {
            out.write_all(r)?;
            pending_cr = true;
        } else {
            out.write_all(rest)?;
        }
        input.consume(n);
    }
    if pending_cr {
        out.write_all(b"\r")?;
    }
    Ok(())
}

fn codec_io(e: codec::Error) -> io::Error {
    match e {
        codec::Error::Io(e) => e,
        codec::Error::Decode(d) => io::Error::new(io::ErrorKind::InvalidData, d),
    }
}

fn write_node(
    n: &mut Node,
    boundaries: &[String],
    out: &mut Out<'_>,
    progress: &mut Option<&mut Progress>,
) -> io::Result<()> {
    if !matches!(n.body, Body::Entity { .. }) {
        // A ready entity brings its own header block.
        for h in &n.headers {
            out.field(h)?;
        }
        out.eol()?;
    }
    write_body(n, boundaries, out, progress)
}

fn write_body(
    n: &mut Node,
    boundaries: &[String],
    out: &mut Out<'_>,
    progress: &mut Option<&mut Progress>,
) -> io::Result<()> {
    match &mut n.body {
        Body::Multi {
            boundary,
            preamble,
            parts,
        } => {
            let b = boundaries[*boundary].as_bytes();
            if *preamble {
                out.write_all(b"This is a multi-part message in MIME format.")?;
                out.eol()?;
            }
            for p in parts.iter_mut() {
                out.write_all(b"--")?;
                out.write_all(b)?;
                out.eol()?;
                write_node(p, boundaries, out, progress)?;
                out.eol()?;
            }
            out.write_all(b"--")?;
            out.write_all(b)?;
            out.write_all(b"--")
        }
        Body::Entity { source } => {
            let input = Counted {
                inner: source.open()?,
                progress: progress.as_deref_mut(),
            };
            copy_lines(input, out)
        }
        Body::Leaf { source, cte } => {
            let crlf = out.crlf;
            let input = Counted {
                inner: source.open()?,
                progress: progress.as_deref_mut(),
            };
            match cte {
                TransferEncoding::Base64 => {
                    let o = base64::EncodeOptions {
                        wrap: base64::WRAP_DEFAULT,
                        crlf,
                    };
                    base64::encode(input, &mut *out, o).map_err(codec_io)?;
                }
                TransferEncoding::QuotedPrintable => {
                    let o = qp::EncodeOptions {
                        binary: false,
                        crlf,
                        safe: true,
                    };
                    qp::encode(input, &mut *out, &o).map_err(codec_io)?;
                }
                _ => copy_lines(input, out)?,
            }
            Ok(())
        }
    }
}

impl Prepared {
    /// Content-IDs generated for inline files: (input label, id).
    pub fn content_ids(&self) -> &[(String, String)] {
        &self.content_ids
    }

    /// Total size of the inputs, when known.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Writes the message (or entity); returns the bytes written. `out` is
    /// flushed.
    pub fn write(
        &mut self,
        out: &mut dyn Write,
        progress: Option<&mut Progress>,
    ) -> io::Result<u64> {
        let mut out = Out {
            inner: out,
            crlf: self.crlf,
            written: 0,
        };
        let mut progress = progress;
        for f in &self.fields {
            out.field(f)?;
        }
        write_node(&mut self.root, &self.boundaries, &mut out, &mut progress)?;
        if matches!(self.root.body, Body::Multi { .. }) {
            out.eol()?;
        }
        if let Some(p) = progress {
            p.done();
        }
        out.flush()?;
        Ok(out.written)
    }

    /// Writes the message as RFC 2046 §5.2.2 message/partial pieces of at
    /// most `max` bytes each, into the writers `create(number, total)`
    /// gives; returns the number of pieces.
    ///
    /// Each piece is a message whose header holds the original's fields
    /// except Content-*, Subject, Message-ID, Encrypted and MIME-Version
    /// (§5.2.2.1), a Subject with ` (k/n)`, its own Message-ID,
    /// MIME-Version and `Content-Type: message/partial; id=…; number=k;
    /// total=n`. The bodies, joined in order, are the whole original
    /// message, cut between lines. message/partial must be 7bit (§5.2.2):
    /// a message that is not is an error.
    pub fn split<W: Write>(
        &mut self,
        max: u64,
        mut create: impl FnMut(u32, u32) -> io::Result<W>,
    ) -> Result<u32, Error> {
        if let Some(label) = not_seven(&self.root) {
            return Err(usage(format!(
                "--split needs a 7-bit message (RFC 2046 §5.2.2): {label} would be 8bit (drop --8bit)"
            )));
        }
        let mut spool = temp_file()?;
        {
            let mut w = io::BufWriter::with_capacity(IO_BUF, &mut spool);
            self.write(&mut w, None)?;
            w.flush()?;
        }
        let domain = domain_from_fields(&self.fields);
        let id = message_id(&domain);
        let id = id.trim_start_matches('<').trim_end_matches('>').to_owned();
        let outer: Vec<&String> = self
            .fields
            .iter()
            .filter(|f| {
                let name = f.split(':').next().unwrap_or("").to_ascii_lowercase();
                !(name.starts_with("content-")
                    || matches!(
                        &name[..],
                        "subject" | "message-id" | "encrypted" | "mime-version"
                    ))
            })
            .collect();
        let eol = if self.crlf { 2 } else { 1 };
        let head = |k: u32, n: u32| -> Result<String, Error> {
            let mut s = String::new();
            for f in &outer {
                s.push_str(f);
                s.push('\n');
            }
            let subj = format!("{} ({k}/{n})", self.subject.as_deref().unwrap_or(""));
            s.push_str(&text_field("Subject", "-s", subj.trim_start())?);
            s.push('\n');
            s.push_str(&format!("Message-ID: {}\n", message_id(&domain)));
            s.push_str("MIME-Version: 1.0\n");
            let mut f = FieldWriter::new("Content-Type", "message/partial");
            f.param("id", &id);
            f.param("number", &k.to_string());
            f.param("total", &n.to_string());
            s.push_str(&f.finish());
            s.push_str("\n\n");
            Ok(s)
        };
        let head_len = |k: u32, n: u32| -> Result<u64, Error> {
            let s = head(k, n)?;
            Ok(s.len() as u64 + (eol as u64 - 1) * s.matches('\n').count() as u64)
        };
        // Cut points: the header size depends on the number of digits of
        // the total, so plan with a guess until it holds.
        let mut guess = 1u32;
        let cuts = loop {
            let room = max.saturating_sub(head_len(guess, guess)? + 16);
            if room < 1000 {
                return Err(usage(format!(
                    "--split {max}: too small for a piece with its header"
                )));
            }
            let cuts = plan(&mut spool, room)?;
            let n = u32::try_from(cuts.len()).unwrap_or(u32::MAX);
            if n.to_string().len() <= guess.to_string().len() {
                break cuts;
            }
            guess = n;
        };
        let n = cuts.len() as u32;
        spool.seek(SeekFrom::Start(0))?;
        let mut input = BufReader::with_capacity(IO_BUF, &spool);
        for (k, &(start, end)) in cuts.iter().enumerate() {
            let k = k as u32 + 1;
            let mut w = create(k, n)?;
            let mut out = Out {
                inner: &mut w,
                crlf: self.crlf,
                written: 0,
            };
            let h = head(k, n)?;
            out.field(h.trim_end_matches('\n'))?;
            out.eol()?;
            io::copy(&mut (&mut input).take(end - start), &mut w)?;
            w.flush()?;
        }
        Ok(n)
    }

    /// [`split`](Self::split) into files `PREFIX.01`, `PREFIX.02`, … (two
    /// digits, or as many as the count has); returns their paths in order.
    ///
    /// All the files are created (new: an existing file is an error, never
    /// overwritten) before the first is written, and on any error every
    /// file created is removed again: no partial set is left behind.
    pub fn split_to_files(&mut self, max: u64, prefix: &Path) -> Result<Vec<PathBuf>, Error> {
        let mut files = Pieces::default();
        let result = self.split(max, |k, n| files.open(prefix, k, n));
        match result {
            Ok(_) => Ok(std::mem::take(&mut files.created)
                .into_iter()
                .map(|(p, _)| p)
                .collect()),
            Err(e) => Err(e), // `files` removes what it created
        }
    }
}

/// The files of [`Prepared::split_to_files`]: created all at once, and
/// removed on drop unless taken.
#[derive(Default)]
struct Pieces {
    /// Each path with the device and inode of the file created there.
    created: Vec<(PathBuf, (u64, u64))>,
}

impl Pieces {
    /// The writer of piece `k` of `n`; the first call creates all `n`.
    fn open(&mut self, prefix: &Path, k: u32, n: u32) -> io::Result<io::BufWriter<File>> {
        let named =
            |e: io::Error, p: &Path| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
        if self.created.is_empty() {
            let width = n.to_string().len().max(2);
            for j in 1..=n {
                let mut name = prefix.as_os_str().to_owned();
                name.push(format!(".{j:0width$}"));
                let path = PathBuf::from(name);
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o666)
                    .open(&path)
                    .map_err(|e| named(e, &path))?;
                let m = file.metadata()?;
                self.created.push((path, (m.dev(), m.ino())));
            }
        }
        let (path, id) = &self.created[k as usize - 1];
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| named(e, path))?;
        // Still the file created above (not one put in its place since).
        let m = file.metadata()?;
        if (m.dev(), m.ino()) != *id {
            return Err(named(
                io::Error::new(io::ErrorKind::AlreadyExists, "replaced while writing"),
                path,
            ));
        }
        Ok(io::BufWriter::with_capacity(IO_BUF, file))
    }
}

impl Drop for Pieces {
    fn drop(&mut self) {
        for (path, _) in &self.created {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The label of the first part that is not 7bit, if any.
fn not_seven(n: &Node) -> Option<String> {
    let label = || {
        n.info
            .as_ref()
            .map_or_else(String::new, |i| i.label.clone())
    };
    match &n.body {
        Body::Leaf { cte, .. } => (*cte == TransferEncoding::EightBit).then(label),
        Body::Entity { .. } => {
            let sum = n
                .info
                .as_ref()
                .and_then(|i| i.summary.clone())
                .unwrap_or_default();
            (sum.eight_bit > 0 || !sum.is_line_safe()).then(label)
        }
        Body::Multi { parts, .. } => parts.iter().find_map(not_seven),
    }
}

/// Cuts the spooled message into pieces of at most `room` bytes, between
/// lines: (start, end) offsets.
fn plan(spool: &mut File, room: u64) -> Result<Vec<(u64, u64)>, Error> {
    spool.seek(SeekFrom::Start(0))?;
    let mut input = BufReader::with_capacity(IO_BUF, &*spool);
    let mut cuts = Vec::new();
    let (mut start, mut pos) = (0u64, 0u64);
    let mut line = 0u64;
    loop {
        let block = input.fill_buf()?;
        if block.is_empty() {
            break;
        }
        let n = block.len();
        let mut rest = block;
        while !rest.is_empty() {
            let (take, eol) = match memchr::memchr(b'\n', rest) {
                Some(i) => (i + 1, true),
                None => (rest.len(), false),
            };
            line += take as u64;
            rest = &rest[take..];
            if eol {
                if pos + line - start > room && pos > start {
                    cuts.push((start, pos));
                    start = pos;
                }
                pos += line;
                line = 0;
            }
        }
        input.consume(n);
    }
    if line > 0 {
        if pos + line - start > room && pos > start {
            cuts.push((start, pos));
            start = pos;
        }
        pos += line;
    }
    if pos > start || cuts.is_empty() {
        cuts.push((start, pos));
    }
    Ok(cuts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_bytes(data: &[u8], boundaries: &[String], step: usize) -> (Summary, bool) {
        let (s, c, _) = scan_full(data, boundaries, step);
        (s, c)
    }

    fn scan_full(data: &[u8], boundaries: &[String], step: usize) -> Scan {
        let mut s = Scanner::new(boundaries);
        for chunk in data.chunks(step.max(1)) {
            s.update(chunk);
        }
        if data.is_empty() {
            s.update(b"");
        }
        s.finish()
    }

    #[test]
    fn scanner_counts_in_any_block_size() {
        let b = vec!["=_abc".to_owned()];
        // (input, eight_bit, nul, bare_cr, longest, utf8, collision)
        type Case = (&'static [u8], u64, u64, u64, u64, bool, bool);
        let cases: &[Case] = &[
            (b"", 0, 0, 0, 0, true, false),
            (b"abc\r\nde\n", 0, 0, 0, 3, true, false),
            (b"a\rb\r", 0, 0, 2, 4, true, false),
            (b"a\0b", 0, 1, 0, 3, true, false),
            ("é€\n".as_bytes(), 5, 0, 0, 5, true, false),
            (b"\xe9t\xe9\n", 2, 0, 0, 3, false, false),
            (b"\xe2\x82", 2, 0, 0, 2, false, false),
            (b"x\n--=_abc\n", 0, 0, 0, 7, true, true),
            (b"x\n--=_abc--", 0, 0, 0, 9, true, true),
            (b"x\n --=_abc\n", 0, 0, 0, 8, true, false),
            (b"--=_ab\n", 0, 0, 0, 6, true, false),
        ];
        for &(input, eight, nul, cr, longest, utf8, coll) in cases {
            for step in [1, 2, 3, 64] {
                let (s, c) = scan_bytes(input, &b, step);
                let got = (s.eight_bit, s.nul, s.bare_cr, s.longest_line, s.utf8, c);
                assert_eq!(
                    got,
                    (eight, nul, cr, longest, utf8, coll),
                    "{input:?} step {step}"
                );
                assert_eq!(s.len, input.len() as u64);
            }
        }
    }

    #[test]
    fn first_invalid_utf8_byte_is_located() {
        for (input, want) in [
            (&b"abc\xffdef"[..], Some((3, 0xFF))),
            (b"\xc3\xa9\xe9x", Some((2, 0xE9))),
            (b"ab\xe2\x82", Some((2, 0xE2))),
            (b"ab\xe2\x82x", Some((2, 0xE2))),
            ("é€".as_bytes(), None),
        ] {
            for step in [1, 2, 3, 64] {
                assert_eq!(scan_full(input, &[], step).2, want, "{input:?} {step}");
            }
        }
    }

    #[test]
    fn qp_estimate_is_close() {
        let text = "Grüße aus Köln, schöne Tage! ".repeat(40) + "\n";
        let (s, _) = scan_bytes(text.as_bytes(), &[], 4096);
        let mut real = Vec::new();
        qp::encode(text.as_bytes(), &mut real, &qp::EncodeOptions::default()).unwrap();
        let diff = (s.qp_len as i64 - real.len() as i64).abs();
        assert!(
            diff * 50 < real.len() as i64,
            "estimate {} real {}",
            s.qp_len,
            real.len()
        );
    }

    #[test]
    fn boundaries_are_random_and_safe() {
        let a = boundary();
        let b = boundary();
        assert_ne!(a, b);
        assert!(a.starts_with("=_") && a.len() == 2 + BOUNDARY_RANDOM && a.len() <= 70);
        assert!(a[2..].bytes().all(|c| c.is_ascii_alphanumeric()));
        let id = message_id("example.org");
        assert!(id.starts_with('<') && id.ends_with("@example.org>"), "{id}");
        assert_ne!(id, message_id("example.org"));
    }

    fn write(spec: Spec) -> String {
        let mut p = prepare(spec).unwrap();
        let mut out = Vec::new();
        p.write(&mut out, None).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn attach(data: &[u8], name: &str) -> Item {
        Item::Leaf(Leaf::new(
            Source::bytes(data.to_vec()),
            name,
            Some(name.to_owned()),
        ))
    }

    /// A source whose content changes at every open: a file that grows or
    /// shrinks between the scan and the write.
    fn changing(contents: Vec<&'static [u8]>) -> Source {
        let mut k = 0;
        Source::reopen(None, move || {
            let c = contents[k.min(contents.len() - 1)];
            k += 1;
            Ok(Box::new(c) as Box<dyn BufRead>)
        })
    }

    #[test]
    fn bug_nonregular_inputs_reopened_file_reads_what_was_scanned() {
        let spec = |src: Source| Spec {
            parts: vec![
                Item::Leaf(Leaf::new(src, "a.txt", Some("a.txt".into()))),
                attach(b"\x00", "b.bin"),
            ],
            entity: true,
            options: Options {
                boundaries: vec!["=_B".into()],
                ..Options::default()
            },
            ..Spec::default()
        };
        // Grown after the scan, by a line that is the boundary: not sent.
        let s = write(spec(changing(vec![b"a\n", b"a\n--=_B--\n"])));
        assert!(s.contains("\n\na\n\n--=_B\n"), "{s}");
        assert_eq!(s.matches("--=_B--").count(), 1, "{s}");
        // Shrunk: an I/O error, not a short part.
        let mut p = prepare(spec(changing(vec![b"abc\n", b"ab"]))).unwrap();
        let e = p.write(&mut Vec::new(), None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    }

    #[test]
    fn a_colliding_boundary_is_drawn_again() {
        // RFC 2046 §5.1.1: the boundary must not appear in the parts.
        let spec = Spec {
            parts: vec![
                attach(b"--=_TAKEN\nbody\n", "a.txt"),
                attach(b"\x00\x01", "b.bin"),
            ],
            entity: true,
            options: Options {
                boundaries: vec!["=_TAKEN".into(), "=_FREE".into()],
                ..Options::default()
            },
            ..Spec::default()
        };
        let s = write(spec);
        assert!(
            s.starts_with("Content-Type: multipart/mixed; boundary=\"=_FREE\"\n"),
            "{s}"
        );
        assert!(s.contains("\n--=_TAKEN\nbody\n\n--=_FREE\n"), "{s}");
        // Base64 and QP parts can never collide: no redraw for them.
        let spec = Spec {
            parts: vec![attach("--=_TAKEN é\n".as_bytes(), "a.txt")],
            entity: true,
            options: Options {
                boundaries: vec!["=_TAKEN".into()],
                ..Options::default()
            },
            ..Spec::default()
        };
        let s = write(spec);
        assert!(s.contains("boundary=\"=_TAKEN\""), "{s}");
        assert!(s.contains("--=3D_TAKEN =C3=A9"), "{s}");
    }

    #[test]
    fn entity_layout_byte_exact() {
        let spec = Spec {
            text: Some(Leaf::new(Source::bytes(b"hi\n".to_vec()), "text", None)),
            parts: vec![attach(b"\x00\xff", "x.bin")],
            entity: true,
            options: Options {
                boundaries: vec!["=_B".into()],
                crlf: true,
                ..Options::default()
            },
            ..Spec::default()
        };
        assert_eq!(
            write(spec),
            "Content-Type: multipart/mixed; boundary=\"=_B\"\r\n\r\n\
             --=_B\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\n\
             hi\r\n\r\n\
             --=_B\r\n\
             Content-Type: application/octet-stream; name=x.bin\r\n\
             Content-Disposition: attachment; filename=x.bin\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n\
             AP8=\r\n\r\n\
             --=_B--\r\n"
        );
    }

    #[test]
    fn sniffed_text_that_turns_binary_is_octet_stream() {
        let mut data = b"text ".repeat(20_000);
        data.push(0xFF);
        let spec = |data: &[u8], t: Option<&str>| {
            let mut leaf = Leaf::new(Source::bytes(data.to_vec()), "f", Some("f.zzz".into()));
            leaf.content_type = t.map(str::to_owned);
            Spec {
                parts: vec![Item::Leaf(leaf)],
                entity: true,
                ..Spec::default()
            }
        };
        let s = write(spec(&data, None));
        assert!(
            s.contains("Content-Type: application/octet-stream; name=f.zzz"),
            "{s:.400}"
        );
        // bug_text_without_charset: a type given for text that is not
        // UTF-8 needs a charset (it used to go out without one).
        let e = prepare(spec(&data, Some("text/plain"))).unwrap_err();
        assert!(matches!(e, Error::Data(..)), "{e}");
        assert!(e.to_string().contains("give ;charset="), "{e}");
        // A guessed text type is dropped: the bytes go as they are.
        let mut leaf = Leaf::new(Source::bytes(data.clone()), "f", Some("f.txt".into()));
        leaf.charset = None;
        let s = write(Spec {
            parts: vec![Item::Leaf(leaf)],
            entity: true,
            ..Spec::default()
        });
        assert!(
            s.contains("Content-Type: application/octet-stream; name=f.txt"),
            "{s:.400}"
        );
        assert!(s.contains("Content-Transfer-Encoding: base64"), "{s:.400}");
        let s = write(spec(b"short text\n", None));
        assert!(
            s.contains("Content-Type: text/plain; charset=us-ascii; name=f.zzz"),
            "{s:.400}"
        );
    }

    #[test]
    fn header_arguments_cannot_inject() {
        for bad in ["a\r\nBcc: x@y", "a\nb", "a\0b", "a\rb"] {
            let cases = [
                Spec {
                    subject: Some(bad.into()),
                    ..Spec::default()
                },
                Spec {
                    to: vec![format!("x@y{bad}")],
                    ..Spec::default()
                },
                Spec {
                    fields: vec![format!("X-A: {bad}")],
                    ..Spec::default()
                },
                Spec {
                    parts: vec![Item::Leaf(Leaf::new(
                        Source::bytes(b"x".to_vec()),
                        "f",
                        Some(bad.into()),
                    ))],
                    ..Spec::default()
                },
            ];
            for spec in cases {
                let e = prepare(spec).unwrap_err();
                assert!(matches!(e, Error::Usage(_)), "{e}");
            }
        }
    }

    #[test]
    fn address_fields() {
        let f = |v: &str| address_field("To", "-t", &[v.to_owned()]);
        let cases: &[(&str, &str)] = &[
            ("a@b.example", "To: a@b.example"),
            (
                "A B <a@b.example>, c@d.example",
                "To: A B <a@b.example>, c@d.example",
            ),
            (
                "\"Smith, J\" <j@x.example>",
                "To: \"Smith, J\" <j@x.example>",
            ),
            (
                "Jöhn <j@x.example>",
                "To: =?UTF-8?B?SsO2aG4=?= <j@x.example>",
            ),
            // A comment is not part of the display name (RFC 5322 §3.2.2).
            (
                "Müller (Sales) <m@x.example>",
                "To: =?UTF-8?Q?M=C3=BCller?= <m@x.example>",
            ),
            (
                "\"Müller, Hans\" <m@x.example>",
                "To: =?UTF-8?B?TcO8bGxlciw=?= Hans <m@x.example>",
            ),
            (
                "\"Müller (Sales)\" <m@x.example>",
                "To: =?UTF-8?B?TcO8bGxlciAoU2FsZXMp?= <m@x.example>",
            ),
            ("undisclosed-recipients:;", "To: undisclosed-recipients: ;"),
            (
                "team: a@x.example, b@x.example;",
                "To: team: a@x.example, b@x.example;",
            ),
        ];
        for &(input, want) in cases {
            assert_eq!(f(input).unwrap(), want, "{input:?}");
        }
        for bad in ["", "John Smith", "a@b, (", "<>", "local"] {
            assert!(matches!(f(bad), Err(Error::Usage(_))), "{bad:?}");
        }
        let many: Vec<String> = (0..10).map(|i| format!("person{i}@example.org")).collect();
        let s = address_field("Cc", "-c", &many).unwrap();
        assert!(s.lines().all(|l| l.len() <= WIDTH), "{s}");
        assert_eq!(s.matches('@').count(), 10);
    }

    #[test]
    fn operands() {
        let none = |_: &Path| false;
        let op = parse_operand("a.pdf;type=application/pdf;name=b c.pdf", none).unwrap();
        assert_eq!(op.path, Path::new("a.pdf"));
        assert_eq!(op.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(op.name.as_deref(), Some("b c.pdf"));
        let op = parse_operand("weird;name=x", |p| p == Path::new("weird;name=x")).unwrap();
        assert_eq!(op.path, Path::new("weird;name=x"));
        assert_eq!(op.name, None);
        let op = parse_operand("a;b.txt;cid=logo;disposition=INLINE", none).unwrap();
        assert_eq!(
            (op.path.as_path(), op.cid.as_deref()),
            (Path::new("a;b.txt"), Some("logo"))
        );
        assert!(parse_operand("a;type=x;size=3", none).is_err());
        // bug_name_override_is_a_basename: directories are cut, / and \.
        for (arg, want) in [
            ("a.txt;name=../../etc/passwd", "passwd"),
            ("a.txt;name=C:\\Windows\\evil.exe", "evil.exe"),
            ("a.txt;name=x/y\\z.txt", "z.txt"),
            ("a.txt;name=plain name.txt", "plain name.txt"),
        ] {
            let op = parse_operand(arg, none).unwrap();
            assert_eq!(op.name.as_deref(), Some(want), "{arg}");
        }
        for arg in ["a;name=", "a;name=dir/", "a;name=..", "a;name=x\\."] {
            assert!(
                matches!(parse_operand(arg, none), Err(Error::Usage(_))),
                "{arg}"
            );
        }
        assert!(parse_operand("a;disposition=weird", none).is_err());
        assert_eq!(
            basename(Path::new("/x/y/report.pdf")).as_deref(),
            Some("report.pdf")
        );
        assert_eq!(basename(Path::new("-")), None);
        assert_eq!(basename(Path::new("/")), None);
        // bug_non_utf8_file_names: any bytes, read leniently.
        let latin = OsStr::from_bytes(b"/d/lat\xe9.txt;name=caf\xe9 \x80.txt");
        let op = parse_operand(latin, none).unwrap();
        assert_eq!(op.path.as_os_str().as_bytes(), b"/d/lat\xe9.txt");
        assert_eq!(basename(&op.path).as_deref(), Some("laté.txt"));
        assert_eq!(op.name.as_deref(), Some("café €.txt"));
        assert!(parse_operand(OsStr::from_bytes(b"a;type=text/\xff"), none).is_err());
        for (bytes, want) in [
            (&b"plain.txt"[..], "plain.txt"),
            ("日本.txt".as_bytes(), "日本.txt"),
            (b"\xe6\x97\xa5\xff\xe9", "日ÿé"),
            (b"cut\xe6\x97", "cutæ—"),
            (b"\x81\x9d", "\u{81}\u{9d}"),
        ] {
            assert_eq!(file_name_text(bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn sniffing_and_guessing() {
        assert!(!looks_binary(b"plain text\n"));
        assert!(!looks_binary("日本語".as_bytes()));
        assert!(!looks_binary(&"é".as_bytes()[..1])); // cut character
        assert!(looks_binary(b"a\0b"));
        assert!(looks_binary(b"\xff\xfe"));
        assert!(looks_binary(&[1u8; 10]));
        assert_eq!(guess(Some("a.PDF")).as_deref(), Some("application/pdf"));
        assert_eq!(guess(Some("m.eml")).as_deref(), Some("message/rfc822"));
        assert_eq!(guess(Some("noext")), None);
    }

    #[test]
    fn line_copy_normalises_line_ends() {
        for (input, crlf, want) in [
            (&b"a\nb\r\nc"[..], false, &b"a\nb\nc"[..]),
            (b"a\nb\r\nc", true, b"a\r\nb\r\nc"),
            (b"a\rb\r", true, b"a\rb\r"),
        ] {
            for step in [1, 2, 100] {
                let mut out = Vec::new();
                let mut o = Out {
                    inner: &mut out,
                    crlf,
                    written: 0,
                };
                let reader = io::BufReader::with_capacity(step, input);
                copy_lines(reader, &mut o).unwrap();
                assert_eq!(out, want, "{input:?} {step}");
            }
        }
    }

    #[test]
    fn bug_split_of_an_8bit_message_says_why() {
        // It used to say "invalid byte 0x80 at byte 0" (a made-up offset).
        for text in ["grüße\n", "plain\n"] {
            let mut p = prepare(Spec {
                text: Some(Leaf::new(Source::bytes(text), "notes.txt", None)),
                parts: vec![attach("über\n".as_bytes(), "b.txt")],
                options: Options {
                    eight_bit: true,
                    ..Options::default()
                },
                ..Spec::default()
            })
            .unwrap();
            let e = p.split(100_000, |_, _| Ok(Vec::new())).unwrap_err();
            let Error::Usage(m) = e else { panic!("{e}") };
            let first = if text == "plain\n" {
                "b.txt"
            } else {
                "notes.txt"
            };
            assert!(m.contains("--split needs a 7-bit message"), "{m}");
            assert!(m.contains(&format!("{first} would be 8bit")), "{m}");
        }
    }

    #[test]
    fn bug_thin_binary_files_settle() {
        // The rules mime-build's binary used to hold: stdin read once; the
        // text body is stdin when nothing else is given.
        let os = |s: &str| OsString::from(s);
        let mut f = Files::default();
        f.settle().unwrap();
        assert_eq!(f.text, Some(os("-")));
        let mut f = Files {
            attachments: vec![os("a.pdf")],
            ..Files::default()
        };
        f.settle().unwrap();
        assert_eq!(f.text, None);
        for f in [
            Files {
                text: Some(os("-")),
                attachments: vec![os("-;name=x")],
                ..Files::default()
            },
            Files {
                inline: vec![os("-"), os("-")],
                ..Files::default()
            },
            Files {
                html: Some(os("-")),
                entities: vec![os("-")],
                ..Files::default()
            },
        ] {
            let mut f = f;
            assert!(matches!(f.settle(), Err(Error::Usage(_))), "{f:?}");
        }
        let mut f = Files {
            text: Some(os("-")),
            attachments: vec![os("-x"), os("x;name=-")],
            ..Files::default()
        };
        f.settle().unwrap();
    }

    #[test]
    fn split_plan_cuts_between_lines() {
        let mut f = temp_file().unwrap();
        f.write_all(b"aaaa\nbbbb\ncccc\ndd").unwrap();
        assert_eq!(plan(&mut f, 10).unwrap(), [(0, 10), (10, 17)]);
        assert_eq!(
            plan(&mut f, 5).unwrap(),
            [(0, 5), (5, 10), (10, 15), (15, 17)]
        );
        assert_eq!(plan(&mut f, 100).unwrap(), [(0, 17)]);
        let mut e = temp_file().unwrap();
        assert_eq!(plan(&mut e, 100).unwrap(), [(0, 0)]);
    }
}
