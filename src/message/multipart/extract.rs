//! Extracting parts into files (`mime-unpack -x`): all or nothing, never
//! overwriting.
//!
//! Each part is decoded as it streams by into a temporary file in the
//! target directory (`.mime-unpack-PID-N`, created exclusively, mode
//! 0600). Only when the whole message has been walked without error are
//! the files given their names, in document order: each name is taken
//! with `link(2)` (which fails rather than replace an existing file), then
//! the temporary name is removed; where the file system has no hard links,
//! with `rename(2)` and `RENAME_NOREPLACE`, which fails the same way. A
//! taken name gets a number before its extension (`report.pdf`,
//! `report-1.pdf`, `report-2.pdf`, …); the run remembers, per name, the
//! number to try next, so a thousand parts of one name cost a thousand
//! links, not half a million (the links still fail on any file that was
//! there before, which is then skipped). On any
//! error, every temporary file is removed and names already given in this
//! run are taken back, so a failed run leaves the directory as it was.
//! Files are not synced to disk (this is not a mail store).
//!
//! An attached message (a message/rfc822 part with the disposition
//! `attachment` or a file name) is saved whole, as mail clients save it
//! (`part-2.eml` when it has no name), and not walked into; with `all`
//! (`-x -a`, every leaf part) its leaves are extracted instead.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::part::{Defect, Error, Kind, Part, Report};
use super::walk::{Body, Flow, Visitor, walk};
use super::{decode, filename};
use crate::limits::{IO_BUF, PREAMBLE_IN_MEMORY};

/// Most numbered alternatives tried for one file before giving up: each
/// try that fails is a file that existed before the run, so this bounds
/// the work a directory full of `report-N.pdf` can cause (internal, not a
/// limit on the message: a run numbers at most `MAX_PARTS` files).
const MAX_ALTERNATIVES: u32 = 10_000;

/// A part written under a temporary name, waiting for its own.
struct Pending {
    temp: PathBuf,
    name: String,
}

/// The files of one run: written, then named, or all removed.
struct Files<'a> {
    dir: &'a Path,
    pending: Vec<Pending>,
    named: Vec<PathBuf>,
    serial: u64,
    /// Per name asked for, the number of the next alternative to try.
    next: HashMap<String, u32>,
}

impl Files<'_> {
    /// Creates a new temporary file in the directory.
    fn create(&mut self) -> io::Result<(PathBuf, File)> {
        let pid = std::process::id();
        loop {
            self.serial += 1;
            let temp = self.dir.join(format!(".mime-unpack-{pid}-{}", self.serial));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)
            {
                Ok(f) => return Ok((temp, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives every pending file its name; returns the paths in order.
    fn commit(&mut self) -> io::Result<Vec<PathBuf>> {
        // Popped from the end; on an error, Drop cleans up what is left.
        self.pending.reverse();
        while let Some(p) = self.pending.last() {
            let from = self.next.get(&p.name).copied().unwrap_or(0);
            let (path, moved, n) = link_new(&p.temp, self.dir, &p.name, from)?;
            self.next.insert(p.name.clone(), n.saturating_add(1));
            self.named.push(path);
            if !moved {
                fs::remove_file(&p.temp)?;
            }
            self.pending.pop();
        }
        Ok(std::mem::take(&mut self.named))
    }
}

impl Drop for Files<'_> {
    /// Anything not committed is removed: the run failed.
    fn drop(&mut self) {
        for p in &self.pending {
            let _ = fs::remove_file(&p.temp);
        }
        for path in &self.named {
            let _ = fs::remove_file(path);
        }
    }
}

/// Links `temp` as `dir/name` (when `from` is 0) or the first free
/// numbered alternative from number `from` on; returns the path, whether
/// `temp` was moved there rather than linked (on file systems without hard
/// links, `rename` with `RENAME_NOREPLACE`, which fails as `link` does on
/// an existing name), and the number taken (0: the name itself).
fn link_new(temp: &Path, dir: &Path, name: &str, from: u32) -> io::Result<(PathBuf, bool, u32)> {
    let mut no_links = false;
    for n in from..=from.saturating_add(MAX_ALTERNATIVES) {
        let candidate = match n {
            0 => name.to_owned(),
            n => filename::numbered(name, n),
        };
        let path = dir.join(&candidate);
        let result = match no_links {
            false => fs::hard_link(temp, &path),
            true => rename_new(temp, &path),
        };
        match result {
            Ok(()) => return Ok((path, no_links, n)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            // FAT and some network file systems have no hard links.
            Err(e) if !no_links && is_no_links(&e) => {
                no_links = true;
                match rename_new(temp, &path) {
                    Ok(()) => return Ok((path, true, n)),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{name}: {MAX_ALTERNATIVES} numbered files of that name exist already"),
    ))
}

fn is_no_links(e: &io::Error) -> bool {
    use rustix::io::Errno;
    e.raw_os_error().is_some_and(|n| {
        let n = Errno::from_raw_os_error(n);
        n == Errno::PERM || n == Errno::NOTSUP || n == Errno::OPNOTSUPP || n == Errno::MLINK
    })
}

/// Renames `from` to `to` unless `to` exists (Linux `renameat2`).
fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(io::Error::from)
}

struct Extractor<'a> {
    files: Files<'a>,
    all: bool,
    /// Only this part (`-x -p N`), whatever it is; whether it was found.
    only: Option<(&'a str, bool)>,
    /// The preamble of the multipart entered last, in case its first
    /// delimiter never comes and it is a leaf after all.
    preamble: Option<Preamble>,
}

struct Preamble {
    number: String,
    data: Vec<u8>,
    /// The temporary file it went to when it was long.
    temp: Option<PathBuf>,
}

impl Extractor<'_> {
    fn drop_preamble(&mut self) {
        if let Some(Preamble { temp: Some(t), .. }) = self.preamble.take() {
            let _ = fs::remove_file(t);
        }
    }
}

/// The name a part is saved under, before numbering.
fn name(part: &Part) -> String {
    part.filename
        .as_deref()
        .and_then(filename::sanitize)
        .unwrap_or_else(|| filename::generated(&part.number, &part.content_type))
}

impl Extractor<'_> {
    /// Saves `part` into a new file of the set: an attached message
    /// whole, as it stands in the message (a message/rfc822 body is never
    /// transfer-encoded, RFC 2046 §5.2.1), a leaf decoded.
    fn save(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<(), Error> {
        let (temp, file) = self.files.create()?;
        self.files.pending.push(Pending {
            temp,
            name: name(part),
        });
        let mut out = BufWriter::with_capacity(IO_BUF, file);
        if part.kind == Kind::Message {
            decode::copy(body, &mut out)?;
        } else {
            decode::content(part, body, &mut out)?;
        }
        out.flush()?;
        Ok(())
    }
}

impl Visitor for Extractor<'_> {
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        self.drop_preamble();
        if let Some((number, found)) = &mut self.only {
            // One part by its number (`-x -p N`, the numbers the listing
            // and --show give), attachment or not; a multipart is not a
            // file (its body as it is is `-p N`'s).
            if part.number != *number || part.kind == Kind::Multipart {
                return Ok(Flow::Descend);
            }
            *found = true;
            self.save(part, body)?;
            return Ok(Flow::Stop);
        }
        if part.kind == Kind::Message && !self.all && part.is_attachment() {
            // An attached message: saved whole and not walked into. With
            // `all`, its leaves are extracted instead.
            self.save(part, body)?;
            return Ok(Flow::Skip);
        }
        if part.kind != Kind::Leaf || !(self.all || part.is_attachment()) {
            return Ok(Flow::Descend);
        }
        self.save(part, body)?;
        Ok(Flow::Descend)
    }

    fn preamble(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<(), Error> {
        // Wanted only if the multipart turns out to be a leaf that -x takes.
        let named = part.is_attachment_disposition() || part.filename.is_some();
        if !(self.all || named) || self.only.is_some() {
            return Ok(());
        }
        let mut data = Vec::new();
        let mut temp = None;
        loop {
            let chunk = body.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            if temp.is_none() && data.len() + n > PREAMBLE_IN_MEMORY {
                let (path, mut file) = self.files.create()?;
                temp = Some(path);
                file.write_all(&data)?;
                file.write_all(chunk)?;
                data.clear();
                body.consume(n);
                let mut out = BufWriter::with_capacity(IO_BUF, file);
                decode::copy(&mut *body, &mut out)?;
                out.flush()?;
                break;
            }
            data.extend_from_slice(chunk);
            body.consume(n);
        }
        self.preamble = Some(Preamble {
            number: part.number.clone(),
            data,
            temp,
        });
        Ok(())
    }

    fn leave(&mut self, part: &Part, _: u64) -> Result<(), Error> {
        let leaf = part.defects.contains(&Defect::StartBoundaryNotFound);
        match self.preamble.take() {
            Some(p) if leaf && p.number == part.number => {
                let temp = match p.temp {
                    Some(t) => t,
                    None => {
                        let (t, mut file) = self.files.create()?;
                        file.write_all(&p.data)?;
                        t
                    }
                };
                self.files.pending.push(Pending {
                    temp,
                    name: name(part),
                });
            }
            other => {
                self.preamble = other;
                self.drop_preamble();
            }
        }
        Ok(())
    }
}

/// Extracts the attachments of the message in `input` (see
/// [`Part::is_attachment`]: an attached message is saved whole, not walked
/// into), or every leaf part when `all` (attached messages walked into),
/// into the directory `dir`,
/// decoded, as the module docs describe, and prints each file's path, one
/// per line, to `out`; with `only`, the part of that number alone,
/// whatever it is (a leaf decoded, an attached message whole; the walk
/// stops there). Nothing is created unless the message was read without
/// error (up to that part). Returns whether `only` was found (true
/// without it).
pub fn extract(
    input: impl Read,
    dir: &Path,
    all: bool,
    only: Option<&str>,
    out: &mut impl Write,
) -> Result<(bool, Report), Error> {
    let mut x = Extractor {
        files: Files {
            dir,
            pending: Vec::new(),
            named: Vec::new(),
            serial: 0,
            next: HashMap::new(),
        },
        all,
        only: only.map(|n| (n, false)),
        preamble: None,
    };
    let result = walk(input, &mut x);
    x.drop_preamble();
    let report = result?;
    let paths = x.files.commit()?;
    for p in paths {
        out.write_all(p.as_os_str().as_encoded_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok((x.only.is_none_or(|(_, found)| found), report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_taken_without_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("a.txt"), b"old").unwrap();
        fs::write(d.join("a-1.txt"), b"old").unwrap();
        fs::write(d.join("t1"), b"new").unwrap();
        let (path, moved, n) = link_new(&d.join("t1"), d, "a.txt", 0).unwrap();
        assert_eq!((path, moved, n), (d.join("a-2.txt"), false, 2));
        // From a remembered number on; files there before are still skipped.
        fs::write(d.join("a-4.txt"), b"old").unwrap();
        let (path, _, n) = link_new(&d.join("t1"), d, "a.txt", 3).unwrap();
        assert_eq!((path, n), (d.join("a-3.txt"), 3));
        let (path, _, n) = link_new(&d.join("t1"), d, "a.txt", 4).unwrap();
        assert_eq!((path, n), (d.join("a-5.txt"), 5));
        assert_eq!(fs::read(d.join("a-4.txt")).unwrap(), b"old");
        assert_eq!(fs::read(d.join("a.txt")).unwrap(), b"old");
        // The fallback for file systems without hard links.
        fs::write(d.join("t2"), b"moved").unwrap();
        assert_eq!(
            rename_new(&d.join("t2"), &d.join("a.txt"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::AlreadyExists
        );
        rename_new(&d.join("t2"), &d.join("b.txt")).unwrap();
        assert_eq!(fs::read(d.join("b.txt")).unwrap(), b"moved");
        assert!(!d.join("t2").exists());
        let eperm = io::Error::from_raw_os_error(1);
        assert!(is_no_links(&eperm));
        assert!(!is_no_links(&io::Error::from_raw_os_error(2)));
    }
}
