//! MIME charset labels (RFC 2045 §5.1, RFC 2046 §4.1.2, RFC 2978) to
//! [`encoding_rs`] encodings, with the mail-specific choices in one place.
//!
//! Lookup is [`Encoding::for_label`] (the WHATWG Encoding Standard labels:
//! case-insensitive, surrounding whitespace ignored), plus a few aliases that
//! mail user agents emit and WHATWG lacks (`cp932`, `cp936`, `cp949`,
//! `cp950`, `euc-cn`, `latin-1`, `utf_8`, …). Consequences worth knowing:
//!
//! - `us-ascii` and `iso-8859-1` (and their aliases) decode as
//!   windows-1252, as browsers do: bytes 0x80–0x9F labelled Latin-1 are in
//!   practice windows-1252 punctuation, not C1 controls. For *encoding*,
//!   [`target`] keeps these labels honest (ISO-8859-1 really is Latin-1).
//! - The WHATWG "replacement" encoding (labels `iso-2022-kr`, `hz-gb-2312`,
//!   `iso-2022-cn`, …) and `x-user-defined` are treated as unknown: decoding
//!   through them would turn text into U+FFFD or private-use characters, and
//!   RFC 2047 §6.3 says to leave words in unknown charsets as they are.
//! - UTF-7 (RFC 2152; labels `utf-7`, `unicode-1-1-utf-7`, `csunicode11utf7`),
//!   which encoding_rs lacks, has a small decoder here ([`Charset::Utf7`]);
//!   it is never an encoding target.
//! - IBM code pages 437 and 850 are not known to encoding_rs: unknown.
//! - `utf-16` (and the IANA names of UCS-2) without a byte order mark is
//!   big-endian, as RFC 2781 §4.3 says; a BOM, when present, decides
//!   ([`Charset::Utf16`]). WHATWG, and Python on little-endian machines,
//!   read it as little-endian. `utf-16le`, `utf-16be`, and `unicode` (the
//!   Windows name, which means little-endian) are what they say.

use encoding_rs::{
    Encoding, ISO_2022_JP, REPLACEMENT, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252, X_USER_DEFINED,
};

/// Aliases seen in mail that the WHATWG label list lacks.
const ALIASES: &[(&str, &str)] = &[
    ("cp932", "shift_jis"),
    ("windows-932", "shift_jis"),
    ("cp936", "gbk"),
    ("ms936", "gbk"),
    ("windows-936", "gbk"),
    ("euc-cn", "gbk"),
    ("x-euc-cn", "gbk"),
    ("cp949", "euc-kr"),
    ("ms949", "euc-kr"),
    ("uhc", "euc-kr"),
    ("cp950", "big5"),
    ("ms950", "big5"),
    ("windows-950", "big5"),
    ("latin-1", "iso-8859-1"),
    ("iso-latin-1", "iso-8859-1"),
    ("latin-2", "iso-8859-2"),
    ("latin-9", "iso-8859-15"),
    ("utf_8", "utf-8"),
    ("koi8r", "koi8-r"),
    ("koi8u", "koi8-u"),
];

const UTF7_LABELS: &[&str] = &["utf-7", "unicode-1-1-utf-7", "csunicode11utf7", "utf7"];

/// Labels of UTF-16 without a stated byte order (RFC 2781 §3.3; UCS-2 is
/// UTF-16's BMP subset), which WHATWG maps to UTF-16LE.
const UTF16_LABELS: &[&str] = &["utf-16", "csutf16", "ucs-2", "iso-10646-ucs-2", "csunicode"];

/// The encoding a MIME charset label (or a common mail alias) names, for
/// decoding. `None` for unknown labels, UTF-7 (see [`find`]) and the
/// encodings that must not be used (replacement, x-user-defined).
pub fn lookup(label: &[u8]) -> Option<&'static Encoding> {
    let enc = match Encoding::for_label(label) {
        Some(e) => e,
        None => {
            let label = trim(label);
            let alias = ALIASES
                .iter()
                .find(|(a, _)| a.as_bytes().eq_ignore_ascii_case(label))?;
            Encoding::for_label(alias.1.as_bytes())?
        }
    };
    if enc == REPLACEMENT || enc == X_USER_DEFINED {
        return None;
    }
    Some(enc)
}

fn trim(label: &[u8]) -> &[u8] {
    label.trim_ascii()
}

/// A charset this crate can decode from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// One of encoding_rs's encodings.
    Encoding(&'static Encoding),
    /// UTF-7 (RFC 2152), decoded here.
    Utf7,
    /// UTF-16 of unstated byte order (RFC 2781 §4.3): a leading byte order
    /// mark decides (and is dropped); big-endian without one.
    Utf16,
}

/// The decodable charset a label names: [`lookup`] plus UTF-7, and UTF-16
/// without a byte order in its label (see the module docs).
pub fn find(label: &[u8]) -> Option<Charset> {
    let trimmed = trim(label);
    if UTF16_LABELS
        .iter()
        .any(|l| l.as_bytes().eq_ignore_ascii_case(trimmed))
    {
        return Some(Charset::Utf16);
    }
    if let Some(e) = lookup(label) {
        return Some(Charset::Encoding(e));
    }
    let label = trim(label);
    UTF7_LABELS
        .iter()
        .any(|l| l.as_bytes().eq_ignore_ascii_case(label))
        .then_some(Charset::Utf7)
}

impl Charset {
    /// Decodes `bytes` and appends the text to `out`. Malformed sequences
    /// become U+FFFD; returns whether there were any.
    pub fn decode_into(self, bytes: &[u8], out: &mut String) -> bool {
        match self {
            Charset::Utf7 => utf7_decode(bytes, out),
            Charset::Utf16 => match bytes {
                [0xFF, 0xFE, rest @ ..] => Charset::Encoding(UTF_16LE).decode_into(rest, out),
                [0xFE, 0xFF, rest @ ..] => Charset::Encoding(UTF_16BE).decode_into(rest, out),
                _ => Charset::Encoding(UTF_16BE).decode_into(bytes, out),
            },
            Charset::Encoding(enc) if enc == UTF_8 => match std::str::from_utf8(bytes) {
                Ok(s) => {
                    out.push_str(s);
                    false
                }
                Err(_) => {
                    out.push_str(&String::from_utf8_lossy(bytes));
                    true
                }
            },
            Charset::Encoding(enc) => {
                let mut decoder = enc.new_decoder_without_bom_handling();
                // Worst case is bounded (3 bytes of UTF-8 per input byte plus a
                // little): reserve it once so one call always finishes.
                let need = decoder
                    .max_utf8_buffer_length(bytes.len())
                    .unwrap_or(bytes.len().saturating_mul(3).saturating_add(16));
                out.reserve(need);
                let (_, _, had_errors) = decoder.decode_to_string(bytes, out, true);
                had_errors
            }
        }
    }
}

fn b64_value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// UTF-7 (RFC 2152 §"Rules for forming the encoded form"): `+` starts a
/// modified-base64 run of UTF-16 code units, ended by any character outside
/// the base64 alphabet (a `-` ending it is absorbed); `+-` is `+`.
/// Returns whether anything was malformed (and replaced by U+FFFD).
fn utf7_decode(bytes: &[u8], out: &mut String) -> bool {
    let mut bad = false;
    let mut i = 0;
    // A pending high surrogate waiting for its low half.
    let mut high: Option<u16> = None;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b != b'+' {
            if b.is_ascii() {
                out.push(char::from(b));
            } else {
                out.push(char::REPLACEMENT_CHARACTER);
                bad = true;
            }
            continue;
        }
        if bytes.get(i) == Some(&b'-') {
            out.push('+');
            i += 1;
            continue;
        }
        let (mut acc, mut nbits) = (0u32, 0u32);
        while let Some(v) = bytes.get(i).and_then(|&c| b64_value(c)) {
            i += 1;
            acc = (acc << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                let unit = (acc >> nbits) as u16;
                acc &= (1 << nbits) - 1;
                match (high.take(), unit) {
                    (None, 0xD800..=0xDBFF) => high = Some(unit),
                    (Some(h), 0xDC00..=0xDFFF) => {
                        let c =
                            0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    (h, u) => {
                        if h.is_some() {
                            out.push(char::REPLACEMENT_CHARACTER);
                            bad = true;
                        }
                        match char::from_u32(u32::from(u)) {
                            Some(c) => out.push(c),
                            None => {
                                out.push(char::REPLACEMENT_CHARACTER);
                                bad = true;
                            }
                        }
                    }
                }
            }
        }
        // Leftover bits must be zero padding (fewer than 6 of them).
        if nbits >= 6 || acc != 0 || high.take().is_some() {
            out.push(char::REPLACEMENT_CHARACTER);
            bad = true;
        }
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    bad
}

/// A charset to encode header text into (see [`target`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    name: &'static str,
    kind: TargetKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    Utf8,
    /// Real ISO-8859-1: code points U+0000–U+00FF are the bytes.
    Latin1,
    Ascii,
    Other(&'static Encoding),
}

/// Why a label cannot be an encoding target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetError {
    /// No known charset has this label.
    Unknown,
    /// Known, but only for decoding (UTF-16, UTF-7).
    DecodeOnly,
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TargetError::Unknown => "unknown charset",
            TargetError::DecodeOnly => "charset can be decoded but not encoded to",
        })
    }
}

impl std::error::Error for TargetError {}

/// The charset to encode into for `label`.
///
/// Labels that WHATWG folds into windows-1252 keep their meaning here:
/// `us-ascii`/`ascii` encode only ASCII, `iso-8859-1`/`latin1`/… only
/// U+0000–U+00FF, and are named `US-ASCII` and `ISO-8859-1` in
/// encoded-words. Other labels are named by encoding_rs's canonical name
/// (`gb2312` → `GBK`). UTF-16 and UTF-7 cannot be encoded to.
pub fn target(label: &[u8]) -> Result<Target, TargetError> {
    let enc = match find(label) {
        Some(Charset::Encoding(e)) => e,
        Some(Charset::Utf7 | Charset::Utf16) => return Err(TargetError::DecodeOnly),
        None => return Err(TargetError::Unknown),
    };
    if enc.output_encoding() != enc {
        return Err(TargetError::DecodeOnly);
    }
    let kind = if enc == UTF_8 {
        TargetKind::Utf8
    } else if enc == WINDOWS_1252 {
        let l = trim(label).to_ascii_lowercase();
        if matches!(&l[..], b"us-ascii" | b"ascii" | b"ansi_x3.4-1968") {
            return Ok(Target {
                name: "US-ASCII",
                kind: TargetKind::Ascii,
            });
        }
        if !matches!(&l[..], b"windows-1252" | b"cp1252" | b"x-cp1252") {
            return Ok(Target {
                name: "ISO-8859-1",
                kind: TargetKind::Latin1,
            });
        }
        TargetKind::Other(enc)
    } else {
        TargetKind::Other(enc)
    };
    Ok(Target {
        name: enc.name(),
        kind,
    })
}

/// [`target`] of a label given as text (a command-line option).
impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(label: &str) -> Result<Target, TargetError> {
        target(label.as_bytes())
    }
}

impl Target {
    /// UTF-8.
    pub const UTF_8: Target = Target {
        name: "UTF-8",
        kind: TargetKind::Utf8,
    };

    /// The charset name written into encoded-words (`UTF-8`, `ISO-8859-1`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The charset a decoder uses for text labelled [`name`](Self::name).
    pub fn charset(&self) -> Charset {
        Charset::Encoding(match self.kind {
            TargetKind::Utf8 => UTF_8,
            TargetKind::Latin1 | TargetKind::Ascii => WINDOWS_1252,
            TargetKind::Other(e) => e,
        })
    }

    /// Whether the encoding keeps state between characters (ISO-2022-JP),
    /// so that a piece must be encoded whole to end in the initial state.
    pub fn is_stateful(&self) -> bool {
        self.kind == TargetKind::Other(ISO_2022_JP)
    }

    /// Encodes `text` whole, appending to `out` (a stateful encoding ends in
    /// its initial state). On a character the charset lacks, returns it and
    /// the byte offset in `text` where it starts (`out` then holds a prefix).
    pub fn encode_into(&self, text: &str, out: &mut Vec<u8>) -> Result<(), (char, usize)> {
        match self.kind {
            TargetKind::Utf8 => out.extend_from_slice(text.as_bytes()),
            TargetKind::Latin1 | TargetKind::Ascii => {
                let max = if self.kind == TargetKind::Ascii {
                    0x7F
                } else {
                    0xFF
                };
                for (i, c) in text.char_indices() {
                    match u8::try_from(u32::from(c)) {
                        Ok(b) if u32::from(b) <= max => out.push(b),
                        _ => return Err((c, i)),
                    }
                }
            }
            TargetKind::Other(enc) => {
                let mut encoder = enc.new_encoder();
                let mut src = text;
                let mut done = 0;
                loop {
                    let need = encoder
                        .max_buffer_length_from_utf8_without_replacement(src.len())
                        .unwrap_or(src.len().saturating_mul(4).saturating_add(16));
                    out.reserve(need);
                    let (res, read) =
                        encoder.encode_from_utf8_to_vec_without_replacement(src, out, true);
                    match res {
                        encoding_rs::EncoderResult::InputEmpty => return Ok(()),
                        // Cannot happen after the reserve; loop for safety.
                        encoding_rs::EncoderResult::OutputFull => {}
                        encoding_rs::EncoderResult::Unmappable(c) => {
                            return Err((c, done + read - c.len_utf8()));
                        }
                    }
                    done += read;
                    src = &src[read..];
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
