//! Bounded line reading over any `BufRead`.
//!
//! `BufRead::read_until` grows its buffer without limit, so a hostile input
//! with no newline would take all memory. [`read_line`] stops at a limit and
//! reports [`TooLong`] (as an `io::Error` of kind `InvalidData`), which
//! `io::exit_code` maps to exit 65 (data error).

use std::fmt;
use std::io::{self, BufRead};

/// A line exceeded the reader's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    /// The limit that was exceeded, in bytes.
    pub limit: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line longer than {} bytes", self.limit)
    }
}

impl std::error::Error for TooLong {}

/// `input.fill_buf()`, retried when a signal interrupts the read
/// (`ErrorKind::Interrupted`): the next buffered bytes, empty at the end of
/// input.
pub fn fill<R: BufRead + ?Sized>(input: &mut R) -> io::Result<&[u8]> {
    loop {
        match input.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
            // Not read twice at the end: a terminal would wait for more.
            Ok([]) => return Ok(&[]),
            Ok(_) => break,
        }
    }
    // Asked again to return the borrow: the bytes are buffered now, so this
    // second call does not read.
    input.fill_buf()
}

/// `Read::read` for a type that is a `BufRead` at heart: copies from its
/// buffer and consumes what was copied (one body for every such reader).
pub fn read_buffered<R: BufRead + ?Sized>(input: &mut R, out: &mut [u8]) -> io::Result<usize> {
    let data = input.fill_buf()?;
    let n = data.len().min(out.len());
    out[..n].copy_from_slice(&data[..n]);
    input.consume(n);
    Ok(n)
}

/// Appends the next line of `input`, terminator (LF) included, to `buf`.
///
/// Returns the number of bytes appended: 0 at end of input; a final line
/// without LF is returned as is. A line longer than `max` bytes (terminator
/// included) is an error, and at most `max` bytes are appended before it.
pub fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    read_bounded(input, buf, max, max)
}

/// Appends the next line of `input` to `buf` as [`read_line`] does, but
/// bounds the whole of `buf`: a line that would make `buf` longer than
/// `max` bytes is an error reporting `max` (for a logical line read in
/// pieces, such as a folded header field). `buf` may already exceed `max`.
pub fn append_line(input: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    let room = max.saturating_sub(buf.len());
    read_bounded(input, buf, room, max)
}

/// [`read_line`] appending at most `room` bytes, reporting `limit` when the
/// line is longer.
fn read_bounded(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    room: usize,
    limit: usize,
) -> io::Result<usize> {
    let mut n = 0;
    loop {
        let chunk = fill(input)?;
        if chunk.is_empty() {
            return Ok(n);
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if n + take > room {
            let left = room - n;
            buf.extend_from_slice(&chunk[..left]);
            input.consume(left);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TooLong { limit },
            ));
        }
        buf.extend_from_slice(&chunk[..take]);
        input.consume(take);
        n += take;
        if done {
            return Ok(n);
        }
    }
}

/// Strips one trailing LF or CRLF from `line`.
pub fn trim_eol(line: &[u8]) -> &[u8] {
    match line.strip_suffix(b"\n") {
        Some(l) => l.strip_suffix(b"\r").unwrap_or(l),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Result<Vec<u8>, ()>> {
        let mut r = io::BufReader::with_capacity(3, input);
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            match read_line(&mut r, &mut buf, max) {
                Ok(0) => return out,
                Ok(_) => out.push(Ok(buf)),
                Err(_) => {
                    out.push(Err(()));
                    return out;
                }
            }
        }
    }

    #[test]
    fn splits_on_lf_keeping_terminators() {
        assert_eq!(
            lines(b"ab\r\ncd\nlast", 100),
            vec![
                Ok(b"ab\r\n".to_vec()),
                Ok(b"cd\n".to_vec()),
                Ok(b"last".to_vec())
            ]
        );
        assert_eq!(lines(b"", 100), vec![]);
    }

    #[test]
    fn limit_counts_the_terminator() {
        assert_eq!(lines(b"abcd\n", 5), vec![Ok(b"abcd\n".to_vec())]);
        assert_eq!(lines(b"abcde\n", 5), vec![Err(())]);
        let mut r = &b"abcdefgh"[..];
        let mut buf = Vec::new();
        let err = read_line(&mut r, &mut buf, 4).unwrap_err();
        assert_eq!(buf, b"abcd");
        assert_eq!(
            err.get_ref().unwrap().downcast_ref::<TooLong>(),
            Some(&TooLong { limit: 4 })
        );
    }

    /// A reader whose every other call is interrupted by a signal.
    struct Interrupting<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl io::Read for Interrupting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len()).min(2);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn bug_eintr_retry_lives_in_one_place() {
        let r = Interrupting {
            data: b"ab\ncd",
            interrupt: false,
        };
        let mut r = io::BufReader::with_capacity(4, r);
        assert_eq!(fill(&mut r).unwrap(), b"ab");
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 10).unwrap(), 3);
        assert_eq!(read_line(&mut r, &mut buf, 10).unwrap(), 2);
        assert_eq!(buf, b"ab\ncd");
        assert!(fill(&mut r).unwrap().is_empty());
    }

    #[test]
    fn bug_continuation_reports_the_whole_limit() {
        let mut r = &b"cd\nmore"[..];
        let mut buf = b"ab".to_vec();
        assert_eq!(append_line(&mut r, &mut buf, 5).unwrap(), 3);
        assert_eq!(buf, b"abcd\n");
        let err = append_line(&mut r, &mut buf, 6).unwrap_err();
        assert_eq!(buf, b"abcd\nm");
        assert_eq!(
            err.get_ref().unwrap().downcast_ref::<TooLong>(),
            Some(&TooLong { limit: 6 })
        );
    }

    #[test]
    fn trims_either_line_end() {
        assert_eq!(trim_eol(b"a\r\n"), b"a");
        assert_eq!(trim_eol(b"a\n"), b"a");
        assert_eq!(trim_eol(b"a\r"), b"a\r");
        assert_eq!(trim_eol(b"a"), b"a");
    }
}
