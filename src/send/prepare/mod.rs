//! Preparing a message ([`prepare`]), before any connection: the header
//! block is read (bounded by [`crate::limits::MAX_HEADER_BYTES`]), the
//! envelope is found (`-f`, else `Sender:`, else `From:`; recipients from
//! the arguments and, with `-t`, from `To:`/`Cc:`/`Bcc:` or the first
//! `Resent-*` block, local names through `--aliases`), the header is
//! rewritten (`Bcc:` removed; `Date:`,
//! `Message-ID:` and `From:` added when missing) and the body is scanned
//! once ([`scan`]): lines over 998 octets are refused here (exit 65), so
//! that nothing is sent. A seekable input (a regular file, also as stdin)
//! is scanned in place and read again to send; a pipe is spooled while it
//! is scanned, to memory up to [`MEM_SPOOL`] and beyond that to an unlinked
//! temporary file in `$TMPDIR`, so memory stays constant whatever the
//! message size.

pub mod qualify;
pub mod scan;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::io::spool::{Spool, Spooled};
use crate::io::strip_os_error;
use crate::io::temp;
use crate::limits::IO_BUF;
use crate::message::dkim::canon::Canon;
use crate::message::dkim::sign::{self, Signer};
use crate::message::{self, address, build, date, header};
use crate::send::address::{field_mailbox, first_mailbox, parse_addresses};
use crate::send::aliases::Aliases;
use crate::send::error::Error;
use crate::send::prepare::scan::{LongLine, MAX_TEXT_LINE, Scan, Scanner, scan_bytes};
use crate::smtp::client;
use crate::smtp::envelope::{Mailbox, ReversePath};

// ---------------------------------------------------------------------------
// Header fixes: display names (Date and Message-ID: message::date, message::build)

/// `Name <addr>` for a `From:` field we add: the name written as a phrase
/// by [`address::phrase`] (the one home of display-name encoding: atoms,
/// a quoted-string, or RFC 2047 "B" encoded-words taken whole, as before),
/// so a control character or a `=?` in `--from-name`/`full_name` can never
/// split the field or read as an encoded-word.
fn display_mailbox(name: Option<&str>, addr: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => addr.to_owned(),
        Some(n) => format!(
            "{} <{addr}>",
            address::phrase(n, address::Words::Whole).join(" ")
        ),
    }
}

// ---------------------------------------------------------------------------

/// Messages up to this size are spooled in memory; larger ones go to an
/// unlinked temporary file (private limit: 1 MiB keeps memory small and
/// avoids the temporary file for nearly all mail).
pub const MEM_SPOOL: usize = 1024 * 1024;

/// Where a message comes from.
pub enum Source {
    /// A seekable regular file (also stdin redirected from a file): scanned
    /// in place, then read again to send.
    File(File),
    /// Anything else (a pipe, a terminal): spooled while scanned.
    Stream(Box<dyn BufRead>),
}

impl Source {
    /// Whether there is nothing left to read (issue 13: `smtp-send
    /// msg.eml`, the file named where a recipient goes, sent an empty
    /// message). Reads nothing away: a stream's first block stays buffered.
    pub fn is_empty(&mut self) -> io::Result<bool> {
        match self {
            Source::File(f) => Ok(f.metadata()?.len() <= f.stream_position()?),
            Source::Stream(r) => Ok(r.fill_buf()?.is_empty()),
        }
    }

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
    /// [`qualify::QUALIFIED_FIELDS`]
    /// get `@domain` (envelope addresses are qualified with `hostname`).
    pub qualify_domain: Option<String>,
    /// `--aliases`: what `-t`'s recipients without `@` stand for, before
    /// they are qualified (the header is not rewritten: only the envelope
    /// changes, as with msmtp). [`PrepareOptions::recipients`] were
    /// expanded when they were parsed.
    pub aliases: Option<Arc<Aliases>>,
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
    /// Whether binary MIME holds a NUL octet: it can then go only as
    /// `BODY=BINARYMIME` (any other message with one is refused, or
    /// re-encoded with `--downgrade`, when prepared).
    pub nul: bool,
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
    /// Whether the body has a CR not followed by LF (see [`Prepared::sign`]).
    bare_cr: bool,
    /// Our DKIM-Signature field ([`Prepared::sign`]), sent before the
    /// header; empty when unsigned, emptied when the text changes.
    signature: Vec<u8>,
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

    /// The message text as it is sent: our DKIM-Signature field when
    /// signed ([`Prepared::sign`]), the (rewritten) header, then the body.
    pub fn reader(&mut self) -> Box<dyn BufRead + '_> {
        self.read_from(&self.signature.clone())
    }

    /// The text without our signature: what is signed, re-encoded, and
    /// queued (a flush signs again, with its own time).
    pub(crate) fn text(&mut self) -> Box<dyn BufRead + '_> {
        self.read_from(&[])
    }

    /// `first`, then the header and the body.
    fn read_from(&mut self, first: &[u8]) -> Box<dyn BufRead + '_> {
        let head = Cursor::new([first, &self.head[..]].concat());
        match &mut self.body {
            Body::Mem(v) => Box::new(head.chain(&v[..self.body_len as usize])),
            Body::File(f) => Box::new(head.chain(f.take(self.body_len))),
        }
    }

    /// Signs the text with `signer` (RFC 6376, relaxed/relaxed, `t=` now),
    /// unless it is signed already: called after every change smtp-send
    /// makes (the header rewrite when prepared, [`Prepared::fit`] for the
    /// server), once per transaction; a re-encoding drops the signature,
    /// so the next call signs the new text.
    ///
    /// Errors: a bare CR in the body is sent as CRLF, so a signature made
    /// over the text here would not verify (65); a key that will not sign.
    pub fn sign(&mut self, signer: &Signer) -> Result<(), Error> {
        if !self.signature.is_empty() {
            return Ok(());
        }
        if self.bare_cr {
            return Err(Error::Message(
                "bare CR in the body: it is sent as CRLF, so a DKIM signature made over the \
                 message would not verify (RFC 6376 §3.4): not sent"
                    .to_owned(),
            ));
        }
        let opts = sign::Options {
            header: Canon::Relaxed,
            body: Canon::Relaxed,
            fields: None,
            time: message::dkim::now(),
            expire: None,
        };
        self.rewind().map_err(Error::Input)?;
        let field =
            sign::signature_field(&mut self.text(), signer, &opts).map_err(|e| match e {
                sign::Error::Message(message::Error::Io(e)) => Error::Input(e),
                e @ (sign::Error::Message(_) | sign::Error::NoFrom | sign::Error::LeadingFold) => {
                    Error::Message(format!("DKIM: {e}: not sent"))
                }
                e @ (sign::Error::Key(_) | sign::Error::BadName(_)) => {
                    Error::Config(format!("DKIM: {e}"))
                }
            })?;
        self.rewind().map_err(Error::Input)?;
        self.envelope.size += field.len() as u64;
        self.signature = field.into_bytes();
        Ok(())
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
        (self.signature.len() + self.head.len()) as u64 + self.body_len
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
        let plan = downgrade::plan(self.text(), &opts).map_err(failed)?;
        self.rewind().map_err(Error::Input)?;
        let mut spool = io::BufWriter::with_capacity(IO_BUF, spool_file().map_err(spool_error)?);
        let applied = downgrade::apply(self.text(), &plan, &mut spool).map_err(|e| match e {
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
        self.envelope.nul = scan.nul;
        self.bare_cr = scan.bare_cr;
        // The text changed: a signature of the old one would not verify.
        self.signature.clear();
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
pub(crate) type Recorder<R> = crate::io::Tap<R, Vec<u8>>;

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
/// in a header line (`bare_cr_line`), a line over 998 octets, no
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
    // Issue 17: a NUL went to the wire as it was (RFC 5322 §2.2: a field
    // body is printable characters and white space; no encoding helps).
    if let Some(at) = memchr::memchr(0, &raw_head[..header_len]) {
        let line = memchr::memchr_iter(b'\n', &raw_head[..at]).count() + 1;
        return Err(Error::Message(format!(
            "NUL octet in header line {line} (RFC 5322 §2.2): not sent"
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
            nul: body_scan.nul,
        },
        head,
        body,
        body_len: body_scan.len,
        body_start,
        downgrade: opts.downgrade,
        bare_cr: body_scan.bare_cr,
        signature: Vec::new(),
    };
    // A NUL octet in the body (issue 17: it went to the wire unchanged):
    // mail text holds none (RFC 5322 §2.3, RFC 6152 §3). Binary MIME may
    // go as BODY=BINARYMIME (checked per server: [`Prepared::nul`]);
    // --downgrade re-encodes the part that holds it; else it is refused.
    if body_scan.nul && !prepared.envelope.binary && !opts.downgrade {
        return Err(Error::Message(
            "NUL octet in the body (RFC 5322 §2.3): not sent (--downgrade re-encodes its part)"
                .to_owned(),
        ));
    }
    if body_scan.long_line.is_some() || (body_scan.nul && !prepared.envelope.binary) {
        // --downgrade: over-long lines and NULs are re-encoded now, before
        // any server is asked (SIZE and --dry-run show the message as sent).
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
            "line {} of the body is longer than {MAX_TEXT_LINE} octets (RFC 5321 §4.5.3.1.6): \
             not sent (--downgrade re-encodes it)",
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
            let mut spool = Spool::with_file(MEM_SPOOL, spool_file);
            loop {
                let chunk = crate::io::lines::fill(&mut input).map_err(Error::Input)?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                let cut = scanner.feed(chunk).map_err(long)?;
                spool
                    .write_all(&chunk[..cut.unwrap_or(n)])
                    .map_err(spool_error)?;
                input.consume(n);
                if cut.is_some() {
                    break;
                }
            }
            let scan = scanner.finish().map_err(long)?;
            match spool.into_spooled().map_err(spool_error)? {
                Spooled::File(f) => Ok((Body::File(BufReader::with_capacity(IO_BUF, f)), scan)),
                Spooled::Mem(mem) => Ok((Body::Mem(mem), scan)),
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

/// An anonymous temporary file in `$TMPDIR` (or /tmp), mode 0600
/// ([`temp::anonymous`]); its errors are explained by [`spool_error`].
fn spool_file() -> io::Result<File> {
    temp::anonymous(&std::env::temp_dir())
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
    // Each recipient once, in the order first given: the local part as
    // written (RFC 5321 §2.4: it may be case-sensitive), the domain in
    // any case. A set keeps this linear (issue 17: the list compared
    // with every earlier one took 10 s for a 60,000-address To:).
    let mut rcpts: Vec<Mailbox> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |m: Mailbox, rcpts: &mut Vec<Mailbox>| {
        if seen.insert((m.local.clone(), m.domain.to_ascii_lowercase())) {
            rcpts.push(m);
        }
    };
    for m in &opts.recipients {
        add(m.clone(), &mut rcpts);
    }
    if opts.extract {
        for field in recipient_fields(block) {
            let name = String::from_utf8_lossy(field.name);
            for m in parse_addresses(field.value, &opts.hostname, opts.aliases.as_deref())
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
            qualify::QUALIFIED_FIELDS
                .iter()
                .any(named)
                .then(|| qualify::qualify(f.value, d))
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

#[cfg(test)]
mod tests;
