//! Quoted-printable, RFC 2045 §6.7: streaming encoder and lenient decoder.
//!
//! Both directions read the input in large blocks and write one block of
//! output per input block, so memory stays constant whatever the line
//! length. Each block is processed up to a small tail that needs more
//! lookahead (a CR that may start a CRLF, a `=` whose two hex digits have not
//! arrived, whitespace that may turn out to end a line); that tail is carried
//! over to the next block.
//!
//! # Encoding rules (RFC 2045 §6.7)
//!
//! - Rule 2: printable ASCII `!`..`~` except `=` stands for itself; every other
//!   byte becomes `=XX` (uppercase hex, rule 1).
//! - Rule 3: SPACE and TAB stand for themselves except at the end of an
//!   encoded line: before a hard line break, before a soft line break and at
//!   the end of the input they are encoded (`=20`, `=09`).
//! - Rule 4: in text mode a line end (LF or CRLF) is a hard line break and is
//!   written as LF, or CRLF when asked; a bare CR is data (`=0D`). In binary
//!   mode CR and LF are data too, so the output is one logical line.
//! - Rule 5: encoded lines are at most 76 characters; a soft line break `=`
//!   counts toward the 76. An `=XX` is never split across a soft break.
//! - A final line without a line end stays without one (no soft break is
//!   added, unlike `qprint`).
//!
//! With `safe`, a `.` or the `F` of `From ` at the start of an output line
//! (also after a soft break) is encoded, so the text survives SMTP
//! dot-stuffing and mbox `From ` quoting unchanged (the "more robust"
//! encoding RFC 2045 §6.7 suggests for gateways; RFC 5321 §4.5.2).
//!
//! # Decoding (RFC 2045 §6.7, leniently)
//!
//! - `=XX` with upper- or lowercase hex gives the byte.
//! - `=` followed by optional SPACE/TAB and a line end, or at the end of the
//!   input, is a soft line break and gives nothing (rule 5).
//! - SPACE, TAB and CR at the end of a line (before LF or the end of the
//!   input) are deleted (rule 3: a transport added them; a CR there is the
//!   CR of CRLF or stray; Python's `quopri` deletes the same three).
//! - Any other `=` (`=ZZ`, `=4` before a line end, `=` + an 8-bit byte) is a
//!   defect: it is kept literally and decoding goes on with the byte after
//!   it (so `==41` gives `=A`), as the RFC's note suggests; the first defect
//!   and a count are reported, or, when `strict`, the first one is an error.
//! - Hard line breaks (LF or CRLF) are written as LF, or CRLF when asked;
//!   encoded `=0D=0A` gives the raw bytes CR LF in every case.
//! - Other bytes, 8-bit and control bytes included, are kept as they are.

use std::io::{BufRead, Write};

use memchr::memchr2;

use super::{DecodeError, DecodeErrorKind, Error};
use crate::io::lines::fill;
use crate::limits::{IO_BUF, QP_MAX_PENDING_WS};

/// Longest encoded line (RFC 2045 §6.7 rule 5), soft-break `=` included.
const LINE_MAX: usize = 76;

/// Bytes of lookahead the encoder needs past a byte to encode it: a CR
/// needs the next byte (CRLF?), a SPACE the next two (is it trailing?), a
/// line-start `F` the next four (`rom `).
const ENC_LOOKAHEAD: usize = 5;

/// The most bytes a block may leave for the next one: pending whitespace,
/// then `=` and whitespace that may yet be a soft break.
const MAX_CARRY: usize = 2 * QP_MAX_PENDING_WS + 8;

/// Uppercase hex digits, as `=XX` escapes are written here and in RFC 2047
/// Q words (RFC 2045 §6.7 rule 1).
pub(crate) const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// How to encode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Encode CR and LF as data (`=0D`, `=0A`): for non-text data, whose
    /// output is one logical line of soft-broken lines.
    pub binary: bool,
    /// Write CRLF line ends (hard and soft) instead of LF.
    pub crlf: bool,
    /// Also encode a `.` or the `F` of `From ` at the start of a line.
    pub safe: bool,
}

/// How to decode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Fail on the first malformed `=` escape instead of keeping it.
    pub strict: bool,
    /// Write hard line breaks as CRLF instead of LF.
    pub crlf: bool,
}

/// What a lenient decode found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeReport {
    /// Bytes written.
    pub bytes: u64,
    /// Number of malformed `=` escapes kept literally.
    pub defects: u64,
    /// The first of them (kind and input byte offset).
    pub first_defect: Option<DecodeError>,
}

/// Encodes `input` as quoted-printable into `out`; returns the bytes written.
///
/// A final line without a line end stays without one. `out` is flushed.
pub fn encode(
    input: impl BufRead,
    mut out: impl Write,
    opts: &EncodeOptions,
) -> Result<u64, Error> {
    let mut encoder = Encoder::new(opts);
    let n = encoder.feed(input, &mut out)?;
    Ok(n + encoder.finish(out)?)
}

/// A streaming encoder that keeps its state from one input to the next:
/// feeding it several inputs gives the encoding of their concatenation, so
/// a line that one input leaves unfinished goes on with the next input and
/// no output line passes 76 characters.
pub struct Encoder {
    engine: Engine,
    /// Input held back for lookahead (at most a few bytes).
    carry: Vec<u8>,
}

impl Encoder {
    /// An encoder at the start of a stream (and of a line).
    pub fn new(opts: &EncodeOptions) -> Self {
        Encoder {
            engine: Engine::new(opts),
            carry: Vec::new(),
        }
    }

    /// Encodes `input` as the continuation of the stream; returns the bytes
    /// written. The last few bytes may be held back until the next input or
    /// [`Encoder::finish`] tells whether a line ends after them. `out` is
    /// flushed.
    pub fn feed(&mut self, input: impl BufRead, out: impl Write) -> Result<u64, Error> {
        let engine = &mut self.engine;
        run_blocks(input, out, &mut self.carry, false, |data, eof, out| {
            (engine.block(data, eof, out), None)
        })
    }

    /// Ends the stream: encodes the bytes held back, the end of input ending
    /// the last line. Returns the bytes written; `out` is flushed.
    pub fn finish(mut self, out: impl Write) -> Result<u64, Error> {
        let engine = &mut self.engine;
        run_blocks(&[][..], out, &mut self.carry, true, |data, eof, out| {
            (engine.block(data, eof, out), None)
        })
    }
}

/// Decodes quoted-printable `input` into `out`, leniently unless
/// `opts.strict`; returns the bytes written and the defects found.
///
/// In strict mode the first malformed escape is an
/// [`Error::Decode`] ([`DecodeErrorKind::BadEscape`] with its byte offset);
/// what was decoded before it has been written. `out` is flushed.
pub fn decode(
    input: impl BufRead,
    out: impl Write,
    opts: &DecodeOptions,
) -> Result<DecodeReport, Error> {
    let mut dec = Decoder::new(opts);
    let mut carry = Vec::new();
    let bytes = run_blocks(input, out, &mut carry, true, |data, eof, out| {
        dec.block(data, eof, out)
    })?;
    Ok(DecodeReport {
        bytes,
        defects: dec.defects,
        first_defect: dec.first,
    })
}

/// The output of one block: a buffer sized for the worst case and how much
/// of it is filled. Worst cases per input byte: the encoder 3 bytes, plus a
/// 3-byte soft break per 25 bytes, plus 4 bytes of slack for its 4-byte
/// stores; the decoder 2 bytes (LF to CRLF), plus 8 bytes of slack for its
/// 8-byte copies. 4 per byte plus 64 covers both.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn extend(&mut self, s: &[u8]) {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
    }

    /// Takes back the last `n` bytes written.
    fn take_back(&mut self, n: usize) {
        self.len = self.len.saturating_sub(n);
    }
}

/// Feeds `carry` then `input` to `step` in blocks and writes what it
/// produces.
///
/// `step(data, eof, out)` writes the output for a prefix of `data` to `out`
/// and returns the prefix's length; the rest (at most [`MAX_CARRY`] bytes)
/// is offered again with more data after it. At `eof` it must take all.
/// An error it returns is passed on after its output is written. When
/// `last` is false, the end of `input` is not the end of the data: the
/// rest `step` left is kept in `carry` for the next call.
fn run_blocks(
    mut input: impl BufRead,
    mut out: impl Write,
    carry: &mut Vec<u8>,
    last: bool,
    mut step: impl FnMut(&[u8], bool, &mut Out<'_>) -> (usize, Option<DecodeError>),
) -> Result<u64, Error> {
    // IO_BUF free bytes after any carry: a whole IO_BUF block fits.
    let mut buf = vec![0u8; IO_BUF + MAX_CARRY];
    let mut filled = carry.len();
    buf[..filled].copy_from_slice(carry);
    carry.clear();
    let mut produced = Vec::new();
    let mut written = 0u64;
    loop {
        let chunk = fill(&mut input)?;
        if chunk.is_empty() && !last {
            carry.extend_from_slice(&buf[..filled]);
            break;
        }
        let eof = chunk.is_empty();
        let n = chunk.len().min(buf.len() - filled);
        buf[filled..filled + n].copy_from_slice(&chunk[..n]);
        input.consume(n);
        filled += n;
        // At most 3 output bytes per input byte, plus soft breaks, plus
        // room for the encoder's 4-byte stores.
        let need = 4 * filled + 64;
        if produced.len() < need {
            produced.resize(need, 0);
        }
        let mut block = Out {
            buf: &mut produced,
            len: 0,
        };
        let (used, error) = step(&buf[..filled], eof, &mut block);
        let len = block.len;
        out.write_all(&produced[..len])?;
        written += len as u64;
        if let Some(e) = error {
            out.flush()?;
            return Err(e.into());
        }
        if eof {
            break;
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
        // `step` carries at most MAX_CARRY bytes, so IO_BUF bytes stay free
        // and every block makes progress.
        if buf.len() - filled < IO_BUF {
            buf.resize(filled + IO_BUF, 0);
        }
    }
    out.flush()?;
    Ok(written)
}

/// Byte classes for the encoder.
const LIT: u8 = 0; // stands for itself
const ENC: u8 = 1; // always =XX
const WS: u8 = 2; // SPACE or TAB: literal unless at the end of a line
const CR: u8 = 3; // text mode: start of CRLF, else =0D
const LF: u8 = 4; // text mode: hard line break

/// Last column at which the fast path places a token with no questions
/// asked: a token (3 characters at most) then ends by column 74, and after
/// a SPACE there the next token still ends by column 75, with room for a
/// soft break `=` (rules 3 and 5).
const FAST_COL: usize = LINE_MAX - 1 - 3 - 1;

struct Engine {
    class: [u8; 256],
    /// Each byte as written mid-line (`b` or `=XX`), padded to 4 bytes,
    /// and its length: the fast path stores 4 and keeps the length.
    repr: [[u8; 4]; 256],
    len: [u8; 256],
    text: bool,
    eol: &'static [u8],
    safe: bool,
    /// Characters on the current output line.
    col: usize,
}

impl Engine {
    fn new(opts: &EncodeOptions) -> Self {
        let mut class = [ENC; 256];
        for b in b'!'..=b'~' {
            class[usize::from(b)] = LIT;
        }
        class[usize::from(b'=')] = ENC;
        class[usize::from(b' ')] = WS;
        class[usize::from(b'\t')] = WS;
        if !opts.binary {
            class[usize::from(b'\r')] = CR;
            class[usize::from(b'\n')] = LF;
        }
        let mut repr = [[0; 4]; 256];
        let mut len = [1; 256];
        for (b, c) in (0..=255u8).zip(class) {
            repr[usize::from(b)] = match c {
                LIT | WS => [b, 0, 0, 0],
                _ => {
                    len[usize::from(b)] = 3;
                    [b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)], 0]
                }
            };
        }
        Engine {
            class,
            repr,
            len,
            text: !opts.binary,
            eol: if opts.crlf { b"\r\n" } else { b"\n" },
            safe: opts.safe,
            col: 0,
        }
    }

    fn class_at(&self, data: &[u8], i: usize) -> Option<u8> {
        data.get(i).map(|&b| self.class[usize::from(b)])
    }

    /// Whether a line ends at `data[i]`: a hard break (text mode) or the end
    /// of the input. Only called with enough lookahead or at EOF.
    fn line_ends_at(&self, data: &[u8], i: usize) -> bool {
        match self.class_at(data, i) {
            None | Some(LF) => true,
            Some(CR) => data.get(i + 1) == Some(&b'\n'),
            _ => false,
        }
    }

    /// Encodes all of `data` but a tail that needs more lookahead (none at
    /// `eof`); returns how much was encoded.
    fn block(&mut self, data: &[u8], eof: bool, out: &mut Out<'_>) -> usize {
        let limit = if eof {
            data.len()
        } else {
            data.len().saturating_sub(ENC_LOOKAHEAD)
        };
        let mut i = 0;
        while i < limit {
            // Up to the next line end, every byte but the last is followed
            // by a byte that does not end the line, so SPACE and TAB there
            // are literal whenever a soft break cannot follow them.
            let seg_end = if self.text {
                memchr2(b'\r', b'\n', &data[i..limit]).map_or(limit, |k| i + k)
            } else {
                limit
            };
            let fast_end = seg_end.saturating_sub(1);
            while i < fast_end {
                if self.col > FAST_COL || (self.safe && self.col == 0) {
                    i = self.one(data, i, out);
                    continue;
                }
                // Every token fits with room for a soft break: a table copy.
                let (mut o, mut col) = (out.len, self.col);
                while i < fast_end && col <= FAST_COL {
                    let b = usize::from(data[i]);
                    let n = usize::from(self.len[b]);
                    out.buf[o..o + 4].copy_from_slice(&self.repr[b]);
                    o += n;
                    col += n;
                    i += 1;
                }
                (out.len, self.col) = (o, col);
            }
            // The segment's last byte and the line end: every rule checked.
            while i <= seg_end && i < limit {
                i = self.one(data, i, out);
            }
        }
        i
    }

    /// Encodes the token (or line end) at `data[i]` with every rule checked;
    /// returns the index after it.
    fn one(&mut self, data: &[u8], i: usize, out: &mut Out<'_>) -> usize {
        let b = data[i];
        match self.class[usize::from(b)] {
            LF => return self.hard_break(out, i + 1),
            CR if data.get(i + 1) == Some(&b'\n') => return self.hard_break(out, i + 2),
            _ => {}
        }
        let last = self.line_ends_at(data, i + 1);
        let max = if last { LINE_MAX } else { LINE_MAX - 1 };
        let mut encoded = self.must_encode(data, i, last);
        if self.col + if encoded { 3 } else { 1 } > max {
            out.push(b'=');
            out.extend(self.eol);
            self.col = 0;
            encoded = self.must_encode(data, i, last);
        }
        if encoded {
            out.extend(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            self.col += 3;
        } else {
            out.push(b);
            self.col += 1;
        }
        i + 1
    }

    fn hard_break(&mut self, out: &mut Out<'_>, next: usize) -> usize {
        out.extend(self.eol);
        self.col = 0;
        next
    }

    /// Whether `data[i]` (not a line end) is written `=XX` at the current
    /// column; `last`: a line end follows it.
    fn must_encode(&self, data: &[u8], i: usize, last: bool) -> bool {
        let b = data[i];
        match self.class[usize::from(b)] {
            LIT => {
                self.safe
                    && self.col == 0
                    && (b == b'.' || (b == b'F' && data.get(i + 1..i + 5) == Some(b"rom ")))
            }
            // Literal only if the next token surely fits on this line after
            // it (counting it as =XX), so no soft break can follow it.
            WS => last || self.col > FAST_COL,
            _ => true,
        }
    }
}

/// Hex digit values; 0xFF for bytes that are not hex digits (either case).
pub(crate) const UNHEX: [u8; 256] = {
    let mut t = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'A' as usize + i] = 10 + i as u8;
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Bytes deleted at the end of a line: SPACE and TAB (rule 3), and a CR
/// (of a CRLF, or stray).
fn is_trailing(b: u8) -> bool {
    is_ws(b) || b == b'\r'
}

/// Copies the bytes from `data[p]` up to the next `=` or LF (or the last
/// 7 bytes) to `out`, 8 at a time; returns where it stopped.
fn literal_run(data: &[u8], mut p: usize, out: &mut Out<'_>) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // High bit set in the lowest byte of `v` that is zero (bytes above it
    // may be flagged falsely; the lowest is exact).
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut o = out.len;
    while let Some(chunk) = data.get(p..p + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        out.buf[o..o + 8].copy_from_slice(chunk);
        let v = u64::from_le_bytes(bytes);
        let stop =
            zero_byte(v ^ (ONES * u64::from(b'='))) | zero_byte(v ^ (ONES * u64::from(b'\n')));
        if stop != 0 {
            let k = (stop.trailing_zeros() / 8) as usize;
            out.len = o + k;
            return p + k;
        }
        o += 8;
        p += 8;
    }
    out.len = o;
    p
}

/// Decodes literal bytes and valid `=XX` from `data[p]` on, as in binary
/// data, until a line end, a bad `=`, or a run of literal bytes; returns
/// where it stopped.
///
/// Most bytes of binary data are escaped, in random order: a branch on
/// "is this an `=`" would miss about every other time, so this loop has
/// none but its exit, which is rare.
fn escapes(data: &[u8], mut p: usize, out: &mut Out<'_>) -> usize {
    let mut o = out.len;
    let mut literals = 0usize;
    while let Some(&[b, x, y]) = data.get(p..p + 3) {
        let hi = UNHEX[usize::from(x)];
        let lo = UNHEX[usize::from(y)];
        let esc = b == b'=';
        // Non-short-circuit `&` and `|`, and arithmetic instead of `if`,
        // so that the compiler does not bring the branches back.
        if (esc & ((hi | lo) > 15)) | (b == b'\n') | (literals > 4) {
            break;
        }
        let mask = 0u8.wrapping_sub(u8::from(esc));
        out.buf[o] = ((hi << 4 | lo) & mask) | (b & !mask);
        o += 1;
        p += 1 + 2 * usize::from(esc);
        literals = (literals + 1) & usize::from(esc).wrapping_sub(1);
    }
    out.len = o;
    p
}

/// Length of the run of [`is_trailing`] bytes that ends `data`.
fn trailing_run(data: &[u8]) -> usize {
    data.iter().rev().take_while(|&&b| is_trailing(b)).count()
}

struct Decoder {
    eol: &'static [u8],
    strict: bool,
    /// Input offset of the first byte of the current block.
    base: u64,
    defects: u64,
    first: Option<DecodeError>,
}

/// What follows a `=` that is not a hex escape.
enum AfterEq {
    /// A soft line break: continue at this index.
    Soft(usize),
    /// Malformed: the `=` is data.
    Bad,
    /// Cannot tell yet: more input needed.
    More,
}

impl Decoder {
    fn new(opts: &DecodeOptions) -> Self {
        Decoder {
            eol: if opts.crlf { b"\r\n" } else { b"\n" },
            strict: opts.strict,
            base: 0,
            defects: 0,
            first: None,
        }
    }

    /// Decodes all of `data` but a tail that needs more lookahead (none at
    /// `eof`); returns how much was decoded, and the error that stopped a
    /// strict decode.
    fn block(&mut self, data: &[u8], eof: bool, out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
        let (used, error) = self.block_inner(data, eof, out);
        self.base += used as u64;
        (used, error)
    }

    fn block_inner(
        &mut self,
        data: &[u8],
        eof: bool,
        out: &mut Out<'_>,
    ) -> (usize, Option<DecodeError>) {
        // Literal bytes give themselves, so trailing whitespace already
        // written is taken back at the line end: as many bytes as the run
        // of whitespace that ends the input line (an escape's hex digit or
        // a soft break's LF always ends that run).
        //
        // Encoded binary data is about a quarter `=`, encoded text far
        // less: a count over the block's start picks the loops that suit it.
        let sample = &data[..data.len().min(4096)];
        let binary = sample.iter().filter(|&&b| b == b'=').count() > sample.len() / 8;
        let mut p = 0;
        loop {
            // Plain text: runs of literal bytes, 8 at a time.
            let start = p;
            p = literal_run(data, p, out);
            if !binary || p - start >= 4 {
                // Text: escapes come in short groups (`caf=C3=A9`), which
                // a plain loop predicts well.
                while let Some(&[b'=', x, y]) = data.get(p..p + 3) {
                    let (hi, lo) = (UNHEX[usize::from(x)], UNHEX[usize::from(y)]);
                    if (hi | lo) > 15 {
                        break;
                    }
                    out.push(hi << 4 | lo);
                    p += 3;
                }
            } else {
                p = escapes(data, p, out);
            }
            let Some(&b) = data.get(p) else {
                return (self.end_of_block(data, p, eof, out), None);
            };
            if b == b'\n' {
                // A hard line break (LF or CRLF); trailing whitespace goes.
                out.take_back(trailing_run(&data[..p]));
                out.extend(self.eol);
                p += 1;
                continue;
            }
            if b != b'=' {
                out.push(b);
                p += 1;
                continue;
            }
            let hex = |k: usize| data.get(k).map_or(0xFF, |&b| UNHEX[usize::from(b)]);
            let (hi, lo) = (hex(p + 1), hex(p + 2));
            if (hi | lo) <= 15 {
                out.push(hi << 4 | lo);
                p += 3;
                continue;
            }
            if p + 2 >= data.len() && !eof {
                return (self.end_of_block(data, p, eof, out), None);
            }
            match self.after_eq(data, p, eof) {
                // The block ends with the soft break: nothing to carry,
                // nothing trailing to take back (at EOF the whitespace
                // after the `=` was never written).
                AfterEq::Soft(next) if next == data.len() => return (next, None),
                AfterEq::Soft(next) => p = next,
                AfterEq::More => return (self.end_of_block(data, p, eof, out), None),
                AfterEq::Bad => {
                    let err = DecodeError {
                        kind: DecodeErrorKind::BadEscape,
                        offset: self.base + p as u64,
                    };
                    if self.strict {
                        return (p, Some(err));
                    }
                    self.defects += 1;
                    self.first.get_or_insert(err);
                    out.push(b'=');
                    p += 1;
                }
            }
        }
    }

    /// Ends a block at `stop`, the first byte not decoded. At EOF, deletes
    /// the last line's trailing whitespace. Otherwise takes back trailing
    /// whitespace already written, to decide on it once the rest of its
    /// line has come (unless the run is absurdly long: then it stays).
    /// Returns the bytes used.
    fn end_of_block(&self, data: &[u8], stop: usize, eof: bool, out: &mut Out<'_>) -> usize {
        let pending = trailing_run(&data[..stop]);
        if eof {
            out.take_back(pending);
            return data.len();
        }
        if pending > QP_MAX_PENDING_WS {
            return stop;
        }
        out.take_back(pending);
        stop - pending
    }

    /// Classifies the `=` at `data[i]`, not followed by two hex digits.
    fn after_eq(&self, data: &[u8], i: usize, eof: bool) -> AfterEq {
        // Rule 5 as amended by rule 3: `=`, optional whitespace, line end
        // (or the end of the input) is a soft break.
        let mut e = i + 1;
        while e < data.len() && is_ws(data[e]) {
            e += 1;
        }
        match (data.get(e), data.get(e + 1)) {
            (None, _) if eof => AfterEq::Soft(e),
            (Some(b'\n'), _) => AfterEq::Soft(e + 1),
            (Some(b'\r'), Some(b'\n')) => AfterEq::Soft(e + 2),
            // Whitespace (and maybe a CR) up to the end of the block: the
            // line end may come in the next one.
            (None, _) | (Some(b'\r'), None) if !eof => {
                if data.len() - i > QP_MAX_PENDING_WS {
                    AfterEq::Bad
                } else {
                    AfterEq::More
                }
            }
            _ => AfterEq::Bad,
        }
    }
}

#[cfg(test)]
mod tests;
