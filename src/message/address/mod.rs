//! Address lists: mailboxes, groups and display names (RFC 5322 §3.4,
//! with the obsolete forms of §4.4 and UTF-8 from RFC 6532 §3.2).
//!
//! [`parse`] reads the value of an address field (`From`, `To`, `Cc`, ...)
//! into [`Address`]es in linear time and without recursion: a tokenizer
//! (atoms, quoted strings, comments with nesting counted by a depth
//! counter, domain literals, specials) feeds a parser that reads one list
//! item at a time, never backtracks past an item, and drops the tokens of
//! the items it has read. [`for_each_mailbox`] hands out each mailbox as
//! it is read, so its memory depends on the longest item, not on the
//! length of the list. Folded input (CRLF/LF + WSP) needs no unfolding
//! first: line breaks are whitespace.
//!
//! Decoding for display happens only *after* the structure is known
//! (RFC 2047 §6.2): display names are joined from their words and then
//! decoded, so an encoded `<`, `,` or `@` can never add a mailbox, and an
//! address (addr-spec) is never decoded (RFC 2047 §5).
//!
//! # Best effort on malformed input
//!
//! Parsing never fails; what was wrong is listed in [`AddressList::defects`]
//! (callers that send mail, not just show it, should use
//! [`AddressList::strict`]). The rules, chosen so that a result is always an
//! address the writer wrote outside comments and quotes
//! (CVE-2023-27043: `alice@example.org(<bob@example.org>`):
//!
//! - An unterminated comment runs to the end of the input and is ignored;
//!   the address before it stands (`alice@example.org` above). So does an
//!   unterminated quoted string (it may hold commas): its item is skipped.
//! - An unterminated domain literal ends at the next `,` or `;` (a literal
//!   holds neither); an unterminated `<` ends at the first `,` or `;` after
//!   it that is not part of an obsolete route (`<@a,@b:`). The list goes
//!   on there: `<x@y, h@x.org` gives `h@x.org`.
//! - Such an unterminated literal or `<`, a stray `)`, `]`, `>` or `\`, a
//!   control character, anything but comments after `>`, or an item that
//!   is not a mailbox (`John Smith`) makes the list item it is in (up to
//!   the next `,` or `;`) be skipped.
//! - Accepted with a defect: an address without `@domain` (`localrecipient`,
//!   as `sendmail -t` qualifies it), unquoted `@` or `.` in a display name
//!   (`info@shop.example <info@shop.example>`), empty labels (`a..b@x`),
//!   `;` outside a group (read as `,`), a group left open at the end.
//! - Skipped with a defect: an empty address `<>`, an address whose bytes
//!   are not UTF-8.
//! - Old style `addr@example.org (Name)`: the comments *after* a bare
//!   addr-spec become its display name (as Python's `getaddresses` does,
//!   which uses every comment of the mailbox).

use std::fmt;

use crate::codec::{charset, encoded_word};

/// A mailbox: an optional display name and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name (phrase, or for a bare addr-spec its trailing
    /// comments), RFC 2047-decoded to UTF-8 with surrounding white space
    /// removed; `None` when absent or empty. Control characters come out as
    /// U+FFFD.
    pub name: Option<String>,
    /// The addr-spec `local@domain` in canonical form: white space and
    /// comments removed, obsolete routes (`<@a,@b:x@y>`) dropped, and a
    /// quoted local part written unquoted when it is a dot-atom
    /// (`"john"@x` → `john@x`, RFC 5322 §3.4.1), otherwise quoted again
    /// (`"john doe"@x`). Domains are kept as written (case, UTF-8 IDN,
    /// `[1.2.3.4]` literals). Without `@` (a defect) it is the local part.
    pub addr: String,
}

/// A named group of mailboxes (RFC 5322 §3.4): `team: a@x, b@y;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's display name, decoded like [`Mailbox::name`].
    pub name: String,
    /// The members, possibly none (`undisclosed-recipients:;`).
    pub members: Vec<Mailbox>,
}

/// One element of an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A single mailbox.
    Mailbox(Mailbox),
    /// A group of mailboxes.
    Group(Group),
}

/// What was wrong with an address list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefectKind {
    /// A `"` without its closing `"`: the item was skipped.
    UnterminatedQuotedString,
    /// A `(` without its closing `)`: the rest of the input is a comment.
    UnterminatedComment,
    /// A `[` without its closing `]`: the item was skipped.
    UnterminatedDomainLiteral,
    /// A `<` without its closing `>`: the item was skipped.
    UnterminatedAngleAddr,
    /// A group without its closing `;` (kept).
    UnterminatedGroup,
    /// A byte that may not appear here: the item was skipped.
    Unexpected(u8),
    /// An item that is not a mailbox (`John Smith`): skipped.
    NotAnAddress,
    /// An address without `@domain` (kept).
    MissingDomain,
    /// A dot at the start or end of a local part or domain, or two dots in
    /// a row (kept as written).
    EmptyLabel,
    /// An unquoted `@` in a display name (kept).
    SpecialInName,
    /// `<>`: skipped.
    EmptyAddress,
    /// An address whose bytes are not UTF-8: skipped.
    InvalidUtf8,
    /// A `;` outside a group, read as `,`.
    StraySemicolon,
}

/// A defect found in an address list, with the byte offset where it was
/// found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defect {
    /// What was wrong.
    pub kind: DefectKind,
    /// Byte offset in the parsed value, counted from 0.
    pub offset: usize,
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DefectKind::UnterminatedQuotedString => f.write_str("unterminated quoted string")?,
            DefectKind::UnterminatedComment => f.write_str("unterminated comment")?,
            DefectKind::UnterminatedDomainLiteral => f.write_str("unterminated domain literal")?,
            DefectKind::UnterminatedAngleAddr => f.write_str("'<' without '>'")?,
            DefectKind::UnterminatedGroup => f.write_str("group without ';'")?,
            DefectKind::Unexpected(b) if b.is_ascii_graphic() => {
                write!(f, "unexpected '{}'", char::from(b))?
            }
            DefectKind::Unexpected(b) => write!(f, "unexpected byte 0x{b:02X}")?,
            DefectKind::NotAnAddress => f.write_str("not an address")?,
            DefectKind::MissingDomain => f.write_str("address without a domain")?,
            DefectKind::EmptyLabel => f.write_str("empty label in address")?,
            DefectKind::SpecialInName => f.write_str("unquoted special in display name")?,
            DefectKind::EmptyAddress => f.write_str("empty address '<>'")?,
            DefectKind::InvalidUtf8 => f.write_str("address is not UTF-8")?,
            DefectKind::StraySemicolon => f.write_str("';' outside a group")?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for Defect {}

/// The result of [`parse`]: what could be read, and what was wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressList {
    /// The addresses, in input order.
    pub addresses: Vec<Address>,
    /// Everything that was wrong, in input order; empty for a valid list.
    pub defects: Vec<Defect>,
}

impl AddressList {
    /// All mailboxes in order, group members in place of their group.
    pub fn mailboxes(&self) -> impl Iterator<Item = &Mailbox> {
        self.addresses.iter().flat_map(|a| match a {
            Address::Mailbox(m) => std::slice::from_ref(m),
            Address::Group(g) => &g.members[..],
        })
    }

    /// The addresses if the list had no defect, else the first defect: for
    /// callers that must get exactly the mailboxes the user typed.
    pub fn strict(self) -> Result<Vec<Address>, Defect> {
        match self.defects.first() {
            Some(d) => Err(*d),
            None => Ok(self.addresses),
        }
    }
}

/// What to tell a user whose address did not parse (both command-line
/// tools that take addresses say it the same way).
pub const HINT: &str = "write user@example.org or 'Name <user@example.org>'";

/// Parses an address list (RFC 5322 §3.4 `address-list`, obsolete forms
/// included), best effort; see the module documentation.
pub fn parse(input: &[u8]) -> AddressList {
    let mut defects = Vec::new();
    let mut addresses = Vec::new();
    let mut group: Option<Group> = None;
    let done: Result<(), std::convert::Infallible> = run(
        input,
        |d| defects.push(d),
        |event| {
            match event {
                Event::Mailbox(m) => match &mut group {
                    Some(g) => g.members.push(m),
                    None => addresses.push(Address::Mailbox(m)),
                },
                Event::GroupStart(name) => {
                    group = Some(Group {
                        name,
                        members: Vec::new(),
                    })
                }
                Event::GroupEnd => addresses.extend(group.take().map(Address::Group)),
            }
            Ok(())
        },
    );
    let Ok(()) = done;
    defects.sort_by_key(|d| d.offset);
    AddressList { addresses, defects }
}

/// Parses an address list as [`parse`] does, but hands each mailbox (the
/// members of a group in its place) to `f` as soon as it is read, and each
/// defect to `defect` (roughly in input order), so that memory does not
/// grow with the number of addresses: only with the longest list item.
/// Stops at the first error `f` returns, and returns it.
pub fn for_each_mailbox<E>(
    input: &[u8],
    defect: impl FnMut(Defect),
    mut f: impl FnMut(Mailbox) -> Result<(), E>,
) -> Result<(), E> {
    run(input, defect, |event| match event {
        Event::Mailbox(m) => f(m),
        Event::GroupStart(_) | Event::GroupEnd => Ok(()),
    })
}

/// What [`run`] finds, in input order.
enum Event {
    Mailbox(Mailbox),
    GroupStart(String),
    GroupEnd,
}

/// The parser's main loop: one list item at a time, each handed to `on`
/// as events; tokens of finished items are dropped as it goes.
fn run<E>(
    input: &[u8],
    defect: impl FnMut(Defect),
    mut on: impl FnMut(Event) -> Result<(), E>,
) -> Result<(), E> {
    // Token offsets are u32 (to keep tokens small); header fields are
    // bounded far below this (limits::MAX_HEADER_BYTES).
    let input = &input[..input.len().min(u32::MAX as usize)];
    let mut p = Parser {
        input,
        lexer: Lexer::default(),
        toks: Vec::new(),
        i: 0,
        defect,
    };
    let mut group_at: Option<usize> = None;
    loop {
        p.forget_read();
        match p.item(group_at.is_some()) {
            Item::Mailbox(m) => on(Event::Mailbox(m))?,
            Item::GroupStart(name, at) => {
                group_at = Some(at);
                on(Event::GroupStart(name))?;
                continue; // p.i is past the ':', at the first member
            }
            Item::Nothing => {}
        }
        // p.item stops at a ',' or ';' or the end.
        match p.tok(p.i) {
            None => break,
            Some(t) => {
                p.i += 1;
                if t.tok == Tok::Special(b';') {
                    match group_at.take() {
                        Some(_) => on(Event::GroupEnd)?,
                        None => p.defect(DefectKind::StraySemicolon, t.at()),
                    }
                }
            }
        }
    }
    if let Some(at) = group_at {
        p.defect(DefectKind::UnterminatedGroup, at);
        on(Event::GroupEnd)?;
    }
    Ok(())
}

/// The addresses of an address list, best effort (see [`parse`]).
pub fn parse_list(input: &[u8]) -> Vec<Address> {
    parse(input).addresses
}

/// RFC 5322 §3.2.3 `specials`: a display name holding one of these is
/// written as a quoted string (the set Python's `formataddr` uses).
fn needs_quotes(name: &str) -> bool {
    name.bytes().any(|b| b"()<>[]:;@\\,.\"".contains(&b))
}

/// `text` as an RFC 5322 §3.2.4 quoted-string: `"` and `\` escaped (MIME
/// parameter values are quoted the same way, RFC 2045 §5.1).
pub(crate) fn quoted(text: &str) -> String {
    let mut q = String::with_capacity(text.len() + 2);
    q.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Longest piece [`phrase`] makes: a folded line holds a space, the piece
/// and the `,` or `:` after it within
/// [`FOLD_WIDTH`](encoded_word::FOLD_WIDTH) (RFC 5322 §2.1.1).
const MAX_PIECE: usize = encoded_word::FOLD_WIDTH - 2;

/// How [`phrase`] writes a display name that cannot go as it is (not
/// printable ASCII, or holding `=?`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Words {
    /// RFC 2047 words only for the runs of words that need them (Q or B,
    /// whichever is shorter: [`encoded_word::encode`]), the other words
    /// plain.
    #[default]
    Runs,
    /// The whole name as "B" encoded-words (RFC 2047 §5 (3): safe in a
    /// phrase whatever the characters).
    Whole,
}

/// A display name for a header field we write (RFC 5322 §3.2.5 `phrase`),
/// in pieces a field may be folded between (each at most 76 octets, so
/// that a folded line holds it and a `,` within 78). Runs of white space
/// become one space. Printable ASCII is written as atoms when every word
/// is `atext`, else as one quoted-string. Anything else (and text holding
/// `=?`, which a reader would decode) becomes RFC 2047 encoded-words in
/// UTF-8 as `words` says; with [`Words::Runs`] a plain word holding
/// specials makes all of it encoded, so that adjacent encoded-words (which
/// Python's address parser joins with a space, against RFC 2047 §6.2) only
/// occur for runs longer than one word. A piece that would not fit on a
/// folded line is never written: the name is then encoded whole ("B").
///
/// The caller writes the address after it (`<addr>`); an empty `name`
/// gives `""`.
pub fn phrase(name: &str, words: Words) -> Vec<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let fits = |p: &String| p.len() <= MAX_PIECE;
    let plain = |w: &str| w.bytes().all(is_atext);
    let printable = name.bytes().all(|b| (b' '..=b'~').contains(&b)) && !name.contains("=?");
    if !printable {
        if words == Words::Runs
            && let Ok(enc) =
                encoded_word::encode(name.as_bytes(), &charset::Target::UTF_8, Default::default())
        {
            let pieces: Vec<String> = enc.split(' ').map(str::to_owned).collect();
            if pieces
                .iter()
                .all(|p| (p.starts_with("=?") || plain(p)) && fits(p))
            {
                return pieces;
            }
        }
    } else if name.split(' ').all(|w| !w.is_empty() && plain(w)) {
        let pieces: Vec<String> = name.split(' ').map(str::to_owned).collect();
        if pieces.iter().all(fits) {
            return pieces;
        }
    } else {
        let q = quoted(&name);
        if fits(&q) {
            return vec![q];
        }
    }
    encoded_word::encode_words(
        &name,
        &charset::Target::UTF_8,
        encoded_word::Method::B,
        0,
        None,
    )
    .map(|w| w.split(' ').map(str::to_owned).collect())
    .unwrap_or_default() // UTF-8 represents every character
}

/// `Name <addr>` (the name quoted again when it holds specials, with `\`
/// and `"` escaped, so the text is itself one valid mailbox), or the bare
/// `addr` without a name. UTF-8 is kept as UTF-8 (RFC 6532).
impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name.as_deref() {
            None => f.write_str(&self.addr),
            Some(name) if needs_quotes(name) => write!(f, "{} <{}>", quoted(name), self.addr),
            Some(name) => write!(f, "{name} <{}>", self.addr),
        }
    }
}

// ---------------------------------------------------------------- tokenizer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A run of atext (RFC 5322 §3.2.3; bytes ≥ 0x80 too, RFC 6532 §3.2).
    Atom,
    /// A quoted string; the span is its content, escapes still in.
    Quoted,
    /// A comment; the span is its content, escapes and nested parens in.
    Comment,
    /// A comment without its `)`, running to the end (defect recorded):
    /// white space like any comment, but never a display name.
    OpenComment,
    /// A domain literal; the span is the content between the brackets.
    Literal,
    /// One of `< > @ , ; : .`
    Special(u8),
    /// A byte that may appear nowhere here (stray `)`, `]`, `\`, controls).
    Junk(u8),
    /// An unterminated quoted string or domain literal (defect recorded).
    Open,
}

/// A token: 12 bytes, since a long list holds many.
#[derive(Debug, Clone, Copy)]
struct Token {
    tok: Tok,
    /// White space came right before the token.
    space: bool,
    /// Content span (without delimiters for quoted strings, comments and
    /// literals).
    start: u32,
    end: u32,
}

impl Token {
    /// Offset of the token's first byte (its opening delimiter).
    fn at(&self) -> usize {
        match self.tok {
            Tok::Quoted | Tok::Comment | Tok::OpenComment | Tok::Literal => self.start as usize - 1,
            _ => self.start as usize,
        }
    }

    fn span(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl Tok {
    fn is_comment(self) -> bool {
        matches!(self, Tok::Comment | Tok::OpenComment)
    }
}

/// RFC 5322 §3.2.3 `atext`: ASCII letters, digits and
/// ``!#$%&'*+-/=?^_`{|}~`` (RFC 5321 §4.1.2 `Atom` uses it too). The
/// crate's one definition; `is_utf8_atext` adds RFC 6532's UTF-8.
pub fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        )
}

/// `atext` with the UTF-8 bytes RFC 6532 §3.2 adds (what we read).
fn is_utf8_atext(b: u8) -> bool {
    b >= 0x80 || is_atext(b)
}

/// Index just past the delimited run starting at `from` (after the opening
/// delimiter), honouring `\` quoted-pairs; for comments, nesting is
/// counted, never recursed. `None` if the input ends first.
fn close(input: &[u8], mut i: usize, close: u8, nest: Option<u8>) -> Option<usize> {
    let mut depth = 1usize;
    while i < input.len() {
        let b = input[i];
        if b == b'\\' {
            i += 2;
            continue;
        }
        if Some(b) == nest {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// Index of the first `,` or `;` at or after `i` that a `\\` does not
/// quote, or the end.
fn list_separator(input: &[u8], mut i: usize) -> usize {
    while i < input.len() {
        match input[i] {
            b'\\' => i += 2,
            b',' | b';' => return i,
            _ => i += 1,
        }
    }
    input.len()
}

/// The tokenizer: hands out one token at a time, so that the parser holds
/// only the tokens of the item it reads.
#[derive(Default)]
struct Lexer {
    /// Where the next token starts.
    pos: usize,
    /// White space (or a comment) came before `pos`.
    space: bool,
    /// A `[` found no `]`: nor will a later one (same escapes from there
    /// on), so the search is not repeated (it would be quadratic).
    no_bracket_end: bool,
}

impl Lexer {
    fn next(&mut self, input: &[u8], defect: &mut impl FnMut(Defect)) -> Option<Token> {
        let mut i = self.pos;
        let mut space = self.space;
        while i < input.len() && matches!(input[i], b' ' | b'\t' | b'\r' | b'\n') {
            // FWS: line breaks of a folded value are white space too.
            space = true;
            i += 1;
        }
        let &b = input.get(i)?;
        let mut open = |kind| defect(Defect { kind, offset: i });
        let (tok, start, end, next) = match b {
            b'(' => match close(input, i + 1, b')', Some(b'(')) {
                Some(e) => (Tok::Comment, i + 1, e, e + 1),
                None => {
                    open(DefectKind::UnterminatedComment);
                    (Tok::OpenComment, i + 1, input.len(), input.len())
                }
            },
            b'"' => match close(input, i + 1, b'"', None) {
                Some(e) => (Tok::Quoted, i + 1, e, e + 1),
                None => {
                    open(DefectKind::UnterminatedQuotedString);
                    (Tok::Open, i, input.len(), input.len())
                }
            },
            b'[' => match (!self.no_bracket_end)
                .then(|| close(input, i + 1, b']', None))
                .flatten()
            {
                Some(e) => (Tok::Literal, i + 1, e, e + 1),
                None => {
                    self.no_bracket_end = true;
                    open(DefectKind::UnterminatedDomainLiteral);
                    // A literal holds no `,` or `;` (RFC 5322 §3.4.1
                    // dtext): the list goes on there.
                    let e = list_separator(input, i + 1);
                    (Tok::Open, i, e, e)
                }
            },
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' => (Tok::Special(b), i, i + 1, i + 1),
            _ if is_utf8_atext(b) => {
                let mut e = i + 1;
                while e < input.len() && is_utf8_atext(input[e]) {
                    e += 1;
                }
                (Tok::Atom, i, e, e)
            }
            _ => (Tok::Junk(b), i, i + 1, i + 1),
        };
        // A comment separates words as white space does (RFC 5322 §3.2.2).
        self.space = tok.is_comment();
        self.pos = next;
        // Offsets fit: the input is cut at u32::MAX (see `run`).
        Some(Token {
            tok,
            space,
            start: start as u32,
            end: end as u32,
        })
    }
}

/// Unescapes quoted-pairs and removes the line breaks of folding (RFC 5322
/// §3.2.4: FWS in a quoted string or comment is unfolded, the WSP kept).
/// Other line breaks are not folding and stay (never joining the text
/// around them into a word the input does not hold).
fn unquote(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    let fold = |k: usize| match raw.get(k) {
        Some(b'\n') => matches!(raw.get(k + 1), Some(b' ' | b'\t')),
        Some(b'\r') => {
            raw.get(k + 1) == Some(&b'\n') && matches!(raw.get(k + 2), Some(b' ' | b'\t'))
        }
        _ => false,
    };
    while i < raw.len() {
        match raw[i] {
            b'\\' if i + 1 < raw.len() => {
                out.push(raw[i + 1]);
                i += 2;
            }
            b'\r' | b'\n' if fold(i) => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// Decodes a display name (words already joined) for display.
fn decode_name(raw: &[u8]) -> Option<String> {
    let text = encoded_word::decode(raw).text;
    let text = text.trim_matches([' ', '\t']);
    (!text.is_empty()).then(|| text.to_owned())
}

// ------------------------------------------------------------------- parser

enum Item {
    Mailbox(Mailbox),
    GroupStart(String, usize),
    Nothing,
}

/// The parser: reads the list one item at a time over a window of tokens
/// (`toks[k]` is token `k` since the last [`Parser::forget_read`]),
/// tokenizing only as far as it looks.
struct Parser<'a, D> {
    input: &'a [u8],
    lexer: Lexer,
    toks: Vec<Token>,
    i: usize,
    defect: D,
}

impl<D: FnMut(Defect)> Parser<'_, D> {
    fn defect(&mut self, kind: DefectKind, offset: usize) {
        (self.defect)(Defect { kind, offset });
    }

    fn bytes(&self, t: &Token) -> &[u8] {
        &self.input[t.span()]
    }

    /// Token `j` of the window, tokenizing up to it; `None` past the end.
    fn tok(&mut self, j: usize) -> Option<Token> {
        while self.toks.len() <= j {
            let t = self.lexer.next(self.input, &mut self.defect)?;
            self.toks.push(t);
        }
        Some(self.toks[j])
    }

    /// Drops the tokens before `self.i` (items already read), once they are
    /// at least half the window, so the work stays linear.
    fn forget_read(&mut self) {
        if self.i >= 64 && 2 * self.i >= self.toks.len() {
            self.toks.drain(..self.i);
            self.i = 0;
        }
    }

    /// Index of the first token at or after `from` that `stop` accepts, or
    /// of the end of the tokens.
    fn find(&mut self, from: usize, stop: impl Fn(Tok) -> bool) -> usize {
        let mut j = from;
        while let Some(t) = self.tok(j) {
            if stop(t.tok) {
                break;
            }
            j += 1;
        }
        j
    }

    /// Skips to the next `,` or `;` (or the end): the rest of a bad item.
    fn skip_item(&mut self, from: usize) -> Item {
        self.i = self.find(from, |t| matches!(t, Tok::Special(b',' | b';')));
        Item::Nothing
    }

    /// Records `kind` at token `j` and skips the item.
    fn bad(&mut self, kind: DefectKind, j: usize) -> Item {
        let t = self.tok(j);
        let at = t.map_or(self.input.len(), |t| t.at());
        // Unterminated constructs were reported by the tokenizer already.
        if t.is_none_or(|t| t.tok != Tok::Open) {
            self.defect(kind, at);
        }
        self.skip_item(j)
    }

    /// Reads one list item starting at `self.i`; leaves `self.i` at the
    /// `,` or `;` that ends it, or at the end.
    fn item(&mut self, in_group: bool) -> Item {
        let start = self.i;
        let j = self.find(start, |t| {
            matches!(t, Tok::Special(b'<' | b',' | b';' | b':'))
        });
        match self.tok(j).map(|t| t.tok) {
            Some(Tok::Special(b':')) => {
                let at = self.toks[start].at();
                match self.phrase(start, j, false) {
                    Ok(name) if !in_group => {
                        self.i = j + 1;
                        Item::GroupStart(name.unwrap_or_default(), at)
                    }
                    Ok(_) => self.bad(DefectKind::Unexpected(b':'), j),
                    Err(k) => self.bad(DefectKind::Unexpected(self.byte(k)), k),
                }
            }
            Some(Tok::Special(b'<')) => self.angle(start, j),
            _ => {
                self.i = j;
                self.bare(start, j)
            }
        }
    }

    fn byte(&self, k: usize) -> u8 {
        match self.toks[k].tok {
            Tok::Special(b) | Tok::Junk(b) => b,
            _ => self.input[self.toks[k].at()],
        }
    }

    /// Joins the words of a phrase (RFC 5322 §3.2.5, obs-phrase §4.1) and
    /// decodes it. With `lenient_at`, an unquoted `@` is accepted (defect).
    /// Err(k): token k may not appear in a phrase.
    fn phrase(
        &mut self,
        from: usize,
        to: usize,
        lenient_at: bool,
    ) -> Result<Option<String>, usize> {
        let mut raw = Vec::new();
        let mut pending_space = false;
        let mut special = None;
        for k in from..to {
            let t = self.toks[k];
            match t.tok {
                Tok::Comment | Tok::OpenComment => {
                    pending_space = true;
                    continue;
                }
                Tok::Atom | Tok::Quoted | Tok::Special(b'.') => {}
                Tok::Special(b'@') if lenient_at => {
                    special = special.or(Some(t.at()));
                }
                _ => return Err(k),
            }
            if !raw.is_empty() && (t.space || pending_space) {
                raw.push(b' ');
            }
            pending_space = false;
            match t.tok {
                Tok::Quoted => unquote(self.bytes(&t), &mut raw),
                _ => raw.extend_from_slice(self.bytes(&t)),
            }
        }
        if let Some(at) = special {
            self.defect(DefectKind::SpecialInName, at);
        }
        Ok(decode_name(&raw))
    }

    /// `[phrase] < [route] addr-spec > [CFWS]` with `<` at token `lt`.
    fn angle(&mut self, start: usize, lt: usize) -> Item {
        let name = match self.phrase(start, lt, true) {
            Ok(name) => name,
            Err(k) => return self.bad(DefectKind::Unexpected(self.byte(k)), k),
        };
        let gt = self.find(lt + 1, |t| matches!(t, Tok::Special(b'>' | b'<' | b';')));
        if self.tok(gt).map(|t| t.tok) != Some(Tok::Special(b'>')) {
            let at = self.toks[lt].at();
            self.defect(DefectKind::UnterminatedAngleAddr, at);
            // The list goes on at the first `,` or `;` after the `<` that
            // is not part of an obsolete route (`<@a,@b:`).
            let from = self.after_route(lt + 1);
            return self.skip_item(from);
        }
        // Only comments may follow the '>' in this item.
        let end = self.find(gt + 1, |t| !t.is_comment());
        if let Some(t) = self.tok(end)
            && !matches!(t.tok, Tok::Special(b',' | b';'))
        {
            return self.bad(DefectKind::Unexpected(self.byte(end)), end);
        }
        self.i = end;
        // obs-route (RFC 5322 §4.4): `@a,@b:` before the addr-spec, dropped.
        let inner: Vec<usize> = (lt + 1..gt)
            .filter(|&k| !self.toks[k].tok.is_comment())
            .collect();
        let mut spec = &inner[..];
        if let Some(&first) = spec.first()
            && matches!(self.toks[first].tok, Tok::Special(b'@' | b','))
        {
            let colon = spec
                .iter()
                .position(|&k| self.toks[k].tok == Tok::Special(b':'));
            let Some(colon) = colon else {
                return self.bad_at(DefectKind::NotAnAddress, self.toks[lt].at());
            };
            let route_ok = spec[..colon].iter().all(|&k| {
                matches!(
                    self.toks[k].tok,
                    Tok::Special(b'@' | b',' | b'.') | Tok::Atom | Tok::Literal
                )
            });
            if !route_ok {
                return self.bad_at(DefectKind::NotAnAddress, self.toks[lt].at());
            }
            spec = &spec[colon + 1..];
        }
        if spec.is_empty() {
            return self.bad_at(DefectKind::EmptyAddress, self.toks[lt].at());
        }
        match self.addr_spec(spec) {
            Ok(addr) => Item::Mailbox(Mailbox { name, addr }),
            Err(kind) => self.bad_at(kind, self.toks[lt].at()),
        }
    }

    /// The index after the obsolete route (RFC 5322 §4.4 `obs-route`:
    /// `@a,@b:`) that starts at token `j`, or `j` when there is none.
    fn after_route(&self, j: usize) -> usize {
        let mut first = true;
        for k in j..self.toks.len() {
            match self.toks[k].tok {
                t if t.is_comment() => continue,
                // A route starts with `@` or `,` (an empty element).
                Tok::Special(b'@' | b',') => {}
                Tok::Special(b':') if !first => return k + 1,
                Tok::Special(b'.') | Tok::Atom | Tok::Literal if !first => {}
                _ => return j,
            }
            first = false;
        }
        j
    }

    /// Records a defect for an item already skipped past (self.i is set).
    fn bad_at(&mut self, kind: DefectKind, offset: usize) -> Item {
        self.defect(kind, offset);
        Item::Nothing
    }

    /// A bare `addr-spec [CFWS]` in tokens `from..to` (`to` is the `,`,
    /// `;` or end); trailing comments become the display name (old style).
    fn bare(&mut self, from: usize, to: usize) -> Item {
        let spec: Vec<usize> = (from..to)
            .filter(|&k| !self.toks[k].tok.is_comment())
            .collect();
        let Some(&last) = spec.last() else {
            return Item::Nothing; // an empty item (obs-addr-list allows them)
        };
        let junk = |t: Tok| matches!(t, Tok::Junk(_) | Tok::Open | Tok::Special(b'>'));
        if let Some(&k) = spec.iter().find(|&&k| junk(self.toks[k].tok)) {
            return self.bad(DefectKind::Unexpected(self.byte(k)), k);
        }
        let at = self.toks[spec[0]].at();
        let addr = match self.addr_spec(&spec) {
            Ok(addr) => addr,
            Err(kind) => return self.bad_at(kind, at),
        };
        let mut raw = Vec::new();
        for t in self.toks[last + 1..to]
            .iter()
            .filter(|t| t.tok == Tok::Comment)
        {
            if !raw.is_empty() {
                raw.push(b' ');
            }
            unquote(&self.input[t.span()], &mut raw);
        }
        Item::Mailbox(Mailbox {
            name: decode_name(&raw),
            addr,
        })
    }

    /// `local-part ["@" domain]` from the non-comment tokens `spec`, in
    /// canonical form (see [`Mailbox::addr`]).
    fn addr_spec(&mut self, spec: &[usize]) -> Result<String, DefectKind> {
        let at = self.toks[spec[0]].at();
        let split = spec
            .iter()
            .position(|&k| self.toks[k].tok == Tok::Special(b'@'));
        let (local, domain) = match split {
            Some(s) => (&spec[..s], Some(&spec[s + 1..])),
            None => (spec, None),
        };
        let mut out = Vec::new();
        let mut empty_label = false;
        self.local_part(local, &mut out, &mut empty_label)?;
        match domain {
            None => self.defect(DefectKind::MissingDomain, at),
            Some([]) => return Err(DefectKind::NotAnAddress),
            Some(domain) => {
                out.push(b'@');
                self.domain(domain, &mut out, &mut empty_label)?;
            }
        }
        if empty_label {
            self.defect(DefectKind::EmptyLabel, at);
        }
        String::from_utf8(out).map_err(|_| DefectKind::InvalidUtf8)
    }

    fn local_part(
        &self,
        local: &[usize],
        out: &mut Vec<u8>,
        empty_label: &mut bool,
    ) -> Result<(), DefectKind> {
        let mut content = Vec::new();
        let mut quoted = false;
        let mut prev_word = false;
        let mut words = 0;
        for &k in local {
            let t = self.toks[k];
            match t.tok {
                Tok::Atom | Tok::Quoted if prev_word => return Err(DefectKind::NotAnAddress),
                Tok::Atom => content.extend_from_slice(self.bytes(&t)),
                Tok::Quoted => {
                    quoted = true;
                    unquote(self.bytes(&t), &mut content);
                }
                Tok::Special(b'.') => {
                    *empty_label |= !prev_word;
                    content.push(b'.');
                }
                _ => return Err(DefectKind::NotAnAddress),
            }
            prev_word = t.tok != Tok::Special(b'.');
            words += usize::from(prev_word);
        }
        if words == 0 {
            return Err(DefectKind::NotAnAddress);
        }
        *empty_label |= !prev_word;
        let dot_atom = !content.is_empty()
            && content
                .split(|&b| b == b'.')
                .all(|l| !l.is_empty() && l.iter().all(|&b| is_utf8_atext(b)));
        if !quoted || dot_atom {
            out.extend_from_slice(&content);
        } else {
            out.push(b'"');
            for &b in &content {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        Ok(())
    }

    fn domain(
        &self,
        domain: &[usize],
        out: &mut Vec<u8>,
        empty_label: &mut bool,
    ) -> Result<(), DefectKind> {
        if let [k] = domain {
            let t = self.toks[*k];
            if t.tok == Tok::Literal {
                // Domain literal: FWS inside is removed, quoted-pairs
                // (obs-dtext) unescaped (RFC 5322 §3.4.1, §4.4).
                out.push(b'[');
                let mut lit = Vec::new();
                unquote(self.bytes(&t), &mut lit);
                out.extend(lit.iter().filter(|&&b| b != b' ' && b != b'\t'));
                out.push(b']');
                return Ok(());
            }
        }
        let mut prev_word = false;
        for &k in domain {
            let t = self.toks[k];
            match t.tok {
                Tok::Atom if !prev_word => out.extend_from_slice(self.bytes(&t)),
                Tok::Special(b'.') => {
                    *empty_label |= !prev_word;
                    out.push(b'.');
                }
                _ => return Err(DefectKind::NotAnAddress),
            }
            prev_word = t.tok == Tok::Atom;
        }
        *empty_label |= !prev_word;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
