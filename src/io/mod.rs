//! Byte plumbing with no mail knowledge.

pub mod lines;
pub(crate) mod spool;
pub mod temp;

use std::io::{self, Write};

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
