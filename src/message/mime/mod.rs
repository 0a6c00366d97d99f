//! `Content-Type` and `Content-Disposition` (RFC 2045 §5, RFC 2183) with
//! their parameters, RFC 2231 included: reading and writing.
//!
//! # Reading ([`ContentType::parse`], [`Disposition::parse`], [`Params`])
//!
//! Best effort, never failing: what was wrong is listed as [`Defect`]s.
//!
//! - The value may still be folded (it is unfolded first). Comments
//!   (RFC 5322 §3.2.2, nested, with `\` escapes) and white space may stand
//!   between all tokens (`text/plain; charset=us-ascii (Plain text)`).
//! - Type, subtype, disposition type and parameter names are lowercased;
//!   values keep their case. A syntactically invalid `Content-Type` reads
//!   as `text/plain` (RFC 2045 §5.2) with a defect; its parameters are
//!   still read.
//! - A value is a quoted string (`\x` gives `x`; an unterminated one runs
//!   to the end, with a defect) or a token. Text after a token that is not
//!   a comment (`name=my file.pdf`) makes the value everything up to the
//!   next `;`, trimmed, with a defect: real mail has unquoted names with
//!   spaces.
//! - RFC 2231 §3 continuations (`name*0=`, `name*1=`) are joined in
//!   section order (sorted when out of order; a duplicate section is
//!   dropped and a gap is a defect, the sections present are still
//!   joined). §4 extended values (`name*=`, `name*0*=`) are
//!   percent-decoded; a `%` not followed by two hex digits is kept
//!   literally with a defect. The bytes of all sections are joined
//!   *before* charset decoding (the charset and language come from the
//!   first section), so a character split across sections decodes
//!   correctly. Unknown charsets and undecodable bytes give UTF-8 with
//!   U+FFFD replacements, and a defect.
//! - An RFC 2231 form of a parameter takes precedence over a plain one
//!   of the same name (senders give both for old readers); of two plain
//!   ones the first counts (defect).
//! - A plain value holding RFC 2047 encoded-words (`name="=?UTF-8?B?…?="`,
//!   which §5 of RFC 2047 forbids but Outlook and others send) is decoded;
//!   undecodable bytes in plain values become U+FFFD with a defect (raw
//!   UTF-8 is kept, RFC 6532). The undecoded bytes stay available as
//!   [`Param::raw`] (a boundary must be compared byte for byte).
//! - At most [`MAX_PARAMS`] parameters are read per field; the rest is
//!   ignored with a defect.
//!
//! # Writing ([`FieldWriter`])
//!
//! Parameters are written as tokens when they can be, else as quoted
//! strings; values that are not printable ASCII as RFC 2231 §4 extended
//! values in UTF-8 (`filename*=UTF-8''%E2%82%AC.txt`), split into §3
//! continuations (`filename*0*=…; filename*1*=…`, only between characters)
//! when a line would pass 78 columns; long ASCII values likewise as
//! quoted continuations. Folding is `;` LF SP between parameters, so no
//! line is longer than 78 characters. [`FieldWriter::param_encoded_word`]
//! writes the RFC 2047 form that old clients read from `Content-Type`'s
//! `name` parameter. Nothing a value holds (CR, LF, NUL, quotes) can end
//! the field: control characters only ever appear percent- or
//! base64-encoded.

use std::borrow::Cow;
use std::fmt;

use crate::codec::{charset, encoded_word};
use crate::message::header;

/// Most parameters read from one field; the rest is ignored (with a
/// defect). Real fields have a handful; a long RFC 2231 continuation of a
/// 1000-character file name has about 20. A private limit: the header
/// block size ([`crate::limits::MAX_HEADER_BYTES`]) bounds the bytes.
pub const MAX_PARAMS: usize = 256;

/// Columns a written field is folded at (RFC 5322 §2.1.1): the crate's
/// one fold width.
use encoded_word::FOLD_WIDTH as WIDTH;

/// What was wrong with a `Content-Type` or `Content-Disposition` value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefectKind {
    /// The type is missing or not `token/token` (read as `text/plain`).
    InvalidType,
    /// A parameter without `=value` (ignored).
    MissingValue,
    /// An empty parameter name or a stray character where a parameter
    /// should start (skipped to the next `;`).
    Junk,
    /// Text after a value that is not a comment (kept in the value).
    JunkAfterValue,
    /// A quoted string without its closing `"` (runs to the end).
    UnterminatedQuote,
    /// A comment without its closing `)` (runs to the end).
    UnterminatedComment,
    /// The same parameter twice (the first counts).
    DuplicateParam(String),
    /// The same RFC 2231 section twice (the first counts).
    DuplicateSection(String, u32),
    /// An RFC 2231 continuation without this section (the others joined).
    MissingSection(String, u32),
    /// A `%` not followed by two hex digits in an extended value (kept).
    BadPercent(String),
    /// An extended value without `charset'language'` (read as UTF-8).
    MissingCharset(String),
    /// A charset no decoder knows (read as UTF-8).
    UnknownCharset(String),
    /// Bytes invalid in the value's charset (replaced by U+FFFD).
    InvalidBytes(String),
    /// More than [`MAX_PARAMS`] parameters (the rest ignored).
    TooManyParams,
}

/// A defect with the byte offset in the (unfolded) value where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    /// What was wrong.
    pub kind: DefectKind,
    /// Byte offset in the unfolded value, counted from 0.
    pub offset: usize,
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DefectKind::InvalidType => f.write_str("invalid media type")?,
            DefectKind::MissingValue => f.write_str("parameter without a value")?,
            DefectKind::Junk => f.write_str("junk where a parameter should start")?,
            DefectKind::JunkAfterValue => f.write_str("junk after a parameter value")?,
            DefectKind::UnterminatedQuote => f.write_str("unterminated quoted string")?,
            DefectKind::UnterminatedComment => f.write_str("unterminated comment")?,
            DefectKind::DuplicateParam(n) => write!(f, "duplicate parameter {n:?}")?,
            DefectKind::DuplicateSection(n, s) => write!(f, "duplicate section {n}*{s}")?,
            DefectKind::MissingSection(n, s) => write!(f, "missing section {n}*{s}")?,
            DefectKind::BadPercent(n) => write!(f, "bad %-escape in {n:?}")?,
            DefectKind::MissingCharset(n) => write!(f, "no charset in extended {n:?}")?,
            DefectKind::UnknownCharset(c) => write!(f, "unknown charset {c:?}")?,
            DefectKind::InvalidBytes(n) => write!(f, "undecodable bytes in {n:?}")?,
            DefectKind::TooManyParams => write!(f, "more than {MAX_PARAMS} parameters")?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for Defect {}

/// One parameter after RFC 2231 assembly and decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The name, lowercased, without RFC 2231 `*` and section numbers.
    pub name: String,
    /// The value decoded to UTF-8 (see the module docs).
    pub value: String,
    /// The bytes before charset and RFC 2047 decoding: unquoted,
    /// percent-decoded and sections joined.
    pub raw: Vec<u8>,
    /// The RFC 2231 charset, when the value was extended.
    pub charset: Option<String>,
    /// The RFC 2231 language, when given (`en`).
    pub language: Option<String>,
}

/// The parameters of a field, in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// The parameters, one per name.
    pub list: Vec<Param>,
    /// Everything that was wrong with the field, the type included.
    pub defects: Vec<Defect>,
}

impl Params {
    /// The value of parameter `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.param(name).map(|p| p.value.as_str())
    }

    /// The parameter `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.list.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// A parsed `Content-Type` (RFC 2045 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// Top-level type, lowercased (`text`).
    pub mtype: String,
    /// Subtype, lowercased (`plain`).
    pub subtype: String,
    /// Parameters and defects.
    pub params: Params,
}

impl ContentType {
    /// Parses a `Content-Type` field value, best effort (module docs).
    pub fn parse(value: &[u8]) -> ContentType {
        let (essence, params) = parse_with_params(value, |p| {
            let mtype = p.token();
            p.cfws();
            let ok = !mtype.is_empty() && p.eat(b'/');
            p.cfws();
            let subtype = if ok { p.token() } else { Cow::Borrowed("") };
            (!subtype.is_empty())
                .then(|| (mtype.to_ascii_lowercase(), subtype.to_ascii_lowercase()))
        });
        let (mtype, subtype) = essence.unwrap_or_else(|| ("text".to_owned(), "plain".to_owned()));
        ContentType {
            mtype,
            subtype,
            params,
        }
    }

    /// `type/subtype`, lowercased.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.mtype, self.subtype)
    }

    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// The `charset` parameter.
    pub fn charset(&self) -> Option<&str> {
        self.param("charset")
    }

    /// The `boundary` parameter's exact bytes.
    pub fn boundary(&self) -> Option<&[u8]> {
        self.params.param("boundary").map(|p| &p.raw[..])
    }

    /// Whether this is `multipart/*`.
    pub fn is_multipart(&self) -> bool {
        self.mtype == "multipart"
    }

    /// Whether this is `message/*`.
    pub fn is_message(&self) -> bool {
        self.mtype == "message"
    }
}

impl Default for ContentType {
    /// `text/plain` without parameters: what a part without a
    /// `Content-Type` is (RFC 2045 §5.2; the charset defaults to us-ascii).
    fn default() -> Self {
        ContentType {
            mtype: "text".to_owned(),
            subtype: "plain".to_owned(),
            params: Params::default(),
        }
    }
}

/// A parsed `Content-Disposition` (RFC 2183).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// The disposition type, lowercased (`inline`, `attachment`); empty
    /// when missing (a defect).
    pub kind: String,
    /// Parameters and defects.
    pub params: Params,
}

impl Disposition {
    /// Parses a `Content-Disposition` field value, best effort.
    pub fn parse(value: &[u8]) -> Disposition {
        let (kind, params) = parse_with_params(value, |p| {
            let kind = p.token().to_ascii_lowercase();
            p.cfws();
            (!kind.is_empty()).then_some(kind)
        });
        Disposition {
            kind: kind.unwrap_or_default(),
            params,
        }
    }

    /// The `filename` parameter.
    pub fn filename(&self) -> Option<&str> {
        self.params.get("filename")
    }

    /// Whether the type is `attachment` (RFC 2183 §2.2).
    pub fn is_attachment(&self) -> bool {
        self.kind == "attachment"
    }
}

// ------------------------------------------------------------------ reading

/// RFC 2045 §5.1 `tspecials`.
fn is_tspecial(b: u8) -> bool {
    b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// RFC 2045 `token` characters, leniently with 8-bit bytes (seen in mail).
fn is_token(b: u8) -> bool {
    b > b' ' && b != 0x7F && !is_tspecial(b)
}

/// A parameter as written, before RFC 2231 assembly.
struct Raw {
    /// Lowercased name without `*`s and section.
    name: String,
    section: Option<u32>,
    extended: bool,
    value: Vec<u8>,
    at: usize,
}

/// Parses a field value shaped `head *(";" parameter)` (RFC 2045 §5.1,
/// RFC 2183 §2): `head` reads what stands before the parameters, after
/// leading CFWS, and returns `None` when that is invalid: a defect, and
/// what is there is skipped up to the parameters.
fn parse_with_params<T>(
    value: &[u8],
    head: impl FnOnce(&mut Parser<'_>) -> Option<T>,
) -> (Option<T>, Params) {
    let value = header::unfold(value);
    let mut p = Parser::new(&value);
    p.cfws();
    let start = p.i;
    let got = head(&mut p);
    if got.is_none() {
        p.defect(DefectKind::InvalidType, start);
        p.skip_to_semicolon();
    }
    (got, p.params())
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    defects: Vec<Defect>,
}

impl<'a> Parser<'a> {
    fn new(s: &'a [u8]) -> Self {
        Parser {
            s,
            i: 0,
            defects: Vec::new(),
        }
    }

    fn defect(&mut self, kind: DefectKind, offset: usize) {
        self.defects.push(Defect { kind, offset });
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Skips white space and comments (nested, with `\` escapes).
    fn cfws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'(' => {
                    let start = self.i;
                    let mut depth = 0usize;
                    while let Some(c) = self.peek() {
                        self.i += 1;
                        match c {
                            b'\\' => self.i = (self.i + 1).min(self.s.len()),
                            b'(' => depth += 1,
                            b')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    if depth > 0 {
                        self.defect(DefectKind::UnterminatedComment, start);
                    }
                }
                _ => break,
            }
        }
    }

    fn token(&mut self) -> Cow<'a, str> {
        let start = self.i;
        while self.peek().is_some_and(is_token) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i])
    }

    /// Moves to the next `;` outside quoted strings (or the end).
    fn skip_to_semicolon(&mut self) {
        let mut quoted = false;
        while let Some(b) = self.peek() {
            match b {
                b';' if !quoted => return,
                b'"' => quoted = !quoted,
                b'\\' if quoted => self.i += 1,
                _ => {}
            }
            self.i += 1;
        }
        self.i = self.i.min(self.s.len());
    }

    /// Reads a quoted string after its opening `"`.
    fn quoted(&mut self, start: usize) -> Vec<u8> {
        let mut v = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.defect(DefectKind::UnterminatedQuote, start);
                    return v;
                }
                Some(b'"') => {
                    self.i += 1;
                    return v;
                }
                Some(b'\\') if self.i + 1 < self.s.len() => {
                    v.push(self.s[self.i + 1]);
                    self.i += 2;
                }
                Some(b) => {
                    v.push(b);
                    self.i += 1;
                }
            }
        }
    }

    /// Reads `*(";" parameter)` to the end and assembles the result.
    fn params(mut self) -> Params {
        let mut raws: Vec<Raw> = Vec::new();
        loop {
            self.cfws();
            let Some(b) = self.peek() else { break };
            if b != b';' {
                self.defect(DefectKind::Junk, self.i);
                self.skip_to_semicolon();
                continue;
            }
            self.i += 1;
            self.cfws();
            let at = self.i;
            match self.peek() {
                None => break,
                Some(b';') => continue,
                _ => {}
            }
            let name = self.token();
            if name.is_empty() {
                self.defect(DefectKind::Junk, at);
                self.skip_to_semicolon();
                continue;
            }
            self.cfws();
            if !self.eat(b'=') {
                self.defect(DefectKind::MissingValue, at);
                self.skip_to_semicolon();
                continue;
            }
            self.cfws();
            let vstart = self.i;
            let mut value = if self.eat(b'"') {
                self.quoted(vstart)
            } else {
                let s = self.i;
                while self.peek().is_some_and(|b| is_token(b) || b == b'=') {
                    self.i += 1;
                }
                self.s[s..self.i].to_vec()
            };
            self.cfws();
            if self.peek().is_some_and(|b| b != b';') {
                self.defect(DefectKind::JunkAfterValue, self.i);
                let quoted = self.s[vstart] == b'"';
                self.skip_to_semicolon();
                if !quoted {
                    value = self.s[vstart..self.i].trim_ascii().to_vec();
                }
            }
            if raws.len() == MAX_PARAMS {
                self.defect(DefectKind::TooManyParams, at);
                break;
            }
            raws.push(split_name(&name, value, at));
        }
        let mut params = Params {
            list: Vec::new(),
            defects: self.defects,
        };
        assemble(raws, &mut params);
        params.defects.sort_by_key(|d| d.offset);
        params
    }
}

/// `name`, `name*`, `name*N`, `name*N*` (RFC 2231 §3-4).
fn split_name(name: &str, value: Vec<u8>, at: usize) -> Raw {
    let lower = name.to_ascii_lowercase();
    let (base, extended) = match lower.strip_suffix('*') {
        Some(b) => (b, true),
        None => (&lower[..], false),
    };
    let (base, section) = match base.rsplit_once('*') {
        Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            (b, Some(n.parse::<u32>().unwrap_or(u32::MAX)))
        }
        _ => (base, None),
    };
    Raw {
        name: base.to_owned(),
        section,
        extended,
        value,
        at,
    }
}

/// Groups the raw parameters by name and builds each one's value.
fn assemble(raws: Vec<Raw>, params: &mut Params) {
    let mut names: Vec<&str> = Vec::new();
    for r in &raws {
        if !names.contains(&&r.name[..]) {
            names.push(&r.name);
        }
    }
    for name in names {
        let all: Vec<&Raw> = raws.iter().filter(|r| r.name == name).collect();
        let single_ext = all.iter().find(|r| r.extended && r.section.is_none());
        let mut sections: Vec<&Raw> = all
            .iter()
            .copied()
            .filter(|r| r.section.is_some())
            .collect();
        let plain: Vec<&Raw> = all
            .iter()
            .copied()
            .filter(|r| !r.extended && r.section.is_none())
            .collect();
        let param = if let Some(r) = single_ext {
            if all
                .iter()
                .filter(|r| r.extended && r.section.is_none())
                .count()
                > 1
            {
                let d = DefectKind::DuplicateParam(name.to_owned());
                params.defects.push(Defect {
                    kind: d,
                    offset: r.at,
                });
            }
            extended(name, &[r], params)
        } else if !sections.is_empty() {
            sections.sort_by_key(|r| r.section);
            let mut kept: Vec<&Raw> = Vec::with_capacity(sections.len());
            for r in sections {
                let n = r.section.unwrap_or(0);
                if kept.last().is_some_and(|k| k.section == Some(n)) {
                    let d = DefectKind::DuplicateSection(name.to_owned(), n);
                    params.defects.push(Defect {
                        kind: d,
                        offset: r.at,
                    });
                    continue;
                }
                let want = kept
                    .last()
                    .map_or(0, |k| k.section.unwrap_or(0).saturating_add(1));
                if n != want {
                    let d = DefectKind::MissingSection(name.to_owned(), want);
                    params.defects.push(Defect {
                        kind: d,
                        offset: r.at,
                    });
                }
                kept.push(r);
            }
            extended(name, &kept, params)
        } else {
            if plain.len() > 1 {
                let d = DefectKind::DuplicateParam(name.to_owned());
                params.defects.push(Defect {
                    kind: d,
                    offset: plain[1].at,
                });
            }
            let r = plain[0];
            let value = plain_text(name, &r.value, r.at, params);
            Param {
                name: name.to_owned(),
                value,
                raw: r.value.clone(),
                charset: None,
                language: None,
            }
        };
        params.list.push(param);
    }
}

/// Decodes a plain (non-RFC 2231) value: raw UTF-8 kept, RFC 2047 words
/// decoded (non-standard but common).
fn plain_text(name: &str, bytes: &[u8], at: usize, params: &mut Params) -> String {
    if memchr::memmem::find(bytes, b"=?").is_some() {
        return encoded_word::decode(bytes).text;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let d = DefectKind::InvalidBytes(name.to_owned());
            params.defects.push(Defect {
                kind: d,
                offset: at,
            });
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// Joins the sections of an RFC 2231 parameter (one for `name*=`) in the
/// order given, percent-decoding extended ones, then decodes the charset.
fn extended(name: &str, parts: &[&Raw], params: &mut Params) -> Param {
    let mut raw = Vec::new();
    let mut cs: Option<String> = None;
    let mut language = None;
    let first_ext = parts
        .first()
        .is_some_and(|r| r.extended && r.section.unwrap_or(0) == 0);
    for (k, r) in parts.iter().enumerate() {
        let mut v = &r.value[..];
        if k == 0 && first_ext {
            // charset'language'value (RFC 2231 §4); both may be empty.
            let mut it = v.splitn(3, |&b| b == b'\'');
            match (it.next(), it.next(), it.next()) {
                (Some(c), Some(l), Some(rest)) => {
                    cs = Some(String::from_utf8_lossy(c).into_owned());
                    if !l.is_empty() {
                        language = Some(String::from_utf8_lossy(l).into_owned());
                    }
                    v = rest;
                }
                _ => {
                    let d = DefectKind::MissingCharset(name.to_owned());
                    params.defects.push(Defect {
                        kind: d,
                        offset: r.at,
                    });
                }
            }
        }
        if r.extended {
            if !percent_decode(v, &mut raw) {
                let d = DefectKind::BadPercent(name.to_owned());
                params.defects.push(Defect {
                    kind: d,
                    offset: r.at,
                });
            }
        } else {
            raw.extend_from_slice(v);
        }
    }
    let at = parts.first().map_or(0, |r| r.at);
    let mut value = String::with_capacity(raw.len());
    match cs.as_deref().filter(|c| !c.is_empty()) {
        Some(label) => match charset::find(label.as_bytes()) {
            Some(c) => {
                if c.decode_into(&raw, &mut value) {
                    let d = DefectKind::InvalidBytes(name.to_owned());
                    params.defects.push(Defect {
                        kind: d,
                        offset: at,
                    });
                }
            }
            None => {
                let d = DefectKind::UnknownCharset(label.to_owned());
                params.defects.push(Defect {
                    kind: d,
                    offset: at,
                });
                value = String::from_utf8_lossy(&raw).into_owned();
            }
        },
        // No charset at all (plain continuations, or `''`): bytes as UTF-8,
        // RFC 2047 words decoded as for a plain value.
        None => value = plain_text(name, &raw, at, params),
    }
    Param {
        name: name.to_owned(),
        value,
        raw,
        charset: cs,
        language,
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Appends the percent-decoded `v` to `out`; a bad `%` is kept literally.
/// Returns false if there was one.
fn percent_decode(v: &[u8], out: &mut Vec<u8>) -> bool {
    let mut ok = true;
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' {
            if let (Some(h), Some(l)) = (
                v.get(i + 1).and_then(|&b| hex(b)),
                v.get(i + 2).and_then(|&b| hex(b)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            ok = false;
        }
        out.push(v[i]);
        i += 1;
    }
    ok
}

// ------------------------------------------------------------------ writing

/// Appends `c` as an RFC 2231 §4 extended value: its UTF-8 bytes, each
/// `attribute-char` as it is and any other as `%XX`.
fn percent_encode(c: char, out: &mut String) {
    let mut buf = [0u8; 4];
    for &b in c.encode_utf8(&mut buf).as_bytes() {
        if is_attr_char(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// RFC 2231 §7 `attribute-char`: sent as itself in an extended value.
fn is_attr_char(b: u8) -> bool {
    is_token(b) && b.is_ascii() && !matches!(b, b'*' | b'\'' | b'%')
}

/// Printable ASCII and space: can go in a quoted string; but not `=?`,
/// which readers (we too) would take for an RFC 2047 encoded-word, nor
/// white space at either end, which readers (Python) strip from quoted
/// values.
fn is_plain(value: &str) -> bool {
    value.bytes().all(|b| (b' '..=b'~').contains(&b))
        && !value.contains("=?")
        && value.trim() == value
}

/// Quotes `value` when it is not a token (RFC 2045 §5.1), and also when it
/// holds `*`, `'` or `%`: tokens, but readers that know RFC 2231 (Python)
/// end an unquoted value there.
fn quote(value: &str) -> Cow<'_, str> {
    if !value.is_empty() && value.bytes().all(is_attr_char) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(crate::message::address::quoted(value))
}

/// Room for an encoded-word of one character and what follows it:
/// `=?UTF-8?B?`, eight base64 characters (four UTF-8 bytes), `?=`, `";`.
const MIN_WORD: usize = 22;

/// Appends `sep` and `piece` to a header field `out` whose last line ends
/// at column `col`, folding (RFC 5322 §2.2.3: a line break before the
/// blank that ends `sep`) when the line would pass [`WIDTH`] with `extra`
/// more characters after the piece; a line holding only its leading blank
/// is not folded again.
pub(crate) fn fold_append(out: &mut String, col: &mut usize, sep: &str, piece: &str, extra: usize) {
    if *col + sep.len() + piece.len() + extra > WIDTH && *col > 1 {
        out.push_str(sep.trim_end());
        out.push_str("\n ");
        *col = 1;
    } else {
        out.push_str(sep);
        *col += sep.len();
    }
    out.push_str(piece);
    *col += piece.len();
}

/// A header field with parameters, folded at 78 columns with LF SP.
///
/// ```
/// use mailpipe::message::mime::FieldWriter;
/// let mut f = FieldWriter::new("Content-Type", "text/plain");
/// f.param("charset", "utf-8");
/// assert_eq!(f.finish(), "Content-Type: text/plain; charset=utf-8");
/// ```
#[derive(Debug, Clone)]
pub struct FieldWriter {
    out: String,
    /// Column at the end of `out`.
    col: usize,
}

impl FieldWriter {
    /// Starts `name: value`; both must be printable ASCII (they are ours,
    /// not the user's).
    pub fn new(name: &str, value: &str) -> FieldWriter {
        let out = format!("{name}: {value}");
        FieldWriter {
            col: out.len(),
            out,
        }
    }

    /// Appends `; piece`, folding before it when the line would pass the
    /// width (`extra` more characters will follow it on the same line).
    fn put(&mut self, piece: &str, extra: usize) {
        fold_append(&mut self.out, &mut self.col, "; ", piece, extra);
    }

    /// Appends parameter `name=value` (`name` must be a token), choosing
    /// the form (module docs): token, quoted string, or RFC 2231.
    pub fn param(&mut self, name: &str, value: &str) -> &mut Self {
        if is_plain(value) {
            let q = quote(value);
            // Fits on a line of its own, with the `;` that may follow.
            if 1 + name.len() + 1 + q.len() < WIDTH {
                self.put(&format!("{name}={q}"), 1);
            } else {
                self.continuations(name, value, false);
            }
            return self;
        }
        let mut enc = String::with_capacity(value.len() * 3);
        let mut pieces = Vec::new(); // end offsets in `enc` of each character
        for c in value.chars() {
            percent_encode(c, &mut enc);
            pieces.push(enc.len());
        }
        let single = format!("{name}*=UTF-8''{enc}");
        if 1 + single.len() < WIDTH {
            self.put(&single, 1);
        } else {
            self.continuations(name, value, true);
        }
        self
    }

    /// RFC 2231 §3 continuations: `name*N*=` (percent-encoded UTF-8, the
    /// charset in section 0) or `name*N="…"` (plain ASCII), each section
    /// on its own line of at most [`WIDTH`] characters, cut only between
    /// characters (and never inside an escape).
    fn continuations(&mut self, name: &str, value: &str, ext: bool) {
        let mut units: Vec<String> = Vec::with_capacity(value.len());
        for c in value.chars() {
            let mut u = String::new();
            if ext {
                percent_encode(c, &mut u);
            } else {
                if c == '"' || c == '\\' {
                    u.push('\\');
                }
                u.push(c);
            }
            units.push(u);
        }
        let mut section = 0u32;
        let mut i = 0;
        while i < units.len() || section == 0 {
            let head = match (ext, section) {
                (true, 0) => format!("{name}*0*=UTF-8''"),
                (true, n) => format!("{name}*{n}*="),
                (false, n) => format!("{name}*{n}=\""),
            };
            let tail = if ext { 0 } else { 1 };
            // Room on a line: " " + head + chunk + tail + ";".
            let room = WIDTH.saturating_sub(1 + head.len() + tail + 1).max(12);
            let mut chunk = head;
            let mut used = 0;
            while i < units.len() && (used == 0 || used + units[i].len() <= room) {
                used += units[i].len();
                chunk.push_str(&units[i]);
                i += 1;
            }
            if !ext {
                chunk.push('"');
            }
            // Always a line of its own: readers see one section per line.
            self.out.push_str(";\n ");
            self.out.push_str(&chunk);
            self.col = 1 + chunk.len();
            section += 1;
        }
    }

    /// Appends `name` the way old clients read it (Outlook's `name` on
    /// `Content-Type`): plain ASCII that fits as [`param`](Self::param)
    /// does, anything else as RFC 2047 B-words inside a quoted string,
    /// folded between the words (RFC 2047 §5 forbids words in quoted
    /// strings; RFC 2231-unaware readers need them, and the RFC 2231
    /// `filename` is always given too). The words come from
    /// [`encoded_word::encode_words`].
    pub fn param_encoded_word(&mut self, name: &str, value: &str) -> &mut Self {
        if is_plain(value) && 1 + name.len() + 1 + quote(value).len() < WIDTH {
            return self.param(name, value);
        }
        // `name="` and a first word of a few characters must fit on this
        // line, else the parameter starts on the next one.
        let head = format!("{name}=\"");
        self.put(&head, MIN_WORD);
        // The words, folded so that the closing `"` and a `;` still fit.
        let words = encoded_word::encode_words(
            value,
            &charset::Target::UTF_8,
            encoded_word::Method::B,
            self.col,
            Some(WIDTH - 2),
        )
        .unwrap_or_default(); // UTF-8 represents every character
        self.out.push_str(&words);
        self.out.push('"');
        let last = words.rsplit('\n').next().unwrap_or("");
        self.col = if words.contains('\n') { 0 } else { self.col } + last.len() + 1;
        self
    }

    /// The field, without a final line end; folds are LF SP.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests;
