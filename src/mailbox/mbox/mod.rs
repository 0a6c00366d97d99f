//! The mbox format in its "mboxrd" variant (RFC 4155 describes the family):
//! each message starts with a `From ` line, body lines matching `^>*From `
//! get one more `>` (reversible: readers remove one), and a blank line
//! follows each message.

use std::io::{self, Write};
use std::time::SystemTime;

use crate::smtp::envelope::ReversePath;

use crate::smtp::trace;

/// The From_ line: `From sender@domain Thu Nov 26 19:31:32 2026` + LF
/// (asctime in UTC). The null sender is `MAILER-DAEMON` (as Postfix and
/// sendmail write it); white space and control characters in the address
/// (a quoted local part may hold spaces) become `_` so the line still
/// parses as "From ADDRESS DATE".
pub(crate) fn from_line(sender: &ReversePath, now: SystemTime) -> Vec<u8> {
    let addr = match sender {
        ReversePath::Null => "MAILER-DAEMON".to_owned(),
        ReversePath::Mailbox(m) => m
            .to_string()
            .replace(|c: char| c.is_whitespace() || c.is_control(), "_"),
    };
    format!("From {addr} {}\n", trace::asctime(now)).into_bytes()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::envelope::Mailbox;
    use std::time::{Duration, UNIX_EPOCH};

    fn quote(input: &[u8], split: usize) -> Vec<u8> {
        let mut q = Quote::default();
        let mut out = Vec::new();
        for part in input.chunks(split.max(1)) {
            q.write(part, &mut out).unwrap();
        }
        q.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn mboxrd_quoting() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b"\n"),
            (b"From x\n", b">From x\n\n"),
            (b">From x\n", b">>From x\n\n"),
            (b">>>From x\n", b">>>>From x\n\n"),
            (
                b"a\nFrom \nFrom\n>From\n> From \nFro",
                b"a\n>From \nFrom\n>From\n> From \nFro\n\n",
            ),
            (b"x From y\n From z\n", b"x From y\n From z\n\n"),
            (b"FromFrom \n>F\n>>\n", b"FromFrom \n>F\n>>\n\n"),
            (b"no newline", b"no newline\n\n"),
            (b"From ", b">From \n\n"),
            (b">>", b">>\n\n"),
            (b"\n\nFrom a\n", b"\n\n>From a\n\n"),
        ];
        for (input, want) in cases {
            for split in [1, 2, 3, 5, 7, 100] {
                assert_eq!(
                    String::from_utf8_lossy(&quote(input, split)),
                    String::from_utf8_lossy(want),
                    "{:?} split {split}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    /// Unquoting (remove one `>` from `^>+From `) gives the input back.
    #[test]
    fn reversible() {
        let mut seed = 7u64;
        for _ in 0..300 {
            let mut msg = Vec::new();
            for _ in 0..20 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let piece: &[u8] =
                    [&b"From "[..], b">", b"\n", b"F", b"x", b"rom "][(seed % 6) as usize];
                msg.extend_from_slice(piece);
            }
            msg.push(b'\n');
            let q = quote(&msg, (seed % 9) as usize);
            let body = &q[..q.len() - 1];
            let mut back = Vec::new();
            for line in body.split_inclusive(|&b| b == b'\n') {
                let gts = line.iter().take_while(|&&b| b == b'>').count();
                if gts > 0 && line[gts..].starts_with(b"From ") {
                    back.extend_from_slice(&line[1..]);
                } else {
                    back.extend_from_slice(line);
                }
            }
            assert_eq!(back, msg);
        }
    }

    #[test]
    fn from_lines() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_721_492);
        assert_eq!(
            from_line(&ReversePath::Null, t),
            b"From MAILER-DAEMON Thu Nov 26 19:31:32 2026\n"
        );
        let m = ReversePath::Mailbox(Mailbox {
            local: "\"a b\"".into(),
            domain: "x.example".into(),
        });
        assert_eq!(
            from_line(&m, t),
            b"From \"a_b\"@x.example Thu Nov 26 19:31:32 2026\n"
        );
    }
}
