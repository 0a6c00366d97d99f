//! Byte plumbing with no mail knowledge.

pub mod glob;
pub mod lines;
pub(crate) mod spool;
pub(crate) mod sync;
pub mod temp;

use std::fmt;
use std::io::{self, Write};

use crate::exit;

/// Counts the bytes written through it.
pub(crate) struct Counter<W> {
    /// Where the bytes go.
    pub(crate) out: W,
    /// How many went.
    pub(crate) n: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)?;
        self.n += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// An error's text without std's errno suffix: `No such file or directory
/// (os error 2)` → `No such file or directory`. The one place that does it:
/// every message the crate prints about an I/O error goes through here.
pub fn strip_os_error(e: &(impl fmt::Display + ?Sized)) -> String {
    let mut msg = e.to_string();
    if let Some(i) = msg.rfind(" (os error ")
        && msg.ends_with(')')
    {
        msg.truncate(i);
    }
    msg
}

/// The exit code of an I/O failure: a reader that went away (EPIPE) is
/// success, as for `head`; a line over a limit is bad data ([`lines::TooLong`]);
/// anything else an I/O error.
pub fn exit_code(e: &io::Error) -> u8 {
    if e.kind() == io::ErrorKind::BrokenPipe {
        exit::OK
    } else if e
        .get_ref()
        .is_some_and(|inner| inner.is::<lines::TooLong>())
    {
        exit::DATAERR
    } else {
        exit::IOERR
    }
}
