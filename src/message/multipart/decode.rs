//! Decoding a part's body: the transfer encoding (RFC 2045 §6), and for
//! display the charset (RFC 2046 §4.1.2) to UTF-8. Both stream.
//!
//! Leniency (each a [`Defect`], never an error):
//! - base64: bytes outside the alphabet are skipped, data after padding
//!   is decoded as more data, a final lone character is dropped
//!   (RFC 2045 §6.8: "any characters outside of the base64 alphabet are to
//!   be ignored").
//! - quoted-printable: malformed `=` escapes are kept literally (the RFC
//!   2045 §6.7 note); hard line breaks are written as the part writes
//!   them (CRLF when its first line ends with CRLF, else LF).
//! - an unknown encoding: the body as it is.
//! - text in an unknown charset is left as it is; bytes invalid in a known
//!   charset become U+FFFD.

use std::io::{self, BufRead, Write};

use encoding_rs::CoderResult;

use super::part::{Defect, Encoding, Error, Part};
use crate::codec::charset::{self, Charset};
use crate::codec::{DecodeErrorKind, base64, qp};
use crate::io::{Counter, Record, Tap};
use crate::limits::UTF7_LINE;

/// Decodes `body` (a part's raw body) by the part's transfer encoding into
/// `out`; returns the bytes written. Defects go into `part.defects`.
pub fn content(part: &mut Part, body: impl BufRead, out: impl Write) -> Result<u64, Error> {
    let mut out = Counter { out, n: 0 };
    match part.encoding {
        Encoding::Base64 => {
            let mut check = Tap {
                inner: body,
                rec: Seen::default(),
            };
            let result = base64::decode(&mut check, &mut out, base64::Garbage::Skip);
            if check.rec.junk {
                part.defects.push(Defect::Base64Junk);
            }
            if check.rec.after_padding {
                part.defects.push(Defect::Base64AfterPadding);
            }
            match result {
                Ok(_) => {}
                Err(crate::codec::Error::Decode(e)) if e.kind == DecodeErrorKind::Truncated => {
                    part.defects.push(Defect::Base64Truncated);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Encoding::QuotedPrintable => {
            // Hard line breaks as the part writes them (Python keeps them
            // as they are).
            let opts = qp::DecodeOptions {
                strict: false,
                crlf: part.crlf,
            };
            let report = qp::decode(body, &mut out, &opts)?;
            if report.defects > 0 {
                part.defects.push(Defect::BadQuotedPrintable);
            }
        }
        _ => {
            copy(body, &mut out)?;
        }
    }
    Ok(out.n)
}

/// Copies a reader to a writer block by block; returns the bytes copied.
pub fn copy(mut input: impl BufRead, mut out: impl Write) -> io::Result<u64> {
    let mut n = 0;
    loop {
        let data = input.fill_buf()?;
        if data.is_empty() {
            return Ok(n);
        }
        out.write_all(data)?;
        let len = data.len();
        input.consume(len);
        n += len as u64;
    }
}

/// What base64 input showed as it went by (through a [`Tap`]): the defects
/// the lenient decoder hides, bytes outside the alphabet and data after
/// padding.
#[derive(Default)]
struct Seen {
    junk: bool,
    padded: bool,
    after_padding: bool,
}

/// Whether `b` may appear in MIME base64: the alphabet, `=`, line ends,
/// and the spaces and tabs the decoder ignores. Branch-free, so the scan
/// below compiles to SIMD compares.
fn base64_byte(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'+')
        | (b == b'/')
        | (b == b'=')
        | (b == b'\n')
        | (b == b'\r')
        | (b == b' ')
        | (b == b'\t')
}

/// Whether `b` is a base64 data character (not padding, not white space).
fn base64_data(b: u8) -> bool {
    base64_byte(b) && !matches!(b, b'=' | b'\n' | b'\r' | b' ' | b'\t')
}

impl Record for Seen {
    fn record(&mut self, data: &[u8]) {
        if !self.junk {
            self.junk = data
                .chunks(64)
                .any(|c| !c.iter().fold(true, |ok, &b| ok & base64_byte(b)));
        }
        if self.after_padding {
            return;
        }
        let from = if self.padded {
            0
        } else {
            match memchr::memchr(b'=', data) {
                Some(i) => {
                    self.padded = true;
                    i
                }
                None => return,
            }
        };
        self.after_padding = data[from..].iter().any(|&b| base64_data(b));
    }
}

/// Converts text in a charset to UTF-8 as it is written through (for
/// showing a text part). Call [`Utf8Writer::finish`] at the end.
pub struct Utf8Writer<W: Write> {
    out: W,
    how: Convert,
    buf: Vec<u8>,
    invalid: bool,
}

enum Convert {
    /// Bytes pass as they are (no charset, or an unknown one).
    Raw,
    Decoder(Box<encoding_rs::Decoder>),
    /// UTF-7 (RFC 2152), which encoding_rs lacks: decoded line by line
    /// (a shift sequence never spans a line end).
    Utf7(Vec<u8>),
}

impl<W: Write> Utf8Writer<W> {
    /// A writer for text in `label` (the charset parameter); `None` and
    /// unknown labels pass bytes through (unknown: a defect for `part`).
    pub fn new(out: W, label: Option<&str>, defects: &mut Vec<Defect>) -> Self {
        let how = match label.map(|l| (l, charset::find(l.as_bytes()))) {
            None => Convert::Raw,
            Some((l, None)) => {
                defects.push(Defect::UnknownCharset(l.to_owned()));
                Convert::Raw
            }
            Some((_, Some(Charset::Utf7))) => Convert::Utf7(Vec::new()),
            // RFC 2781 §4.3: a byte order mark decides, else big-endian;
            // encoding_rs's BOM-sniffing decoder does exactly that.
            Some((_, Some(Charset::Utf16))) => {
                Convert::Decoder(Box::new(encoding_rs::UTF_16BE.new_decoder()))
            }
            Some((_, Some(Charset::Encoding(e)))) => {
                Convert::Decoder(Box::new(e.new_decoder_without_bom_handling()))
            }
        };
        Utf8Writer {
            out,
            how,
            buf: vec![0; 16 * 1024],
            invalid: false,
        }
    }

    fn decode(&mut self, mut src: &[u8], last: bool) -> io::Result<()> {
        let Convert::Decoder(dec) = &mut self.how else {
            return Ok(());
        };
        loop {
            let (result, read, written, errors) = dec.decode_to_utf8(src, &mut self.buf, last);
            self.invalid |= errors;
            self.out.write_all(&self.buf[..written])?;
            src = &src[read..];
            if result == CoderResult::InputEmpty {
                return Ok(());
            }
        }
    }

    fn utf7_flush(&mut self, line: &[u8]) -> io::Result<()> {
        let mut text = String::new();
        self.invalid |= Charset::Utf7.decode_into(line, &mut text);
        self.out.write_all(text.as_bytes())
    }

    /// Ends the text (a character cut off at the end becomes U+FFFD) and
    /// flushes; a defect for `label` goes into `defects` if bytes were
    /// invalid.
    pub fn finish(mut self, label: Option<&str>, defects: &mut Vec<Defect>) -> io::Result<W> {
        match &mut self.how {
            Convert::Decoder(_) => self.decode(&[], true)?,
            Convert::Utf7(pending) => {
                let line = std::mem::take(pending);
                self.utf7_flush(&line)?;
            }
            Convert::Raw => {}
        }
        if self.invalid {
            defects.push(Defect::InvalidText(label.unwrap_or_default().to_owned()));
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Utf8Writer<W> {
    fn write(&mut self, src: &[u8]) -> io::Result<usize> {
        match &mut self.how {
            Convert::Raw => self.out.write_all(src)?,
            Convert::Decoder(_) => self.decode(src, false)?,
            Convert::Utf7(pending) => {
                let mut pending = std::mem::take(pending);
                let mut rest = src;
                while let Some(i) = memchr::memchr(b'\n', rest) {
                    pending.extend_from_slice(&rest[..=i]);
                    self.utf7_flush(&pending)?;
                    pending.clear();
                    rest = &rest[i + 1..];
                }
                pending.extend_from_slice(rest);
                if pending.len() > UTF7_LINE {
                    self.utf7_flush(&pending)?;
                    pending.clear();
                }
                self.how = Convert::Utf7(pending);
            }
        }
        Ok(src.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
