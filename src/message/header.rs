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
                None if line_no == 1 && line.starts_with(b"From ") => self.buf.truncate(start),
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(input: &[u8]) -> Vec<(String, String)> {
        let block = read_block(&mut &input[..]).unwrap();
        block
            .fields()
            .map(|f| {
                let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                (s(f.name), s(f.value))
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bug_one_address_field_table() {
        // RFC 5322 §3.6.2-3.6.3 and §3.6.6; mime-hdr's default is smaller.
        for name in [
            "from",
            "Sender",
            "REPLY-TO",
            "to",
            "Cc",
            "bcc",
            "Resent-From",
            "resent-bcc",
        ] {
            assert!(is_address_field(name), "{name}");
        }
        for name in [
            "Subject",
            "Message-ID",
            "Resent-Date",
            "X-To",
            "Return-Path",
        ] {
            assert!(!is_address_field(name), "{name}");
        }
        assert!(DEFAULT_ADDRESS_FIELDS.iter().all(|f| is_address_field(f)));
    }

    #[test]
    fn reads_lf_and_crlf_blocks_keeping_folds() {
        let want = pairs(&[("Subject", " a\r\n b"), ("To", " x@y")]);
        assert_eq!(fields(b"Subject: a\r\n b\r\nTo: x@y\r\n\r\nbody\r\n"), want);
        let want = pairs(&[("Subject", " a\n\tb"), ("To", "x@y")]);
        assert_eq!(fields(b"Subject: a\n\tb\nTo:x@y\n\nbody\n"), want);
        // RFC 5322 §4.5.3: obsolete white space before the colon.
        assert_eq!(fields(b"Subject \t: x\n"), pairs(&[("Subject", " x")]));
        // No final line end, no body.
        assert_eq!(fields(b"A: 1"), pairs(&[("A", " 1")]));
        assert_eq!(fields(b""), pairs(&[]));
        assert_eq!(fields(b"\n"), pairs(&[]));
        // Empty values, white-space-only continuation lines (obs-FWS).
        assert_eq!(
            fields(b"A:\nB: \n \nC: c\n"),
            pairs(&[("A", ""), ("B", " \n "), ("C", " c")])
        );
    }

    #[test]
    fn leaves_the_body_unread() {
        let input = b"From: a@b\r\nSubject: hi\r\n\r\nFrom: not a header\r\n\r\nmore";
        let mut r = &input[..];
        let block = read_block(&mut r).unwrap();
        assert_eq!(block.len(), 2);
        assert_eq!(r, b"From: not a header\r\n\r\nmore");
        assert_eq!(block.body_start(), None);
        // A small BufReader: the rest stays in the reader, not consumed.
        let mut r = io::BufReader::with_capacity(7, &input[..]);
        read_block(&mut r).unwrap();
        let mut rest = Vec::new();
        io::Read::read_to_end(&mut r, &mut rest).unwrap();
        assert_eq!(rest, b"From: not a header\r\n\r\nmore");
    }

    #[test]
    fn lenient_starts_and_ends() {
        // mbox From_ line skipped (first line only).
        let mbox = b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nSubject: s\n\nb";
        assert_eq!(fields(mbox), pairs(&[("Subject", " s")]));
        // A continuation before any field is ignored.
        assert_eq!(fields(b" lost\nA: 1\n"), pairs(&[("A", " 1")]));
        // A line that is neither field nor continuation starts the body.
        let input = b"A: 1\nthis is body\nB: 2\n";
        let mut r = &input[..];
        let block = read_block(&mut r).unwrap();
        assert_eq!(block.len(), 1);
        assert_eq!(block.body_start(), Some(&b"this is body\n"[..]));
        assert_eq!(r, b"B: 2\n");
        for not_field in [
            &b":x\n"[..],
            b"B\xc3\xa4d: x\n",
            b"no colon\n",
            b"From x\n",
            b"\r\n",
        ] {
            let mut input = b"A: 1\n".to_vec();
            input.extend_from_slice(not_field);
            assert_eq!(fields(&input), pairs(&[("A", " 1")]), "{not_field:?}");
        }
        // Body without any header.
        assert_eq!(read_block(&mut &b"hello world\n"[..]).unwrap().len(), 0);
    }

    #[test]
    fn limits_are_parse_errors() {
        let err = |input: &[u8]| match read_block(&mut &input[..]) {
            Err(Error::Parse(e)) => e,
            other => panic!("want a parse error, got {other:?}"),
        };
        // One line of 10 MB without a newline.
        let e = err(&vec![b'x'; 10 << 20]);
        assert_eq!(
            e,
            ParseError {
                kind: ParseErrorKind::HeaderTooLarge,
                line: 1
            }
        );
        // 2 MB of valid fields.
        let mut line = b"X-Filler: ".to_vec();
        line.resize(2000, b'f');
        line.push(b'\n');
        let big = line.repeat(1000);
        assert_eq!(err(&big).kind, ParseErrorKind::HeaderTooLarge);
        // Exactly at the limits is fine; one more field is not.
        let many = b"A: b\n".repeat(MAX_HEADER_FIELDS);
        assert_eq!(read_block(&mut &many[..]).unwrap().len(), MAX_HEADER_FIELDS);
        let mut more = many.clone();
        more.extend_from_slice(b"A: b\n");
        let e = err(&more);
        assert_eq!(
            e,
            ParseError {
                kind: ParseErrorKind::TooManyFields,
                line: 10_001
            }
        );
        let mut exact = b"A: ".to_vec();
        exact.resize(MAX_HEADER_BYTES - 2, b'a');
        exact.extend_from_slice(b"\n\n");
        assert_eq!(read_block(&mut &exact[..]).unwrap().len(), 1);
    }

    #[test]
    fn unfolds_per_rfc5322_2_2_3() {
        let table: &[(&[u8], &[u8])] = &[
            (b"a\r\n b", b"a b"),
            (b"a\n\tb", b"a\tb"),
            (b"a\r\n\r\n b", b"a\r\n b"),
            (b"a\r\nb", b"a\r\nb"),
            (b"a\n", b"a\n"),
            (b"\n x\n y", b" x y"),
            (b"plain", b"plain"),
        ];
        for (input, want) in table {
            assert_eq!(&*unfold(input), *want, "{input:?}");
        }
    }

    #[test]
    fn field_names() {
        assert!(is_field_name(b"X-Spam-Score"));
        assert!(is_field_name(b"X-My_Header.1"));
        assert!(!is_field_name(b""));
        assert!(!is_field_name(b"a:b"));
        assert!(!is_field_name(b"a b"));
        assert!(!is_field_name("ä".as_bytes()));
    }

    fn print(
        input: &[u8],
        names: &[&str],
        show: Show,
        label: bool,
        prefix: Option<&str>,
    ) -> (bool, String) {
        let block = read_block(&mut &input[..]).unwrap();
        let mut select = Select::new(names, show, label).unwrap();
        let mut out = Vec::new();
        let printed = select.print(&block, prefix, &mut out).unwrap();
        (printed.any, String::from_utf8(out).unwrap())
    }

    #[test]
    fn bug_defects_are_reported_not_dropped() {
        // The decoder's defects were collected and thrown away: mime-hdr
        // never warned about words it left undecoded or broken lists.
        let msg = b"Subject: =?x-unknown?Q?a?= =?UTF-8?Q?b?=\nX: ok\nTo: <a@b, c@d\nCc: e@f\n\n";
        let report = |names: &[&str], show| {
            let block = read_block(&mut &msg[..]).unwrap();
            let mut select = Select::new(names, show, false).unwrap();
            select.print(&block, None, &mut Vec::new()).unwrap()
        };
        let r = report(&[], Show::Value);
        assert_eq!((r.any, r.defects), (true, 1));
        let first = r.first.unwrap();
        assert_eq!(
            first.to_string(),
            "Subject: unknown charset \"x-unknown\" at byte 0"
        );
        assert_eq!(report(&["x", "cc"], Show::Value).first, None);
        let r = report(&["to", "cc"], Show::Addresses);
        assert_eq!((r.any, r.defects), (true, 1));
        assert_eq!(
            r.first.unwrap().to_string(),
            "To: '<' without '>' at byte 1"
        );
        let r = report(&["subject", "to"], Show::Value);
        assert_eq!(r.defects, 1, "a value is not an address list");
    }

    const MSG: &[u8] = b"From: Ann <ann@x>\r\nTo: b@y,\r\n c@z\r\nSubject:  hi \r\n there \r\n\
                         cc: \"D, E\" <d@w>\r\nTO: g: f@v;\r\n\r\nbody";

    #[test]
    fn selects_in_the_order_asked_every_occurrence() {
        let v = Show::Value;
        assert_eq!(
            print(MSG, &["subject"], v, false, None),
            (true, "hi \t there\n".replace('\t', ""))
        );
        assert_eq!(
            print(MSG, &["cc:to"], v, false, None),
            (
                true,
                "cc: \"D, E\" <d@w>\nTo: b@y, c@z\nTO: g: f@v;\n".into()
            )
        );
        assert_eq!(
            print(MSG, &["to", "To", "TO"], v, false, None).1,
            "b@y, c@z\ng: f@v;\n"
        );
        assert_eq!(
            print(MSG, &["subject"], v, true, Some("m.eml")).1,
            "m.eml:Subject: hi  there\n"
        );
        assert_eq!(
            print(MSG, &["x-missing"], v, false, None),
            (false, String::new())
        );
        let all = print(MSG, &[], v, false, None).1;
        assert_eq!(all.lines().count(), 5);
        assert!(all.starts_with("From: Ann <ann@x>\nTo: b@y, c@z\n"));
    }

    #[test]
    fn prints_addresses() {
        let (printed, out) = print(MSG, &[], Show::Mailboxes, false, None);
        assert!(printed);
        assert_eq!(out, "Ann <ann@x>\nb@y\nc@z\nf@v\n\"D, E\" <d@w>\n");
        let out = print(MSG, &["cc"], Show::Addresses, true, Some("f")).1;
        assert_eq!(out, "f:cc: d@w\n");
        assert_eq!(
            print(
                b"To: undisclosed-recipients:;\n",
                &[],
                Show::Addresses,
                false,
                None
            ),
            (false, "".into())
        );
    }

    #[test]
    fn output_never_holds_raw_controls() {
        let (_, out) = print(
            b"X: a\x00b\x1bc\x7f\td\n",
            &["x"],
            Show::Value,
            false,
            Some("a\nb"),
        );
        assert_eq!(out, "a\u{FFFD}b:a\u{FFFD}b\u{FFFD}c\u{FFFD}\td\n");
        let (_, out) = print(b"To: \"a\x01b\"@x\n", &[], Show::Addresses, false, None);
        assert_eq!(out, "\"a\u{FFFD}b\"@x\n");
    }

    #[test]
    fn bug_bidi_controls_reach_no_output() {
        // U+202E in a decoded display name, a raw address and a file name
        // came out raw, reversing what follows it on screen.
        let msg = "To: =?UTF-8?B?4oCuZ25w?= <a\u{202E}b@x>\nX: \u{2029}\n".as_bytes();
        let (_, out) = print(msg, &["to"], Show::Mailboxes, false, Some("f\u{2066}"));
        assert_eq!(out, "f\u{FFFD}:\u{FFFD}gnp <a\u{FFFD}b@x>\n");
        let (_, out) = print(msg, &["x"], Show::Value, false, None);
        assert_eq!(out, "\u{FFFD}\n");
    }

    #[test]
    fn decodes_encoded_words_on_one_line() {
        let msg = "Subject: =?UTF-8?Q?Hi=0D=0ABcc:_x@evil?=\r\nX: =?utf-8?q?a?=\r\n =?utf-8?q?b?= c\r\n\
                   From: =?UTF-8?Q?Doe=2C_John?= <j@x>\r\n\r\n";
        let (_, out) = print(msg.as_bytes(), &[], Show::Value, false, None);
        assert_eq!(
            out,
            "Subject: Hi\u{FFFD}\u{FFFD}Bcc: x@evil\nX: ab c\nFrom: Doe, John <j@x>\n"
        );
        let (_, out) = print(msg.as_bytes(), &["from"], Show::Mailboxes, false, None);
        assert_eq!(out, "\"Doe, John\" <j@x>\n");
        assert_eq!(decode(b" =?ISO-8859-1?Q?a=E9?= \r\n"), "aé");
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(
            Select::new(&["to:"], Show::Value, false).unwrap_err(),
            BadName(String::new())
        );
        assert!(Select::new(&["a b"], Show::Value, false).is_err());
        assert!(Select::new(&["to:cc", "from"], Show::Value, false).is_ok());
    }

    proptest! {
        #[test]
        fn any_input_reads_without_panic(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut r = &input[..];
            if let Ok(block) = read_block(&mut r) {
                let mut select = Select::new(&[] as &[&str], Show::Value, false).unwrap();
                let mut out = Vec::new();
                select.print(&block, None, &mut out).unwrap();
                prop_assert!(out.iter().filter(|&&b| b == b'\n').count() == block.len());
            }
        }

        #[test]
        fn folding_round_trips(words in proptest::collection::vec("[a-z]{1,8}", 1..20), crlf in any::<bool>()) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let folded = words.join(&format!("{eol} "));
            let msg = format!("Subject: {folded}{eol}{eol}body");
            let block = read_block(&mut msg.as_bytes()).unwrap();
            let value = block.get(b"subject").unwrap().value;
            let want = format!(" {}", words.join(" "));
            prop_assert_eq!(&*unfold(value), want.as_bytes());
        }
    }
}
