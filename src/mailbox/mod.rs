//! Mailboxes: mbox files and Maildir folders, each read and written in
//! one place: [`mbox`] (the mboxrd reader and writer), [`maildir`] (its
//! message files, and the names a delivery gives them). Here: what a file
//! operand is ([`kind`]) and the messages of `smtp-send --each` operands,
//! one at a time ([`each`]).
//!
//! This layer sits beside `message` and below `smtp`: it imports neither
//! (a sender is a plain string here).

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::limits::IO_BUF;

pub mod maildir;
pub mod mbox;

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
        reader: mbox::MboxReader<BufReader<File>>,
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
                                    reader: mbox::MboxReader::new(BufReader::with_capacity(
                                        IO_BUF, f,
                                    )),
                                })
                            }
                            Err(e) => return Some((name.clone(), Err(e))),
                        },
                        Ok(Kind::Maildir) => match maildir::files(path) {
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
        let files: Vec<String> = maildir::files(&d.join("md"))
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
}
