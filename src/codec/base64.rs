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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::BufReader;

    fn enc(data: &[u8], wrap: usize, crlf: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let n = encode(data, &mut out, EncodeOptions { wrap, crlf }).unwrap();
        assert_eq!(n, out.len() as u64);
        out
    }

    /// Decoded output and the error (kind, offset), if any.
    fn dec_with(
        input: impl BufRead,
        garbage: Garbage,
    ) -> (Vec<u8>, Option<(DecodeErrorKind, u64)>) {
        let mut out = Vec::new();
        match decode(input, &mut out, garbage) {
            Ok(n) => {
                assert_eq!(n, out.len() as u64);
                (out, None)
            }
            Err(Error::Decode(e)) => (out, Some((e.kind, e.offset))),
            Err(Error::Io(e)) => panic!("i/o error from memory: {e}"),
        }
    }

    fn dec(input: &[u8]) -> Result<Vec<u8>, (DecodeErrorKind, u64)> {
        match dec_with(input, Garbage::Reject) {
            (out, None) => Ok(out),
            (_, Some(e)) => Err(e),
        }
    }

    fn dec_skip(input: &[u8]) -> Vec<u8> {
        let (out, err) = dec_with(input, Garbage::Skip);
        assert_eq!(err, None);
        out
    }

    // RFC 4648 §10 test vectors.
    const RFC4648: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (plain, b64) in RFC4648 {
            let lf = if b64.is_empty() {
                String::new()
            } else {
                format!("{b64}\n")
            };
            assert_eq!(enc(plain.as_bytes(), 76, false), lf.as_bytes(), "{plain:?}");
            assert_eq!(enc(plain.as_bytes(), 0, false), b64.as_bytes(), "{plain:?}");
            assert_eq!(dec(b64.as_bytes()).unwrap(), plain.as_bytes(), "{b64:?}");
            assert_eq!(dec(lf.as_bytes()).unwrap(), plain.as_bytes(), "{b64:?}");
            // Missing padding is accepted (MIME senders omit it).
            let bare = b64.trim_end_matches('=');
            assert_eq!(dec(bare.as_bytes()).unwrap(), plain.as_bytes(), "{bare:?}");
            assert_eq!(encode_to_string(plain.as_bytes()), b64);
            assert_eq!(decode_to_vec(b64.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn wraps_like_coreutils() {
        let data: Vec<u8> = (0..=255).collect();
        let nowrap = enc(&data, 0, false);
        assert_eq!(nowrap.len(), 344);
        assert!(!nowrap.contains(&b'\n'));
        // 57 bytes make exactly one 76-column line (RFC 2045 §6.8).
        let one = enc(&data[..57], 76, false);
        assert_eq!(one.len(), 77);
        assert_eq!(one[76], b'\n');
        let two = enc(&data[..58], 76, false);
        assert_eq!(&two[..77], &one[..]);
        assert_eq!(&two[77..], b"OQ==\n");
        let table: [(usize, bool, &[u8]); 6] = [
            (1, false, b"Z\nm\n9\nv\nY\ng\n=\n=\n"),
            (4, false, b"Zm9v\nYg==\n"),
            (5, false, b"Zm9vY\ng==\n"),
            (3, true, b"Zm9\r\nvYg\r\n==\r\n"),
            (8, true, b"Zm9vYg==\r\n"),
            (0, true, b"Zm9vYg=="),
        ];
        for (wrap, crlf, want) in table {
            assert_eq!(enc(b"foob", wrap, crlf), want, "wrap {wrap} crlf {crlf}");
        }
        for wrap in [0, 1, 76] {
            assert_eq!(enc(b"", wrap, true), b"");
        }
        let crlf = enc(&data, 76, true);
        assert_eq!(
            crlf,
            String::from_utf8(enc(&data, 76, false))
                .unwrap()
                .replace('\n', "\r\n")
                .as_bytes()
        );
    }

    #[test]
    fn decode_leniency() {
        let ok: [(&[u8], &[u8]); 10] = [
            (b"Zm9v\r\nYmFy\r\n", b"foobar"),
            (b" Z m\t9v\n\nYm\rFy ", b"foobar"),
            (b"Zm9vYg", b"foob"),
            (b"Zm9vYmE", b"fooba"),
            (b"Zg=\n=\n", b"f"),
            (b"Zg=\n", b"f"),
            // Non-zero trailing bits are accepted: "Zm9=" is "fo" (canonical "Zm8=").
            (b"Zm9=", b"fo"),
            (b"PC9odG1sPn==", b"</html>"),
            // Excess padding after a padded quantum is harmless.
            (b"Zg====\r\n", b"f"),
            (b"\r\n \t", b""),
        ];
        for (input, want) in ok {
            assert_eq!(
                dec(input).unwrap(),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn decode_errors_name_the_byte_offset() {
        use DecodeErrorKind::*;
        let bad: [(&[u8], DecodeErrorKind, u64, &[u8]); 10] = [
            (b"Zm9v!mFy", InvalidByte(b'!'), 4, b"foo"),
            (b"Zm9vYmFy\n\xC3\xA9", InvalidByte(0xC3), 9, b"foobar"),
            (b"Zm9vY\x00", InvalidByte(0), 5, b"foo"),
            (b"dGVzdA==dGVzdA==", MisplacedPadding, 6, b"test"),
            (b"Zg==\r\n--boundary", InvalidByte(b'-'), 6, b"f"),
            (b"Zg==\nZg==", MisplacedPadding, 2, b"f"),
            (b"=Zg==", InvalidByte(b'='), 0, b""),
            (b"Zm9v=", InvalidByte(b'='), 4, b"foo"),
            (b"Z=g=", InvalidByte(b'='), 1, b""),
            (b"Zm9vY\n", Truncated, 4, b"foo"),
        ];
        for (input, kind, offset, written) in bad {
            let (out, err) = dec_with(input, Garbage::Reject);
            assert_eq!(
                err,
                Some((kind.clone(), offset)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(out, written, "output before the error");
            let e = decode_to_vec(input).unwrap_err();
            assert_eq!((e.kind, e.offset), (kind, offset));
        }
        let e = decode_to_vec(b"Zm9v!").unwrap_err();
        assert_eq!(e.to_string(), "invalid byte 0x21 at byte 4");
    }

    #[test]
    fn ignore_garbage() {
        let table: [(&[u8], &[u8]); 7] = [
            (b"Zm9v!mFy", b"foo\x98\\"),
            (b"Z!m*9\xffv", b"foo"),
            // Data after padding starts a new quantum.
            (b"dGVzdA==dGVzdA==", b"testtest"),
            (b"Zg==\r\n--boundary--", b"fn\x8b\xa7u\xaa\xf2"),
            (b"=Zg==", b"f"),
            (b"Z=g=", b"f"),
            (b"Zm9v=\r\n", b"foo"),
        ];
        for (input, want) in table {
            assert_eq!(
                dec_skip(input),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // A lone final character is still an error.
        let (out, err) = dec_with(&b"Zm9v!Y"[..], Garbage::Skip);
        assert_eq!(
            (out, err),
            (b"foo".to_vec(), Some((DecodeErrorKind::Truncated, 5)))
        );
    }

    #[test]
    fn padding_at_the_end_of_a_block_is_remembered() {
        for cap in [4, 5, 6] {
            let input = BufReader::with_capacity(cap, &b"Zg==\nZg==\n"[..]);
            let (out, err) = dec_with(input, Garbage::Reject);
            assert_eq!(
                (out, err),
                (b"f".to_vec(), Some((DecodeErrorKind::MisplacedPadding, 2)))
            );
            let input = BufReader::with_capacity(cap, &b"Zg==\nZg==\n"[..]);
            assert_eq!(dec_with(input, Garbage::Skip), (b"ff".to_vec(), None));
        }
    }

    #[test]
    fn offsets_count_from_the_start_across_blocks() {
        // Big enough for several CHUNK blocks, through a small reader too.
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut b64 = enc(&data, 76, true);
        let at = b64.len() - 1000;
        b64[at] = b'*';
        for cap in [7, 4096, CHUNK, 3 * CHUNK] {
            let (out, err) = dec_with(BufReader::with_capacity(cap, &b64[..]), Garbage::Reject);
            assert_eq!(
                err,
                Some((DecodeErrorKind::InvalidByte(b'*'), at as u64)),
                "cap {cap}"
            );
            assert!(
                data.starts_with(&out) && out.len() + 760 > data.len(),
                "cap {cap}"
            );
        }
    }

    /// Input that exercises every decoder path, in both the fast and slow
    /// paths: whole and padded quanta, stray characters, line ends, blanks
    /// and garbage.
    fn b64ish() -> impl Strategy<Value = Vec<u8>> {
        let alpha = || {
            proptest::sample::select(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec(),
            )
        };
        let token = prop_oneof![
            8 => proptest::collection::vec(alpha(), 4),
            2 => (proptest::collection::vec(alpha(), 2..=3)).prop_map(|mut q| {
                q.resize(4, b'=');
                q
            }),
            2 => proptest::collection::vec(alpha(), 1),
            3 => proptest::sample::select(vec![&b"\n"[..], b"\r\n", b" ", b"\t", b"="])
                .prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(token, 0..120).prop_map(|t| t.concat())
    }

    #[test]
    fn bug_b_words_share_the_one_encoder() {
        // encoded_word had its own (scalar) engine for B words.
        let mut s = "=?UTF-8?B?".to_owned();
        encode_append("é".as_bytes(), &mut s);
        assert_eq!(s, "=?UTF-8?B?w6k=");
        assert_eq!(encode_to_string(b"foob"), "Zm9vYg==");
        assert_eq!(encode_to_string(b""), "");
    }

    #[test]
    fn bug_several_inputs_encode_as_one_stream() {
        // Each input padded on its own gave `...==\n...`, which no decoder
        // takes as one stream; one encoder fed each input gives the
        // encoding of the concatenation.
        let parts: [&[u8]; 4] = [b"t1\n", b"", b"x", &[7u8; 200]];
        for opts in [
            EncodeOptions::default(),
            EncodeOptions {
                wrap: 0,
                crlf: false,
            },
            EncodeOptions {
                wrap: 5,
                crlf: true,
            },
        ] {
            let mut out = Vec::new();
            let mut encoder = Encoder::new(opts);
            let mut n = 0;
            for part in parts {
                n += encoder.feed(part, &mut out).unwrap();
            }
            n += encoder.finish(&mut out).unwrap();
            assert_eq!(n, out.len() as u64);
            let all = parts.concat();
            assert_eq!(out, enc(&all, opts.wrap, opts.crlf));
        }
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..2000),
                      wrap in 0usize..100, crlf: bool) {
            let b64 = enc(&data, wrap, crlf);
            prop_assert_eq!(dec(&b64).unwrap(), data.clone());
            prop_assert_eq!(decode_to_vec(&b64).unwrap(), data);
        }

        #[test]
        fn lines_are_exactly_wrap_columns(len in 0usize..1000, wrap in 1usize..100, crlf: bool) {
            let data = vec![0xA5u8; len];
            let b64 = enc(&data, wrap, crlf);
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            prop_assert!(b64.is_empty() || b64.ends_with(eol));
            let text = String::from_utf8(b64).unwrap();
            let lines: Vec<&str> = text.split_terminator(if crlf { "\r\n" } else { "\n" }).collect();
            for (i, line) in lines.iter().enumerate() {
                prop_assert!(!line.contains(['\r', '\n']));
                if i + 1 < lines.len() {
                    prop_assert_eq!(line.len(), wrap);
                } else {
                    prop_assert!(!line.is_empty() && line.len() <= wrap);
                }
            }
        }

        #[test]
        fn encode_is_independent_of_read_sizes(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            cap in 1usize..200, wrap in 0usize..90, crlf: bool,
        ) {
            let mut out = Vec::new();
            encode(BufReader::with_capacity(cap, &data[..]), &mut out, EncodeOptions { wrap, crlf }).unwrap();
            prop_assert_eq!(out, enc(&data, wrap, crlf));
        }

        #[test]
        fn decode_is_independent_of_read_sizes(input in b64ish(), cap in 1usize..64, skip: bool) {
            let garbage = if skip { Garbage::Skip } else { Garbage::Reject };
            let whole = dec_with(&input[..], garbage);
            let small = dec_with(BufReader::with_capacity(cap, &input[..]), garbage);
            prop_assert_eq!(whole, small);
        }

        #[test]
        fn decode_matches_the_base64_crate(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            wrap in 1usize..90, cap in 1usize..300,
        ) {
            // Valid input, wrapped at any width with CRLF, read in any sizes:
            // the fast path and the engine agree with an independent encoder.
            let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
            let wrapped: Vec<u8> = b64.as_bytes().chunks(wrap).flat_map(|l| [l, b"\r\n"].concat()).collect();
            let (out, err) = dec_with(BufReader::with_capacity(cap, &wrapped[..]), Garbage::Reject);
            prop_assert_eq!(err, None);
            prop_assert_eq!(out, data);
        }
    }
}
