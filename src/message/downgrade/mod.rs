//! Re-encoding a message for a 7-bit transport (`smtp-send --downgrade`).
//!
//! A server that does not offer 8BITMIME (RFC 6152) must not be sent octets
//! above 127, and no server may be sent a line over 998 octets (RFC 5321
//! §4.5.3.1.6). RFC 6152 §3 (after RFC 1652) leaves the client two choices
//! for such a message: refuse it, or convert it to 7-bit with the MIME
//! transfer encodings (RFC 2045 §6). This module converts:
//!
//! - a leaf part whose body has 8-bit octets (with [`Options::seven_bit`])
//!   or lines over 998 octets is re-encoded: `text/*` (and the other
//!   textual types: `message/*` leaves, a multipart read as a leaf) to
//!   quoted-printable (RFC 2045 §6.7, soft line breaks), anything else to
//!   base64 (§6.8). Its `Content-Transfer-Encoding` is replaced (or added);
//!   every other header field stays as it is. A body already in
//!   quoted-printable or base64 that still breaks the rules (raw 8-bit
//!   octets, unwrapped lines) is decoded leniently and encoded again in
//!   the same encoding.
//! - a text part that holds `--` and the boundary of an enclosing multipart
//!   anywhere in its body goes to base64 instead: a quoted-printable soft
//!   line break could put that text at the start of a line, where it would
//!   end the part early. RFC 2045 §6.7 asks that the boundary appear nowhere
//!   in a quoted-printable body (hence its advice of boundaries with `=_`;
//!   we cannot choose the boundary of a message we did not make). So does
//!   every text part under a boundary with `=` before a hex digit or at
//!   its end: quoted-printable's own `=XX` escapes and soft breaks could
//!   spell it (`=_` they cannot).
//! - multipart and message/rfc822 entities are walked: RFC 2045 §6.4 and
//!   RFC 2046 §5.2.1 allow them no encoding but 7bit, 8bit and binary, so a
//!   message/rfc822 part cannot be base64-encoded whole; its message is
//!   re-encoded part by part instead, and a declared `8bit` or `binary` on
//!   such a container (or on a leaf that turns out to be 7-bit) becomes
//!   `7bit`. A message/global part (RFC 6532 §3.5 allows encoding it) that
//!   needs any change is base64-encoded whole, its UTF-8 header included.
//! - 8-bit octets in a header field (the message's or a part's) cannot be
//!   re-encoded without changing what the field says (RFC 2047 encoded
//!   words are the sender's job): the message is refused, naming the part
//!   and the field. So is a header line over 998 octets.
//! - the preamble and epilogue of a multipart (RFC 2046 §5.1.1: to be
//!   ignored) keep their lines, except a line with 8-bit octets or over 998
//!   octets: its octets other than printable ASCII become `=XX`, and it is
//!   cut into lines of at most 76 with `=` soft breaks (a continuation line
//!   never starts with `-`, so no delimiter is made).
//! - an unknown transfer encoding on a part that needs re-encoding is
//!   refused: its content is not known, so it cannot be re-encoded.
//!
//! Everything else is copied byte for byte: parts that need no change keep
//! their exact bytes (a signed part, RFC 1847, is not touched unless it
//! had to be, when its signature breaks whatever we do).
//!
//! # Two passes, constant memory
//!
//! A part's new `Content-Transfer-Encoding` comes before its body, but
//! whether the body needs one is known only at its end. So [`plan`] walks
//! the message once ([`multipart::walk()`]) and notes, per entity, its offset
//! and what to do; [`apply`] reads the message again and writes the result,
//! copying what needs no change and streaming the rest through the
//! encoders. Memory: one small record per entity (at most
//! [`crate::limits::MAX_PARTS`]), one header block, one line of 998 octets.
//!
//! Malformed MIME is never a panic: the walker reads it as its [`Defect`]
//! rules say and [`apply`] follows; where the second pass cannot follow the
//! first (a structure the header reader and the walker see differently),
//! the result is an [`Error::Data`] (exit 65), never a wrong message.

use std::io::{self, BufRead, Read, Write};

use crate::codec::{self, base64, qp};
use crate::io::Counter;
use crate::io::lines::trim_eol;
use crate::message::header::{self, Block};
use crate::message::multipart::{self, Body, Defect, Encoding, Error, Flow, Kind, Part, Visitor};

/// Longest line of text, line end excluded (RFC 5321 §4.5.3.1.6, RFC 5322
/// §2.1.1).
const MAX_TEXT_LINE: usize = crate::limits::SMTP_MAX_TEXT_LINE - 2;

/// Column at which an escaped preamble or epilogue line is broken (a soft
/// break `=` makes it 76 at most, RFC 2045 §6.7 rule 5).
const ESCAPE_COL: usize = 73;

/// What to re-encode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Make the whole message 7-bit (the server lacks 8BITMIME): parts with
    /// 8-bit octets are re-encoded too, not only those with over-long
    /// lines, and 8-bit octets in a header are an error.
    pub seven_bit: bool,
}

/// How a body is transfer-encoded, for re-encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    /// 7bit, 8bit or binary: the content as it is.
    Raw,
    Qp,
    Base64,
}

/// The encoding a re-encoded body gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Qp,
    Base64,
}

impl To {
    fn name(self) -> &'static str {
        match self {
            To::Qp => "quoted-printable",
            To::Base64 => "base64",
        }
    }
}

/// What to do with one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Copy it as it is (its header is still checked).
    Keep,
    /// Its declared `8bit`/`binary` becomes `7bit`.
    Relabel,
    /// Its body is re-encoded.
    Encode(Src, To),
}

/// One entity of the message, in document order.
#[derive(Debug, Clone)]
struct Entry {
    /// Where its header starts in the input.
    offset: u64,
    /// Its part number (for messages).
    number: String,
    /// It has no header of its own: the message of a message/rfc822 part
    /// whose header ended without an empty line (the walker starts the
    /// message's body with that line).
    headerless: bool,
    action: Action,
    /// Length of its body (leaves).
    size: u64,
    /// Whether its lines end with CRLF (for the lines encoders write).
    crlf: bool,
}

/// What [`plan`] found: what [`apply`] does, entity by entity.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    opts: Options,
    entries: Vec<Entry>,
    /// Whether the message's first line ends with CRLF.
    crlf: bool,
}

/// First pass: walks the message in `input` and decides, for every entity,
/// what [`apply`] does with it. Errors: the walker's limits
/// ([`Error::TooDeep`], [`Error::TooManyParts`], a header block over its
/// limits), a part that needs re-encoding but has an unknown transfer
/// encoding ([`Error::Data`]), and reading ([`Error::Io`]).
pub fn plan(input: impl Read, opts: &Options) -> Result<Plan, Error> {
    let mut planner = Planner {
        opts: *opts,
        entries: Vec::new(),
        open: Vec::new(),
        crlf: None,
    };
    multipart::walk(input, &mut planner)?;
    Ok(Plan {
        opts: *opts,
        crlf: planner.crlf.unwrap_or(false),
        entries: planner.entries,
    })
}

/// An entity between [`Visitor::enter`] and [`Visitor::leave`].
struct Open {
    entry: usize,
    kind: Kind,
    /// A multipart's boundary (as the walker uses it: trailing blanks off).
    boundary: Option<Vec<u8>>,
    /// Its header ended without an empty line.
    no_separator: bool,
}

struct Planner {
    opts: Options,
    entries: Vec<Entry>,
    open: Vec<Open>,
    crlf: Option<bool>,
}

/// What a body holds, as far as 7-bit transport cares.
#[derive(Debug, Default)]
struct Stats {
    eight_bit: bool,
    long_line: bool,
    /// A NUL octet: never in mail text (RFC 5322 §2.3), so re-encoded in
    /// any mode.
    nul: bool,
    /// `--` and an enclosing boundary occur somewhere.
    boundary: bool,
}

/// Reads `body` to its end and says what it holds. `needles` are the
/// `--boundary` strings of the enclosing multiparts.
fn scan(body: &mut Body<'_>, needles: &[Vec<u8>]) -> io::Result<Stats> {
    let mut st = Stats::default();
    let mut line = 0usize;
    let keep = needles.iter().map(Vec::len).max().unwrap_or(1) - 1;
    let mut tail: Vec<u8> = Vec::new();
    let mut window: Vec<u8> = Vec::new();
    loop {
        let chunk = body.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        if !st.eight_bit && !chunk.is_ascii() {
            st.eight_bit = true;
        }
        if !st.nul && memchr::memchr(0, chunk).is_some() {
            st.nul = true;
        }
        if !st.long_line {
            let mut rest = chunk;
            while let Some(i) = memchr::memchr(b'\n', rest) {
                let len = line + i - usize::from(i > 0 && rest[i - 1] == b'\r');
                if len > MAX_TEXT_LINE {
                    st.long_line = true;
                }
                line = 0;
                rest = &rest[i + 1..];
            }
            line += rest.len();
            // One more for a CR that may be the start of CRLF.
            if line > MAX_TEXT_LINE + 1 {
                st.long_line = true;
            }
        }
        if !st.boundary && !needles.is_empty() {
            // The needles across the chunk boundary: the last bytes of the
            // previous chunk and the first of this one.
            window.clear();
            window.extend_from_slice(&tail);
            window.extend_from_slice(&chunk[..chunk.len().min(keep)]);
            st.boundary = needles.iter().any(|n| {
                memchr::memmem::find(&window, n).is_some()
                    || memchr::memmem::find(chunk, n).is_some()
            });
            let from = tail.len() + chunk.len();
            let from = from.saturating_sub(keep);
            let mut next = Vec::with_capacity(keep);
            if from < tail.len() {
                next.extend_from_slice(&tail[from..]);
                next.extend_from_slice(chunk);
            } else {
                next.extend_from_slice(&chunk[from - tail.len()..]);
            }
            tail = next;
        }
        let n = chunk.len();
        body.consume(n);
    }
    if line > MAX_TEXT_LINE {
        st.long_line = true;
    }
    Ok(st)
}

/// Whether quoted-printable output could hold `needle` without its input
/// holding it: only through a `=` that starts an escape (`=` and a hex
/// digit) or a soft line break (`=` at the end of the needle).
fn qp_could_spell(needle: &[u8]) -> bool {
    needle
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'=' && needle.get(i + 1).is_none_or(|c| c.is_ascii_hexdigit()))
}

/// Whether a part's content is text to a reader (quoted-printable keeps it
/// legible); anything else goes to base64.
fn is_textual(part: &Part) -> bool {
    matches!(
        part.content_type.mtype.as_str(),
        "text" | "message" | "multipart"
    )
}

impl Planner {
    fn relabel(&self, encoding: &Encoding) -> Action {
        if self.opts.seven_bit && matches!(encoding, Encoding::EightBit | Encoding::Binary) {
            Action::Relabel
        } else {
            Action::Keep
        }
    }

    fn needs_change(&self, st: &Stats) -> bool {
        st.long_line || st.nul || (self.opts.seven_bit && st.eight_bit)
    }
}

impl Visitor for Planner {
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        if self.crlf.is_none() {
            self.crlf = Some(part.crlf);
        }
        let headerless = self
            .open
            .last()
            .is_some_and(|o| o.kind == Kind::Message && o.no_separator);
        let no_separator = part.defects.contains(&Defect::NoHeaderSeparator);
        let mut boundary = None;
        let (action, flow) = match part.kind {
            Kind::Multipart => {
                boundary = part
                    .content_type
                    .boundary()
                    .map(|b| b.trim_ascii_end().to_vec());
                (self.relabel(&part.encoding), Flow::Descend)
            }
            Kind::Message if part.content_type.subtype == "global" => {
                // RFC 6532 §3.5: a message/global may be encoded, so one
                // that needs any change is base64-encoded whole.
                let st = scan(body, &[])?;
                let action = if self.needs_change(&st) {
                    Action::Encode(Src::Raw, To::Base64)
                } else {
                    self.relabel(&part.encoding)
                };
                (action, Flow::Skip)
            }
            Kind::Message => (self.relabel(&part.encoding), Flow::Descend),
            Kind::Leaf => {
                let needles: Vec<Vec<u8>> = self
                    .open
                    .iter()
                    .filter_map(|o| o.boundary.as_ref())
                    .map(|b| [&b"--"[..], b].concat())
                    .collect();
                let mut st = scan(body, &needles)?;
                // A boundary with "=" and a hex digit, or "=" at its end,
                // may be spelled by quoted-printable's own escapes or soft
                // breaks ("=C3", "=" before a line end) from text that
                // does not hold it; base64 cannot ("=_" is safe).
                st.boundary |= needles.iter().any(|n| qp_could_spell(n));
                let action = if self.needs_change(&st) {
                    let from = match &part.encoding {
                        Encoding::SevenBit | Encoding::EightBit | Encoding::Binary => Src::Raw,
                        Encoding::QuotedPrintable => Src::Qp,
                        Encoding::Base64 => Src::Base64,
                        Encoding::Unknown(name) => {
                            return Err(Error::Data(format!(
                                "part {}: {} under the unknown Content-Transfer-Encoding {name:?}: \
                                 cannot re-encode it",
                                part.number,
                                if st.long_line {
                                    "lines over 998 octets"
                                } else if st.nul {
                                    "NUL octets"
                                } else {
                                    "8-bit octets"
                                }
                            )));
                        }
                    };
                    let to = match from {
                        Src::Base64 => To::Base64,
                        Src::Qp if !st.boundary => To::Qp,
                        Src::Raw if !st.boundary && is_textual(part) => To::Qp,
                        _ => To::Base64,
                    };
                    Action::Encode(from, to)
                } else {
                    self.relabel(&part.encoding)
                };
                (action, Flow::Skip)
            }
        };
        if headerless && action != Action::Keep {
            return Err(Error::Data(format!(
                "part {}: a message/rfc822 part whose header has no empty line after it: \
                 cannot re-encode the message in it",
                part.number
            )));
        }
        self.open.push(Open {
            entry: self.entries.len(),
            kind: part.kind,
            boundary,
            no_separator,
        });
        self.entries.push(Entry {
            offset: part.offset,
            number: part.number.clone(),
            headerless,
            action,
            size: 0,
            crlf: part.crlf,
        });
        Ok(flow)
    }

    fn leave(&mut self, _part: &Part, size: u64) -> Result<(), Error> {
        if let Some(o) = self.open.pop() {
            self.entries[o.entry].size = size;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The second pass

/// The input of [`apply`]: counts what is consumed, can give back one line
/// (the body line a header block ended on), and records what is consumed
/// while `record` is on (one header block, bounded by the header reader).
struct Input<R> {
    inner: R,
    back: Vec<u8>,
    at: usize,
    pos: u64,
    record: Option<Vec<u8>>,
}

impl<R: BufRead> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::io::lines::read_buffered(self, out)
    }
}

impl<R: BufRead> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at < self.back.len() {
            return Ok(&self.back[self.at..]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.pos += n as u64;
        if self.at < self.back.len() {
            if let Some(rec) = &mut self.record {
                rec.extend_from_slice(&self.back[self.at..self.at + n]);
            }
            self.at += n;
            return;
        }
        if let Some(rec) = &mut self.record
            && let Ok(buf) = self.inner.fill_buf()
        {
            // The bytes are still in the buffer fill_buf returned: no I/O.
            rec.extend_from_slice(&buf[..n.min(buf.len())]);
        }
        self.inner.consume(n);
    }
}

impl<R> Input<R> {
    /// Gives `line` back: it is read again next.
    fn unread(&mut self, line: &[u8]) {
        let mut back = line.to_vec();
        back.extend_from_slice(&self.back[self.at..]);
        self.back = back;
        self.at = 0;
        self.pos -= line.len() as u64;
    }
}

/// What [`apply`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Bytes of the message's own header block (empty line included).
    pub header: u64,
    /// Bytes in all.
    pub total: u64,
}

/// Second pass: reads the same message as [`plan`] did from `input` and
/// writes it, re-encoded as `plan` says, to `out`.
///
/// Errors: [`Error::Data`] for 8-bit octets in a header field (with
/// [`Options::seven_bit`]) or a header line over 998 octets, naming the
/// part and the field, and for a message the second pass cannot follow;
/// [`Error::Parse`] for a header block over its limits; [`Error::Io`].
/// What was written before an error is not a message: throw it away.
pub fn apply(input: impl BufRead, plan: &Plan, out: impl Write) -> Result<Applied, Error> {
    let mut input = Input {
        inner: input,
        back: Vec::new(),
        at: 0,
        pos: 0,
        record: None,
    };
    let mut out = Counter { out, n: 0 };
    let mut fixer = Fixer {
        seven_bit: plan.opts.seven_bit,
        eol: if plan.crlf { b"\r\n" } else { b"\n" },
        line: Vec::new(),
        escaping: false,
        col: 0,
        soft: false,
        cr: false,
    };
    let mut header = None;
    for (i, e) in plan.entries.iter().enumerate() {
        let Some(gap) = e.offset.checked_sub(input.pos) else {
            return Err(lost(e));
        };
        copy_fixing(&mut input, gap, &mut fixer, &mut out)?;
        if e.headerless {
            continue;
        }
        input.record = Some(Vec::new());
        let block = header::read_block(&mut input);
        let mut raw = input.record.take().unwrap_or_default();
        let block = block?;
        if let Some(line) = block.body_start() {
            raw.truncate(raw.len() - line.len());
            input.unread(line);
        }
        check_header(&raw, &block, e, i == 0, plan.opts)?;
        // 8-bit text in Subject and the like becomes encoded-words.
        let words = plan.opts.seven_bit && !raw.is_ascii();
        match e.action {
            Action::Keep if !words => out.write_all(&raw)?,
            Action::Keep => write_header(&block, &raw, None, false, words, &mut out)?,
            Action::Relabel => write_header(&block, &raw, Some("7bit"), false, words, &mut out)?,
            Action::Encode(from, to) => {
                write_header(&block, &raw, Some(to.name()), i == 0, words, &mut out)?;
                if i == 0 {
                    header = Some(out.n);
                }
                let body = (&mut input).take(e.size);
                encode(body, from, to, e.crlf, &mut out)?;
                if plan
                    .entries
                    .get(i + 1)
                    .is_some_and(|n| n.offset < input.pos)
                {
                    return Err(lost(e));
                }
            }
        }
        if i == 0 {
            header.get_or_insert(out.n);
        }
    }
    copy_fixing(&mut input, u64::MAX, &mut fixer, &mut out)?;
    out.flush()?;
    Ok(Applied {
        header: header.unwrap_or(0),
        total: out.n,
    })
}

fn lost(e: &Entry) -> Error {
    Error::Data(format!(
        "part {}: the MIME structure cannot be followed (at byte {}): not re-encoded",
        e.number, e.offset
    ))
}

/// Refuses what cannot be made 7-bit in a header block: 8-bit octets (with
/// `seven_bit`) and lines over 998 octets.
fn check_header(
    raw: &[u8],
    block: &Block,
    e: &Entry,
    root: bool,
    opts: Options,
) -> Result<(), Error> {
    let whose = |name: &[u8]| {
        let name = String::from_utf8_lossy(name);
        if root {
            format!("header field {name}")
        } else {
            format!("part {}: header field {name}", e.number)
        }
    };
    if opts.seven_bit
        && !raw.is_ascii()
        && let Some(what) = match block
            .fields()
            .find(|f| (!f.name.is_ascii() || !f.value.is_ascii()) && encoded_text(f).is_none())
        {
            Some(f) => Some(whose(f.name)),
            // Only fields `encoded_text` rewrites have 8-bit octets.
            None if block.fields().any(|f| encoded_text(&f).is_some()) => None,
            None if root => Some("the header".to_owned()),
            None => Some(format!("part {}: the header", e.number)),
        }
    {
        return Err(Error::Data(format!(
            "{what} has 8-bit octets, which cannot be re-encoded for a server without 8BITMIME \
             (RFC 6152; use RFC 2047 encoded-words): not sent"
        )));
    }
    if raw
        .split(|&b| b == b'\n')
        .any(|l| trim_eol(l).len() > MAX_TEXT_LINE)
    {
        let what = match block.fields().find(|f| {
            f.value
                .split(|&b| b == b'\n')
                .any(|l| l.len() + f.name.len() + 1 > MAX_TEXT_LINE)
        }) {
            Some(f) => whose(f.name),
            None if root => "the header".to_owned(),
            None => format!("part {}: the header", e.number),
        };
        return Err(Error::Data(format!(
            "{what} has a line over {MAX_TEXT_LINE} octets (RFC 5322 §2.1.1): not sent"
        )));
    }
    Ok(())
}

/// Writes the header block with `Content-Transfer-Encoding: cte` in place of
/// the first such field (the others dropped), or added at the end (`None`:
/// the fields as they are); with `mime_version`, `MIME-Version: 1.0` is
/// added when missing (RFC 2045 §4: without it the encoding field means
/// nothing); with `words`, 8-bit text fields as encoded-words
/// ([`encoded_text`]). Line ends follow the block's first line. A block
/// that ended without an empty line gets one.
fn write_header(
    block: &Block,
    raw: &[u8],
    cte: Option<&str>,
    mime_version: bool,
    words: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let eol: &[u8] = match memchr::memchr(b'\n', raw) {
        Some(i) if i > 0 && raw[i - 1] == b'\r' => b"\r\n",
        _ => b"\n",
    };
    let mut done = false;
    for f in block.fields() {
        if let Some(cte) = cte
            && f.name.eq_ignore_ascii_case(b"Content-Transfer-Encoding")
        {
            if !std::mem::replace(&mut done, true) {
                write!(out, "{}: {cte}", String::from_utf8_lossy(f.name))?;
                out.write_all(eol)?;
            }
            continue;
        }
        match encoded_text(&f).filter(|_| words) {
            Some(field) => out.write_all(
                field
                    .replace('\n', std::str::from_utf8(eol).unwrap_or("\n"))
                    .as_bytes(),
            )?,
            None => {
                out.write_all(f.name)?;
                out.write_all(b":")?;
                out.write_all(f.value)?;
            }
        }
        out.write_all(eol)?;
    }
    if mime_version && block.get(b"MIME-Version").is_none() {
        out.write_all(b"MIME-Version: 1.0")?;
        out.write_all(eol)?;
    }
    if let (false, Some(cte)) = (done, cte) {
        write!(out, "Content-Transfer-Encoding: {cte}")?;
        out.write_all(eol)?;
    }
    out.write_all(eol)
}

/// An 8-bit UTF-8 field as RFC 2047 encoded-words, folded (`Name:
/// =?UTF-8?Q?…?=`, no final line end), for a server without 8BITMIME
/// (RFC 6152 §3: the downgrade may re-encode; issue 13: it refused).
/// Unstructured fields, where any text may be an encoded-word (RFC 2047
/// §5 (1)): Subject and Comments (RFC 5322 §3.6.5), Content-Description
/// (RFC 2045 §8) and the `X-` fields; and address fields whose 8-bit text
/// is only in display names (§5 (3)), rewritten by mime-build's address
/// writer. `None` for an ASCII field, another field, text that is not
/// UTF-8, or an address that is itself 8-bit (that needs SMTPUTF8).
fn encoded_text(f: &header::Field<'_>) -> Option<String> {
    if f.value.is_ascii() {
        return None;
    }
    let name = std::str::from_utf8(f.name).ok()?;
    let lower = name.to_ascii_lowercase();
    let text = std::str::from_utf8(&header::unfold(f.value))
        .ok()?
        .trim()
        .to_owned();
    let bare = lower.strip_prefix("resent-").unwrap_or(&lower);
    if matches!(bare, "from" | "to" | "cc" | "bcc" | "reply-to" | "sender") {
        return crate::message::build::address_field(name, name, &[text])
            .ok()
            .filter(|field| field.is_ascii());
    }
    if !matches!(
        lower.as_str(),
        "subject" | "comments" | "content-description"
    ) && !lower.starts_with("x-")
    {
        return None;
    }
    codec::encoded_word::encode_field(
        name,
        text.as_bytes(),
        &codec::charset::Target::UTF_8,
        codec::encoded_word::Method::Auto,
    )
    .ok()
}

/// Writes the content of `body` (encoded as `from`) encoded as `to`.
fn encode(
    body: impl BufRead,
    from: Src,
    to: To,
    crlf: bool,
    out: &mut impl Write,
) -> Result<(), Error> {
    let mut sink = Sink {
        enc: match to {
            To::Qp => Enc::Qp(Box::new(qp::Encoder::new(&qp::EncodeOptions {
                binary: false,
                crlf,
                safe: true,
            }))),
            To::Base64 => Enc::Base64(Box::new(base64::Encoder::new(base64::EncodeOptions {
                wrap: base64::WRAP_DEFAULT,
                crlf,
            }))),
        },
        out,
    };
    match from {
        Src::Raw => {
            multipart::decode::copy(body, &mut sink)?;
        }
        Src::Qp => {
            let opts = qp::DecodeOptions {
                strict: false,
                crlf,
            };
            qp::decode(body, &mut sink, &opts)?;
        }
        Src::Base64 => match base64::decode(body, &mut sink, base64::Garbage::Skip) {
            // A lone final character is dropped, as the walker's decoder
            // does (RFC 2045 §6.8: nothing can be made of it).
            Err(codec::Error::Decode(e)) if e.kind == codec::DecodeErrorKind::Truncated => {}
            r => {
                r?;
            }
        },
    }
    let Sink { enc, out } = sink;
    match enc {
        Enc::Qp(e) => (*e).finish(out)?,
        Enc::Base64(e) => (*e).finish(out)?,
    };
    Ok(())
}

enum Enc {
    Qp(Box<qp::Encoder>),
    Base64(Box<base64::Encoder>),
}

/// A `Write` that encodes what is written to it (the decoders write, the
/// encoders read).
struct Sink<'a, W> {
    enc: Enc,
    out: &'a mut W,
}

impl<W: Write> Write for Sink<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = match &mut self.enc {
            Enc::Qp(e) => e.feed(buf, &mut *self.out),
            Enc::Base64(e) => e.feed(buf, &mut *self.out),
        };
        match r {
            Ok(_) => Ok(buf.len()),
            Err(codec::Error::Io(e)) => Err(e),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Copies up to `n` bytes of `input` through `fixer` (the bytes between
/// the parts that are re-encoded: delimiters, preambles, epilogues, and
/// the parts that need no change).
fn copy_fixing<R: BufRead>(
    input: &mut Input<R>,
    mut n: u64,
    fixer: &mut Fixer,
    out: &mut impl Write,
) -> Result<(), Error> {
    while n > 0 {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        fixer.feed(&chunk[..len], out)?;
        input.consume(len);
        n -= len as u64;
    }
    fixer.finish(out)?;
    Ok(())
}

/// Line by line: a line that is fine is copied; one with 8-bit octets (when
/// `seven_bit`) or over 998 octets is escaped (see the module docs).
/// Holds at most one line of 998 octets.
struct Fixer {
    seven_bit: bool,
    eol: &'static [u8],
    line: Vec<u8>,
    escaping: bool,
    /// Column in the escaped line.
    col: usize,
    /// The escaped line has been broken at least once.
    soft: bool,
    /// The escaped line's last byte so far is a CR, not yet written.
    cr: bool,
}

impl Fixer {
    fn feed(&mut self, mut data: &[u8], out: &mut impl Write) -> io::Result<()> {
        // Fast path: whole lines that are all fine go out in one write.
        if !self.escaping
            && self.line.is_empty()
            && let Some(last) = memchr::memrchr(b'\n', data)
        {
            let lines = &data[..=last];
            let mut start = 0;
            let fine = (!self.seven_bit || lines.is_ascii())
                && memchr::memchr_iter(b'\n', lines).all(|i| {
                    let ok = trim_eol(&lines[start..=i]).len() <= MAX_TEXT_LINE;
                    start = i + 1;
                    ok
                });
            if fine {
                out.write_all(lines)?;
                data = &data[last + 1..];
            }
        }
        while !data.is_empty() {
            let (seg, ends) = match memchr::memchr(b'\n', data) {
                Some(i) => (&data[..=i], true),
                None => (data, false),
            };
            data = &data[seg.len()..];
            if !self.escaping {
                let text = if ends { trim_eol(seg) } else { seg };
                // A final CR may yet be the start of CRLF.
                let cr = usize::from(!ends && text.last() == Some(&b'\r'));
                let bad = (self.seven_bit && !text.is_ascii())
                    || self.line.len() + text.len() - cr > MAX_TEXT_LINE;
                if !bad {
                    if ends {
                        out.write_all(&self.line)?;
                        out.write_all(seg)?;
                        self.line.clear();
                    } else {
                        self.line.extend_from_slice(seg);
                    }
                    continue;
                }
                self.escaping = true;
                self.col = 0;
                self.soft = false;
                let held = std::mem::take(&mut self.line);
                self.escape(&held, out)?;
            }
            if std::mem::take(&mut self.cr) {
                // A CR held back: the start of CRLF, or data.
                if seg == b"\n" {
                    out.write_all(b"\r")?;
                } else {
                    self.escape(b"\r", out)?;
                }
            }
            if ends {
                let text = trim_eol(seg);
                self.escape(text, out)?;
                out.write_all(&seg[text.len()..])?;
                self.escaping = false;
            } else if let Some(text) = seg.strip_suffix(b"\r") {
                // It may be the start of CRLF: the next bytes tell.
                self.escape(text, out)?;
                self.cr = true;
            } else {
                self.escape(seg, out)?;
            }
        }
        Ok(())
    }

    fn escape(&mut self, bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
        let mut buf = Vec::with_capacity(bytes.len() * 2);
        for &b in bytes {
            let first_after_break = self.col == 0 && self.soft;
            let literal = matches!(b, b' ' | b'\t' | b'!'..=b'~')
                && b != b'='
                && !(first_after_break && b == b'-');
            let width = if literal { 1 } else { 3 };
            if self.col + width > ESCAPE_COL {
                buf.push(b'=');
                buf.extend_from_slice(self.eol);
                self.col = 0;
                self.soft = true;
                if b == b'-' {
                    buf.extend_from_slice(b"=2D");
                    self.col = 3;
                    continue;
                }
            }
            if literal {
                buf.push(b);
            } else {
                buf.extend_from_slice(&[
                    b'=',
                    qp::HEX[usize::from(b >> 4)],
                    qp::HEX[usize::from(b & 15)],
                ]);
            }
            self.col += width;
        }
        out.write_all(&buf)
    }

    /// The end of a stretch: what is held is copied (a fine line that the
    /// next stretch does not continue: entities start at line starts).
    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        if std::mem::take(&mut self.cr) {
            self.escape(b"\r", out)?;
        }
        out.write_all(&self.line)?;
        self.line.clear();
        self.escaping = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
