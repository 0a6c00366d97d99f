//! Base64 content transfer encoding (RFC 2045 §6.8), streaming.
//!
//! [`encode`] writes the RFC 4648 §4 alphabet with `=` padding, wrapped at
//! [`WRAP_DEFAULT`] = 76 columns (the RFC 2045 §6.8 maximum) with LF or CRLF
//! line ends; its output is byte-identical to coreutils `base64 -w COLS`
//! (a final line end after the last line, none for empty input or `wrap` 0).
//!
//! [`decode`] is lenient where mail needs it and strict where data would be
//! lost silently:
//! - CR, LF, space and tab are ignored anywhere (RFC 2045 §6.8 line breaks);
//! - missing final padding is accepted (`Zm9vYg` decodes as `foob`; MIME
//!   senders omit it), and so are excess `=` after the padding and non-zero
//!   trailing bits (`Zm9=` → `fo`, RFC 4648 §3.5 would reject it);
//! - any other byte outside the alphabet, padding followed by more data, and a
//!   lone final character (length ≡ 1 mod 4) are a [`DecodeError`] with the
//!   byte offset in the input. RFC 2045 §6.8 says such bytes "must be
//!   ignored"; we report them unless [`Garbage::Skip`] asks to skip them, as
//!   coreutils does with `-i`.
//!
//! Both stream with constant memory: input is taken in blocks of at most
//! [`IO_BUF`] bytes, partial quanta are carried from block to block, and each
//! block's output goes to the writer in one `write_all`. On a decode error,
//! everything decoded before the offending byte has been written.
//!
//! The work is done by the `base64` crate's SIMD engine (AVX2 / NEON, detected
//! at run time); the 76-column wrap and whitespace strip are ours, because the
//! crate neither wraps nor skips line breaks.

use std::io::{BufRead, Write};

use base64::Engine as _;
use base64::engine::GeneralPurposeConfig;

use super::{DecodeError, DecodeErrorKind, Error};
use crate::io::lines::fill;
use crate::limits::IO_BUF;

/// Default line length of encoded output: RFC 2045 §6.8 allows at most 76
/// characters per line, and coreutils, Python and most MUAs use exactly 76.
pub const WRAP_DEFAULT: usize = 76;

/// Largest block of input taken at once: one `IO_BUF` read. Output buffers are
/// sized from it, so memory stays constant whatever the input size.
const CHUNK: usize = IO_BUF;

/// Input bytes encoded per engine call before wrapping: 3 KiB in, 4 KiB out,
/// so the intermediate characters stay in L1 cache while they are copied into
/// lines (a multiple of 3, as in uutils; 1.5 to 12 KiB measured alike).
const ENCODE_STEP: usize = 3 * 1024;

/// How encoded output is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Characters per line; 0 writes one line with no line end at all.
    pub wrap: usize,
    /// End lines with CRLF (the wire form) instead of LF.
    pub crlf: bool,
}

impl Default for EncodeOptions {
    /// 76 columns, LF line ends: a local file.
    fn default() -> Self {
        EncodeOptions {
            wrap: WRAP_DEFAULT,
            crlf: false,
        }
    }
}

/// What [`decode`] does with a byte that cannot be used where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Garbage {
    /// Stop with a [`DecodeError`] naming the byte and its offset.
    Reject,
    /// Skip it (coreutils `-i`), and a `=` where padding cannot start too.
    /// Data after padding then starts a new quantum: `dGVzdA==dGVzdA==` decodes as `testtest`, as most MIME
    /// readers do with concatenated encodings.
    Skip,
}

/// The `base64` engine: SIMD where the CPU has it (3-4x the scalar engine,
/// research/deps.md §1.1); the crate has it on x86_64 and aarch64 only.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
type Codec = base64::engine::Simd;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
type Codec = base64::engine::GeneralPurpose;

/// Only whole 4-character quanta without padding ever reach the engine's
/// decoder (partial quanta and `=` are handled here), so its strict default
/// config loses nothing.
fn engine() -> Codec {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    return Codec::standard(GeneralPurposeConfig::new());
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    return Codec::new(&base64::alphabet::STANDARD, GeneralPurposeConfig::new());
}

/// Encodes `input` to `out` as MIME base64; returns the bytes written.
pub fn encode(input: impl BufRead, mut out: impl Write, opts: EncodeOptions) -> Result<u64, Error> {
    let mut encoder = Encoder::new(opts);
    let n = encoder.feed(input, &mut out)?;
    Ok(n + encoder.finish(out)?)
}

/// A streaming encoder that keeps its state from one input to the next:
/// feeding it several inputs gives the encoding of their concatenation
/// (one padded stream, as `cat a b | base64` gives), not a padded stream
/// per input, which a decoder would reject at the first padding.
pub struct Encoder {
    engine: Codec,
    lines: Lines,
    /// Input bytes of a group of 3 not yet encoded.
    pending: [u8; 3],
    npending: usize,
}

impl Encoder {
    /// An encoder at the start of a stream.
    pub fn new(opts: EncodeOptions) -> Self {
        Encoder {
            engine: engine(),
            lines: Lines::new(opts),
            pending: [0; 3],
            npending: 0,
        }
    }

    /// Encodes all of `input` as the continuation of the stream; returns
    /// the bytes written. Up to 2 input bytes are held back for the next
    /// input or [`Encoder::finish`].
    pub fn feed(&mut self, mut input: impl BufRead, mut out: impl Write) -> Result<u64, Error> {
        let mut chars = [0u8; ENCODE_STEP / 3 * 4];
        let mut buf = Vec::with_capacity(self.lines.capacity(CHUNK / 3 * 4 + 4));
        let mut written = 0u64;
        loop {
            let block = fill(&mut input)?;
            if block.is_empty() {
                return Ok(written);
            }
            let block = &block[..block.len().min(CHUNK)];
            let used = block.len();
            let mut data = block;
            let npending = self.npending;
            if npending > 0 {
                let take = (3 - npending).min(data.len());
                self.pending[npending..npending + take].copy_from_slice(&data[..take]);
                self.npending += take;
                data = &data[take..];
                if self.npending == 3 {
                    let n = encode_into(&self.engine, &self.pending, &mut chars);
                    self.lines.push(&chars[..n], &mut buf);
                    self.npending = 0;
                }
            }
            let whole = data.len() / 3 * 3;
            for step in data[..whole].chunks(ENCODE_STEP) {
                let n = encode_into(&self.engine, step, &mut chars);
                self.lines.push(&chars[..n], &mut buf);
            }
            let rest = &data[whole..];
            self.pending[self.npending..self.npending + rest.len()].copy_from_slice(rest);
            self.npending += rest.len();
            input.consume(used);
            out.write_all(&buf)?;
            written += buf.len() as u64;
            buf.clear();
        }
    }

    /// Ends the stream: the final padded quantum (RFC 4648 §4) and line
    /// end. Returns the bytes written.
    pub fn finish(mut self, mut out: impl Write) -> Result<u64, Error> {
        let mut chars = [0u8; 4];
        let mut buf = Vec::with_capacity(8);
        let n = encode_into(&self.engine, &self.pending[..self.npending], &mut chars);
        self.lines.push(&chars[..n], &mut buf);
        self.lines.finish(&mut buf);
        out.write_all(&buf)?;
        Ok(buf.len() as u64)
    }
}

/// Encodes `data` on one line, padded, without a line end (RFC 4648 §4), as
/// SMTP AUTH (RFC 4954 §4) and RFC 2047 "B" encoded-words need.
pub fn encode_to_string(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    encode_append(data, &mut out);
    out
}

/// [`encode_to_string`] appending to `out` (no allocation when `out` has
/// room): for RFC 2047 "B" words written into a header value.
pub fn encode_append(data: &[u8], out: &mut String) {
    engine().encode_string(data, out);
}

fn encode_into(engine: &Codec, input: &[u8], out: &mut [u8]) -> usize {
    engine
        .encode_slice(input, out)
        .expect("the character buffer holds 4/3 of ENCODE_STEP")
}

/// Cuts a stream of encoded characters into lines of `wrap` columns.
struct Lines {
    wrap: usize,
    eol: &'static [u8],
    /// Characters on the current (unfinished) line.
    col: usize,
}

impl Lines {
    fn new(opts: EncodeOptions) -> Self {
        Lines {
            wrap: opts.wrap,
            eol: if opts.crlf { b"\r\n" } else { b"\n" },
            col: 0,
        }
    }

    /// Output bytes needed for `chars` characters at most.
    fn capacity(&self, chars: usize) -> usize {
        match self.wrap {
            0 => chars,
            w => chars + (chars / w + 2) * self.eol.len(),
        }
    }

    fn push(&mut self, mut chars: &[u8], out: &mut Vec<u8>) {
        if self.wrap == 0 {
            out.extend_from_slice(chars);
            return;
        }
        if self.col > 0 {
            // Complete the line left unfinished by the previous call.
            let take = (self.wrap - self.col).min(chars.len());
            out.extend_from_slice(&chars[..take]);
            chars = &chars[take..];
            self.col += take;
            if self.col < self.wrap {
                return;
            }
            out.extend_from_slice(self.eol);
        }
        let rest = if self.wrap == WRAP_DEFAULT {
            // The common width as constant-size copies the compiler inlines:
            // a libc memcpy call per line (runtime length) was 20 % of encode
            // time.
            let mut lines = chars.chunks_exact(WRAP_DEFAULT);
            for line in &mut lines {
                out.extend_from_slice(line);
                match self.eol {
                    b"\r\n" => out.extend_from_slice(b"\r\n"),
                    _ => out.push(b'\n'),
                }
            }
            lines.remainder()
        } else {
            let mut lines = chars.chunks_exact(self.wrap);
            for line in &mut lines {
                out.extend_from_slice(line);
                out.extend_from_slice(self.eol);
            }
            lines.remainder()
        };
        out.extend_from_slice(rest);
        self.col = rest.len();
    }

    /// Ends the last line, if it has characters (coreutils does the same).
    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.col > 0 {
            out.extend_from_slice(self.eol);
            self.col = 0;
        }
    }
}

/// Decodes MIME base64 from `input` to `out`; returns the bytes written.
///
/// On [`Error::Decode`], the output decoded before the offending byte has
/// been written; the offset counts bytes from the start of `input`.
pub fn decode(
    mut input: impl BufRead,
    mut out: impl Write,
    garbage: Garbage,
) -> Result<u64, Error> {
    let mut d = Decoder::new(garbage, CHUNK);
    let mut written = 0u64;
    loop {
        let block = fill(&mut input)?;
        if block.is_empty() {
            break;
        }
        let block = &block[..block.len().min(CHUNK)];
        let used = block.len();
        let result = d.feed(block);
        out.write_all(d.decoded())?;
        written += d.decoded().len() as u64;
        result?;
        input.consume(used);
    }
    let result = d.finish();
    out.write_all(d.decoded())?;
    result?;
    Ok(written + d.decoded().len() as u64)
}

/// Decodes an in-memory value (an SMTP AUTH reply, an encoded-word) with the
/// rules of [`decode`] and [`Garbage::Reject`].
pub fn decode_to_vec(data: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut d = Decoder::new(Garbage::Reject, data.len().min(CHUNK));
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for block in data.chunks(CHUNK) {
        d.feed(block)?;
        out.extend_from_slice(d.decoded());
    }
    d.finish()?;
    out.extend_from_slice(d.decoded());
    Ok(out)
}

/// What a byte means to the decoder.
const WS: u8 = 0xFD;
const PAD: u8 = 0xFE;
const BAD: u8 = 0xFF;

/// Byte → sextet value (0..=63), or [`WS`], [`PAD`], [`BAD`].
const CLASS: [u8; 256] = {
    let mut t = [BAD; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    // RFC 2045 §6.8: line breaks are not data; space and tab appear in mail
    // that was re-wrapped or indented by gateways.
    t[b'\r' as usize] = WS;
    t[b'\n' as usize] = WS;
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS;
    t[b'=' as usize] = PAD;
    t
};

/// Streaming decoder state: the characters of an unfinished quantum, and
/// whether padding was seen.
struct Decoder {
    engine: Codec,
    garbage: Garbage,
    /// Characters (alphabet bytes, not values) of the unfinished quantum.
    quad: [u8; 4],
    n: usize,
    /// Input offset of `quad[0]`, for [`DecodeErrorKind::Truncated`].
    quad_at: u64,
    /// Offset of the `=` that ended the data, once padding was seen.
    padded_at: Option<u64>,
    /// Input offset of the next block.
    offset: u64,
    /// The block without line ends, behind the carried characters.
    clean: Vec<u8>,
    /// Decoded bytes of the last block: `out[..len]`.
    out: Vec<u8>,
    len: usize,
}

impl Decoder {
    /// A decoder for blocks of at most `block` bytes.
    fn new(garbage: Garbage, block: usize) -> Self {
        Decoder {
            engine: engine(),
            garbage,
            quad: [0; 4],
            n: 0,
            quad_at: 0,
            padded_at: None,
            offset: 0,
            clean: vec![0; block + 4],
            out: vec![0; block / 4 * 3 + 3],
            len: 0,
        }
    }

    fn decoded(&self) -> &[u8] {
        &self.out[..self.len]
    }

    /// Decodes the next block of input into `decoded()`.
    fn feed(&mut self, block: &[u8]) -> Result<(), DecodeError> {
        self.len = 0;
        let base = self.offset;
        self.offset += block.len() as u64;
        if self.padded_at.is_none() && self.fast(block, base) {
            return Ok(());
        }
        self.slow(block, base)
    }

    /// The common case: only alphabet characters and line ends, no padding.
    /// Strips CR/LF with memchr (runs of 76 characters between them), then
    /// has the SIMD engine decode all whole quanta. Returns false, having
    /// changed nothing, when the block needs [`Decoder::slow`].
    fn fast(&mut self, block: &[u8], base: u64) -> bool {
        let mut len = self.n;
        self.clean[..len].copy_from_slice(&self.quad[..len]);
        let mut rest = block;
        while let Some(i) = memchr::memchr2(b'\n', b'\r', rest) {
            self.clean[len..len + i].copy_from_slice(&rest[..i]);
            len += i;
            rest = &rest[i + 1..];
        }
        self.clean[len..len + rest.len()].copy_from_slice(rest);
        len += rest.len();
        if len == self.n {
            return true; // only line ends
        }
        let whole = len / 4 * 4;
        let tail = &self.clean[whole..len];
        // The engine accepts padding at the end of what it is given; padding
        // must go through the slow path, which knows whether data follows.
        let last = &self.clean[whole.saturating_sub(4)..whole];
        if tail.iter().any(|&b| CLASS[usize::from(b)] > 63) || last.contains(&b'=') {
            return false;
        }
        match self
            .engine
            .decode_slice(&self.clean[..whole], &mut self.out)
        {
            Ok(n) => self.len = n,
            Err(_) => return false,
        }
        self.n = tail.len();
        self.quad[..self.n].copy_from_slice(tail);
        if self.n == 1 {
            // The lone character is the block's last non-line-end byte.
            let at = block.iter().rposition(|&b| b != b'\n' && b != b'\r');
            self.quad_at = base + at.unwrap_or(0) as u64;
        }
        true
    }

    /// Byte by byte, for blocks with padding, spaces or garbage: exact
    /// offsets and the padding rules.
    fn slow(&mut self, block: &[u8], base: u64) -> Result<(), DecodeError> {
        for (i, &b) in block.iter().enumerate() {
            let at = base + i as u64;
            match CLASS[usize::from(b)] {
                WS => {}
                PAD => self.pad(at)?,
                BAD => self.garbage(b, at)?,
                _ => {
                    if let Some(pad_at) = self.padded_at {
                        if self.garbage == Garbage::Reject {
                            return Err(DecodeError {
                                kind: DecodeErrorKind::MisplacedPadding,
                                offset: pad_at,
                            });
                        }
                        self.padded_at = None;
                    }
                    if self.n == 0 {
                        self.quad_at = at;
                    }
                    self.quad[self.n] = b;
                    self.n += 1;
                    if self.n == 4 {
                        self.flush_quad();
                    }
                }
            }
        }
        Ok(())
    }

    /// RFC 4648 §4: `=` completes a quantum of 2 or 3 characters; more `=`
    /// after it (the second of `==`, or excess padding) is harmless.
    fn pad(&mut self, at: u64) -> Result<(), DecodeError> {
        match self.n {
            2 | 3 => {
                self.flush_quad();
                self.padded_at = Some(at);
                Ok(())
            }
            0 if self.padded_at.is_some() => Ok(()),
            _ => self.garbage(b'=', at),
        }
    }

    fn garbage(&self, byte: u8, at: u64) -> Result<(), DecodeError> {
        match self.garbage {
            Garbage::Skip => Ok(()),
            Garbage::Reject => Err(DecodeError {
                kind: DecodeErrorKind::InvalidByte(byte),
                offset: at,
            }),
        }
    }

    /// Decodes the 2 to 4 characters in `quad` (trailing bits ignored).
    fn flush_quad(&mut self) {
        let v = |i: usize| u32::from(CLASS[usize::from(self.quad[i])]);
        let mut bits = v(0) << 18 | v(1) << 12;
        if self.n > 2 {
            bits |= v(2) << 6;
        }
        if self.n > 3 {
            bits |= v(3);
        }
        let bytes = bits.to_be_bytes();
        let n = self.n - 1;
        self.out[self.len..self.len + n].copy_from_slice(&bytes[1..1 + n]);
        self.len += n;
        self.n = 0;
    }

    /// Ends the input: decodes an unpadded final quantum of 2 or 3
    /// characters into `decoded()`; a lone character is an error.
    fn finish(&mut self) -> Result<(), DecodeError> {
        self.len = 0;
        match self.n {
            0 => Ok(()),
            1 => Err(DecodeError {
                kind: DecodeErrorKind::Truncated,
                offset: self.quad_at,
            }),
            _ => {
                self.flush_quad();
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
