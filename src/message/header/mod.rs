//! Header blocks (RFC 5322 §2.2): bounded reading, unfolding (§2.2.3),
//! and selecting fields for display (the work behind `mime-hdr`).
//!
//! [`read_block`] reads one message's header block, LF or CRLF, and stops
//! right after the empty line that ends it: the body is never read. The
//! block is bounded by [`MAX_HEADER_BYTES`] and [`MAX_HEADER_FIELDS`];
//! over either limit is a [`ParseError`] (no unbounded memory).
//!
//! Lenient reading (documented choices, close to Python's `email` parser):
//! - an mbox `From ` first line is skipped;
//! - continuation lines (starting with SP or HTAB, white space only
//!   included) before the first field are ignored;
//! - `Name WSP* :` is a field (the obsolete white space before the colon
//!   of RFC 5322 §4.5.3 is accepted and removed from the name);
//! - the first line that is neither a field nor a continuation (no colon,
//!   a name with bytes outside 33–126, an empty name) ends the block: it is
//!   the first line of a body that lacks its empty separator line, kept in
//!   [`Block::body_start`].

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, Write};

use crate::codec::DecodeError;
use crate::codec::encoded_word::{Decoder, Defects, Tally, is_bad_control, is_field_name};
use crate::io::lines::{self, TooLong};
use crate::limits::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS};
use crate::message::address;
use crate::message::{Error, ParseError, ParseErrorKind};

/// One header field: its name and its raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field name as written (any case), without the colon and without
    /// the obsolete white space before it.
    pub name: &'a [u8],
    /// The raw value: the bytes after the colon up to the end of the
    /// field's last line, line end excluded. Folding line breaks are kept
    /// (see [`unfold`]); so is the white space after the colon.
    pub value: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    name_end: usize,
    value_start: usize,
    end: usize,
}

/// A message's header block, as read by [`read_block`]: every field's raw
/// bytes in one buffer (no allocation per field).
#[derive(Debug, Clone, Default)]
pub struct Block {
    buf: Vec<u8>,
    spans: Vec<Span>,
    body_start: Option<(usize, usize)>,
}

/// Reads a header block from `input`; see [`Block::read_from`].
pub fn read_block<R: BufRead + ?Sized>(input: &mut R) -> Result<Block, Error> {
    let mut block = Block::default();
    block.read_from(input)?;
    Ok(block)
}

/// The field name at the start of `line` and the offset just past its
/// colon, if `line` is a field (RFC 5322 §2.2 `ftext`, §4.5.3 obs WSP).
fn field_name(line: &[u8]) -> Option<(usize, usize)> {
    let name_end = line
        .iter()
        .position(|&b| !(33..=126).contains(&b) || b == b':')?;
    if name_end == 0 {
        return None;
    }
    let colon = name_end
        + line[name_end..]
            .iter()
            .position(|&b| b != b' ' && b != b'\t')?;
    (line[colon] == b':').then_some((name_end, colon + 1))
}

/// Whether the first line of a message is an mbox `From ` line (the
/// separator of mbox(5), not part of the message), which the header reader
/// skips: it starts with `From ` and is not a field (`From :a@b`, obsolete
/// white space before the colon, RFC 5322 §4.5.3, is the From field).
pub(crate) fn is_mbox_from_line(line: &[u8]) -> bool {
    line.starts_with(b"From ") && field_name(line).is_none()
}

impl Block {
    /// Reads the next header block from `input` into `self` (reusing its
    /// memory), leaving the body unread: `input` is left just after the
    /// empty line that ends the block, or after the line that started the
    /// body without one (see [`Block::body_start`]), or at the end.
    ///
    /// More than [`MAX_HEADER_BYTES`] bytes or [`MAX_HEADER_FIELDS`] fields
    /// is a [`ParseError`].
    pub fn read_from<R: BufRead + ?Sized>(&mut self, input: &mut R) -> Result<(), Error> {
        self.buf.clear();
        self.spans.clear();
        self.body_start = None;
        let mut budget = MAX_HEADER_BYTES;
        let mut line_no = 0u64;
        loop {
            let start = self.buf.len();
            let n = match lines::read_line(&mut &mut *input, &mut self.buf, budget) {
                Ok(n) => n,
                Err(e) if e.get_ref().is_some_and(|e| e.is::<TooLong>()) => {
                    let kind = ParseErrorKind::HeaderTooLarge;
                    return Err(ParseError {
                        kind,
                        line: line_no + 1,
                    }
                    .into());
                }
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Ok(());
            }
            line_no += 1;
            budget -= n;
            let end = start + lines::trim_eol(&self.buf[start..]).len();
            let line = &self.buf[start..end];
            if line.is_empty() {
                self.buf.truncate(start);
                return Ok(());
            }
            if line[0] == b' ' || line[0] == b'\t' {
                match self.spans.last_mut() {
                    Some(last) => last.end = end,
                    None => self.buf.truncate(start), // before any field: ignored
                }
                continue;
            }
            match field_name(line) {
                Some((name_end, value_start)) => {
                    if self.spans.len() == MAX_HEADER_FIELDS {
                        let kind = ParseErrorKind::TooManyFields;
                        return Err(ParseError {
                            kind,
                            line: line_no,
                        }
                        .into());
                    }
                    self.spans.push(Span {
                        start,
                        name_end: start + name_end,
                        value_start: start + value_start,
                        end,
                    });
                }
                None if line_no == 1 && is_mbox_from_line(line) => self.buf.truncate(start),
                None => {
                    self.body_start = Some((start, self.buf.len()));
                    return Ok(());
                }
            }
        }
    }

    /// The fields in message order.
    pub fn fields(&self) -> impl Iterator<Item = Field<'_>> + '_ {
        self.spans.iter().map(|s| self.field(s))
    }

    fn field(&self, s: &Span) -> Field<'_> {
        Field {
            name: &self.buf[s.start..s.name_end],
            value: &self.buf[s.value_start..s.end],
        }
    }

    /// Every field named `name` (ASCII case-insensitive), in message order.
    pub fn get_all<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = Field<'a>> + 'a {
        self.fields()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
    }

    /// The first field named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<Field<'_>> {
        self.fields().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the block has no field.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The line (line end included) that ended the block without an empty
    /// line before it: the first line of the body. `None` when the block
    /// ended with an empty line or at the end of input.
    pub fn body_start(&self) -> Option<&[u8]> {
        self.body_start.map(|(s, e)| &self.buf[s..e])
    }
}

/// Unfolds a field value (RFC 5322 §2.2.3): every CRLF or LF immediately
/// followed by SP or HTAB is removed, the white space kept. Other bytes,
/// other line breaks included, are left alone.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\n', value) else {
        return Cow::Borrowed(value);
    };
    let mut out = Vec::with_capacity(value.len());
    let mut from = 0;
    let mut at = Some(first);
    while let Some(i) = at {
        let folds = value.get(i + 1).is_some_and(|&b| b == b' ' || b == b'\t');
        if folds {
            let cut = if i > from && value[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            out.extend_from_slice(&value[from..cut]);
            from = i + 1;
        }
        at = memchr::memchr(b'\n', &value[i + 1..]).map(|j| i + 1 + j);
    }
    out.extend_from_slice(&value[from..]);
    Cow::Owned(out)
}

/// Decodes a field value for display: unfolded, RFC 2047 encoded-words
/// decoded to UTF-8, surrounding white space removed, control characters
/// replaced by U+FFFD (a decoded value can never add a line).
pub fn decode(value: &[u8]) -> String {
    let mut text = String::new();
    decode_into(&mut Decoder::new(), value, &mut text, &mut Vec::new());
    text
}

/// [`decode`] into `text` (cleared first), reusing the decoder's buffers;
/// defects go to `defects`, with offsets in the trimmed value.
fn decode_into(decoder: &mut Decoder, value: &[u8], text: &mut String, defects: &mut impl Defects) {
    text.clear();
    decoder.decode_into(trim(value), 0, text, defects);
    // A decoded word may begin or end with blanks (`=?UTF-8?Q?_a?=`).
    let blank = [' ', '\t'];
    text.truncate(text.trim_end_matches(blank).len());
    let lead = text.len() - text.trim_start_matches(blank).len();
    text.drain(..lead);
}

fn trim(v: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = v.iter().position(|b| !ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
    &v[start..end]
}

/// What [`Select::print`] prints for each selected field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// The decoded value ([`decode`]).
    Value,
    /// Each mailbox of the value, as [`address::Mailbox`]'s `Display` writes it:
    /// `Name <addr>`, or `addr` without a name (`mime-hdr -a`).
    Mailboxes,
    /// Each mailbox's bare address (`mime-hdr -A`).
    Addresses,
}

/// The fields whose value is an address list (RFC 5322 §3.6.2, §3.6.3,
/// §3.6.6): the one table of them (see [`is_address_field`]).
pub const ADDRESS_FIELDS: [&str; 11] = [
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Bcc",
];

/// Whether `name` (any case) is one of the [`ADDRESS_FIELDS`].
pub fn is_address_field(name: &str) -> bool {
    ADDRESS_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// The fields [`Select`] takes for addresses when no name is given
/// (`mime-hdr -a`): who wrote the message and who got it, not every
/// address field — a smaller default, not a second table of them.
pub const DEFAULT_ADDRESS_FIELDS: [&str; 3] = ["From", "To", "Cc"];

/// A field name given to [`Select::new`] that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName(pub String);

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid field name {:?}", self.0)
    }
}

impl std::error::Error for BadName {}

/// Which fields of a block to print, and how (`mime-hdr`'s options).
#[derive(Debug)]
pub struct Select {
    names: Vec<String>,
    show: Show,
    label: bool,
    // Scratch space reused for every value (no allocation per field).
    decoder: Decoder,
    text: String,
}

/// What is wrong in a printed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An encoded-word left as it is, or a character replaced by U+FFFD.
    Word(DecodeError),
    /// A defect of an address list (`-a`, `-A`).
    Address(address::Defect),
}

/// The first defect of a block, and where: `Subject: unknown charset
/// "x" at byte 3` (the offset counts in the field's value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDefect {
    /// The field's name, as the message spells it.
    pub field: String,
    /// What was wrong.
    pub problem: Problem,
}

impl fmt::Display for FieldDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Word(e) => write!(f, "{}: {e}", self.field),
            Problem::Address(e) => write!(f, "{}: {e}", self.field),
        }
    }
}

/// What [`Select::print`] did with a block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printed {
    /// Whether any line was printed.
    pub any: bool,
    /// Defects in the printed fields: encoded-words that could not be
    /// decoded exactly (values), or defects of the address lists (`-a`,
    /// `-A`; see [`address`]).
    pub defects: u64,
    /// The first of them.
    pub first: Option<FieldDefect>,
}

impl Printed {
    fn defect(&mut self, field: &[u8], problem: Problem) {
        self.defects += 1;
        if self.first.is_none() {
            let field = String::from_utf8_lossy(field).into_owned();
            self.first = Some(FieldDefect { field, problem });
        }
    }
}

impl Select {
    /// Selects the fields named in `lists` (each a `NAME[:NAME...]` list;
    /// ASCII case-insensitive; a name asked twice counts once), in the
    /// order asked; none means every field, or [`DEFAULT_ADDRESS_FIELDS`]
    /// for the address modes.
    ///
    /// Lines are `Name: value` (the name as the message spells it) for
    /// values when all fields or several names are asked, or when `label`
    /// is set; otherwise the value alone. Addresses are printed alone
    /// unless `label` is set.
    pub fn new(lists: &[impl AsRef<str>], show: Show, label: bool) -> Result<Select, BadName> {
        let mut names: Vec<String> = Vec::new();
        for name in lists.iter().flat_map(|l| l.as_ref().split(':')) {
            if !is_field_name(name.as_bytes()) {
                return Err(BadName(name.to_owned()));
            }
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name.to_owned());
            }
        }
        if names.is_empty() && show != Show::Value {
            names = DEFAULT_ADDRESS_FIELDS.map(str::to_owned).to_vec();
        }
        let label = label || (show == Show::Value && names.len() != 1);
        Ok(Select {
            names,
            show,
            label,
            decoder: Decoder::new(),
            text: String::new(),
        })
    }

    /// Prints the selected fields of `block` to `out`, one line each (LF),
    /// every line starting with `prefix` and `:` when a prefix is given
    /// (the file name, as grep does). Returns whether anything was printed
    /// and the defects of the printed fields (a count and the first).
    ///
    /// Nothing printed ever holds a raw control character (TAB aside):
    /// values are decoded with [`decode`], and the prefix and addresses
    /// have controls replaced by U+FFFD.
    pub fn print(
        &mut self,
        block: &Block,
        prefix: Option<&str>,
        out: &mut impl Write,
    ) -> io::Result<Printed> {
        let mut printed = Printed::default();
        if self.names.is_empty() {
            for field in block.fields() {
                self.field(field, prefix, out, &mut printed)?;
            }
        }
        for i in 0..self.names.len() {
            for span in &block.spans {
                let field = block.field(span);
                if field.name.eq_ignore_ascii_case(self.names[i].as_bytes()) {
                    self.field(field, prefix, out, &mut printed)?;
                }
            }
        }
        Ok(printed)
    }

    fn field(
        &mut self,
        field: Field<'_>,
        prefix: Option<&str>,
        out: &mut impl Write,
        printed: &mut Printed,
    ) -> io::Result<()> {
        let label = self.label.then_some(field.name);
        if self.show == Show::Value {
            let mut tally = Tally::default();
            decode_into(&mut self.decoder, field.value, &mut self.text, &mut tally);
            line(out, prefix, label, &self.text)?;
            printed.any = true;
            if let Some(first) = tally.first {
                printed.defect(field.name, Problem::Word(first));
                printed.defects += tally.count - 1;
            }
            return Ok(());
        }
        // Each mailbox is printed as it is parsed: memory stays small
        // however many addresses a field lists.
        let (show, text) = (self.show, &mut self.text);
        let mut any = false;
        address::for_each_mailbox(
            field.value,
            |d| printed.defect(field.name, Problem::Address(d)),
            |mailbox| {
                let shown = match show {
                    Show::Addresses => &mailbox.addr,
                    _ => {
                        text.clear();
                        fmt::write(text, format_args!("{mailbox}")).map_err(io::Error::other)?;
                        &*text
                    }
                };
                any = true;
                line(out, prefix, label, shown)
            },
        )?;
        printed.any |= any;
        Ok(())
    }
}

/// Writes `[prefix:][Name: ]text\n` with control characters other than TAB
/// replaced by U+FFFD.
fn line(
    out: &mut impl Write,
    prefix: Option<&str>,
    name: Option<&[u8]>,
    text: &str,
) -> io::Result<()> {
    if let Some(p) = prefix {
        clean(out, p)?;
        out.write_all(b":")?;
    }
    if let Some(n) = name {
        out.write_all(n)?; // ftext: printable ASCII only
        out.write_all(b": ")?;
    }
    clean(out, text)?;
    out.write_all(b"\n")
}

fn clean(out: &mut impl Write, text: &str) -> io::Result<()> {
    let bad = is_bad_control;
    if !text.contains(bad) {
        return out.write_all(text.as_bytes());
    }
    for part in text.split_inclusive(bad) {
        match part.chars().last() {
            Some(c) if bad(c) => {
                out.write_all(&part.as_bytes()[..part.len() - c.len_utf8()])?;
                out.write_all("\u{FFFD}".as_bytes())?;
            }
            _ => out.write_all(part.as_bytes())?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
