//! Canonicalization (RFC 6376 §3.4): `simple` and `relaxed`, for header
//! fields and for the body.
//!
//! Line ends: a message read from a file may end its lines with LF alone;
//! DKIM hashes the message as SMTP carries it, with CRLF (§3.4), so an LF
//! without its CR counts as CRLF, here and in the header fields (a CR
//! alone is an ordinary byte).
//!
//! The body is canonicalized as it streams ([`Body::update`]): only the
//! count of empty lines not yet known to be trailing (§3.4.3) and one
//! pending white-space flag are held, so memory does not grow with the
//! body.

use std::io::{self, BufRead};

use ring::digest;

use crate::message::header::Block;

/// A canonicalization algorithm (§3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canon {
    /// §3.4.1 and §3.4.3: almost no change.
    Simple,
    /// §3.4.2 and §3.4.4: white space and case normalised.
    Relaxed,
}

impl Canon {
    /// The name used in `c=`.
    pub fn name(self) -> &'static str {
        match self {
            Canon::Simple => "simple",
            Canon::Relaxed => "relaxed",
        }
    }

    /// The algorithm named `name` in `c=` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Canon> {
        if name.eq_ignore_ascii_case("simple") {
            Some(Canon::Simple)
        } else if name.eq_ignore_ascii_case("relaxed") {
            Some(Canon::Relaxed)
        } else {
            None
        }
    }
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Appends the canonical form of the field `name: value` to `out`, CRLF
/// included (`value` as [`crate::message::header::Field`] has it: raw,
/// folds kept).
pub fn header(canon: Canon, name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    match canon {
        Canon::Simple => {
            // §3.4.1: unchanged; only a fold's bare LF becomes CRLF.
            out.extend_from_slice(name);
            out.push(b':');
            let mut prev = 0u8;
            for &b in value {
                if b == b'\n' && prev != b'\r' {
                    out.push(b'\r');
                }
                out.push(b);
                prev = b;
            }
        }
        Canon::Relaxed => {
            // §3.4.2: name lowercased, value unfolded, WSP runs to one SP,
            // WSP at both ends of the value and around the colon removed.
            let name = name.trim_ascii_end();
            out.extend(name.iter().map(u8::to_ascii_lowercase));
            out.push(b':');
            let mut space = false;
            let mut any = false;
            let mut i = 0;
            while i < value.len() {
                let b = value[i];
                i += 1;
                if (b == b'\r' && value.get(i) == Some(&b'\n')) || b == b'\n' {
                    continue;
                }
                if is_wsp(b) {
                    space = true;
                    continue;
                }
                if space && any {
                    out.push(b' ');
                }
                space = false;
                any = true;
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// The canonical body's digest and length, as [`Body::finish`] gives them.
#[derive(Debug, Clone)]
pub struct BodyHash {
    /// SHA-256 of the canonical body (of its first `l=` bytes when limited).
    pub digest: Vec<u8>,
    /// Length of the whole canonical body, in bytes.
    pub length: u64,
}

/// The body hash being computed (§3.7), fed with the body as it streams.
pub struct Body {
    canon: Canon,
    ctx: digest::Context,
    /// Hash only this many canonical bytes (`l=`, verifying only).
    limit: Option<u64>,
    /// Canonical bytes produced so far.
    length: u64,
    /// Canonical bytes waiting to be hashed.
    buf: Vec<u8>,
    /// Empty lines seen and not yet written: trailing ones are dropped.
    blank_lines: u64,
    /// The current line has had a byte that is not (relaxed) white space.
    in_line: bool,
    /// Relaxed: white space seen since the last byte written.
    space: bool,
    /// A CR whose meaning depends on the next byte (CRLF or a lone CR).
    cr: bool,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("canon", &self.canon)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

const BUF: usize = 16 * 1024;

impl Body {
    /// A body hash with `canon`, hashing at most `limit` canonical bytes.
    pub fn new(canon: Canon, limit: Option<u64>) -> Body {
        Body {
            canon,
            ctx: digest::Context::new(&digest::SHA256),
            limit,
            length: 0,
            buf: Vec::with_capacity(BUF),
            blank_lines: 0,
            in_line: false,
            space: false,
            cr: false,
        }
    }

    /// Canonical bytes out: small pieces gather in `buf`, a long run is
    /// hashed as it is (memory stays at [`BUF`]).
    fn emit(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > BUF {
            self.flush();
        }
        if bytes.len() >= BUF {
            self.hash(bytes);
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn flush(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.hash(&buf);
        self.buf = buf;
        self.buf.clear();
    }

    /// Hashes `bytes`, or the part of them within `l=`, and counts them.
    fn hash(&mut self, bytes: &[u8]) {
        let n = bytes.len() as u64;
        let hashed = match self.limit {
            Some(limit) => limit.saturating_sub(self.length).min(n) as usize,
            None => bytes.len(),
        };
        self.ctx.update(&bytes[..hashed]);
        self.length += n;
    }

    /// Bytes of line content (none of them CR, LF, or relaxed WSP).
    fn content(&mut self, bytes: &[u8]) {
        if !self.in_line {
            for _ in 0..self.blank_lines {
                self.emit(b"\r\n");
            }
            self.blank_lines = 0;
            self.in_line = true;
        }
        if self.space {
            self.emit(b" ");
            self.space = false;
        }
        self.emit(bytes);
    }

    fn end_line(&mut self) {
        if self.in_line {
            self.emit(b"\r\n");
            self.in_line = false;
        } else {
            self.blank_lines += 1;
        }
        self.space = false;
    }

    /// Feeds the next bytes of the body.
    pub fn update(&mut self, mut data: &[u8]) {
        let relaxed = self.canon == Canon::Relaxed;
        while let Some((&b, rest)) = data.split_first() {
            if self.cr {
                self.cr = false;
                if b == b'\n' {
                    self.end_line();
                    data = rest;
                    continue;
                }
                self.content(b"\r");
            }
            // Bytes that are their own canonical form go as one run (the
            // common case, and the speed).
            let run = if relaxed {
                relaxed_run(data)
            } else {
                memchr::memchr2(b'\r', b'\n', data).unwrap_or(data.len())
            };
            if run > 0 {
                self.content(&data[..run]);
                data = &data[run..];
                continue;
            }
            match b {
                b'\r' => self.cr = true,
                b'\n' => self.end_line(),
                // §3.4.4: a run of WSP becomes one SP, none at the line's end.
                _ => self.space = true,
            }
            data = rest;
        }
    }

    /// Ends the body: a last line without a line end gets CRLF, trailing
    /// empty lines are dropped, and an empty body is CRLF in `simple`,
    /// nothing in `relaxed` (§3.4.3, §3.4.4).
    pub fn finish(mut self) -> BodyHash {
        if self.cr {
            self.cr = false;
            self.content(b"\r");
        }
        if self.in_line {
            self.emit(b"\r\n");
        }
        if self.length == 0 && self.buf.is_empty() && self.canon == Canon::Simple {
            self.buf.extend_from_slice(b"\r\n");
        }
        self.flush();
        BodyHash {
            digest: self.ctx.finish().as_ref().to_vec(),
            length: self.length,
        }
    }
}

/// How many bytes at the start of `data` relaxed body canonicalization
/// (RFC 6376 §3.4.4) leaves as they are: up to the first CR, LF or tab,
/// or the first of two spaces, without a final space (it may end the
/// line, or start a run of white space). Single spaces between words are
/// already canonical, so ordinary text goes through in long runs instead
/// of word by word. 0 when `data` starts with white space or a line end:
/// [`Body::update`] takes those a byte at a time.
fn relaxed_run(data: &[u8]) -> usize {
    if data.first() == Some(&b' ') {
        return 0;
    }
    let end = memchr::memchr3(b'\r', b'\n', b'\t', data).unwrap_or(data.len());
    let seg = &data[..end];
    let mut n = memchr::memmem::find(seg, b"  ").unwrap_or(seg.len());
    while n > 0 && seg[n - 1] == b' ' {
        n -= 1;
    }
    n
}

/// The name of the signature field (§3.5).
pub const FIELD: &str = "DKIM-Signature";

/// Appends the canonical form of the fields named in `names` to `out`,
/// choosing among fields of one name from the bottom up (§5.4.2); a name
/// with no instance left adds nothing (that is how over-signing works).
pub(crate) fn signed_fields(
    block: &Block,
    names: &[impl AsRef<str>],
    canon: Canon,
    out: &mut Vec<u8>,
) {
    let mut used: Vec<(String, usize)> = Vec::new();
    for name in names {
        let name = name.as_ref().to_ascii_lowercase();
        let at = match used.iter().position(|(n, _)| *n == name) {
            Some(at) => at,
            None => {
                used.push((name.clone(), 0));
                used.len() - 1
            }
        };
        let taken = used[at].1;
        used[at].1 += 1;
        let instances: Vec<_> = block.get_all(name.as_bytes()).collect();
        if taken < instances.len() {
            let field = instances[instances.len() - 1 - taken];
            header(canon, field.name, field.value, out);
        }
    }
}

/// Feeds the body of `input` (after `block`, its header) to every hash.
pub(crate) fn hash_body(
    input: &mut impl BufRead,
    block: &Block,
    bodies: &mut [Body],
) -> io::Result<()> {
    if let Some(first) = block.body_start() {
        bodies.iter_mut().for_each(|b| b.update(first));
    }
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        bodies.iter_mut().for_each(|b| b.update(chunk));
        let n = chunk.len();
        input.consume(n);
    }
}
