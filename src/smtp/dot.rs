//! The server side of message transfer: DATA (RFC 5321 §4.1.1.4, §4.5.2)
//! and BDAT chunks (RFC 3030).
//!
//! [`read_data`] reads the message text that follows a `354` reply, up to
//! and including the end-of-data marker, undoes dot-stuffing, and streams the
//! message to a writer in constant memory. It never reads past the marker,
//! so pipelined commands stay in the `BufRead` for the command reader.
//!
//! # End of data and SMTP smuggling
//!
//! DATA ends **only** at `<CRLF>.<CRLF>` (RFC 5321 §4.1.1.4: `<LF>.<LF>` MUST
//! NOT be taken as the end), wherever the bytes fall across reads; the CRLF
//! that ended the DATA command counts as the first CRLF, so a first line of
//! `.` ends an empty message. Every other sequence — `<LF>.<LF>`,
//! `<LF>.<CR><LF>`, `<CR><LF>.<LF>`, `<CR>.<CR>`, `<CR>.<CR><LF>`,
//! `<CR><LF>.<CR>`, with NULs around the dot, … (the SMTP smuggling vectors of
//! CVE-2023-51764/51765/51766) — is message content, so the bytes after it
//! are never read as commands. Formally: the message ends at the first
//! occurrence of `\r\n.\r\n` in `\r\n` + the input.
//!
//! A CR or LF that is not part of a CRLF (RFC 5321 §2.3.8, RFC 5322 §2.3) is
//! a *bare newline*, handled per [`BareNewline`]:
//! - [`BareNewline::Reject`] (the default, like Postfix's
//!   `smtpd_forbid_bare_newline = reject`): the outcome is
//!   [`DataOutcome::BareNewline`]; reading continues to the real end marker
//!   so the session stays in sync, and the driver refuses the message.
//! - [`BareNewline::Normalize`] (Postfix ≥ 3.9 `normalize`): a bare LF and a
//!   bare CR are each a line end, stored as CRLF (or LF with
//!   [`DataOptions::lf_out`]); `\r\r\n` is therefore two line ends. The line
//!   after a bare newline is dot-unstuffed like any line, but it can never be
//!   the end marker.
//!
//! # Dot-unstuffing (RFC 5321 §4.5.2)
//!
//! A line that starts with `.` and has other characters has the first `.`
//! removed (`..` → `.`, `.x` → `x`). A line that is a single `.` but is not
//! the end marker (it follows or ends with a bare newline) has no "other
//! characters", so its dot is kept: the attempted terminator stays visible.
//!
//! # Limits and outcomes
//!
//! - Line length: a line longer than [`DataOptions::max_line`] octets, its
//!   CRLF included and the stuffing dot not counted (§4.5.3.1.6), gives
//!   [`DataOutcome::LineTooLong`].
//! - Size: [`DataEnd::size`] counts the unstuffed message with CRLF line
//!   ends (as SIZE does, RFC 1870), whatever `lf_out`, without the end
//!   marker; over [`DataOptions::max_size`] the outcome is
//!   [`DataOutcome::TooBig`], and counting goes on to the end.
//!
//! The first problem found decides the outcome. After it nothing more is
//! written to `out`; what was written before is a prefix to be discarded
//! (the store's `abort`). Errors are reported only after the end marker
//! (RFC 5321 §4.1.1.4; aiosmtpd's "delayed error" tests).
//!
//! # BDAT (RFC 3030)
//!
//! [`Bdat`] reads chunks of exactly the announced size, with no dot handling
//! and no end marker. We do not advertise BINARYMIME, so a BDAT message is
//! text (7BIT or 8BITMIME) where RFC 5322 §2.3 forbids bare CR and LF too:
//! the same bare-newline policy, line-length and size limits apply, and the
//! state (a CR at the end of one chunk, LF at the start of the next; the
//! current line's length) is carried across chunks so the result does not
//! depend on where the client split the message. A CR that ends the last
//! chunk is bare.

use std::io::{self, BufRead, Write};

use crate::limits;

/// What to do with a CR or LF that is not part of a CRLF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareNewline {
    /// Refuse the message ([`DataOutcome::BareNewline`]); still read to the
    /// real end.
    #[default]
    Reject,
    /// Accept it as a line end, stored as CRLF (LF with `lf_out`).
    Normalize,
}

/// Limits and conversions for [`read_data`] and [`Bdat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataOptions {
    /// Largest message in octets (unstuffed, CRLF line ends); over it the
    /// outcome is [`DataOutcome::TooBig`].
    pub max_size: u64,
    /// Longest line in octets, CRLF included (RFC 5321 §4.5.3.1.6).
    pub max_line: usize,
    /// Policy for bare CR and bare LF.
    pub bare: BareNewline,
    /// Write LF line ends instead of CRLF (for local storage).
    pub lf_out: bool,
}

impl Default for DataOptions {
    /// The defaults of `smtp-recv`: the limits from [`crate::limits`],
    /// bare newlines rejected, CRLF kept.
    fn default() -> DataOptions {
        DataOptions {
            max_size: limits::SMTP_MAX_MESSAGE_SIZE,
            max_line: limits::SMTP_MAX_TEXT_LINE,
            bare: BareNewline::Reject,
            lf_out: false,
        }
    }
}

/// How a message transfer ended (the driver replies after the end marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOutcome {
    /// The whole message was written to `out`.
    Complete,
    /// Larger than `max_size` (reply 552).
    TooBig,
    /// A bare CR or LF with [`BareNewline::Reject`] (reply 550).
    BareNewline,
    /// A line longer than `max_line` (reply 500).
    LineTooLong,
}

/// The result of [`read_data`] or one [`Bdat::read_chunk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataEnd {
    /// What happened; anything but `Complete` means "do not store".
    pub outcome: DataOutcome,
    /// Message octets seen so far: unstuffed, CRLF line ends, end marker
    /// excluded; counted to the end even after `TooBig`.
    pub size: u64,
}

/// Reads DATA from `input` up to and including the end marker `<CRLF>.<CRLF>`
/// and writes the unstuffed message to `out` (see the module docs).
///
/// Bytes after the end marker are left in `input`. `Err` only on an I/O
/// error or on EOF before the end marker (`io::ErrorKind::UnexpectedEof`):
/// the connection is lost and nothing may be acknowledged. Every other
/// problem is an [`DataOutcome`], found only once the end was read.
pub fn read_data(
    input: &mut impl BufRead,
    out: &mut impl Write,
    opts: &DataOptions,
) -> io::Result<DataEnd> {
    let mut scan = Scanner::new(opts, true);
    loop {
        let buf = crate::io::lines::fill(input)?;
        if buf.is_empty() {
            return Err(eof("connection closed before the end of data"));
        }
        let (used, done) = scan.feed(buf, out)?;
        input.consume(used);
        if done {
            return Ok(scan.end());
        }
    }
}

/// The BDAT chunks of one transaction (RFC 3030 §2-3), with the state that
/// must survive chunk boundaries. Create one per transaction (after MAIL).
#[derive(Debug, Clone)]
pub struct Bdat {
    scan: Scanner,
}

impl Bdat {
    /// Starts a transaction's chunk sequence.
    pub fn new(opts: &DataOptions) -> Bdat {
        Bdat {
            scan: Scanner::new(opts, false),
        }
    }

    /// Reads exactly `size` octets of `input` (one `BDAT size [LAST]`
    /// chunk), converting and checking them as DATA would but without dot
    /// handling, and writes them to `out`. `last` ends the message: a CR
    /// held back at the end is then bare.
    ///
    /// The outcome is sticky: once a chunk went wrong, later chunks are
    /// still read (the client sends them regardless) but not written.
    /// `size` in the result counts the whole message so far. EOF inside the
    /// chunk is `io::ErrorKind::UnexpectedEof`.
    pub fn read_chunk(
        &mut self,
        input: &mut impl BufRead,
        size: u64,
        last: bool,
        out: &mut impl Write,
    ) -> io::Result<DataEnd> {
        let mut left = size;
        while left > 0 {
            let buf = crate::io::lines::fill(input)?;
            if buf.is_empty() {
                return Err(eof("connection closed inside a BDAT chunk"));
            }
            let take = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
            let (used, _) = self.scan.feed(&buf[..take], out)?;
            debug_assert_eq!(used, take);
            input.consume(used);
            left -= used as u64;
        }
        if last {
            self.scan.finish(out)?;
        }
        Ok(self.scan.end())
    }

    /// Message octets seen so far (as [`DataEnd::size`]).
    pub fn size(&self) -> u64 {
        self.scan.size
    }
}

fn eof(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what)
}

/// Where the scanner is in the line structure. Bytes of a pending state
/// (a CR, a line-start dot) were consumed but not yet written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line; `real` when the previous line ended with a
    /// real CRLF (or at the start of DATA), i.e. when `.CRLF` would end it.
    LineStart { real: bool },
    /// A `.` at the start of a line is pending.
    Dot { real: bool },
    /// A line-start `.` and then a CR are pending.
    DotCr { real: bool },
    /// Inside a line.
    InLine,
    /// A CR inside a line is pending (its LF may come in the next read).
    Cr,
}

#[derive(Debug, Clone)]
struct Scanner {
    state: State,
    /// DATA (dot handling, end marker) rather than BDAT.
    dots: bool,
    bare: BareNewline,
    lf_out: bool,
    max_line: u64,
    max_size: u64,
    /// Content octets of the current line (unstuffed, line end excluded).
    line_len: u64,
    size: u64,
    /// The first problem found; once set nothing more is written.
    outcome: Option<DataOutcome>,
}

impl Scanner {
    fn new(opts: &DataOptions, dots: bool) -> Scanner {
        Scanner {
            state: if dots {
                State::LineStart { real: true }
            } else {
                State::InLine
            },
            dots,
            bare: opts.bare,
            lf_out: opts.lf_out,
            max_line: opts.max_line as u64,
            max_size: opts.max_size,
            line_len: 0,
            size: 0,
            outcome: None,
        }
    }

    fn end(&self) -> DataEnd {
        DataEnd {
            outcome: self.outcome.unwrap_or(DataOutcome::Complete),
            size: self.size,
        }
    }

    fn fail(&mut self, why: DataOutcome) {
        if self.outcome.is_none() {
            self.outcome = Some(why);
        }
    }

    /// Counts `n` content octets of the current line.
    ///
    /// When both limits are crossed inside the run, the one crossed at the
    /// earlier octet wins (line length on a tie), so the outcome does not
    /// depend on how the input was split into reads.
    fn content(&mut self, n: usize) {
        let n = n as u64;
        if self.outcome.is_none() {
            // The line's CRLF counts towards max_line (§4.5.3.1.6).
            let line_room = self
                .max_line
                .saturating_sub(2)
                .saturating_sub(self.line_len);
            let size_room = self.max_size.saturating_sub(self.size);
            if n > line_room.min(size_room) {
                self.outcome = Some(if line_room <= size_room {
                    DataOutcome::LineTooLong
                } else {
                    DataOutcome::TooBig
                });
            }
        }
        self.line_len = self.line_len.saturating_add(n);
        self.size = self.size.saturating_add(n);
    }

    /// Counts a line end (2 octets, CRLF on the wire).
    fn line_end(&mut self) {
        self.line_len = 0;
        self.size = self.size.saturating_add(2);
        if self.size > self.max_size {
            self.fail(DataOutcome::TooBig);
        }
    }

    fn emit(&self, out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
        if self.outcome.is_none() && !bytes.is_empty() {
            out.write_all(bytes)?;
        }
        Ok(())
    }

    fn emit_eol(&self, out: &mut impl Write) -> io::Result<()> {
        self.emit(out, if self.lf_out { b"\n" } else { b"\r\n" })
    }

    /// A bare CR or LF ends the current line (which may hold a kept dot).
    fn bare_newline(&mut self, out: &mut impl Write, dot: bool) -> io::Result<()> {
        if dot {
            self.content(1);
            self.emit(out, b".")?;
        }
        if self.bare == BareNewline::Reject {
            self.fail(DataOutcome::BareNewline);
        }
        self.line_end();
        self.emit_eol(out)?;
        self.state = self.line_start(false);
        Ok(())
    }

    fn line_start(&self, real: bool) -> State {
        if self.dots {
            State::LineStart { real }
        } else {
            State::InLine
        }
    }

    /// Processes `buf`; returns the octets consumed and whether the end
    /// marker was reached (then nothing after it was consumed).
    ///
    /// Content is copied in runs: `buf[run..i]` is written only when
    /// something must be dropped or inserted (a stuffing dot, a CR with
    /// `lf_out`, a bare newline) or at the end of `buf`, so CRLF text
    /// without leading dots is one `write_all` per read.
    fn feed(&mut self, buf: &[u8], out: &mut impl Write) -> io::Result<(usize, bool)> {
        let mut i = 0;
        let mut run = 0;
        while i < buf.len() {
            match self.state {
                State::InLine => {
                    let rest = &buf[i..];
                    let Some(k) = memchr::memchr2(b'\r', b'\n', rest) else {
                        self.content(rest.len());
                        i = buf.len();
                        break;
                    };
                    self.content(k);
                    i += k;
                    if buf[i] == b'\n' {
                        self.emit(out, &buf[run..i])?;
                        i += 1;
                        run = i;
                        self.bare_newline(out, false)?;
                    } else if i + 1 == buf.len() {
                        // CR at the end of this read: decide on the next.
                        self.emit(out, &buf[run..i])?;
                        i += 1;
                        run = i;
                        self.state = State::Cr;
                    } else if buf[i + 1] == b'\n' {
                        self.line_end();
                        if self.lf_out {
                            // Drop the CR; the LF starts the next run.
                            self.emit(out, &buf[run..i])?;
                            run = i + 1;
                        }
                        i += 2;
                        self.state = self.line_start(true);
                    } else {
                        self.emit(out, &buf[run..i])?;
                        i += 1;
                        run = i;
                        self.bare_newline(out, false)?;
                    }
                }
                State::Cr => {
                    // The CR came in an earlier read and was not written.
                    debug_assert_eq!(run, i);
                    if buf[i] == b'\n' {
                        i += 1;
                        run = i;
                        self.line_end();
                        self.emit_eol(out)?;
                        self.state = self.line_start(true);
                    } else {
                        self.bare_newline(out, false)?;
                    }
                }
                State::LineStart { real } => {
                    if buf[i] == b'.' {
                        self.emit(out, &buf[run..i])?;
                        i += 1;
                        run = i;
                        self.state = State::Dot { real };
                    } else {
                        self.state = State::InLine;
                    }
                }
                State::Dot { real } => match buf[i] {
                    b'\r' => {
                        i += 1;
                        run = i;
                        self.state = State::DotCr { real };
                    }
                    b'\n' => {
                        i += 1;
                        run = i;
                        self.bare_newline(out, true)?;
                    }
                    // RFC 5321 §4.5.2: the stuffing dot is dropped; the
                    // rest of the line (a second dot included) is text.
                    _ => self.state = State::InLine,
                },
                State::DotCr { real } => {
                    if buf[i] == b'\n' {
                        i += 1;
                        if real {
                            return Ok((i, true));
                        }
                        // `.CRLF` after a bare newline: content, dot kept.
                        run = i;
                        self.content(1);
                        self.emit(out, b".")?;
                        self.line_end();
                        self.emit_eol(out)?;
                        self.state = State::LineStart { real: true };
                    } else {
                        self.bare_newline(out, true)?;
                    }
                }
            }
        }
        self.emit(out, &buf[run..i])?;
        Ok((i, false))
    }

    /// End of a BDAT message: a CR still pending was bare.
    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.state == State::Cr {
            self.bare_newline(out, false)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------
// Client side: the dot-stuffing writer.
// ---------------------------------------------------------------------

use std::fmt;

/// Octets collected before one `write` to the connection: large writes, no
/// per-line system calls (msmtp's one `send` per line stalls on Nagle and
/// delayed ACKs, see the BASELINE notes).
const WRITE_BLOCK: usize = limits::IO_BUF;

/// Most input octets handled per step, so the output block stays bounded
/// (each input octet gives at most two output octets).
const FEED_STEP: usize = 64 * 1024;

/// Settings for [`write_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StuffOptions {
    /// Longest line in octets, CRLF included and the stuffing dot not
    /// counted (RFC 5321 §4.5.3.1.6: 1000, so 998 octets of text).
    pub max_line: usize,
    /// What to do with a CR or LF that is not part of a CRLF:
    /// [`BareNewline::Normalize`] (the default) sends each as CRLF,
    /// [`BareNewline::Reject`] refuses the message.
    pub bare: BareNewline,
    /// Whether octets above 127 may be sent (the transaction declared
    /// `BODY=8BITMIME`, RFC 6152); when not, one is an error.
    pub eight_bit: bool,
}

impl Default for StuffOptions {
    /// 1000-octet lines, bare newlines normalised, 8-bit allowed.
    fn default() -> StuffOptions {
        StuffOptions {
            max_line: limits::SMTP_MAX_TEXT_LINE,
            bare: BareNewline::Normalize,
            eight_bit: true,
        }
    }
}

/// Why [`write_data`] stopped. Nothing after the problem was written, and
/// the end marker never was: the caller must drop the connection, which
/// makes the server discard the partial message (RFC 5321 §4.1.1.4).
#[derive(Debug)]
pub enum StuffError {
    /// Reading the message failed.
    Read(io::Error),
    /// Writing to the connection failed.
    Write(io::Error),
    /// Line `line` (counted from 1) is longer than `max` octets with its
    /// CRLF.
    LineTooLong {
        /// The line number.
        line: u64,
        /// The limit, CRLF included.
        max: usize,
    },
    /// A bare CR or LF on line `line`, with [`BareNewline::Reject`].
    BareNewline {
        /// The line number.
        line: u64,
    },
    /// An octet above 127 at input offset `offset` when
    /// [`StuffOptions::eight_bit`] is off.
    EightBit {
        /// Offset in the input, from 0.
        offset: u64,
    },
}

impl fmt::Display for StuffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StuffError::Read(e) => write!(f, "reading the message: {e}"),
            StuffError::Write(e) => write!(f, "sending the message: {e}"),
            StuffError::LineTooLong { line, max } => write!(
                f,
                "line {line} is longer than {} octets, the SMTP limit (RFC 5321 §4.5.3.1.6)",
                max.saturating_sub(2)
            ),
            StuffError::BareNewline { line } => {
                write!(f, "line {line} ends in a bare CR or LF (RFC 5321 §2.3.8)")
            }
            StuffError::EightBit { offset } => write!(
                f,
                "8-bit octet at offset {offset} in a message not declared 8BITMIME"
            ),
        }
    }
}

impl std::error::Error for StuffError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StuffError::Read(e) | StuffError::Write(e) => Some(e),
            _ => None,
        }
    }
}

/// What [`write_data`] sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSent {
    /// The message's size as the server counts it (RFC 1870 §3): CRLF line
    /// ends, a final CRLF added if missing, no stuffing, no end marker.
    pub size: u64,
    /// Octets written: stuffing dots and the end marker included.
    pub wire: u64,
}

/// Sends a message as DATA content (RFC 5321 §4.1.1.4, §4.5.2), streaming:
/// reads `input` to its end and writes to `out`, in constant memory and in
/// blocks of about 128 KiB, then writes the end marker `.CRLF` (the line
/// before it always ends in CRLF).
///
/// - Line ends: CRLF is kept; a bare LF or bare CR is sent as CRLF (or
///   refused, per [`StuffOptions::bare`]; reliability notes §2.3.1, the
///   RUSTSEC-2026-0561 lesson), so no CR or LF ever goes out alone and the
///   receiver can never see an end marker we did not mean. `\r\r\n` is two
///   line ends, as the server side's normalisation reads it.
/// - Transparency: every line that starts with `.` gets a second one, the
///   first line included and whatever the line ends around it (the
///   RUSTSEC-2021-0069 lesson); the state survives between reads, so where
///   the input's buffers split it does not matter.
/// - A missing final line end is added; an empty message is just `.CRLF`
///   (the CRLF of the DATA command is the first line end).
/// - Limits: a line over [`StuffOptions::max_line`] octets is refused:
///   SMTP cannot carry it unchanged (RFC 5321 §4.5.3.1.6, RFC 5322 §2.1.1).
///
/// Does not flush `out`. On error the end marker is not written (see
/// [`StuffError`]).
pub fn write_data(
    input: &mut impl BufRead,
    out: &mut impl Write,
    opts: &StuffOptions,
) -> Result<DataSent, StuffError> {
    let mut stuffer = Stuffer::new(opts);
    let mut block = Vec::with_capacity(WRITE_BLOCK + 2 * FEED_STEP);
    let mut wire = 0u64;
    loop {
        let chunk = crate::io::lines::fill(input).map_err(StuffError::Read)?;
        if chunk.is_empty() {
            break;
        }
        let take = chunk.len().min(FEED_STEP);
        stuffer.push(&chunk[..take], &mut block)?;
        input.consume(take);
        if block.len() >= WRITE_BLOCK {
            out.write_all(&block).map_err(StuffError::Write)?;
            wire += block.len() as u64;
            block.clear();
        }
    }
    stuffer.finish(&mut block)?;
    out.write_all(&block).map_err(StuffError::Write)?;
    wire += block.len() as u64;
    Ok(DataSent {
        size: stuffer.size,
        wire,
    })
}

/// The dot-stuffing state machine; its state is what must survive between
/// input chunks. [`Stuffer::canonical`] makes BDAT's text (RFC 3030 §2):
/// the same line ends, line lengths and 8-bit check, but no stuffing and
/// no end marker.
pub(crate) struct Stuffer {
    /// Dot-stuffing and the `.CRLF` end marker (DATA), or neither (BDAT).
    dots: bool,
    max_text: u64,
    bare: BareNewline,
    eight_bit: bool,
    /// At the start of a line (the first line included).
    line_start: bool,
    /// A CR ended the previous chunk; the next octet decides what it was.
    cr: bool,
    /// Text octets of the current line so far.
    line_len: u64,
    /// The current line's number, from 1.
    line: u64,
    /// Input octets consumed.
    offset: u64,
    /// Message octets sent (see [`DataSent::size`]).
    size: u64,
}

impl Stuffer {
    fn new(opts: &StuffOptions) -> Stuffer {
        Stuffer {
            dots: true,
            max_text: opts.max_line.saturating_sub(2) as u64,
            bare: opts.bare,
            eight_bit: opts.eight_bit,
            line_start: true,
            cr: false,
            line_len: 0,
            line: 1,
            offset: 0,
            size: 0,
        }
    }

    /// The text of a BDAT message: no dot-stuffing, no end marker.
    pub(crate) fn canonical(opts: &StuffOptions) -> Stuffer {
        Stuffer {
            dots: false,
            ..Stuffer::new(opts)
        }
    }

    /// Line text, copied as is.
    fn text(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), StuffError> {
        self.line_len += bytes.len() as u64;
        if self.line_len > self.max_text {
            return Err(StuffError::LineTooLong {
                line: self.line,
                max: (self.max_text + 2) as usize,
            });
        }
        out.extend_from_slice(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// A line end: CRLF on the wire. `bare` when the input had a lone CR or
    /// LF there.
    fn line_end(&mut self, bare: bool, out: &mut Vec<u8>) -> Result<(), StuffError> {
        if bare && self.bare == BareNewline::Reject {
            return Err(StuffError::BareNewline { line: self.line });
        }
        out.extend_from_slice(b"\r\n");
        self.size += 2;
        self.line_len = 0;
        self.line += 1;
        self.line_start = true;
        Ok(())
    }

    /// The next piece of input.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), StuffError> {
        if !self.eight_bit
            && let Some(i) = chunk.iter().position(|&b| b >= 0x80)
        {
            return Err(StuffError::EightBit {
                offset: self.offset + i as u64,
            });
        }
        self.offset += chunk.len() as u64;
        let mut data = chunk;
        while !data.is_empty() {
            if self.cr {
                self.cr = false;
                if data[0] == b'\n' {
                    data = &data[1..];
                    self.line_end(false, out)?;
                } else {
                    self.line_end(true, out)?;
                }
                continue;
            }
            if self.line_start {
                self.line_start = false;
                // RFC 5321 §4.5.2: a line starting with "." gets one more.
                if self.dots && data[0] == b'.' {
                    out.push(b'.');
                }
            }
            let Some(i) = memchr::memchr2(b'\r', b'\n', data) else {
                return self.text(data, out);
            };
            self.text(&data[..i], out)?;
            if data[i] == b'\n' {
                data = &data[i + 1..];
                self.line_end(true, out)?;
            } else if i + 1 == data.len() {
                data = &[];
                self.cr = true;
            } else if data[i + 1] == b'\n' {
                data = &data[i + 2..];
                self.line_end(false, out)?;
            } else {
                data = &data[i + 1..];
                self.line_end(true, out)?;
            }
        }
        Ok(())
    }

    /// End of input: settle a trailing CR, end the last line, add `.CRLF`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), StuffError> {
        if self.cr {
            self.cr = false;
            self.line_end(true, out)?;
        }
        if !self.line_start {
            self.line_end(false, out)?;
        }
        if self.dots {
            out.extend_from_slice(b".\r\n");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::BufReader;

    const CAPS: [usize; 6] = [1, 2, 3, 7, 64, 1 << 16];

    fn opts(bare: BareNewline, lf_out: bool) -> DataOptions {
        DataOptions {
            bare,
            lf_out,
            ..DataOptions::default()
        }
    }

    /// Runs `read_data` over `input` with a BufReader of capacity `cap`;
    /// returns the result, what was written and what is left unread.
    fn run(input: &[u8], o: &DataOptions, cap: usize) -> (io::Result<DataEnd>, Vec<u8>, Vec<u8>) {
        let mut r = BufReader::with_capacity(cap, input);
        let mut out = Vec::new();
        let res = read_data(&mut r, &mut out, o);
        let mut rest = Vec::new();
        io::Read::read_to_end(&mut r, &mut rest).unwrap();
        (res, out, rest)
    }

    /// Checks one vector at every buffer capacity.
    fn check(input: &[u8], o: &DataOptions, want: &[u8], outcome: DataOutcome, rest: &[u8]) {
        for cap in CAPS {
            let (res, out, left) = run(input, o, cap);
            let end = res.unwrap_or_else(|e| panic!("{input:?} cap {cap}: {e}"));
            assert_eq!(
                end.outcome,
                outcome,
                "{:?} cap {cap}",
                String::from_utf8_lossy(input)
            );
            if outcome == DataOutcome::Complete {
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(want),
                    "{:?} cap {cap}",
                    String::from_utf8_lossy(input)
                );
            }
            assert_eq!(left, rest, "{:?} cap {cap}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn plain_messages() {
        let o = DataOptions::default();
        let c = DataOutcome::Complete;
        // §4.1.1.4: the CRLF ending DATA counts, so "." first is empty.
        check(b".\r\n", &o, b"", c, b"");
        check(b".\r\nQUIT\r\n", &o, b"", c, b"QUIT\r\n");
        check(b"a\r\n.\r\n", &o, b"a\r\n", c, b"");
        check(b"\r\n.\r\n", &o, b"\r\n", c, b"");
        check(
            b"Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b>\r\n",
            &o,
            b"Subject: x\r\n\r\nbody\r\n",
            c,
            b"MAIL FROM:<a@b>\r\n",
        );
        // Pipelined next transaction right after, including its own dot.
        check(b"x\r\n.\r\n.\r\n", &o, b"x\r\n", c, b".\r\n");
    }

    #[test]
    fn unstuffing() {
        // RFC 5321 §4.5.2.
        let o = DataOptions::default();
        let c = DataOutcome::Complete;
        check(b"..\r\n.\r\n", &o, b".\r\n", c, b"");
        check(b"...\r\n.\r\n", &o, b"..\r\n", c, b"");
        check(b".x\r\n.\r\n", &o, b"x\r\n", c, b"");
        check(b"..x\r\n.\r\n", &o, b".x\r\n", c, b"");
        check(b"a\r\n..\r\nb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
        check(b"a.\r\n.b.\r\n.\r\n", &o, b"a.\r\nb.\r\n", c, b"");
        check(b"a\r\n. \r\n.\r\n", &o, b"a\r\n \r\n", c, b"");
        check(b"..\r\n..\r\n..\r\n.\r\n", &o, b".\r\n.\r\n.\r\n", c, b"");
        let lf = opts(BareNewline::Reject, true);
        check(b"..\r\na\r\n\r\n.\r\n", &lf, b".\na\n\n", c, b"");
    }

    #[test]
    fn lf_out() {
        let o = opts(BareNewline::Reject, true);
        let c = DataOutcome::Complete;
        check(b"a\r\nb\r\n.\r\n", &o, b"a\nb\n", c, b"");
        check(b"\r\n\r\n.\r\n", &o, b"\n\n", c, b"");
        check(b".\r\n", &o, b"", c, b"");
    }

    /// The smuggling vectors of reliability.md §2.1 (V1–V8), each followed
    /// by a would-be smuggled command and then the real end.
    #[test]
    fn smuggling_vectors() {
        // (sequence, contains a bare CR or LF)
        let fake: &[(&[u8], bool)] = &[
            (b"\n.\n", true),          // V1
            (b"\n.\r\n", true),        // V2
            (b"\r\n.\n", true),        // V3
            (b"\r.\r", true),          // V4
            (b"\r.\r\n", true),        // V5
            (b"\r\n.\r", true),        // V6
            (b"\n\n.\r\n", true),      // V7
            (b"\r\n\x00.\r\n", false), // V8: plain text lines
            (b"\r\n.\x00\r\n", false),
            (b"\r\n\x00.\r", true),
            (b"\r\n\x00.\n", true),
            (b"\r\r\n.\n", true),
            (b"\n\r\n.\n", true),
            (b".\n", true),
            (b"\r\n.\n.\n", true),
        ];
        let smuggled = b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nspoof\r\n";
        for &(f, has_bare) in fake {
            let mut input = b"hello".to_vec();
            input.extend_from_slice(f);
            input.extend_from_slice(smuggled);
            input.extend_from_slice(b".\r\nQUIT\r\n");
            if has_bare {
                check(
                    &input,
                    &DataOptions::default(),
                    b"",
                    DataOutcome::BareNewline,
                    b"QUIT\r\n",
                );
            } else {
                // RFC 5321 §4.5.2: ".\0" is a stuffed line, unstuffed to "\0".
                let f: &[u8] = if f == b"\r\n.\x00\r\n" {
                    b"\r\n\x00\r\n"
                } else {
                    f
                };
                let want = [&b"hello"[..], f, smuggled].concat();
                check(
                    &input,
                    &DataOptions::default(),
                    &want,
                    DataOutcome::Complete,
                    b"QUIT\r\n",
                );
            }
            // Normalize: accepted, and the "commands" are message text.
            for cap in CAPS {
                let (res, out, left) = run(&input, &opts(BareNewline::Normalize, false), cap);
                assert_eq!(res.unwrap().outcome, DataOutcome::Complete);
                assert!(out.ends_with(b"DATA\r\nspoof\r\n"), "{f:?} {out:?}");
                assert!(
                    !out.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'),
                    "{out:?}"
                );
                assert_eq!(left, b"QUIT\r\n");
            }
        }
    }

    #[test]
    fn normalize_exact() {
        let o = opts(BareNewline::Normalize, false);
        let c = DataOutcome::Complete;
        check(b"a\nb\r\n.\r\n", &o, b"a\r\nb\r\n", c, b"");
        check(b"a\rb\r\n.\r\n", &o, b"a\r\nb\r\n", c, b"");
        check(b"a\r\r\n.\r\n", &o, b"a\r\n\r\n", c, b"");
        // A bare-newline "." line is not the end and keeps its dot.
        check(b"a\n.\nb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
        check(b"a\n.\r\nb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
        check(b"a\r\n.\nb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
        check(b"a\r.\rb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
        check(b"a\r\n.\rb\r\n.\r\n", &o, b"a\r\n.\r\nb\r\n", c, b"");
        // Lines after a bare newline are unstuffed like any line.
        check(b"a\n..b\r\n.\r\n", &o, b"a\r\n.b\r\n", c, b"");
        // The CRLF after a bare-newline "." line is real: ".CRLF" next ends.
        check(b"a\n.\r\n.\r\nX", &o, b"a\r\n.\r\n", c, b"X");
        let lf = opts(BareNewline::Normalize, true);
        check(b"a\nb\rc\r\r\n.\r\n", &lf, b"a\nb\nc\n\n", c, b"");
    }

    #[test]
    fn line_length() {
        let o = DataOptions {
            max_line: 10,
            ..DataOptions::default()
        };
        let c = DataOutcome::Complete;
        check(b"12345678\r\n.\r\n", &o, b"12345678\r\n", c, b"");
        check(
            b"123456789\r\n.\r\nX",
            &o,
            b"",
            DataOutcome::LineTooLong,
            b"X",
        );
        // The stuffing dot does not count (§4.5.3.1.6).
        check(b"..2345678\r\n.\r\n", &o, b".2345678\r\n", c, b"");
        // A long line with no newline at all: read to the end, constant memory.
        let mut big = vec![b'x'; 100_000];
        big.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
        check(&big, &o, b"", DataOutcome::LineTooLong, b"QUIT\r\n");
    }

    #[test]
    fn size_limit() {
        let o = DataOptions {
            max_size: 6,
            ..DataOptions::default()
        };
        check(b"ab\r\ncd\r\n.\r\n", &o, b"", DataOutcome::TooBig, b"");
        check(b"ab\r\nc\r\n.\r\n", &o, b"", DataOutcome::TooBig, b"");
        check(b"ab\r\nc\r\n.\r\n", &o, b"", DataOutcome::TooBig, b"");
        check(
            b"a\r\n.b\r\n.\r\n",
            &o,
            b"a\r\nb\r\n",
            DataOutcome::Complete,
            b"",
        );
        for cap in CAPS {
            let (res, _, _) = run(b"ab\r\ncd\r\nef\r\n.\r\n", &o, cap);
            assert_eq!(
                res.unwrap(),
                DataEnd {
                    outcome: DataOutcome::TooBig,
                    size: 12
                }
            );
            let lf = DataOptions { lf_out: true, ..o };
            let (res, out, _) = run(b"a\r\n..\r\n.\r\n", &lf, cap);
            assert_eq!(res.unwrap().size, 6);
            assert_eq!(out, b"a\n.\n");
        }
    }

    #[test]
    fn first_problem_wins() {
        let o = DataOptions {
            max_size: 10,
            max_line: 6,
            ..DataOptions::default()
        };
        check(
            b"a\nbcdefghijkl\r\n.\r\n",
            &o,
            b"",
            DataOutcome::BareNewline,
            b"",
        );
        check(
            b"abcdefghijkl\n\r\n.\r\n",
            &o,
            b"",
            DataOutcome::LineTooLong,
            b"",
        );
        check(
            b"abc\r\nabc\r\nab\n\r\n.\r\n",
            &o,
            b"",
            DataOutcome::TooBig,
            b"",
        );
    }

    #[test]
    fn truncated_is_eof() {
        // V9 and friends: no end marker, nothing may be acknowledged.
        for input in [
            &b""[..],
            b"a",
            b"a\r\n",
            b"a\r\n.",
            b"a\r\n.\r",
            b"a\n.\n",
            b"a\r\n.\n",
        ] {
            for cap in CAPS {
                let (res, _, _) = run(input, &DataOptions::default(), cap);
                assert_eq!(
                    res.unwrap_err().kind(),
                    io::ErrorKind::UnexpectedEof,
                    "{input:?}"
                );
            }
        }
    }

    #[test]
    fn interrupted_reads_are_retried() {
        struct Flaky<'a>(&'a [u8], bool);
        impl io::Read for Flaky<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = !self.1;
                if self.1 {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                io::Read::read(&mut self.0, buf)
            }
        }
        let mut r = BufReader::with_capacity(2, Flaky(b"ab\r\n..\r\n.\r\n", false));
        let mut out = Vec::new();
        let end = read_data(&mut r, &mut out, &DataOptions::default()).unwrap();
        assert_eq!(end.outcome, DataOutcome::Complete);
        assert_eq!(out, b"ab\r\n.\r\n");
    }

    /// A byte-at-a-time model of the module docs over the whole input,
    /// written independently of the streaming scanner.
    fn model(input: &[u8], o: &DataOptions) -> Option<(Vec<u8>, DataEnd, usize)> {
        let mut marked = b"\r\n".to_vec();
        marked.extend_from_slice(input);
        let end = marked.windows(5).position(|w| w == b"\r\n.\r\n")?;
        // `end` indexes `marked`: the message is input[..end], ending with
        // the CRLF before the dot (or empty); the marker's ".\r\n" follows.
        let text = &input[..end];
        let used = end + 3;
        let (mut out, mut size, mut outcome) = (Vec::new(), 0u64, None);
        let fail = |o: &mut Option<DataOutcome>, w| {
            if o.is_none() {
                *o = Some(w);
            }
        };
        let mut i = 0;
        while i < text.len() {
            let mut j = i;
            while text[j] != b'\r' && text[j] != b'\n' {
                j += 1;
            }
            let (eol_len, bare) = match (text[j], text.get(j + 1)) {
                (b'\r', Some(b'\n')) => (2, false),
                _ => (1, true),
            };
            let mut line = &text[i..j];
            if line.len() > 1 && line[0] == b'.' {
                line = &line[1..];
            }
            // Checks in octet order: each content octet, then the line end.
            for n in 1..=line.len() {
                size += 1;
                if n + 2 > o.max_line {
                    fail(&mut outcome, DataOutcome::LineTooLong);
                }
                if size > o.max_size {
                    fail(&mut outcome, DataOutcome::TooBig);
                }
            }
            if bare && o.bare == BareNewline::Reject {
                fail(&mut outcome, DataOutcome::BareNewline);
            }
            size += 2;
            if size > o.max_size {
                fail(&mut outcome, DataOutcome::TooBig);
            }
            out.extend_from_slice(line);
            out.extend_from_slice(if o.lf_out { b"\n" } else { b"\r\n" });
            i = j + eol_len;
        }
        let outcome = outcome.unwrap_or(DataOutcome::Complete);
        Some((out, DataEnd { outcome, size }, used))
    }

    /// Inputs over a small alphabet that makes every state likely.
    fn wire() -> impl Strategy<Value = Vec<u8>> {
        let tok = proptest::sample::select(vec![
            &b"\r\n"[..],
            b"\r",
            b"\n",
            b".",
            b"..",
            b"a",
            b"bc",
            b"\r\n.\r\n",
            b"\x00",
        ]);
        proptest::collection::vec(tok, 0..40).prop_map(|t| t.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_model(
            input in wire(),
            normalize: bool,
            lf_out: bool,
            max_line in 2usize..8,
            max_size in 0u64..30,
        ) {
            let o = DataOptions {
                max_size,
                max_line,
                bare: if normalize { BareNewline::Normalize } else { BareNewline::Reject },
                lf_out,
            };
            let want = model(&input, &o);
            for cap in [1, 2, 3, 7, 4096] {
                let (res, out, rest) = run(&input, &o, cap);
                match &want {
                    None => prop_assert_eq!(res.unwrap_err().kind(), io::ErrorKind::UnexpectedEof),
                    Some((wout, wend, used)) => {
                        let end = res.unwrap();
                        prop_assert_eq!(end, *wend);
                        if end.outcome == DataOutcome::Complete {
                            prop_assert_eq!(&out, wout);
                        } else {
                            // Whatever was written is a prefix of the model's text.
                            prop_assert!(wout.starts_with(&out));
                        }
                        prop_assert_eq!(&rest[..], &input[*used..]);
                    }
                }
            }
        }

        /// BDAT: the result does not depend on how the message is split into
        /// chunks, and equals DATA's treatment of the same text minus dots.
        #[test]
        fn bdat_split_invariant(
            input in wire(),
            cuts in proptest::collection::vec(0usize..200, 0..5),
            normalize: bool,
            lf_out: bool,
        ) {
            let o = DataOptions {
                bare: if normalize { BareNewline::Normalize } else { BareNewline::Reject },
                lf_out,
                max_line: 6,
                ..DataOptions::default()
            };
            let whole = bdat(&input, &[input.len()], &o);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut sizes = Vec::new();
            let mut prev = 0;
            for c in cuts.into_iter().chain([input.len()]) {
                sizes.push(c - prev);
                prev = c;
            }
            let split = bdat(&input, &sizes, &o);
            prop_assert_eq!(&whole, &split);
            let (end, out) = whole;
            // Same as the line model (which treats the whole as DATA text
            // with no dots), when the text ends with CRLF.
            if input.ends_with(b"\r\n") && !input.contains(&b'.') {
                let mut data = input.clone();
                data.extend_from_slice(b".\r\n");
                let (wout, wend, _) = model(&data, &o).unwrap();
                prop_assert_eq!(end, wend);
                if end.outcome == DataOutcome::Complete {
                    prop_assert_eq!(out, wout);
                }
            }
        }
    }

    fn bdat(input: &[u8], sizes: &[usize], o: &DataOptions) -> (DataEnd, Vec<u8>) {
        let mut tail = input.to_vec();
        tail.extend_from_slice(b"QUIT\r\n");
        let mut r = BufReader::with_capacity(3, &tail[..]);
        let mut out = Vec::new();
        let mut b = Bdat::new(o);
        let mut end = None;
        for (k, &s) in sizes.iter().enumerate() {
            end = Some(
                b.read_chunk(&mut r, s as u64, k + 1 == sizes.len(), &mut out)
                    .unwrap(),
            );
        }
        let mut rest = Vec::new();
        io::Read::read_to_end(&mut r, &mut rest).unwrap();
        assert_eq!(rest, b"QUIT\r\n");
        let end = end.unwrap();
        assert_eq!(end.size, b.size());
        if end.outcome != DataOutcome::Complete {
            out.clear();
        }
        (end, out)
    }

    #[test]
    fn bdat_chunks() {
        let o = opts(BareNewline::Reject, true);
        // A CRLF split across chunks is one line end.
        let (end, out) = bdat(b"a\r\nb\r\n", &[2, 4], &o);
        assert_eq!(
            (end.outcome, end.size, &out[..]),
            (DataOutcome::Complete, 6, &b"a\nb\n"[..])
        );
        // No dot handling: ".\r\n" is text.
        let crlf = opts(BareNewline::Reject, false);
        let (end, out) = bdat(b"..\r\n.\r\n", &[7], &crlf);
        assert_eq!(
            (end.outcome, &out[..]),
            (DataOutcome::Complete, &b"..\r\n.\r\n"[..])
        );
        // A CR ending the last chunk is bare.
        let (end, _) = bdat(b"a\r", &[2], &o);
        assert_eq!(end.outcome, DataOutcome::BareNewline);
        let (end, out) = bdat(b"a\r", &[1, 1], &opts(BareNewline::Normalize, true));
        assert_eq!(
            (end.outcome, &out[..]),
            (DataOutcome::Complete, &b"a\n"[..])
        );
        // BDAT 0 LAST, and an empty message.
        let (end, out) = bdat(b"ab", &[2, 0], &o);
        assert_eq!(
            (end.outcome, end.size, &out[..]),
            (DataOutcome::Complete, 2, &b"ab"[..])
        );
        let (end, _) = bdat(b"", &[0], &o);
        assert_eq!((end.outcome, end.size), (DataOutcome::Complete, 0));
        // Size is for the whole message; sticky outcome.
        let small = DataOptions { max_size: 3, ..o };
        let mut r = BufReader::new(&b"abcdefQUIT"[..]);
        let mut b = Bdat::new(&small);
        let mut out = Vec::new();
        let e1 = b.read_chunk(&mut r, 2, false, &mut out).unwrap();
        assert_eq!(e1.outcome, DataOutcome::Complete);
        let e2 = b.read_chunk(&mut r, 2, false, &mut out).unwrap();
        assert_eq!((e2.outcome, e2.size), (DataOutcome::TooBig, 4));
        let e3 = b.read_chunk(&mut r, 2, true, &mut out).unwrap();
        assert_eq!((e3.outcome, e3.size), (DataOutcome::TooBig, 6));
        assert_eq!(out, b"ab");
        // EOF inside a chunk.
        let mut r = BufReader::new(&b"abc"[..]);
        let err = Bdat::new(&o)
            .read_chunk(&mut r, 4, true, &mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// Release-mode throughput on 1 MiB messages (typical 76-column text):
    /// `cargo test --release --lib smtp::dot -- --ignored --nocapture`.
    #[test]
    #[ignore = "a benchmark, not a test: cargo test --release --lib smtp::dot::tests::throughput -- --ignored --nocapture"]
    fn throughput() {
        let mut msg = Vec::new();
        let line =
            b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm\r\n";
        let mut k = 0;
        while msg.len() < (1 << 20) {
            if k % 17 == 0 {
                msg.extend_from_slice(b"..dotted line\r\n");
            }
            msg.extend_from_slice(line);
            k += 1;
        }
        msg.extend_from_slice(b".\r\n");
        for lf_out in [false, true] {
            let o = opts(BareNewline::Reject, lf_out);
            let mut out = io::BufWriter::with_capacity(limits::IO_BUF, io::sink());
            let t = std::time::Instant::now();
            let n = 200;
            for _ in 0..n {
                let mut r = BufReader::with_capacity(limits::IO_BUF, &msg[..]);
                let end = read_data(&mut r, &mut out, &o).unwrap();
                assert_eq!(end.outcome, DataOutcome::Complete);
            }
            let secs = t.elapsed().as_secs_f64();
            eprintln!(
                "read_data lf_out={lf_out}: {:.0} MB/s",
                (msg.len() * n) as f64 / secs / 1e6
            );
        }
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::BufReader;

    const CAPS: [usize; 6] = [1, 2, 3, 7, 64, 1 << 16];

    fn stuff(
        input: &[u8],
        o: &StuffOptions,
        cap: usize,
    ) -> Result<(Vec<u8>, DataSent), StuffError> {
        let mut r = BufReader::with_capacity(cap, input);
        let mut out = Vec::new();
        let sent = write_data(&mut r, &mut out, o)?;
        assert_eq!(sent.wire, out.len() as u64);
        Ok((out, sent))
    }

    /// The reference: the message the receiver must store (CRLF line ends,
    /// bare CR and LF each a line end, final CRLF added).
    fn normalise(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            match input[i] {
                b'\r' if input.get(i + 1) == Some(&b'\n') => {
                    out.extend_from_slice(b"\r\n");
                    i += 2;
                    continue;
                }
                b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
                b => out.push(b),
            }
            i += 1;
        }
        if !out.is_empty() && !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn stuffing_vectors() {
        let o = StuffOptions::default();
        let cases: &[(&[u8], &[u8])] = &[
            // RFC 5321 §4.1.1.4: the DATA command's CRLF starts the first
            // line, so an empty message is only the end marker.
            (b"", b".\r\n"),
            // A body that is only ".": stuffed, final CRLF added.
            (b".", b"..\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b".\n", b"..\r\n.\r\n"),
            // First byte '.'.
            (b".hidden\r\nx\r\n", b"..hidden\r\nx\r\n.\r\n"),
            (b"..\r\n", b"...\r\n.\r\n"),
            // Lines starting with '.' after CRLF, LF, CR, and consecutive
            // line ends (RUSTSEC-2021-0069, RUSTSEC-2026-0561).
            (b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\n.\nQUIT\n", b"a\r\n..\r\nQUIT\r\n.\r\n"),
            (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r\n\r\n.x", b"a\r\n\r\n..x\r\n.\r\n"),
            (b"\n\n.\n", b"\r\n\r\n..\r\n.\r\n"),
            // Smuggling vectors (reliability notes §2.1) are all content.
            (b"x\n.\r\nMAIL", b"x\r\n..\r\nMAIL\r\n.\r\n"),
            (b"x\r\n.\nMAIL", b"x\r\n..\r\nMAIL\r\n.\r\n"),
            (b"x\r.\r\nMAIL", b"x\r\n..\r\nMAIL\r\n.\r\n"),
            (b"x\r\n\0.\r\n", b"x\r\n\0.\r\n.\r\n"),
            // CRLF/LF mixes; no final newline; bare CR; \r\r\n.
            (b"a\nb\r\nc", b"a\r\nb\r\nc\r\n.\r\n"),
            (b"a\rb", b"a\r\nb\r\n.\r\n"),
            (b"a\r", b"a\r\n.\r\n"),
            (b"a\r\r\n", b"a\r\n\r\n.\r\n"),
            (b"\r", b"\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            // Dots not at a line start stay single.
            (b"a.b\r\n x.\r\n", b"a.b\r\n x.\r\n.\r\n"),
            // 8-bit passes (allowed by default).
            ("é\n".as_bytes(), "é\r\n.\r\n".as_bytes()),
        ];
        for (input, want) in cases {
            for cap in CAPS {
                let (out, sent) = stuff(input, &o, cap).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(want),
                    "{:?} cap {cap}",
                    String::from_utf8_lossy(input)
                );
                assert_eq!(sent.size, normalise(input).len() as u64);
            }
        }
    }

    #[test]
    fn line_limit_998() {
        let o = StuffOptions::default();
        for (body, ok) in [
            (vec![b'x'; 998], true),
            (vec![b'x'; 999], false),
            ([vec![b'.'; 998], b"\r\n".to_vec()].concat(), true), // stuffing dot not counted
            ([vec![b'x'; 999], b"\n".to_vec()].concat(), false),
            ([b"ok\r\n".to_vec(), vec![b'y'; 5000]].concat(), false),
        ] {
            for cap in CAPS {
                match stuff(&body, &o, cap) {
                    Ok((out, _)) => {
                        assert!(ok, "len {} cap {cap}", body.len());
                        assert!(out.ends_with(b"\r\n.\r\n"));
                    }
                    Err(StuffError::LineTooLong { line, max }) => {
                        assert!(!ok, "len {} cap {cap}", body.len());
                        assert_eq!(max, 1000);
                        assert_eq!(line, if body.starts_with(b"ok") { 2 } else { 1 });
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
    }

    #[test]
    fn strict_refuses_bare_newlines() {
        let o = StuffOptions {
            bare: BareNewline::Reject,
            ..StuffOptions::default()
        };
        for (input, line) in [
            (&b"a\r\nb\nc\r\n"[..], 2),
            (b"a\rb", 1),
            (b"a\r", 1),
            (b"a\r\r\n", 1),
        ] {
            for cap in CAPS {
                match stuff(input, &o, cap) {
                    Err(StuffError::BareNewline { line: l }) => assert_eq!(l, line),
                    other => panic!("{input:?} cap {cap}: {:?}", other.map(|(o, _)| o)),
                }
            }
        }
        assert_eq!(stuff(b"a\r\nb\r\n", &o, 1).unwrap().0, b"a\r\nb\r\n.\r\n");
    }

    #[test]
    fn eight_bit_only_when_declared() {
        let o = StuffOptions {
            eight_bit: false,
            ..StuffOptions::default()
        };
        match stuff(b"abc\r\nd\xe9f", &o, 3) {
            Err(StuffError::EightBit { offset }) => assert_eq!(offset, 6),
            other => panic!("{:?}", other.map(|(o, _)| o)),
        }
        assert!(stuff(b"plain\r\n", &o, 3).is_ok());
    }

    #[test]
    fn errors_never_write_the_end_marker() {
        let mut out = Vec::new();
        let body = [b"a\r\n".repeat(100_000), vec![b'z'; 2000]].concat();
        let mut r = BufReader::new(&body[..]);
        assert!(write_data(&mut r, &mut out, &StuffOptions::default()).is_err());
        assert!(!out.windows(5).any(|w| w == b"\r\n.\r\n"));
    }

    /// Counts and sizes the writes.
    struct Sink {
        writes: Vec<usize>,
        total: u64,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes.push(buf.len());
            self.total += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// An endless supply of short lines, `n` octets in all.
    struct Lines {
        left: u64,
        buf: Vec<u8>,
        pos: usize,
    }

    impl io::Read for Lines {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out
                .len()
                .min(self.left as usize)
                .min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos = (self.pos + n) % self.buf.len();
            self.left -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn large_writes_constant_memory() {
        // 32 MiB of 64-octet LF lines, some starting with '.', read through
        // an 8 KiB BufReader: every write but the last is at least 64 KiB.
        let mut pattern = Vec::new();
        for i in 0..64 {
            let mut line = vec![b'x'; 63];
            if i % 5 == 0 {
                line[0] = b'.';
            }
            line.push(b'\n');
            pattern.extend_from_slice(&line);
        }
        let n = 32u64 << 20;
        let mut input = BufReader::new(Lines {
            left: n,
            buf: pattern,
            pos: 0,
        });
        let mut sink = Sink {
            writes: Vec::new(),
            total: 0,
        };
        let sent = write_data(&mut input, &mut sink, &StuffOptions::default()).unwrap();
        let lines = n / 64;
        assert_eq!(sent.size, n + lines);
        // 13 of every 64 lines start with '.'; then ".\r\n".
        assert_eq!(sink.total, sent.size + lines / 64 * 13 + 3);
        let (last, rest) = sink.writes.split_last().unwrap();
        assert!(
            rest.iter().all(|&w| w >= 64 * 1024),
            "{:?}",
            &sink.writes[..4]
        );
        assert!(*last > 0);
        // About 256 writes for 33 MiB: no per-line system calls.
        assert!(sink.writes.len() < 300, "{}", sink.writes.len());
    }

    /// Peak resident memory of this process in KiB (Linux).
    fn peak_rss_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// A 1 GiB message streams in constant memory. Slow in debug builds,
    /// and peak memory is per process, so run it alone:
    /// `cargo test --lib one_gib -- --ignored`.
    #[test]
    #[ignore = "1 GiB through the stuffer (slow in debug builds): cargo test --release --lib one_gib -- --ignored --nocapture"]
    fn one_gib_in_constant_memory() {
        let before = peak_rss_kib();
        let mut input = BufReader::new(Lines {
            left: 1 << 30,
            buf: b".leading dot, then text up to seventy-odd characters or so ....\n".to_vec(),
            pos: 0,
        });
        let mut sink = Sink {
            writes: Vec::new(),
            total: 0,
        };
        let t = std::time::Instant::now();
        let sent = write_data(&mut input, &mut sink, &StuffOptions::default()).unwrap();
        eprintln!(
            "1 GiB: {:.0} MB/s, {} writes",
            sent.wire as f64 / t.elapsed().as_secs_f64() / 1e6,
            sink.writes.len()
        );
        assert!(sent.size > 1 << 30);
        if let (Some(a), Some(b)) = (before, peak_rss_kib()) {
            // The write-size log is 8192 entries; the stuffer's block 256 KiB.
            assert!(b - a < 8 * 1024, "peak grew by {} KiB", b - a);
        }
    }

    proptest! {
        /// Stuffing then the server's DATA reader (bare newlines rejected,
        /// so a stray CR or LF on the wire would show) gives back the
        /// normalised message, whatever the buffer sizes on either side.
        #[test]
        fn round_trip_through_the_server_reader(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"."[..]), Just(&b"\r"[..]), Just(&b"\n"[..]),
                    Just(&b"\r\n"[..]), Just(&b".\r\n"[..]), Just(&b"a"[..]),
                    Just(&b"\xc3\xa9"[..]), Just(&b"\0"[..]), Just(&b"xyz "[..]),
                ],
                0..200,
            ),
            cap_in in 1usize..20,
            cap_srv in 1usize..20,
        ) {
            let input = parts.concat();
            let (wire, sent) = stuff(&input, &StuffOptions::default(), cap_in).unwrap();
            prop_assert!(wire.ends_with(b".\r\n"));
            // The wire has no CR or LF outside CRLF.
            for (i, &b) in wire.iter().enumerate() {
                if b == b'\r' {
                    prop_assert_eq!(wire.get(i + 1), Some(&b'\n'));
                }
                if b == b'\n' {
                    prop_assert!(i > 0 && wire[i - 1] == b'\r');
                }
            }
            let mut r = BufReader::with_capacity(cap_srv, &wire[..]);
            let mut got = Vec::new();
            let end = read_data(&mut r, &mut got, &DataOptions::default()).unwrap();
            prop_assert_eq!(end.outcome, DataOutcome::Complete);
            prop_assert_eq!(end.size, sent.size);
            prop_assert_eq!(&got, &normalise(&input));
            // Nothing after the end marker.
            let mut rest = Vec::new();
            io::Read::read_to_end(&mut r, &mut rest).unwrap();
            prop_assert!(rest.is_empty());
        }
    }

    proptest! {
        /// BDAT's canonical text is DATA's without the stuffing dots and
        /// the end marker, wherever the input is split.
        #[test]
        fn canonical_is_data_without_the_dots(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()],
                0..400,
            ),
            split in 0usize..400,
        ) {
            let opts = StuffOptions::default();
            let mut data = Vec::new();
            let sent = write_data(&mut &input[..], &mut data, &opts);
            let at = split.min(input.len());
            let mut text = Stuffer::canonical(&opts);
            let mut canon = Vec::new();
            let r = text
                .push(&input[..at], &mut canon)
                .and_then(|()| text.push(&input[at..], &mut canon))
                .and_then(|()| text.finish(&mut canon));
            prop_assert_eq!(sent.is_ok(), r.is_ok());
            if r.is_ok() {
                let mut stuffed = Vec::new();
                for line in canon.split_inclusive(|&b| b == b'\n') {
                    if line.starts_with(b".") {
                        stuffed.push(b'.');
                    }
                    stuffed.extend_from_slice(line);
                }
                stuffed.extend_from_slice(b".\r\n");
                prop_assert_eq!(stuffed, data);
            }
        }
    }
}
