//! The mbox format in its "mboxrd" variant (RFC 4155 describes the
//! family), read and written.
//!
//! Writing: each message starts with a `From ` line (`from_line`), body
//! lines matching `^>*From ` get one more `>` (`Quote`), and a blank line
//! follows each message.
//!
//! Reading ([`MboxReader`]): every line that starts with `From ` begins a
//! message (the "From_" line, not part of it); lines matching `^>+From `
//! lose one `>` (what the writer added: reversible); the empty line before
//! the next From_ line (or at the end) is the separator the writer added,
//! not message text. An mboxo file (only `From ` quoted, as `>From `) reads
//! the same way, except that a body line that really was `>From ` comes back
//! as `From `: mboxo cannot tell them apart. Lines are read in bounded
//! pieces (`LINE_PEEK`): a longer line is passed through, only its start
//! is looked at.

use std::io::{self, BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// The From_ line: `From sender@domain Thu Nov 26 19:31:32 2026` + LF
/// (C `asctime` form in UTC, the day padded to two columns with a space).
/// The null sender (`None`) is `MAILER-DAEMON` (as Postfix and sendmail
/// write it); white space and control characters in the address (a quoted
/// local part may hold spaces) become `_` so the line still parses as
/// "From ADDRESS DATE".
pub(crate) fn from_line(sender: Option<&str>, now: SystemTime) -> Vec<u8> {
    let addr = match sender {
        None => "MAILER-DAEMON".to_owned(),
        Some(a) => a.replace(|c: char| c.is_whitespace() || c.is_control(), "_"),
    };
    // Beyond jiff's range (years -9999 to 9999): its nearest end.
    let t = jiff::Timestamp::try_from(now).unwrap_or(if now < UNIX_EPOCH {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    format!("From {addr} {}\n", t.strftime("%a %b %e %H:%M:%S %Y")).into_bytes()
}

const FROM: &[u8; 5] = b"From ";

/// Streaming mboxrd quoting of a message with LF line ends. Constant
/// memory: a held-back line prefix `>>>From` is kept as counts, not bytes.
#[derive(Debug, Clone)]
pub(crate) struct Quote {
    /// At a line start, deciding whether the line matches `^>*From `.
    in_prefix: bool,
    /// `>` characters held back at this line start.
    gts: u64,
    /// Octets of `From ` matched after them.
    matched: usize,
    /// The last octet of the message so far (LF when empty).
    last: u8,
}

impl Default for Quote {
    fn default() -> Quote {
        Quote {
            in_prefix: true,
            gts: 0,
            matched: 0,
            last: b'\n',
        }
    }
}

impl Quote {
    fn held(&self) -> bool {
        self.gts > 0 || self.matched > 0
    }

    fn release(&mut self, w: &mut impl Write, quote: bool) -> io::Result<()> {
        if quote {
            w.write_all(b">")?;
        }
        for _ in 0..self.gts {
            w.write_all(b">")?;
        }
        w.write_all(&FROM[..self.matched])?;
        self.gts = 0;
        self.matched = 0;
        Ok(())
    }

    /// Writes `buf` to `w` with From_ quoting.
    pub(crate) fn write(&mut self, buf: &[u8], w: &mut impl Write) -> io::Result<()> {
        let Some(&last) = buf.last() else {
            return Ok(());
        };
        self.last = last;
        let mut i = 0;
        let mut run = 0;
        while i < buf.len() {
            if self.in_prefix {
                let b = buf[i];
                let gt = self.matched == 0 && b == b'>';
                if gt || b == FROM[self.matched] {
                    if !self.held() {
                        w.write_all(&buf[run..i])?;
                    }
                    if gt {
                        self.gts += 1;
                    } else {
                        self.matched += 1;
                    }
                    i += 1;
                    run = i;
                    if self.matched == FROM.len() {
                        self.release(w, true)?;
                        self.in_prefix = false;
                    }
                    continue;
                }
                if self.held() {
                    self.release(w, false)?;
                }
                self.in_prefix = false;
            }
            match memchr::memchr(b'\n', &buf[i..]) {
                Some(k) => {
                    i += k + 1;
                    self.in_prefix = true;
                }
                None => i = buf.len(),
            }
        }
        w.write_all(&buf[run..i])
    }

    /// Ends the message: releases a held prefix, adds a final LF if the
    /// message lacks one, then the blank separator line.
    pub(crate) fn finish(&mut self, w: &mut impl Write) -> io::Result<()> {
        if self.held() {
            self.release(w, false)?;
        }
        if self.last != b'\n' {
            w.write_all(b"\n")?;
        }
        *self = Quote::default();
        w.write_all(b"\n")
    }
}

/// [`limits::MBOX_LINE_PEEK`](crate::limits::MBOX_LINE_PEEK).
const LINE_PEEK: usize = crate::limits::MBOX_LINE_PEEK;

/// Reads an mbox one message at a time, streaming.
#[derive(Debug)]
pub struct MboxReader<R> {
    input: R,
    /// Whether the From_ line that starts the next message was read.
    next_from: bool,
    done: bool,
}

/// The state of one message's copy.
struct Copy {
    /// An empty line held back: it is the separator if a From_ line or the
    /// end follows.
    held_blank: Option<&'static [u8]>,
}

impl Copy {
    fn release(&mut self, out: &mut impl Write) -> io::Result<()> {
        if let Some(b) = self.held_blank.take() {
            out.write_all(b)?;
        }
        Ok(())
    }
}

impl<R: BufRead> MboxReader<R> {
    /// A reader of the mbox `input`.
    pub fn new(input: R) -> MboxReader<R> {
        MboxReader {
            input,
            next_from: false,
            done: false,
        }
    }

    /// Reads the start of a line: up to its LF or [`LINE_PEEK`] bytes.
    /// Returns the bytes and whether the line is complete.
    fn peek_line(&mut self, line: &mut Vec<u8>) -> io::Result<bool> {
        line.clear();
        loop {
            let buf = crate::io::lines::fill(&mut self.input)?;
            if buf.is_empty() {
                return Ok(true);
            }
            let room = LINE_PEEK - line.len();
            let (take, complete) = match memchr::memchr(b'\n', &buf[..buf.len().min(room)]) {
                Some(i) => (i + 1, true),
                None => (buf.len().min(room), false),
            };
            line.extend_from_slice(&buf[..take]);
            self.input.consume(take);
            if complete || line.len() >= LINE_PEEK {
                return Ok(complete);
            }
        }
    }

    /// Copies the rest of an over-long line (after its first
    /// [`LINE_PEEK`] bytes) to `out` (`None`: skips it).
    fn rest_of_line(&mut self, mut out: Option<&mut dyn Write>) -> io::Result<()> {
        loop {
            let buf = crate::io::lines::fill(&mut self.input)?;
            if buf.is_empty() {
                return Ok(());
            }
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if let Some(o) = out.as_mut() {
                o.write_all(&buf[..take])?;
            }
            self.input.consume(take);
            if done {
                return Ok(());
            }
        }
    }

    /// Writes the next message to `out` (unquoted, without its From_ line
    /// and separator); `false` at the end of the mbox. Text before the
    /// first From_ line is skipped.
    pub fn next_message(&mut self, out: &mut impl Write) -> io::Result<bool> {
        let mut line = Vec::with_capacity(256);
        // Find the From_ line.
        while !std::mem::take(&mut self.next_from) {
            if self.done {
                return Ok(false);
            }
            let complete = self.peek_line(&mut line)?;
            if line.is_empty() {
                self.done = true;
                return Ok(false);
            }
            if !complete {
                self.rest_of_line(None)?;
            }
            self.next_from = line.starts_with(b"From ");
        }
        let mut copy = Copy { held_blank: None };
        loop {
            let complete = self.peek_line(&mut line)?;
            if line.is_empty() {
                self.done = true;
                break;
            }
            if line.starts_with(b"From ") {
                if !complete {
                    self.rest_of_line(None)?;
                }
                self.next_from = true;
                break;
            }
            if complete && (line == b"\n" || line == b"\r\n") {
                copy.release(out)?;
                copy.held_blank = Some(if line.len() == 1 { b"\n" } else { b"\r\n" });
                continue;
            }
            copy.release(out)?;
            let gts = line.iter().take_while(|&&b| b == b'>').count();
            if gts > 0 && line[gts..].starts_with(b"From ") {
                out.write_all(&line[1..])?;
            } else {
                out.write_all(&line)?;
            }
            if !complete {
                self.rest_of_line(Some(out))?;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
