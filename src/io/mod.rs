//! Byte plumbing with no mail knowledge.

pub mod command;
pub mod deadline;
pub mod dns;
pub mod glob;
pub mod lines;
pub(crate) mod spool;
pub(crate) mod sync;
pub mod temp;

use std::fmt;
use std::io::{self, BufRead, Write};

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

/// What a [`Tap`] hands every consumed byte to.
pub(crate) trait Record {
    /// `consumed` was just consumed from the tapped reader, in order.
    fn record(&mut self, consumed: &[u8]);
}

/// Records by keeping a copy.
impl Record for Vec<u8> {
    fn record(&mut self, consumed: &[u8]) {
        self.extend_from_slice(consumed);
    }
}

/// A `BufRead` that shows `rec` every byte its reader consumes, once and in
/// order, whoever reads through it (a header parser, a decoder): a copy of
/// the raw header, a check on base64 as it is decoded.
pub(crate) struct Tap<R, T> {
    /// The reader tapped.
    pub(crate) inner: R,
    /// What sees the consumed bytes.
    pub(crate) rec: T,
}

impl<R: BufRead, T: Record> io::Read for Tap<R, T> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        lines::read_buffered(self, out)
    }
}

impl<R: BufRead, T: Record> BufRead for Tap<R, T> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        // The consumed bytes are still in the buffer fill_buf returned, so
        // this call does no I/O; recording here rather than in fill_buf sees
        // each byte once however often fill_buf is called.
        if let Ok(data) = self.inner.fill_buf() {
            self.rec.record(&data[..n.min(data.len())]);
        }
        self.inner.consume(n);
    }
}

/// The impls every error enum with an `Io(io::Error)` variant shares, so
/// that I/O failures are reported one way: `source` is transparent (the
/// I/O error's own, so `{:#}` never repeats it), the exit code of an I/O
/// error is [`exit_code`]'s and `exit::Status::io_error` finds it, and
/// `?` turns an `io::Error` into the enum. The arms give the exit codes of
/// the other variants.
macro_rules! io_transparent_error {
    ($name:ident { $($pat:pat => $code:expr),+ $(,)? }) => {
        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                $crate::exit::Status::io_error(self)?.source()
            }
        }

        impl $crate::exit::Status for $name {
            fn exit_code(&self) -> u8 {
                match self {
                    $name::Io(e) => $crate::io::exit_code(e),
                    $($pat => $code,)+
                }
            }

            fn io_error(&self) -> Option<&std::io::Error> {
                match self {
                    $name::Io(e) => Some(e),
                    _ => None,
                }
            }
        }

        impl From<std::io::Error> for $name {
            fn from(e: std::io::Error) -> Self {
                $name::Io(e)
            }
        }
    };
}
pub(crate) use io_transparent_error;

/// A reader's error `$name { Io(io::Error), $data($inner) }`: reading
/// failed, or the data itself was bad (exit 65, `DATAERR`). It writes
/// `io_transparent_error!`'s impls, `Display` (each variant's own) and
/// `From<$inner>`, and makes `$inner` (which has its own `Display`) an
/// error that exits 65: `codec::Error` and `message::Error` are this shape.
macro_rules! io_or_data_error {
    ($name:ident, $data:ident, $inner:ty) => {
        $crate::io::io_transparent_error!($name { $name::$data(_) => $crate::exit::DATAERR });

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $name::Io(e) => e.fmt(f),
                    $name::$data(e) => e.fmt(f),
                }
            }
        }

        impl std::error::Error for $inner {}

        impl $crate::exit::Status for $inner {
            fn exit_code(&self) -> u8 {
                $crate::exit::DATAERR
            }
        }

        impl From<$inner> for $name {
            fn from(e: $inner) -> Self {
                $name::$data(e)
            }
        }
    };
}
pub(crate) use io_or_data_error;

/// Hands `each` every block `input` buffers, up to its end, consuming each
/// block after `each` has seen it: the one loop of the streaming scanners
/// and copiers that look at bytes as they come.
pub(crate) fn each_block<E: From<io::Error>>(
    input: &mut (impl BufRead + ?Sized),
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    loop {
        let block = input.fill_buf()?;
        if block.is_empty() {
            return Ok(());
        }
        let n = block.len();
        each(block)?;
        input.consume(n);
    }
}

/// The largest character boundary of `s` at or below `index` (the length
/// when `index` is past the end): where to cut text to at most `index`
/// bytes without splitting a character. `str::floor_char_boundary` once
/// the crate's minimum Rust (1.88) has it (1.91).
pub(crate) fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    // A character is at most 4 bytes, so this steps back at most 3 times.
    (0..=index)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_records_each_consumed_byte_once_in_order() {
        let mut tap = Tap {
            inner: io::BufReader::with_capacity(4, &b"abcdefghij"[..]),
            rec: Vec::new(),
        };
        // Looking without consuming records nothing, however often.
        assert_eq!(tap.fill_buf().unwrap(), b"abcd");
        assert_eq!(tap.fill_buf().unwrap(), b"abcd");
        assert!(tap.rec.is_empty());
        tap.consume(1);
        assert_eq!(tap.rec, b"a");
        let mut rest = Vec::new();
        io::Read::read_to_end(&mut tap, &mut rest).unwrap();
        assert_eq!(rest, b"bcdefghij");
        assert_eq!(tap.rec, b"abcdefghij");
    }

    #[test]
    fn the_floor_char_boundary_never_splits_a_character() {
        let s = "aé€😀";
        let floors: Vec<usize> = (0..=12).map(|i| floor_char_boundary(s, i)).collect();
        assert_eq!(floors, [0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 10, 10]);
    }
}
