//! RFC 2047 encoded-words (`=?charset?B|Q?text?=`) in unstructured header
//! text: decoding to UTF-8 for display, and encoding UTF-8 into a header-safe
//! value.
//!
//! # Decoding ([`decode`], [`Decoder`], [`decode_lines`])
//!
//! - Folding (CRLF or LF followed by SP/TAB, RFC 5322 §2.2.3) is unfolded:
//!   the line break goes, the whitespace stays. One final line end is ignored.
//! - Whitespace (folding included) between two adjacent encoded-words is
//!   dropped (RFC 2047 §6.2); whitespace between an encoded-word and other
//!   text is kept exactly.
//! - The bytes of adjacent encoded-words in the same charset are joined
//!   before charset decoding, so a character split across words (which §5
//!   forbids but encoders produce) decodes correctly. Bytes are never joined
//!   across different charsets.
//! - Q (§4.2): `_` is a space, `=XX` a byte (either case of hex); an `=` not
//!   followed by two hex digits is kept as it is (as Python does). B (§4.1):
//!   missing padding and non-zero trailing bits are tolerated.
//! - `charset*language` (RFC 2231 §5) is accepted; the language is ignored.
//! - Lenient, as Python's `email.header` and mblaze are: a word glued to text
//!   (`[SPAM]=?UTF-8?B?SGk=?=`) and a word longer than 75 characters (§2) are
//!   decoded, without a defect.
//! - Left as they are, with a defect (§6.3): a word in an unknown charset
//!   (see [`charset::find`]); a malformed word: a bad encoding letter, a
//!   space, `?`, control or 8-bit byte in the encoded text, a missing `?=`,
//!   or base64 that does not decode. Such a word then counts as ordinary
//!   text (whitespace next to it is kept).
//! - Bytes that are invalid in the word's charset become U+FFFD (defect
//!   [`MalformedWord`](DecodeErrorKind::MalformedWord) at the word). Raw bytes
//!   outside words: valid UTF-8 is kept (RFC 6532); each invalid sequence
//!   becomes U+FFFD (defect [`InvalidByte`](DecodeErrorKind::InvalidByte)).
//!   We do not guess a legacy charset for raw 8-bit text.
//! - Header-injection and spoofing safety (the end of RFC 2047 §5 asks
//!   that showing decoded data have no unwanted side effects;
//!   CVE-2024-6923, CVE-2021-42574): control characters (C0 except TAB,
//!   DEL, C1), the bidirectional embedding, override and isolate controls
//!   and the line and paragraph separators, decoded or raw, never come
//!   out: each becomes U+FFFD with a defect (`InvalidByte(code point)` for
//!   C0, DEL and C1, `Unmappable(char)` for the others); see
//!   `is_bad_control`.
//!
//! So a defect always means the output is not exactly what the sender meant:
//! something was left encoded or replaced.
//!
//! # Encoding ([`encode`], [`encode_field`], [`encode_text`])
//!
//! See [`encode`], [`encode_field`] and [`encode_text`].

use std::io::{BufRead, Write};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::codec::charset::{self, Charset};
use crate::codec::qp::{HEX, UNHEX};
use crate::codec::{DecodeError, DecodeErrorKind, Error};
use crate::io::lines::{append_line, fill, read_line, trim_eol};
use crate::limits::MAX_LINE;

/// Result of decoding header text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The decoded text.
    pub text: String,
    /// What could not be decoded exactly (see the module docs).
    pub defects: Vec<DecodeError>,
}

/// Decodes RFC 2047 encoded-words in unstructured header text (a field body,
/// unfolded or still folded: CRLF/LF followed by WSP is unfolded first) to
/// UTF-8. Offsets in defects are byte offsets into `input`.
pub fn decode(input: &[u8]) -> Decoded {
    let mut text = String::with_capacity(input.len());
    let mut defects = Vec::new();
    Decoder::new().decode_into(input, 0, &mut text, &mut defects);
    Decoded { text, defects }
}

/// Where a [`Decoder`] reports defects: a `Vec` keeps them all, a
/// [`Tally`] counts them and keeps the first (constant memory).
pub trait Defects {
    /// Records one defect.
    fn push(&mut self, defect: DecodeError);
}

impl Defects for Vec<DecodeError> {
    fn push(&mut self, defect: DecodeError) {
        Vec::push(self, defect);
    }
}

/// A count of defects and the first of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// How many defects.
    pub count: u64,
    /// The first defect.
    pub first: Option<DecodeError>,
}

impl Defects for Tally {
    fn push(&mut self, defect: DecodeError) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(defect);
        }
    }
}

/// Base64 for decoding B words: no padding required (we strip it first),
/// lenient about the unused bits of the last character. A config of the
/// `base64` crate rather than [`crate::codec::base64::decode_to_vec`],
/// whose streaming decoder skips white space and allocates per call: a word
/// has no white space, and decoding appends to a reused buffer. Encoding
/// uses [`crate::codec::base64::encode_append`].
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Longest charset label remembered by the lookup cache (longer labels are
/// looked up every time; no known label is this long).
const LABEL_CACHE: usize = 40;

/// Reusable decoding state: scratch buffers and a charset cache, so that
/// decoding many values allocates nothing per value.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of the pending run of adjacent same-charset words.
    bytes: Vec<u8>,
    /// Charset-decoded text before control filtering.
    tmp: String,
    /// Last label looked up and its result.
    label: Vec<u8>,
    charset: Option<Charset>,
    /// When set, where each piece of the output came from (see
    /// [`Decoder::source_offset`]); `None` on the ordinary path.
    marks: Option<Vec<Mark>>,
}

/// The start of one piece of decoded text and of its source: raw text is
/// copied character by character, a run of adjacent encoded-words comes
/// from the first word.
#[derive(Debug, Clone, Copy)]
struct Mark {
    /// Byte offset in the decoded text.
    text: usize,
    /// Byte offset in the input.
    input: usize,
    /// Raw text (its characters are in the input as they are).
    raw: bool,
}

enum Parsed {
    /// `=?` here does not start anything that looks like an encoded-word.
    NotAWord,
    /// Looks like a word but is not one; `end` delimits what is kept verbatim.
    Malformed { end: usize },
    /// A well-formed word in an unknown charset.
    Unknown { end: usize, label: (usize, usize) },
    /// A word: charset, Q (true) or B, the encoded text, and its end.
    Word {
        charset: Charset,
        q: bool,
        text: (usize, usize),
        end: usize,
    },
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `token` bytes of RFC 2047 §2, loosened to any printable ASCII except `?`
/// (real labels such as `ISO_8859-1:1987` contain especials).
fn is_label_byte(b: u8) -> bool {
    (0x21..=0x7E).contains(&b) && b != b'?'
}

/// A character that must never be output: a control character (C0 except
/// TAB, DEL, C1), which could end a header line or drive a terminal; or
/// one that makes displayed text lie about itself: the bidirectional
/// embedding, override and isolate controls U+202A–U+202E and
/// U+2066–U+2069 ("Trojan Source", CVE-2021-42574: `\u{202E}fdp.exe`
/// shows as `exe.pdf`), and the line and paragraph separators U+2028 and
/// U+2029, which some displays break lines at. The marks U+200E and
/// U+200F (LRM, RLM) are kept: they only set the direction of neutral
/// characters next to them, and right-to-left names need them.
pub(crate) fn is_bad_control(c: char) -> bool {
    (c < ' ' && c != '\t')
        || ('\u{7F}'..='\u{9F}').contains(&c)
        || ('\u{2028}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Whether a byte of UTF-8 text may start a bad control (C1 controls are
/// encoded as 0xC2 0x80..0x9F, U+2028..U+206F as 0xE2 0x80/0x81 ..).
fn may_be_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7F || b == 0xC2 || b == 0xE2
}

/// Whether `gap` is only folding white space (SP, TAB, and CRLF or LF each
/// followed by SP or TAB): what may separate two adjacent encoded-words.
fn is_fws(gap: &[u8]) -> bool {
    let mut i = 0;
    while i < gap.len() {
        match gap[i] {
            b' ' | b'\t' => i += 1,
            b'\r'
                if gap.get(i + 1) == Some(&b'\n') && gap.get(i + 2).is_some_and(|&b| is_wsp(b)) =>
            {
                i += 2
            }
            b'\n' if gap.get(i + 1).is_some_and(|&b| is_wsp(b)) => i += 1,
            _ => return false,
        }
    }
    true
}

/// Appends `s` to `out`, each bad control replaced by U+FFFD and reported at
/// offset `at` (the whole of `s` comes from one place).
fn push_filtered(s: &str, at: u64, out: &mut String, defects: &mut impl Defects) {
    if !s.bytes().any(may_be_control) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if is_bad_control(c) {
            out.push(char::REPLACEMENT_CHARACTER);
            defects.push(control_defect(c, at));
        } else {
            out.push(c);
        }
    }
}

/// The defect for a bad control: the byte for C0, DEL and C1, the
/// character for the others.
fn control_defect(c: char, offset: u64) -> DecodeError {
    let kind = match u8::try_from(u32::from(c)) {
        Ok(b) => DecodeErrorKind::InvalidByte(b),
        Err(_) => DecodeErrorKind::Unmappable(c),
    };
    DecodeError { kind, offset }
}

/// Appends raw header text `input[start..end]`: folds removed, valid UTF-8
/// kept, invalid sequences and bad controls replaced by U+FFFD.
fn push_raw(
    input: &[u8],
    start: usize,
    end: usize,
    base: u64,
    out: &mut String,
    defects: &mut impl Defects,
) {
    let raw = &input[start..end];
    if let Ok(s) = std::str::from_utf8(raw)
        && !raw.iter().any(|&b| may_be_control(b))
    {
        out.push_str(s);
        return;
    }
    let mut pos = start;
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid();
        for (i, c) in valid.char_indices() {
            let at = pos + i;
            if !is_bad_control(c) {
                out.push(c);
                continue;
            }
            // Unfolding (RFC 5322 §2.2.3): CRLF or LF before WSP goes.
            let next = |k: usize| input.get(at + k).copied().unwrap_or(0);
            let fold = match c {
                '\n' => is_wsp(next(1)),
                '\r' => next(1) == b'\n' && is_wsp(next(2)),
                _ => false,
            };
            if !fold {
                out.push(char::REPLACEMENT_CHARACTER);
                defects.push(control_defect(c, base + at as u64));
            }
        }
        pos += valid.len();
        let invalid = chunk.invalid();
        if let Some(&b) = invalid.first() {
            out.push(char::REPLACEMENT_CHARACTER);
            defects.push(DecodeError {
                kind: DecodeErrorKind::InvalidByte(b),
                offset: base + pos as u64,
            });
        }
        pos += invalid.len();
    }
}

/// Q decoding (RFC 2047 §4.2), appending to `out`. Never fails: a bad `=`
/// escape is kept as it is.
fn q_decode(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = |k: usize| text.get(i + k).map_or(0xFF, |&h| UNHEX[usize::from(h)]);
                let (hi, lo) = (hex(1), hex(2));
                if (hi | lo) < 16 {
                    out.push((hi << 4) | lo);
                    i += 3;
                    continue;
                }
                out.push(b'=');
            }
            _ => out.push(b),
        }
        i += 1;
    }
}

/// B decoding (RFC 2047 §4.1), appending to `out`; false if not base64.
fn b_decode(text: &[u8], out: &mut Vec<u8>) -> bool {
    let mut t = text;
    while let Some(rest) = t.strip_suffix(b"=") {
        t = rest;
    }
    let mark = out.len();
    if B64.decode_vec(t, out).is_err() {
        out.truncate(mark);
        return false;
    }
    true
}

impl Decoder {
    /// A decoder with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `input` as [`decode`] does, appending the text to `out` and
    /// the defects to `defects`, with offsets counted from `base`.
    pub fn decode_into(
        &mut self,
        input: &[u8],
        base: u64,
        out: &mut String,
        defects: &mut impl Defects,
    ) {
        let input = trim_eol(input);
        let finder = memchr::memmem::Finder::new(b"=?");
        self.bytes.clear();
        // Charset and first-word offset of the pending run in `self.bytes`.
        let mut pending: Option<(Charset, usize)> = None;
        // Start of raw text not yet output, and where to look for `=?`.
        let (mut pos, mut search) = (0, 0);
        while let Some(found) = finder.find(&input[search..]) {
            let j = search + found;
            let (charset, q, text, end) = match self.parse(input, j) {
                Parsed::NotAWord => {
                    search = j + 2;
                    continue;
                }
                Parsed::Malformed { end } => {
                    defects.push(DecodeError {
                        kind: DecodeErrorKind::MalformedWord,
                        offset: base + j as u64,
                    });
                    search = end;
                    continue;
                }
                Parsed::Unknown { end, label } => {
                    let label = &input[label.0..label.1];
                    let shown = &label[..label.len().min(LABEL_CACHE)];
                    defects.push(DecodeError {
                        kind: DecodeErrorKind::UnknownCharset(
                            String::from_utf8_lossy(shown).into_owned(),
                        ),
                        offset: base + j as u64,
                    });
                    search = end;
                    continue;
                }
                Parsed::Word {
                    charset,
                    q,
                    text,
                    end,
                } => (charset, q, text, end),
            };
            let mark = self.bytes.len();
            let text = &input[text.0..text.1];
            if q {
                q_decode(text, &mut self.bytes);
            } else if !b_decode(text, &mut self.bytes) {
                defects.push(DecodeError {
                    kind: DecodeErrorKind::MalformedWord,
                    offset: base + j as u64,
                });
                search = end;
                continue;
            }
            let adjacent = pending.is_some() && is_fws(&input[pos..j]);
            match pending {
                Some((cs, _)) if adjacent && cs == charset => {
                    // ISO-2022-JP words each end in ASCII (`ESC ( B`); when
                    // the next starts with an escape, the WHATWG decoder
                    // takes two escapes in a row as an error: drop the first.
                    let stateful = cs == Charset::Encoding(encoding_rs::ISO_2022_JP);
                    if stateful
                        && self.bytes[..mark].ends_with(b"\x1b(B")
                        && self.bytes.get(mark) == Some(&0x1b)
                    {
                        self.bytes.drain(mark - 3..mark);
                    }
                }
                _ => {
                    if let Some((cs, at)) = pending {
                        self.mark(out, at, false);
                        self.flush(cs, mark, base + at as u64, out, defects);
                    }
                    if !adjacent {
                        self.mark(out, pos, true);
                        push_raw(input, pos, j, base, out, defects);
                    }
                    self.bytes.drain(..mark);
                    pending = Some((charset, j));
                }
            }
            pos = end;
            search = end;
        }
        if let Some((cs, at)) = pending {
            self.mark(out, at, false);
            self.flush(cs, self.bytes.len(), base + at as u64, out, defects);
        }
        self.mark(out, pos, true);
        push_raw(input, pos, input.len(), base, out, defects);
    }

    fn mark(&mut self, out: &str, input: usize, raw: bool) {
        if let Some(marks) = &mut self.marks {
            marks.push(Mark {
                text: out.len(),
                input,
                raw,
            });
        }
    }

    /// Where in `input` the character at byte `at` of its decoded text
    /// (as [`Decoder::decode_into`] writes it, starting from an empty
    /// string) came from, as a byte offset into `input`: the character
    /// itself in raw text, or the first of the adjacent encoded-words that
    /// hold it. For errors about one character (`mime-word -d -t`); it
    /// decodes `input` again, so it is for the error path only.
    pub fn source_offset(&mut self, input: &[u8], at: usize) -> usize {
        let mut text = String::new();
        self.marks = Some(Vec::new());
        self.decode_into(input, 0, &mut text, &mut Tally::default());
        let marks = self.marks.take().unwrap_or_default();
        let Some(m) = marks.iter().rev().find(|m| m.text <= at) else {
            return 0;
        };
        let Some(c) = text.get(at..).and_then(|t| t.chars().next()) else {
            return m.input;
        };
        if !m.raw {
            return m.input;
        }
        // Raw text is copied as it is, but for folds (removed) and bad
        // bytes (U+FFFD): the character is the n-th of its kind in both.
        let n = text[m.text..at].matches(c).count();
        let mut buf = [0; 4];
        let needle = c.encode_utf8(&mut buf).as_bytes();
        memchr::memmem::find_iter(&input[m.input..], needle)
            .nth(n)
            .map_or(m.input, |i| m.input + i)
    }

    /// Charset-decodes `self.bytes[..n]` into `out` (controls filtered).
    fn flush(
        &mut self,
        charset: Charset,
        n: usize,
        at: u64,
        out: &mut String,
        defects: &mut impl Defects,
    ) {
        let bytes = &self.bytes[..n];
        let utf8 = matches!(charset, Charset::Encoding(e) if e == encoding_rs::UTF_8);
        let had_errors = match std::str::from_utf8(bytes) {
            // Fast path: UTF-8 (or ASCII in any ASCII-compatible charset).
            Ok(s) if utf8 || (s.is_ascii() && ascii_compatible(charset)) => {
                push_filtered(s, at, out, defects);
                false
            }
            _ => {
                self.tmp.clear();
                let bad = charset.decode_into(bytes, &mut self.tmp);
                push_filtered(&self.tmp, at, out, defects);
                bad
            }
        };
        if had_errors {
            defects.push(DecodeError {
                kind: DecodeErrorKind::MalformedWord,
                offset: at,
            });
        }
    }

    /// Parses the would-be encoded-word at `input[j..]` (which starts `=?`).
    fn parse(&mut self, input: &[u8], j: usize) -> Parsed {
        let n = input.len();
        let cs_start = j + 2;
        let mut k = cs_start;
        while k < n && is_label_byte(input[k]) {
            k += 1;
        }
        // `=?label?X?` is the least that looks like a word.
        if k + 2 >= n || input[k] != b'?' || !is_label_byte(input[k + 1]) || input[k + 2] != b'?' {
            return Parsed::NotAWord;
        }
        let cs_end = k;
        let letter = input[k + 1];
        let t = k + 3;
        let mut p = t;
        let end = loop {
            match input.get(p) {
                Some(b'?') if input.get(p + 1) == Some(&b'=') => break p + 2,
                Some(&b) if is_label_byte(b) => p += 1,
                // Space, control, 8-bit, a lone `?` or the end: not a word;
                // what we saw so far is kept as text.
                _ => return Parsed::Malformed { end: p },
            }
        };
        let q = match letter {
            b'Q' | b'q' => true,
            b'B' | b'b' => false,
            _ => return Parsed::Malformed { end },
        };
        // RFC 2231 §5: `charset*language`.
        let label = &input[cs_start..cs_end];
        let label = match memchr::memchr(b'*', label) {
            Some(star) => &label[..star],
            None => label,
        };
        let found = if label == &self.label[..] && !label.is_empty() {
            self.charset
        } else {
            let found = charset::find(label);
            if label.len() <= LABEL_CACHE {
                self.label.clear();
                self.label.extend_from_slice(label);
                self.charset = found;
            }
            found
        };
        match found {
            Some(charset) => Parsed::Word {
                charset,
                q,
                text: (t, p),
                end,
            },
            None => Parsed::Unknown {
                end,
                label: (cs_start, cs_start + label.len()),
            },
        }
    }
}

/// Whether ASCII bytes mean ASCII in this charset (false for UTF-16 and
/// UTF-7, where `+` starts an escape).
fn ascii_compatible(charset: Charset) -> bool {
    match charset {
        Charset::Utf7 | Charset::Utf16 => false,
        Charset::Encoding(e) => e.is_ascii_compatible(),
    }
}

/// What [`decode_lines`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Logical (unfolded) lines decoded.
    pub lines: u64,
    /// Number of defects (see the module docs).
    pub defects: u64,
    /// The first defect, with its byte offset in the input.
    pub first: Option<DecodeError>,
}

/// The first defect, and how many more there were (for one warning).
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.first {
            None => f.write_str("no defects"),
            Some(first) if self.defects > 1 => {
                write!(f, "{first} (and {} more)", self.defects - 1)
            }
            Some(first) => write!(f, "{first}"),
        }
    }
}

/// Options of [`decode_lines`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Re-encode the output to this charset instead of UTF-8.
    pub to: Option<charset::Target>,
    /// Stop at the first line with a defect, before writing it, and return
    /// the defect as the error.
    pub strict: bool,
}

/// Decodes header text line by line: each logical line (a line plus the
/// continuation lines after it that start with SP or TAB, unless it is
/// empty) is decoded as one value and written followed by LF, in UTF-8 or
/// re-encoded to `opts.to`.
///
/// Errors: a logical line longer than [`MAX_LINE`] (the bounded reader's
/// `TooLong`); a character `opts.to` cannot represent
/// ([`DecodeErrorKind::Unmappable`], at the offset of the character, or
/// of the encoded-word that holds it); in strict mode,
/// the first defect.
pub fn decode_lines(
    input: &mut impl BufRead,
    out: &mut impl Write,
    opts: &DecodeOptions,
) -> Result<Summary, Error> {
    let mut decoder = Decoder::new();
    let mut line = Vec::new();
    let mut text = String::new();
    let mut encoded = Vec::new();
    let mut summary = Summary::default();
    let mut offset = 0u64;
    loop {
        line.clear();
        if read_line(input, &mut line, MAX_LINE)? == 0 {
            break;
        }
        while !trim_eol(&line).is_empty() && line.ends_with(b"\n") {
            let more = fill(input)?;
            if !more.first().is_some_and(|&b| is_wsp(b)) {
                break;
            }
            append_line(input, &mut line, MAX_LINE)?;
        }
        text.clear();
        let mut tally = Tally::default();
        decoder.decode_into(&line, offset, &mut text, &mut tally);
        summary.lines += 1;
        summary.defects += tally.count;
        if let Some(first) = tally.first {
            if opts.strict {
                return Err(Error::Decode(first));
            }
            summary.first.get_or_insert(first);
        }
        text.push('\n');
        match &opts.to {
            None => out.write_all(text.as_bytes())?,
            Some(target) => {
                encoded.clear();
                if let Err((c, at)) = target.encode_into(&text, &mut encoded) {
                    // The character's own offset, not the line's.
                    let at = decoder.source_offset(&line, at);
                    return Err(Error::Decode(DecodeError {
                        kind: DecodeErrorKind::Unmappable(c),
                        offset: offset + at as u64,
                    }));
                }
                out.write_all(&encoded)?;
            }
        }
        offset += line.len() as u64;
    }
    Ok(summary)
}

/// Longest encoded-word (RFC 2047 §2).
pub const MAX_WORD: usize = 75;

/// Line length [`encode_field`] folds at (RFC 5322 §2.1.1: "SHOULD be no
/// more than 78 characters").
pub const FOLD_WIDTH: usize = 78;

/// How a run of words that need encoding is encoded (RFC 2047 §4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Method {
    /// Whichever of Q and B is shorter for the run (Q on a tie: readable).
    #[default]
    Auto,
    /// "B": base64 (§4.1).
    B,
    /// "Q": quoted-printable-like (§4.2), in the restricted form of §5 (3).
    Q,
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Method::Auto),
            "b" => Ok(Method::B),
            "q" => Ok(Method::Q),
            _ => Err(format!("{s:?} is not auto, B or Q")),
        }
    }
}

/// Q: characters allowed literally in a `phrase` (RFC 2047 §5 (3)); space
/// is `_`, everything else `=XX`. Safe in every context words may appear.
fn q_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_cost(b: u8) -> usize {
    if q_literal(b) || b == b' ' { 1 } else { 3 }
}

fn b_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

fn encoded_len(bytes: &[u8], q: bool) -> usize {
    if q {
        bytes.iter().map(|&b| q_cost(b)).sum()
    } else {
        b_len(bytes.len())
    }
}

fn push_word(out: &mut String, charset: &str, q: bool, bytes: &[u8]) {
    out.push_str("=?");
    out.push_str(charset);
    out.push_str(if q { "?Q?" } else { "?B?" });
    if q {
        for &b in bytes {
            if q_literal(b) {
                out.push(char::from(b));
            } else if b == b' ' {
                out.push('_');
            } else {
                out.push('=');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    } else {
        crate::codec::base64::encode_append(bytes, out);
    }
    out.push_str("?=");
}

/// Whether a (whitespace-free) word must be encoded: non-ASCII, or it
/// contains `=?` and a decoder could take it for an encoded-word.
fn needs_encoding(word: &str) -> bool {
    !word.is_ascii() || memchr::memmem::find(word.as_bytes(), b"=?").is_some()
}

/// Checks that `text` can be header text: UTF-8 without control characters
/// (C0 except TAB, DEL, C1). Our decoder would turn those into U+FFFD, and a
/// raw CR or LF would end the header line.
fn check_text(text: &[u8]) -> Result<&str, DecodeError> {
    let s = std::str::from_utf8(text).map_err(|e| DecodeError {
        kind: DecodeErrorKind::InvalidByte(text[e.valid_up_to()]),
        offset: e.valid_up_to() as u64,
    })?;
    if s.bytes().any(may_be_control)
        && let Some((i, c)) = s.char_indices().find(|&(_, c)| is_bad_control(c))
    {
        let kind = match u8::try_from(u32::from(c)) {
            Ok(b) if b < 0x80 => DecodeErrorKind::InvalidByte(b),
            _ => DecodeErrorKind::Unmappable(c),
        };
        return Err(DecodeError {
            kind,
            offset: i as u64,
        });
    }
    Ok(s)
}

/// Output with optional folding at whitespace.
struct Layout {
    /// Fold width, or none: one line.
    width: Option<usize>,
    /// Current column (bytes: all output is ASCII).
    col: usize,
}

impl Layout {
    /// Room left on this line for a piece that follows `ws`.
    fn room(&self, ws: &str) -> usize {
        match self.width {
            None => usize::MAX,
            Some(w) => w.saturating_sub(self.col + ws.len()),
        }
    }

    /// Folds before `ws` (which must not be empty): the line break goes
    /// before the whitespace, so unfolding restores the text exactly.
    fn fold(&mut self, out: &mut String) {
        out.push('\n');
        self.col = 0;
    }

    fn put(&mut self, ws: &str, piece: &str, out: &mut String) {
        out.push_str(ws);
        out.push_str(piece);
        self.col += ws.len() + piece.len();
    }

    /// A plain word after `ws`: fold first when it would pass the width.
    /// Never folds before an empty word (a line of only whitespace is not
    /// allowed, RFC 5322 §3.2.2). `tail` is whitespace that will follow on
    /// the same line (the end of the value), which must fit too.
    fn put_plain(&mut self, ws: &str, word: &str, tail: usize, out: &mut String) {
        self.fold_for(ws, word.len() + tail, out);
        self.put(ws, word, out);
    }

    /// Folds if `len` more bytes after `ws` would pass the width and would
    /// fit on a new line; never before an empty piece.
    fn fold_for(&mut self, ws: &str, len: usize, out: &mut String) {
        let fits_next_line = self.width.is_some_and(|w| ws.len() + len <= w);
        if !ws.is_empty() && len > 0 && self.room(ws) < len && fits_next_line {
            self.fold(out);
        }
    }
}

/// A word of the text and the whitespace before it, as byte offsets:
/// `text[ws..word]` is the whitespace, `text[word..end]` the word.
#[derive(Clone, Copy)]
struct Piece {
    ws: usize,
    word: usize,
    end: usize,
}

/// The longest encoded form of one character (8 bytes of ISO-2022-JP, its
/// escapes included, in Q), not counting the word's delimiters.
const MAX_CHAR_ENCODED: usize = 24;

/// Encodes header text, appending to `out`: see [`encode`]. Errors carry
/// offsets into `text`.
///
/// With a fold width, every line fits in it, whatever the text: a plain
/// word (with the whitespace before it, and at the end of the value the
/// whitespace after it) that no line could hold is encoded as well (split
/// into encoded-words like any run); so is the whitespace of a value that
/// is only whitespace and does not fit; whitespace at the end of the value
/// after an encoded run goes inside its last word (transports strip
/// trailing blanks); and of a run's leading whitespace too long to leave
/// room for a word after it, only the first blank stays outside (where the
/// line may fold), the rest goes inside.
fn encode_into(
    text: &str,
    target: &charset::Target,
    method: Method,
    lead: &str,
    layout: &mut Layout,
    out: &mut String,
) -> Result<(), DecodeError> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let ws = i;
        while i < bytes.len() && is_wsp(bytes[i]) {
            i += 1;
        }
        let word = i;
        while i < bytes.len() && !is_wsp(bytes[i]) {
            i += 1;
        }
        pieces.push(Piece { ws, word, end: i });
    }
    // Whitespace at the end, after the last word.
    let mut tail = text.len();
    if pieces.len() > 1 && pieces.last().is_some_and(|p| p.word == p.end) {
        tail = pieces.pop().map_or(tail, |p| p.ws);
    }
    let tail_len = text.len() - tail;
    let n = pieces.len();
    let ws_len = |k: usize| pieces[k].word - pieces[k].ws + if k == 0 { lead.len() } else { 0 };
    let encode = |k: usize| {
        let p = pieces[k];
        let word = &text[p.word..p.end];
        if needs_encoding(word) {
            return true;
        }
        let Some(width) = layout.width else {
            return false;
        };
        if word.is_empty() {
            // A value of whitespace only: no fold can help it.
            return layout.col + ws_len(k) > width;
        }
        let tail = if k + 1 == n { tail_len } else { 0 };
        ws_len(k) + word.len() + tail > width
    };
    let encoded: Vec<bool> = (0..n).map(encode).collect();
    let word_min = target.name().len() + 7 + MAX_CHAR_ENCODED;
    let mut k = 0;
    while k < n {
        let p = pieces[k];
        let lead_ws;
        let ws = if k == 0 {
            lead_ws = format!("{lead}{}", &text[p.ws..p.word]);
            &lead_ws[..]
        } else {
            &text[p.ws..p.word]
        };
        if !encoded[k] {
            let tail = if k + 1 == n { tail_len } else { 0 };
            layout.put_plain(ws, &text[p.word..p.end], tail, out);
            k += 1;
            continue;
        }
        // A run: this piece and the following ones that are encoded, with
        // the whitespace between them (encoded inside, so it survives).
        let mut m = k;
        while m + 1 < n && encoded[m + 1] {
            m += 1;
        }
        let (mut sep, mut start) = (ws, p.word);
        if p.word == p.end || layout.width.is_some_and(|w| ws.len() + word_min > w) {
            // Keep one blank (or the lead) outside, where the line may fold.
            let keep = if k == 0 { lead.len() } else { 1 };
            sep = &ws[..keep];
            start = p.word - (ws.len() - keep);
        }
        let mut end = pieces[m].end;
        if m + 1 == n && layout.width.is_some() {
            end = text.len(); // trailing whitespace inside the last word
        }
        encode_run(&text[start..end], start, sep, target, method, layout, out)?;
        k = m + 1;
    }
    if tail < text.len() && !(layout.width.is_some() && encoded.last() == Some(&true)) {
        layout.put(&text[tail..], "", out);
    }
    Ok(())
}

/// Encodes one run as few encoded-words as fit (≤ [`MAX_WORD`] and the room
/// on the line), split only between characters, separated by single spaces.
fn encode_run(
    run: &str,
    offset: usize,
    ws: &str,
    target: &charset::Target,
    method: Method,
    layout: &mut Layout,
    out: &mut String,
) -> Result<(), DecodeError> {
    let unmappable = |c: char, at: usize| DecodeError {
        kind: DecodeErrorKind::Unmappable(c),
        offset: (offset + at) as u64,
    };
    let mut whole = Vec::with_capacity(run.len());
    target
        .encode_into(run, &mut whole)
        .map_err(|(c, at)| unmappable(c, at))?;
    if *target != charset::Target::UTF_8 {
        // Some encoders map characters to look-alikes (ISO-2022-JP turns
        // half-width katakana into full-width): check the round trip.
        let mut back = String::with_capacity(run.len());
        target.charset().decode_into(&whole, &mut back);
        if back != run {
            let (at, c) = run
                .char_indices()
                .zip(back.chars().chain(std::iter::repeat('\0')))
                .find(|((_, a), b)| a != b)
                .map_or((0, '\0'), |((at, a), _)| (at, a));
            return Err(unmappable(c, at));
        }
    }
    let q = match method {
        Method::Q => true,
        Method::B => false,
        Method::Auto => encoded_len(&whole, true) <= b_len(whole.len()),
    };
    let name = target.name();
    let overhead = name.len() + 7; // "=?" name "?Q?" … "?="
    let limit = |layout: &Layout, ws: &str| MAX_WORD.min(layout.room(ws));
    let mut ws = ws;
    let mut chunk = Vec::new(); // bytes of the word being built
    let mut probe = Vec::new();
    let mut start = 0; // start of the chunk in `run`
    for (at, c) in run.char_indices() {
        let end = at + c.len_utf8();
        // The chunk's bytes if it took this character too. A stateful
        // encoding is encoded whole, so each word ends in its initial state.
        probe.clear();
        if target.is_stateful() {
            let _ = target.encode_into(&run[start..end], &mut probe);
        } else {
            probe.extend_from_slice(&chunk);
            let _ = target.encode_into(&run[at..end], &mut probe);
        }
        if start < at && overhead + encoded_len(&probe, q) > limit(layout, ws) {
            let mut word = String::with_capacity(MAX_WORD);
            push_word(&mut word, name, q, &chunk);
            layout.put(ws, &word, out);
            ws = " ";
            start = at;
            probe.clear();
            let _ = target.encode_into(&run[at..end], &mut probe);
        }
        // Not even this one character fits on the line: fold first.
        if start == at && !ws.is_empty() && overhead + encoded_len(&probe, q) > limit(layout, ws) {
            layout.fold(out);
        }
        std::mem::swap(&mut chunk, &mut probe);
    }
    let mut word = String::with_capacity(MAX_WORD);
    push_word(&mut word, name, q, &chunk);
    layout.fold_for(ws, word.len(), out);
    layout.put(ws, &word, out);
    Ok(())
}

/// Encodes header text into a header-safe value on one line: words that
/// need it (non-ASCII, or containing `=?`) become encoded-words in
/// `target`; plain ASCII words stay as they are; whitespace is kept so that
/// [`decode`] gives `text` back exactly. A run of adjacent words that need
/// encoding goes into as few encoded-words as possible (the whitespace
/// between them inside), each at most [`MAX_WORD`] characters and split
/// only between characters; the words of one run are separated by single
/// spaces, where a caller may fold.
///
/// Errors: invalid UTF-8 or a control character (C0 except TAB, DEL, C1)
/// is [`InvalidByte`](DecodeErrorKind::InvalidByte) (C1:
/// [`Unmappable`](DecodeErrorKind::Unmappable)), a character `target`
/// cannot represent is `Unmappable`; offsets are into `text`.
pub fn encode(
    text: &[u8],
    target: &charset::Target,
    method: Method,
) -> Result<String, DecodeError> {
    let text = check_text(text)?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut layout = Layout {
        width: None,
        col: 0,
    };
    encode_into(text, target, method, "", &mut layout, &mut out)?;
    Ok(out)
}

/// Like [`encode`], but gives a complete header field `name: value`, folded
/// at whitespace (LF plus the whitespace) so that no line is longer than
/// [`FOLD_WIDTH`], whatever the text, when `name` passes [`field_name`]:
/// a plain word that no line could hold is encoded too, and split (see
/// `encode_into`). The name counts toward the first line. No final
/// newline. An empty `text` gives `name:`. `name` is not checked.
pub fn encode_field(
    name: &str,
    text: &[u8],
    target: &charset::Target,
    method: Method,
) -> Result<String, DecodeError> {
    let text = check_text(text)?;
    let mut out = String::with_capacity(name.len() + text.len() * 2 + 2);
    out.push_str(name);
    out.push(':');
    let mut layout = Layout {
        width: Some(FOLD_WIDTH),
        col: out.len(),
    };
    if !text.is_empty() {
        encode_into(text, target, method, " ", &mut layout, &mut out)?;
    }
    Ok(out)
}

/// Encodes all of `text`, its whitespace included, as one run of
/// encoded-words in `target` (as [`encode`] encodes a run of words that
/// need it): each word at most [`MAX_WORD`] characters, split only between
/// characters. Without a `width` the words are separated by single spaces;
/// with one, the first word starts at column `col` and a fold (LF SP)
/// comes before any later word that would pass `width`. For text that must
/// be encoded whole: a display name whose plain words hold specials, or
/// the RFC 2047 `name` parameter old readers want. Control characters are
/// not refused (they travel encoded); errors are `Unmappable` characters.
pub fn encode_words(
    text: &str,
    target: &charset::Target,
    method: Method,
    col: usize,
    width: Option<usize>,
) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(text.len() * 2 + 12);
    let mut layout = Layout { width, col };
    encode_run(text, 0, "", target, method, &mut layout, &mut out)?;
    Ok(out)
}

/// Longest field name [`encode_field`] takes: `name:` then fits on a line
/// of [`FOLD_WIDTH`].
pub const MAX_FIELD_NAME: usize = FOLD_WIDTH - 1;

/// Whether `name` is a valid field name: one or more printable US-ASCII
/// characters other than `:` (RFC 5322 §2.2 `ftext`). It lives here,
/// below the header reader that also uses it, because [`encode_field`]
/// writes field names.
pub fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b) && b != b':')
}

/// Checks a field name for [`encode_field`] (and serves as a clap value
/// parser): it must be a field name ([`is_field_name`]) of at most
/// [`MAX_FIELD_NAME`] characters, or no line could hold it.
pub fn field_name(name: &str) -> Result<String, String> {
    if !is_field_name(name.as_bytes()) {
        return Err("not a field name (printable ASCII, no ':')".to_owned());
    }
    if name.len() > MAX_FIELD_NAME {
        return Err(format!("longer than {MAX_FIELD_NAME} characters"));
    }
    Ok(name.to_owned())
}

/// [`encode_field`] when `field` names a field, else [`encode`].
pub fn encode_value(
    text: &[u8],
    target: &charset::Target,
    method: Method,
    field: Option<&str>,
) -> Result<String, DecodeError> {
    match field {
        Some(name) => encode_field(name, text, target, method),
        None => encode(text, target, method),
    }
}

/// Joins `operands` with single spaces, as a shell joins words.
fn join(operands: &[impl AsRef<[u8]>]) -> Vec<u8> {
    let mut text = Vec::new();
    for (k, op) in operands.iter().enumerate() {
        if k > 0 {
            text.push(b' ');
        }
        text.extend_from_slice(op.as_ref());
    }
    text
}

/// Encodes the text `mime-word` is given: the `operands` joined with
/// single spaces as one value, or, when there are none, each line of
/// `input` (LF or CRLF, at most [`MAX_LINE`] bytes); each value goes
/// through [`encode`], or [`encode_field`] when `field` is given, and is
/// written followed by LF. Returns the number of values. Error offsets
/// count from the start of the joined operands or of `input`.
pub fn encode_text(
    operands: &[impl AsRef<[u8]>],
    input: &mut impl BufRead,
    out: &mut impl Write,
    target: &charset::Target,
    method: Method,
    field: Option<&str>,
) -> Result<u64, Error> {
    if !operands.is_empty() {
        let mut value = encode_value(&join(operands), target, method, field)?;
        value.push('\n');
        out.write_all(value.as_bytes())?;
        return Ok(1);
    }
    let mut line = Vec::new();
    let mut offset = 0u64;
    let mut lines = 0;
    loop {
        line.clear();
        let n = read_line(input, &mut line, MAX_LINE)?;
        if n == 0 {
            return Ok(lines);
        }
        let encoded = encode_value(trim_eol(&line), target, method, field);
        let mut encoded = encoded.map_err(|mut e| {
            e.offset += offset;
            e
        })?;
        encoded.push('\n');
        out.write_all(encoded.as_bytes())?;
        offset += n as u64;
        lines += 1;
    }
}

/// Decodes the text `mime-word -d` is given: the `operands` joined with
/// single spaces, or, when there are none, `input`; either way line by line
/// as [`decode_lines`] does.
pub fn decode_text(
    operands: &[impl AsRef<[u8]>],
    input: &mut impl BufRead,
    out: &mut impl Write,
    opts: &DecodeOptions,
) -> Result<Summary, Error> {
    if operands.is_empty() {
        return decode_lines(input, out, opts);
    }
    decode_lines(&mut &join(operands)[..], out, opts)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod encode_tests;
