//! Extracting parts into files (`mime-unpack -x`): all or nothing, never
//! overwriting.
//!
//! Each part is decoded as it streams by into a temporary file in the
//! target directory (`.mime-unpack-PID-N`, created exclusively, mode
//! 0600). Only when the whole message has been walked without error are
//! the files given their names, in document order: each name is taken
//! with `link(2)` (which fails rather than replace an existing file), then
//! the temporary name is removed. A taken name gets a number before its
//! extension (`report.pdf`, `report-1.pdf`, `report-2.pdf`, …). On any
//! error, every temporary file is removed and names already given in this
//! run are taken back, so a failed run leaves the directory as it was.
//! Files are not synced to disk (this is not a mail store).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Body, Error, Flow, Kind, Part, Report, Visitor, decode, filename, walk};
use crate::limits::IO_BUF;

/// Most numbered alternatives tried for one name before giving up.
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
            let path = link_new(&p.temp, self.dir, &p.name)?;
            self.named.push(path);
            fs::remove_file(&p.temp)?;
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

/// Links `temp` as `dir/name`, or the first free numbered alternative.
fn link_new(temp: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    for n in 0..=MAX_ALTERNATIVES {
        let candidate = match n {
            0 => name.to_owned(),
            n => filename::numbered(name, n),
        };
        let path = dir.join(&candidate);
        match fs::hard_link(temp, &path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{name}: {MAX_ALTERNATIVES} files of that name exist already"),
    ))
}

struct Extractor<'a> {
    files: Files<'a>,
    all: bool,
}

impl Visitor for Extractor<'_> {
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        if part.kind != Kind::Leaf || !(self.all || part.is_attachment()) {
            return Ok(Flow::Descend);
        }
        let name = part
            .filename
            .as_deref()
            .and_then(filename::sanitize)
            .unwrap_or_else(|| filename::generated(&part.number, &part.content_type));
        let (temp, file) = self.files.create()?;
        self.files.pending.push(Pending { temp, name });
        let mut out = BufWriter::with_capacity(IO_BUF, file);
        decode::content(part, body, &mut out)?;
        out.flush()?;
        Ok(Flow::Descend)
    }

    fn leave(&mut self, _: &Part, _: u64) -> Result<(), Error> {
        Ok(())
    }
}

/// Extracts the attachments of the message in `input` (every leaf part
/// when `all`; see [`Part::is_attachment`]) into the directory `dir`,
/// decoded, as the module docs describe, and prints each file's path, one
/// per line, to `out`. Nothing is created unless the whole message was
/// read without error.
pub fn extract(
    input: impl Read,
    dir: &Path,
    all: bool,
    out: &mut impl Write,
) -> Result<Report, Error> {
    let mut x = Extractor {
        files: Files {
            dir,
            pending: Vec::new(),
            named: Vec::new(),
            serial: 0,
        },
        all,
    };
    let report = walk(input, &mut x)?;
    let paths = x.files.commit()?;
    for p in paths {
        out.write_all(p.as_os_str().as_encoded_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(report)
}
