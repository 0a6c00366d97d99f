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
mod tests;

#[cfg(test)]
#[path = "tests/client.rs"]
mod client_tests;
