//! The boundary scanner: the message's bytes as one buffered stream that
//! ends, for whoever is reading, at the next delimiter line of any open
//! multipart (RFC 2046 §5.1.1, §5.1.2).
//!
//! Rules (documented in `mime-unpack(1)`):
//! - A delimiter is recognised only at the start of a line: at the start of
//!   the input, or after LF, or after a CR that is not followed by LF (bare
//!   CR line ends, as Python's `email` reads them).
//! - The line must be exactly `--` boundary, optionally `--` (close),
//!   optionally transport padding (spaces and tabs, at most
//!   [`MAX_BOUNDARY_PADDING`]),
//!   then a line end or the end of the input. `--bX` is not a delimiter of
//!   `b` (Python's rule; RFC 2046 §5.1.1's note allows prefix matching, but
//!   boundaries that are prefixes of each other then become ambiguous).
//! - The line end before a delimiter belongs to the delimiter (§5.1.1): it is
//!   not part of the body before it.
//! - When a line is a delimiter of several open multiparts (the same
//!   boundary at two levels, or `x` inside `x--`), the outermost wins, as in
//!   Python: an inner multipart cannot swallow the end of an outer one.
//!
//! The scanner searches for `--` with `memmem` and only examines the lines
//! that start with it, so a body is handed on in blocks of up to the buffer
//! size whatever its line lengths: a 100 MB line costs no more memory than
//! a short one.

use std::io::{self, BufRead, Read};

use memchr::memmem;

use crate::limits::{IO_BUF, MAX_BOUNDARY, MAX_BOUNDARY_PADDING};

/// Bytes of a line needed to decide whether it is a delimiter.
const LOOKAHEAD: usize = 2 + MAX_BOUNDARY + 2 + MAX_BOUNDARY_PADDING + 2;

/// Buffer size: one `IO_BUF` read plus room for an undecided line.
const CAP: usize = IO_BUF + LOOKAHEAD;

/// A delimiter line found ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delimiter {
    /// Index of the boundary in the stack (0: outermost).
    pub level: usize,
    /// `--boundary--`: the close delimiter.
    pub close: bool,
    /// The line end before it was a bare CR.
    pub bare_cr: bool,
    /// Length of the line end before it (0: the delimiter starts right
    /// where the reading stopped, after another delimiter line or an
    /// empty line that ended a header).
    pub lead: usize,
    /// Bytes from the end of the body to the end of the delimiter line.
    len: usize,
}

/// What the scan of the buffered bytes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// The first `body` bytes are data, then comes the delimiter.
    Delimiter { body: usize, delim: Delimiter },
    /// The first `n` bytes are data; what follows needs more input.
    Safe(usize),
}

/// Whether a line looks like a delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Delimiter {
        level: usize,
        close: bool,
        len: usize,
    },
    /// Not a delimiter; `near` when it starts with `--` and an open
    /// boundary (`--bX`), which is reported as a defect.
    Not { near: bool },
    /// The line is not complete in the buffer yet.
    Undecided,
}

/// The message stream with a stack of open boundaries; see the module docs.
pub(crate) struct Scanner<R> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// The byte before `buf[pos]` (LF at the start: a line start).
    prev: u8,
    /// Bytes consumed before `buf[pos]`.
    offset: u64,
    bounds: Vec<Vec<u8>>,
    /// Data for the current reader ends at `limit`...
    limit: usize,
    /// ...where this delimiter starts (its line end first).
    stop: Option<Delimiter>,
    finder: memmem::Finder<'static>,
    /// Lines that start with `--` and an open boundary but are not
    /// delimiters, consumed so far.
    pub near_misses: u64,
    /// Offset of the first such line found ahead but not yet consumed
    /// (a scan ahead may be redone under other boundaries).
    near_at: Option<u64>,
    /// Drop a line end at the very end of the input (the reader is in a
    /// child of a multipart whose close delimiter is missing: the line end
    /// is taken to belong to it, as Python does).
    pub trim_at_eof: bool,
}

impl<R: Read> Scanner<R> {
    pub(crate) fn new(input: R) -> Self {
        Scanner {
            input,
            buf: vec![0; CAP],
            pos: 0,
            end: 0,
            eof: false,
            prev: b'\n',
            offset: 0,
            bounds: Vec::new(),
            limit: 0,
            stop: None,
            finder: memmem::Finder::new(b"--"),
            near_misses: 0,
            near_at: None,
            trim_at_eof: false,
        }
    }

    /// Bytes consumed from the input so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Number of open boundaries.
    pub(crate) fn depth(&self) -> usize {
        self.bounds.len()
    }

    /// Opens a boundary: from here on its delimiters end the data.
    pub(crate) fn push(&mut self, boundary: &[u8]) {
        self.bounds.push(boundary.to_vec());
        self.rescan();
    }

    /// Closes boundaries down to `depth` open ones. A delimiter already
    /// found of a boundary still open stays found: closing inner
    /// boundaries cannot make an earlier line a delimiter.
    pub(crate) fn truncate(&mut self, depth: usize) {
        self.bounds.truncate(depth);
        if self.stop.is_some_and(|d| d.level >= depth) {
            self.rescan();
        }
    }

    fn rescan(&mut self) {
        // Data already handed out stays handed out; only what lies ahead
        // is scanned again under the new stack.
        self.limit = self.pos;
        self.stop = None;
        self.near_at = None;
    }

    /// Whether the first line of the data ahead ends with CRLF; `None`
    /// when no line ends within `max` bytes of data. Reads ahead as needed
    /// (consumes nothing), so the answer does not depend on how the input
    /// arrives.
    pub(crate) fn first_line_crlf(&mut self, max: usize) -> io::Result<Option<bool>> {
        if self.pos == self.limit && self.stop.is_none() {
            self.advance()?;
        }
        loop {
            let data = &self.buf[self.pos..self.limit];
            if let Some(i) = memchr::memchr(b'\n', data) {
                return Ok(Some(i > 0 && data[i - 1] == b'\r'));
            }
            if data.len() >= max || self.stop.is_some() || self.eof {
                return Ok(None);
            }
            // Scan again with more input behind what is there.
            self.rescan();
            self.refill()?;
            self.advance()?;
        }
    }

    /// Skips the rest of the data; returns the number of bytes skipped and
    /// the delimiter the data stopped at (`None` at the end of the input).
    pub(crate) fn skip(&mut self) -> io::Result<(u64, Option<Delimiter>)> {
        let mut n = 0;
        loop {
            let len = self.fill()?.len();
            if len == 0 {
                return Ok((n, self.stop));
            }
            self.consume(len);
            n += len as u64;
        }
    }

    /// The delimiter the data stops at right here, if no data comes
    /// before it (nothing is consumed).
    pub(crate) fn at_delimiter(&mut self) -> io::Result<Option<Delimiter>> {
        Ok(if self.fill()?.is_empty() {
            self.stop
        } else {
            None
        })
    }

    /// Acts as if a delimiter line stood here (one already read as the
    /// first line of a body): the data ends, and [`Scanner::skip`] reports
    /// it.
    pub(crate) fn inject(&mut self, level: usize, close: bool) {
        self.limit = self.pos;
        self.stop = Some(Delimiter {
            level,
            close,
            bare_cr: false,
            lead: 1,
            len: 0,
        });
    }

    /// Consumes the delimiter line the data stopped at (its line end
    /// before, the line, its line end).
    pub(crate) fn take_delimiter(&mut self) {
        if let Some(d) = self.stop.take() {
            debug_assert_eq!(self.pos, self.limit);
            self.consume(d.len);
            self.limit = self.pos;
        }
    }

    /// The next data before the delimiter or the end of the input; empty
    /// at either.
    pub(crate) fn fill(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.limit && self.stop.is_none() {
            if !self.advance()? {
                break;
            }
        }
        Ok(&self.buf[self.pos..self.limit])
    }

    /// Consumes `n` bytes of the data [`Scanner::fill`] returned.
    pub(crate) fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.pos += n;
        debug_assert!(self.pos <= self.end);
        self.prev = self.buf[self.pos - 1];
        self.offset += n as u64;
        if self.near_at.is_some_and(|at| at < self.offset) {
            self.near_misses += 1;
            self.near_at = None;
        }
        if self.limit < self.pos {
            self.limit = self.pos;
        }
    }

    /// Finds more data or a delimiter ahead; false at the end of the input.
    fn advance(&mut self) -> io::Result<bool> {
        loop {
            let line_start = self.prev == b'\n' || self.prev == b'\r';
            match self.find(line_start) {
                Found::Delimiter { body, delim } => {
                    self.limit = self.pos + body;
                    self.stop = Some(delim);
                    return Ok(true);
                }
                Found::Safe(n) if n > 0 => {
                    self.limit = self.pos + n;
                    return Ok(true);
                }
                Found::Safe(_) if self.eof => return Ok(false),
                Found::Safe(_) => self.refill()?,
            }
        }
    }

    /// Moves the unread bytes to the front and reads more after them.
    fn refill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.limit -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            // Cannot happen: an undecided line is shorter than LOOKAHEAD,
            // and CAP leaves IO_BUF more. Never read an empty slice (that
            // would look like the end of the input).
            return Err(io::Error::other("boundary scanner buffer full"));
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Scans `buf[pos..end]` for the first delimiter line.
    fn find(&mut self, line_start: bool) -> Found {
        let data = &self.buf[self.pos..self.end];
        if self.bounds.is_empty() {
            return Found::Safe(data.len());
        }
        let mut from = 0;
        while let Some(i) = self.finder.find(&data[from..]) {
            let h = from + i;
            let at_start = match h {
                0 => line_start,
                _ => matches!(data[h - 1], b'\n' | b'\r'),
            };
            if at_start {
                match classify(&data[h..], self.eof, &self.bounds) {
                    Line::Undecided => return Found::Safe(eol_start(data, h)),
                    Line::Delimiter { level, close, len } => {
                        let body = eol_start(data, h);
                        let bare_cr = h > 0 && data[h - 1] == b'\r';
                        let delim = Delimiter {
                            level,
                            close,
                            bare_cr,
                            lead: h - body,
                            len: h - body + len,
                        };
                        return Found::Delimiter { body, delim };
                    }
                    Line::Not { near: true } => {
                        let at = self.offset + h as u64;
                        self.near_at = Some(self.near_at.map_or(at, |n| n.min(at)));
                    }
                    Line::Not { near: false } => {}
                }
            }
            from = h + 1;
        }
        if self.eof {
            return Found::Safe(match self.trim_at_eof {
                true => eol_start(data, data.len()),
                false => data.len(),
            });
        }
        // Keep back a final line end, or line end and `-`: a delimiter may
        // follow, and the line end would then belong to it.
        let n = data.len();
        let keep_from = match data {
            [.., b'\n' | b'\r'] => n,
            [.., b'\n' | b'\r', b'-'] => n - 1,
            [b'-'] if line_start => 0,
            _ => return Found::Safe(n),
        };
        Found::Safe(eol_start(data, keep_from))
    }
}

/// Where the line end before position `h` starts (`h` itself when `h` is 0:
/// that line end was consumed with whatever preceded).
fn eol_start(data: &[u8], h: usize) -> usize {
    match &data[..h] {
        [.., b'\r', b'\n'] => h - 2,
        [.., b'\n' | b'\r'] => h - 1,
        _ => h,
    }
}

/// Whether `line` (a whole line, line end included or not) is a delimiter
/// of `boundary`: `Some(close)`.
pub(crate) fn delimiter_line(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    tail(rest, true).flatten().map(|(close, _)| close)
}

/// Classifies the line at the start of `line` (which starts with `--`)
/// against every open boundary, outermost first.
fn classify(line: &[u8], eof: bool, bounds: &[Vec<u8>]) -> Line {
    let line = &line[..line.len().min(LOOKAHEAD)];
    // A cut line is complete enough: nothing longer can be a delimiter.
    let complete = eof || line.len() == LOOKAHEAD;
    let rest = &line[2..];
    let mut near = false;
    let mut undecided = false;
    for (level, b) in bounds.iter().enumerate() {
        if rest.len() < b.len() {
            if !complete && b.starts_with(rest) {
                undecided = true;
            }
            continue;
        }
        if !rest.starts_with(b) {
            continue;
        }
        match tail(&rest[b.len()..], complete) {
            Some(Some((close, n))) if !undecided => {
                return Line::Delimiter {
                    level,
                    close,
                    len: 2 + b.len() + n,
                };
            }
            Some(Some(_)) | None => undecided = true,
            Some(None) => near = true,
        }
    }
    if undecided {
        Line::Undecided
    } else {
        Line::Not { near }
    }
}

/// Whether what follows a boundary on its line makes a delimiter:
/// `Some(Some((close, length)))` yes, `Some(None)` no, `None` when the line
/// is not complete yet.
fn tail(t: &[u8], complete: bool) -> Option<Option<(bool, usize)>> {
    let (close, mut i) = match t {
        [b'-', b'-', ..] => (true, 2),
        [b'-'] if !complete => return None,
        _ => (false, 0),
    };
    let pad_start = i;
    while i < t.len() && (t[i] == b' ' || t[i] == b'\t') {
        i += 1;
        if i - pad_start > MAX_BOUNDARY_PADDING {
            return Some(None);
        }
    }
    match &t[i..] {
        [] if complete => Some(Some((close, i))),
        [] => None,
        [b'\n', ..] => Some(Some((close, i + 1))),
        [b'\r', b'\n', ..] => Some(Some((close, i + 2))),
        [b'\r'] if !complete => None,
        [b'\r', ..] => Some(Some((close, i + 1))),
        _ => Some(None),
    }
}

/// The data of one part: reads the scanner up to the next delimiter.
pub(crate) struct PartReader<'a, R> {
    pub(crate) scanner: &'a mut Scanner<R>,
}

impl<R: Read> Read for PartReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::io::lines::read_buffered(self, out)
    }
}

impl<R: Read> BufRead for PartReader<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.scanner.fill()
    }

    fn consume(&mut self, n: usize) {
        self.scanner.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_lines_rfc2046_5_1_1() {
        let b = b"simple boundary";
        let table: &[(&[u8], Option<bool>)] = &[
            (b"--simple boundary\r\n", Some(false)),
            (b"--simple boundary\n", Some(false)),
            (b"--simple boundary\r", Some(false)),
            (b"--simple boundary", Some(false)),
            (b"--simple boundary \t \r\n", Some(false)),
            (b"--simple boundary--\r\n", Some(true)),
            (b"--simple boundary-- \r\n", Some(true)),
            (b"--simple boundary---\r\n", None),
            (b"--simple boundaryX\r\n", None),
            (b"--simple boundar\r\n", None),
            (b"-simple boundary\r\n", None),
            (b" --simple boundary\r\n", None),
        ];
        for (line, want) in table {
            assert_eq!(
                delimiter_line(line, b),
                *want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn outermost_boundary_wins_and_incomplete_lines_wait() {
        let bounds = vec![b"x--".to_vec(), b"x".to_vec()];
        assert_eq!(
            classify(b"--x--\n", false, &bounds),
            Line::Delimiter {
                level: 0,
                close: false,
                len: 6
            }
        );
        assert_eq!(
            classify(b"--x----\n", false, &bounds),
            Line::Delimiter {
                level: 0,
                close: true,
                len: 8
            }
        );
        assert_eq!(
            classify(b"--x\n", false, &bounds),
            Line::Delimiter {
                level: 1,
                close: false,
                len: 4
            }
        );
        // `--x-` may still become `--x--`: wait for more.
        assert_eq!(classify(b"--x-", false, &bounds), Line::Undecided);
        assert_eq!(classify(b"--x-", true, &bounds), Line::Not { near: true });
        assert_eq!(classify(b"--x\r", false, &bounds), Line::Undecided);
        assert_eq!(
            classify(b"--y\n", false, &bounds),
            Line::Not { near: false }
        );
    }

    #[test]
    fn line_end_before_a_delimiter() {
        assert_eq!(eol_start(b"ab\r\n--", 4), 2);
        assert_eq!(eol_start(b"ab\n--", 3), 2);
        assert_eq!(eol_start(b"ab\r--", 3), 2);
        assert_eq!(eol_start(b"--", 0), 0);
    }
}
