//! Reading mailboxes: mbox files and Maildir folders, one message at a
//! time (what `smtp-send --each` takes besides single message files).
//!
//! # mbox (RFC 4155)
//!
//! Every line that starts with `From ` begins a message (the "From_"
//! line, not part of it); lines matching `^>+From ` lose one `>` (mboxrd,
//! the quoting our own writer in `store` applies: reversible); the empty
//! line before the next From_ line (or at the end) is the separator the
//! writer added, not message text. An mboxo file (only `From ` quoted, as
//! `>From `) reads the same way, except that a body line that really was
//! `>From ` comes back as `From `: mboxo cannot tell them apart.
//! Lines are read in bounded pieces ([`LINE_PEEK`]): a longer line is
//! passed through, only its start is looked at.
//!
//! # Maildir
//!
//! The files of `cur/` then `new/` (never `tmp/`: those are still being
//! written), each sorted by name (which starts with the delivery time),
//! dot-files skipped.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::limits::IO_BUF;

pub mod maildir;
pub mod mbox;

/// [`limits::MBOX_LINE_PEEK`](crate::limits::MBOX_LINE_PEEK).
pub const LINE_PEEK: usize = crate::limits::MBOX_LINE_PEEK;

/// What a file operand is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One message.
    Message,
    /// An mbox file: starts with `From `.
    Mbox,
    /// A directory with `cur/` or `new/`.
    Maildir,
}

/// Finds what `path` is: a directory with `cur/` or `new/` is a Maildir
/// (another directory is an error), a file whose first bytes are `From `
/// an mbox, anything else one message.
pub fn kind(path: &Path) -> io::Result<Kind> {
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        if path.join("cur").is_dir() || path.join("new").is_dir() {
            return Ok(Kind::Maildir);
        }
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory (not a Maildir: no cur/ or new/)",
        ));
    }
    let mut head = [0u8; 5];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(if &head[..n] == b"From " {
        Kind::Mbox
    } else {
        Kind::Message
    })
}

/// The message files of a Maildir: `cur/` then `new/`, each by name.
pub fn maildir_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        let d = dir.join(sub);
        let rd = match fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for ent in rd {
            let ent = ent?;
            if ent.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            if ent.file_type()?.is_dir() {
                continue;
            }
            files.push(ent.path());
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

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

/// The messages of `--each` operands: a file is one message, an mbox file
/// gives each of its messages (named `FILE:N`, N from 1), a Maildir each of
/// its files. Each message comes as a file at its start: the file itself,
/// or for an mbox message an unlinked temporary copy in `$TMPDIR` (so a
/// message of any size is read in place, and one at a time).
pub fn each(operands: &[String]) -> impl Iterator<Item = (String, io::Result<File>)> + '_ {
    Each {
        operands: operands.iter(),
        current: None,
    }
}

enum Current {
    Mbox {
        name: String,
        n: usize,
        reader: MboxReader<BufReader<File>>,
    },
    Maildir(std::vec::IntoIter<PathBuf>),
}

struct Each<'a> {
    operands: std::slice::Iter<'a, String>,
    current: Option<Current>,
}

impl Iterator for Each<'_> {
    type Item = (String, io::Result<File>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match &mut self.current {
                Some(Current::Mbox { name, n, reader }) => {
                    let spool = (|| {
                        let mut f = crate::io::temp::unlinked_temp(&std::env::temp_dir())?;
                        let mut w = io::BufWriter::with_capacity(IO_BUF, &mut f);
                        let more = reader.next_message(&mut w)?;
                        w.flush()?;
                        drop(w);
                        f.seek(SeekFrom::Start(0))?;
                        Ok(more.then_some(f))
                    })();
                    *n += 1;
                    let label = format!("{name}:{n}");
                    match spool {
                        Ok(Some(f)) => return Some((label, Ok(f))),
                        Ok(None) => self.current = None,
                        Err(e) => {
                            self.current = None;
                            return Some((label, Err(e)));
                        }
                    }
                }
                Some(Current::Maildir(files)) => match files.next() {
                    Some(p) => {
                        let f = File::open(&p);
                        return Some((p.display().to_string(), f));
                    }
                    None => self.current = None,
                },
                None => {
                    let name = self.operands.next()?;
                    let path = Path::new(name);
                    match kind(path) {
                        Err(e) => return Some((name.clone(), Err(e))),
                        Ok(Kind::Message) => return Some((name.clone(), File::open(path))),
                        Ok(Kind::Mbox) => match File::open(path) {
                            Ok(f) => {
                                self.current = Some(Current::Mbox {
                                    name: name.clone(),
                                    n: 0,
                                    reader: MboxReader::new(BufReader::with_capacity(IO_BUF, f)),
                                })
                            }
                            Err(e) => return Some((name.clone(), Err(e))),
                        },
                        Ok(Kind::Maildir) => match maildir_files(path) {
                            Ok(files) => self.current = Some(Current::Maildir(files.into_iter())),
                            Err(e) => return Some((name.clone(), Err(e))),
                        },
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(mbox: &[u8], chunk: usize) -> Vec<String> {
        let input = BufReader::with_capacity(chunk.max(1), mbox);
        let mut r = MboxReader::new(input);
        let mut out = Vec::new();
        loop {
            let mut text = Vec::new();
            if !r.next_message(&mut text).unwrap() {
                return out;
            }
            out.push(String::from_utf8_lossy(&text).into_owned());
        }
    }

    #[test]
    fn mboxrd_reading() {
        let mbox = b"From a@x Thu Nov 26 19:31:32 2026\n\
            Subject: 1\n\n>From here\n>>From there\n> From not\nFrom\n\n\
            From b@x Thu Nov 26 19:31:33 2026\n\
            Subject: 2\n\nends with a blank line\n\n\n\
            From MAILER-DAEMON Thu Nov 26 19:31:34 2026\n\
            Subject: 3\n\nlast, no separator\n";
        let want = [
            "Subject: 1\n\nFrom here\n>From there\n> From not\nFrom\n",
            "Subject: 2\n\nends with a blank line\n\n",
            "Subject: 3\n\nlast, no separator\n",
        ];
        for chunk in [1, 2, 3, 7, 64, 8192] {
            assert_eq!(messages(mbox, chunk), want, "chunk {chunk}");
        }
    }

    #[test]
    fn edge_cases() {
        assert!(messages(b"", 8).is_empty());
        assert!(messages(b"not an mbox\n", 8).is_empty());
        // CRLF mbox, an empty message, no final LF.
        let got = messages(b"From a\r\nx\r\n\r\nFrom b\r\nFrom c\nlast", 3);
        assert_eq!(got, ["x\r\n", "", "last"]);
        // A line far over LINE_PEEK: passed through whole; an over-long
        // From_ line is skipped whole.
        let long = "y".repeat(3 * LINE_PEEK);
        let mbox = format!("From {long}\n>From {long}\n{long}\nFrom b\nz\n");
        let got = messages(mbox.as_bytes(), 100);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], format!("From {long}\n{long}\n"));
        assert_eq!(got[1], "z\n");
    }

    /// What the store's mboxrd writer quotes, this reader gives back.
    #[test]
    fn round_trip_with_the_writer_rules() {
        let bodies = [
            "a\nFrom x\n>From y\n>>From z\n\n",
            "no final newline",
            "\n\nFrom \n",
            ">>>From deep\nFromage\n",
        ];
        let mut mbox = Vec::new();
        for b in bodies {
            mbox.extend_from_slice(b"From s@x Thu Nov 26 19:31:32 2026\n");
            for line in b.split_inclusive('\n') {
                let gts = line.bytes().take_while(|&c| c == b'>').count();
                if line[gts..].starts_with("From ") {
                    mbox.push(b'>');
                }
                mbox.extend_from_slice(line.as_bytes());
            }
            if !b.ends_with('\n') {
                mbox.push(b'\n');
            }
            mbox.push(b'\n');
        }
        let got = messages(&mbox, 5);
        for (b, text) in bodies.iter().zip(&got) {
            let want = if b.ends_with('\n') {
                b.to_string()
            } else {
                format!("{b}\n")
            };
            assert_eq!(text, &want);
        }
        assert_eq!(got.len(), bodies.len());
    }

    #[test]
    fn kinds_and_maildirs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("m.eml"), b"Subject: x\n\n").unwrap();
        fs::write(d.join("box"), b"From a\nx\n").unwrap();
        fs::write(d.join("short"), b"Fro").unwrap();
        fs::create_dir_all(d.join("md/cur")).unwrap();
        fs::create_dir_all(d.join("md/new")).unwrap();
        fs::create_dir_all(d.join("md/tmp")).unwrap();
        fs::create_dir_all(d.join("plain")).unwrap();
        for (p, t) in [
            ("md/new/2.b", "2"),
            ("md/new/1.a", "1"),
            ("md/cur/3.c:2,S", "3"),
            ("md/cur/.hidden", "h"),
            ("md/tmp/4.d", "4"),
        ] {
            fs::write(d.join(p), t).unwrap();
        }
        assert_eq!(kind(&d.join("m.eml")).unwrap(), Kind::Message);
        assert_eq!(kind(&d.join("short")).unwrap(), Kind::Message);
        assert_eq!(kind(&d.join("box")).unwrap(), Kind::Mbox);
        assert_eq!(kind(&d.join("md")).unwrap(), Kind::Maildir);
        assert!(kind(&d.join("plain")).is_err());
        assert!(kind(&d.join("none")).is_err());
        let files: Vec<String> = maildir_files(&d.join("md"))
            .unwrap()
            .iter()
            .map(|p| fs::read_to_string(p).unwrap())
            .collect();
        assert_eq!(files, ["3", "1", "2"]);
        let ops: Vec<String> = ["m.eml", "box", "md", "none"]
            .iter()
            .map(|n| d.join(n).display().to_string())
            .collect();
        let got: Vec<(String, bool)> = each(&ops)
            .map(|(n, f)| (n.rsplit('/').next().unwrap().to_owned(), f.is_ok()))
            .collect();
        let names: Vec<&str> = got.iter().map(|(n, _)| &n[..]).collect();
        assert_eq!(names, ["m.eml", "box:1", "3.c:2,S", "1.a", "2.b", "none"]);
        assert_eq!(got.iter().filter(|(_, ok)| !ok).count(), 1);
    }

    proptest::proptest! {
        /// What an mboxrd writer with the store's rules writes, this reader
        /// gives back: each message byte for byte (plus the LF the writer adds
        /// to a message without one), in any read chunking.
        #[test]
        fn round_trip_any_message(
            msgs in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec!["From ", ">", "\n", "\r\n", "x", " ", "F"]),
                    0..40,
                ),
                1..4,
            ),
            chunk in 1usize..50,
        ) {
            let msgs: Vec<String> = msgs.iter().map(|m| m.concat()).collect();
            let mut mbox = Vec::new();
            for m in &msgs {
                mbox.extend_from_slice(b"From s@x Thu Nov 26 19:31:32 2026\n");
                // store::mbox's rules (its writer is private there).
                for line in m.split_inclusive('\n') {
                    let gts = line.bytes().take_while(|&c| c == b'>').count();
                    if line[gts..].starts_with("From ") {
                        mbox.push(b'>');
                    }
                    mbox.extend_from_slice(line.as_bytes());
                }
                if !m.is_empty() && !m.ends_with('\n') {
                    mbox.push(b'\n');
                }
                mbox.push(b'\n');
            }
            let got = messages(&mbox, chunk);
            proptest::prop_assert_eq!(got.len(), msgs.len());
            for (m, text) in msgs.iter().zip(&got) {
                let want = if m.is_empty() || m.ends_with('\n') {
                    m.clone()
                } else {
                    format!("{m}\n")
                };
                proptest::prop_assert_eq!(text, &want);
            }
        }
    }
}
