//! Scanning message text once, in chunks: 8-bit bytes (BODY=8BITMIME, RFC
//! 6152), the size on the wire (SIZE=, RFC 1870), lines over 998 octets
//! (RFC 5321 §4.5.3.1.6) and sendmail's end-of-input `.` line.

/// Longest line of message text, CRLF excluded (RFC 5321 §4.5.3.1.6: 1000
/// with CRLF; RFC 5322 §2.1.1: 998).
pub const MAX_TEXT_LINE: u64 = crate::limits::SMTP_MAX_TEXT_LINE as u64 - 2;

/// What a scan of message text found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Bytes of input that belong to the message.
    pub len: u64,
    /// Size on the wire: every line end CRLF, a final CRLF added when
    /// missing; not counting dot-stuffing or the end marker (RFC 1870 §3).
    pub wire: u64,
    /// Whether a byte ≥ 0x80 occurs (needs BODY=8BITMIME, RFC 6152).
    pub eight_bit: bool,
    /// Whether the text ends with a line end (or is empty).
    pub ends_with_newline: bool,
    /// The first line over [`MAX_TEXT_LINE`] octets, when they are let
    /// through (`--downgrade` re-encodes them).
    pub long_line: Option<u64>,
    /// Whether a NUL octet occurs (RFC 5322 §2.3 and RFC 6152 §3: mail
    /// text holds none; only binary MIME may).
    pub nul: bool,
    /// Whether a CR not followed by LF occurs (sent as CRLF: the text on
    /// the wire then differs from the text here, which matters to a DKIM
    /// signature made here).
    pub bare_cr: bool,
}

/// A line over [`MAX_TEXT_LINE`] octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongLine {
    /// The line's number, counted from 1.
    pub line: u64,
}

/// Streaming scanner behind [`Scan`]; state carries across chunks.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    /// sendmail mode: a line that is a single `.` ends the message.
    dot_ends: bool,
    /// `--downgrade`: over-long lines are noted, not refused.
    pub(crate) allow_long: bool,
    long_line: Option<u64>,
    pos: u64,
    line_start: u64,
    line_no: u64,
    /// The last two bytes fed (for lines that straddle chunks).
    tail: [u8; 2],
    lf: u64,
    cr: u64,
    crlf: u64,
    eight_bit: bool,
    nul: bool,
    last: Option<u8>,
    ended: bool,
}

impl Scanner {
    pub(crate) fn new(dot_ends: bool) -> Scanner {
        Scanner {
            dot_ends,
            line_no: 1,
            ..Scanner::default()
        }
    }

    /// The byte at absolute offset `at`, which is in `chunk` or among the
    /// last two bytes before it.
    fn byte_at(&self, chunk: &[u8], at: u64) -> u8 {
        if at >= self.pos {
            chunk[(at - self.pos) as usize]
        } else {
            self.tail[(at + 2 - self.pos) as usize]
        }
    }

    /// Feeds the next bytes. Returns `Some(n)` when the message ends inside
    /// `chunk` (a `.` line in sendmail mode): only the first `n` bytes (and
    /// perhaps fewer of the earlier input: see [`Scanner::len`]) belong to it.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Option<usize>, LongLine> {
        if self.ended {
            return Ok(Some(0));
        }
        for i in memchr::memchr_iter(b'\n', chunk) {
            let at = self.pos + i as u64;
            let had_cr = if i > 0 {
                chunk[i - 1] == b'\r'
            } else {
                self.last == Some(b'\r')
            };
            let raw = at - self.line_start;
            let len = raw - u64::from(had_cr);
            if len > MAX_TEXT_LINE {
                self.long(self.line_no)?;
            }
            if self.dot_ends && len == 1 && self.byte_at(chunk, self.line_start) == b'.' {
                // The message ends before this line: undo what this
                // chunk's count would add for it.
                let upto = &chunk[..i];
                self.count(upto);
                if had_cr {
                    self.cr -= 1;
                }
                self.ended = true;
                let cut = self.line_start;
                let in_chunk = cut.saturating_sub(self.pos) as usize;
                self.pos = cut;
                self.last = if cut == 0 { None } else { Some(b'\n') };
                return Ok(Some(in_chunk));
            }
            self.lf += 1;
            if had_cr {
                self.crlf += 1;
            }
            self.line_start = at + 1;
            self.line_no += 1;
        }
        let end = self.pos + chunk.len() as u64;
        // A line still open: refuse it as soon as it is too long, without
        // waiting for its end (which may be gigabytes away).
        if end - self.line_start > MAX_TEXT_LINE + 1 {
            self.long(self.line_no)?;
        }
        self.count(chunk);
        if let Some(&b) = chunk.last() {
            self.last = Some(b);
        }
        match chunk.len() {
            0 => {}
            1 => self.tail = [self.tail[1], chunk[0]],
            n => self.tail = [chunk[n - 2], chunk[n - 1]],
        }
        self.pos = end;
        Ok(None)
    }

    /// Line `line` is over [`MAX_TEXT_LINE`]: refused, or noted when
    /// allowed.
    fn long(&mut self, line: u64) -> Result<(), LongLine> {
        if !self.allow_long {
            return Err(LongLine { line });
        }
        self.long_line.get_or_insert(line);
        Ok(())
    }

    fn count(&mut self, bytes: &[u8]) {
        self.cr += memchr::memchr_iter(b'\r', bytes).count() as u64;
        if !self.eight_bit && !bytes.is_ascii() {
            self.eight_bit = true;
        }
        if !self.nul && memchr::memchr(0, bytes).is_some() {
            self.nul = true;
        }
    }

    /// Ends the scan (at the end of input or after a `.` line).
    pub(crate) fn finish(&mut self) -> Result<Scan, LongLine> {
        if !self.ended {
            let raw = self.pos - self.line_start;
            let had_cr = self.last == Some(b'\r') && raw > 0;
            let open = raw - u64::from(had_cr);
            if open > MAX_TEXT_LINE {
                self.long(self.line_no)?;
            }
            if self.dot_ends && open == 1 && self.tail[(2 - raw) as usize] == b'.' {
                // A final "." without a line end also ends the message.
                if had_cr {
                    self.cr -= 1;
                }
                let cut = self.line_start;
                self.pos = cut;
                self.last = if cut == 0 { None } else { Some(b'\n') };
                self.ended = true;
            }
        }
        let ends_with_newline = matches!(self.last, None | Some(b'\n' | b'\r'));
        let bare_lf = self.lf - self.crlf;
        let bare_cr = self.cr - self.crlf;
        let final_crlf = if ends_with_newline { 0 } else { 2 };
        Ok(Scan {
            len: self.pos,
            wire: self.pos + bare_lf + bare_cr + final_crlf,
            eight_bit: self.eight_bit,
            ends_with_newline,
            long_line: self.long_line,
            nul: self.nul,
            bare_cr: bare_cr > 0,
        })
    }
}

/// Scans `text` in one piece (for a header we built).
pub(crate) fn scan_bytes(text: &[u8]) -> Result<Scan, LongLine> {
    let mut s = Scanner::new(false);
    s.feed(text)?;
    s.finish()
}

// ---------------------------------------------------------------------------
