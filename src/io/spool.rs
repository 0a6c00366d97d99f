//! Holding a message until it is committed: in memory while small, then in
//! an unlinked temporary file, so memory per client stays bounded whatever
//! the message size and nothing is left on disk if the process dies.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use crate::limits;

/// Bytes of a message kept in memory before it spills to a temporary file.
///
/// 256 KiB: typical mail (a few KiB to ~100 KiB) never touches the disk
/// before commit, while 16 clients (limits::SMTP_MAX_CLIENTS) hold at most
/// 4 MiB; larger messages stream through a file.
pub(crate) const SPOOL_MEM: usize = crate::limits::SPOOL_MEM;

/// A message being received; see the module docs.
#[derive(Debug)]
pub(crate) struct Spool {
    mem: Vec<u8>,
    file: Option<BufWriter<File>>,
    /// Spill to a file once `mem` would exceed this.
    limit: usize,
    /// Makes the file to spill to.
    make: fn() -> io::Result<File>,
}

impl Spool {
    /// A spool that keeps up to `limit` bytes in memory (0: always a file),
    /// then spills to an unlinked file in `$TMPDIR` whose errors name it
    /// ([`crate::io::temp::unlinked_temp`]).
    pub(crate) fn new(limit: usize) -> Spool {
        Spool::with_file(limit, || {
            crate::io::temp::unlinked_temp(&std::env::temp_dir())
        })
    }

    /// A spool that spills to the file `make` gives (for a caller that
    /// explains the errors its own way).
    pub(crate) fn with_file(limit: usize, make: fn() -> io::Result<File>) -> Spool {
        Spool {
            mem: Vec::new(),
            file: None,
            limit,
            make,
        }
    }

    fn spill(&mut self) -> io::Result<&mut BufWriter<File>> {
        let w = match self.file.take() {
            Some(w) => w,
            None => {
                let mut w = BufWriter::with_capacity(limits::IO_BUF, (self.make)()?);
                w.write_all(&self.mem)?;
                self.mem = Vec::new();
                w
            }
        };
        Ok(self.file.insert(w))
    }

    /// Copies everything spooled to `w` (does not flush `w`).
    pub(crate) fn copy_to(&mut self, w: &mut (impl Write + ?Sized)) -> io::Result<u64> {
        match self.file.as_mut() {
            None => {
                w.write_all(&self.mem)?;
                Ok(self.mem.len() as u64)
            }
            Some(f) => {
                f.flush()?;
                let file = f.get_mut();
                file.seek(SeekFrom::Start(0))?;
                io::copy(file, w)
            }
        }
    }

    /// Reads the spooled bytes from their start, keeping them (a
    /// [`Spool::copy_to`] after it still copies everything).
    pub(crate) fn read_back(&mut self) -> io::Result<Box<dyn io::BufRead + '_>> {
        match self.file.as_mut() {
            None => Ok(Box::new(&self.mem[..])),
            Some(f) => {
                f.flush()?;
                let file = f.get_mut();
                file.seek(SeekFrom::Start(0))?;
                Ok(Box::new(io::BufReader::with_capacity(
                    crate::limits::IO_BUF,
                    file,
                )))
            }
        }
    }

    /// The spooled bytes to read back: in memory as they are, or the file
    /// positioned at its start (nothing is written to disk for a small
    /// message).
    pub(crate) fn into_spooled(mut self) -> io::Result<Spooled> {
        match self.file.take() {
            None => Ok(Spooled::Mem(self.mem)),
            Some(w) => {
                let mut file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
                file.seek(SeekFrom::Start(0))?;
                Ok(Spooled::File(file))
            }
        }
    }

    /// The spooled bytes as a file positioned at its start (for a child's
    /// stdin).
    pub(crate) fn into_file(mut self) -> io::Result<File> {
        self.spill()?;
        let Some(w) = self.file.take() else {
            return Err(io::Error::other("spool lost its file"));
        };
        let mut file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    }
}

/// What [`Spool::into_spooled`] gives back.
#[derive(Debug)]
pub(crate) enum Spooled {
    /// The bytes, all in memory.
    Mem(Vec<u8>),
    /// An unlinked file holding them, at its start.
    File(File),
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.mem.len() + buf.len() <= self.limit {
            self.mem.extend_from_slice(buf);
            return Ok(buf.len());
        }
        self.spill()?.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// `abcdef` written in two pieces into a spool of each limit: below,
    /// at the second write, and above its size.
    fn abcdef_spools() -> impl Iterator<Item = (usize, Spool)> {
        [0, 3, 100].into_iter().map(|limit| {
            let mut s = Spool::new(limit);
            s.write_all(b"ab").unwrap();
            s.write_all(b"cdef").unwrap();
            (limit, s)
        })
    }

    #[test]
    fn memory_then_file() {
        for (limit, mut s) in abcdef_spools() {
            assert_eq!(s.file.is_some(), limit < 6);
            let mut out = Vec::new();
            assert_eq!(s.copy_to(&mut out).unwrap(), 6);
            assert_eq!(out, b"abcdef");
            let mut f = s.into_file().unwrap();
            let mut back = String::new();
            f.read_to_string(&mut back).unwrap();
            assert_eq!(back, "abcdef");
        }
    }

    #[test]
    fn into_spooled_keeps_a_small_message_in_memory() {
        for (limit, s) in abcdef_spools() {
            let back = match s.into_spooled().unwrap() {
                Spooled::Mem(v) => {
                    assert!(limit >= 6);
                    v
                }
                Spooled::File(mut f) => {
                    assert!(limit < 6);
                    let mut v = Vec::new();
                    f.read_to_end(&mut v).unwrap();
                    v
                }
            };
            assert_eq!(back, b"abcdef");
        }
    }
}
