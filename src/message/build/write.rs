//! Writing a prepared message: line ends, transfer encodings, progress.

use std::io::{self, BufRead, Read, Write};

use super::tree::{Body, Node, Prepared};
use crate::codec::{self, TransferEncoding, base64, qp};

/// Progress is shown only for inputs larger than this.
const PROGRESS_MIN: u64 = 64 * 1024 * 1024;

/// Output with line-end conversion and a byte count.
pub(super) struct Out<'a> {
    pub(super) inner: &'a mut dyn Write,
    pub(super) crlf: bool,
    pub(super) written: u64,
}

impl Write for Out<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Out<'_> {
    pub(super) fn eol(&mut self) -> io::Result<()> {
        self.write_all(if self.crlf { b"\r\n" } else { b"\n" })
    }

    /// A header field (folds are LF) and its line end.
    pub(super) fn field(&mut self, f: &str) -> io::Result<()> {
        for (k, line) in f.split('\n').enumerate() {
            if k > 0 {
                self.eol()?;
            }
            self.write_all(line.as_bytes())?;
        }
        self.eol()
    }
}

/// Progress on a terminal: a percentage, redrawn when it changes, as
/// `\r{name}: {pct:3}% of {MiB} MiB` on the writer the caller gives (the
/// library prints nothing itself).
pub struct Progress {
    out: Box<dyn Write>,
    name: String,
    total: u64,
    done: u64,
    shown: u64,
}

impl Progress {
    /// Progress for `total` input bytes on `out`, each line starting with
    /// `name` (the program's); `None` when the total is too small to be
    /// worth it. The caller decides whether anyone watches `out`.
    pub fn new(total: u64, name: impl Into<String>, out: Box<dyn Write>) -> Option<Progress> {
        (total > PROGRESS_MIN).then(|| Progress {
            out,
            name: name.into(),
            total,
            done: 0,
            shown: u64::MAX,
        })
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        let pct = self.done.saturating_mul(100) / self.total.max(1);
        if pct != self.shown {
            self.shown = pct;
            let _ = write!(
                self.out,
                "\r{}: {pct:3}% of {} MiB",
                self.name,
                self.total >> 20
            );
            let _ = self.out.flush();
        }
    }

    fn done(&mut self) {
        let _ = writeln!(self.out);
    }
}

/// A reader that reports consumed bytes to a [`Progress`].
struct Counted<'a, R> {
    inner: R,
    progress: Option<&'a mut Progress>,
}

impl<R: BufRead> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = self.progress.as_deref_mut() {
            p.add(n as u64);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Some(p) = self.progress.as_deref_mut() {
            p.add(n as u64);
        }
        self.inner.consume(n);
    }
}

/// Copies lines, writing each LF or CRLF as the output's line end; other
/// bytes (a bare CR too) as they are.
pub(super) fn copy_lines(mut input: impl BufRead, out: &mut Out<'_>) -> io::Result<()> {
    let mut pending_cr = false;
    crate::io::each_block(&mut input, |mut rest| -> io::Result<()> {
        if pending_cr {
            pending_cr = false;
            if rest[0] != b'\n' {
                out.write_all(b"\r")?;
            }
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let line = &rest[..i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            out.write_all(line)?;
            out.eol()?;
            rest = &rest[i + 1..];
        }
        if let Some(r) = rest.strip_suffix(b"\r") {
            out.write_all(r)?;
            pending_cr = true;
        } else {
            out.write_all(rest)?;
        }
        Ok(())
    })?;
    if pending_cr {
        out.write_all(b"\r")?;
    }
    Ok(())
}

fn codec_io(e: codec::Error) -> io::Error {
    match e {
        codec::Error::Io(e) => e,
        codec::Error::Decode(d) => io::Error::new(io::ErrorKind::InvalidData, d),
    }
}

fn write_node(
    n: &mut Node,
    boundaries: &[String],
    out: &mut Out<'_>,
    progress: &mut Option<&mut Progress>,
) -> io::Result<()> {
    if !matches!(n.body, Body::Entity { .. }) {
        // A ready entity brings its own header block.
        for h in &n.headers {
            out.field(h)?;
        }
        out.eol()?;
    }
    write_body(n, boundaries, out, progress)
}

fn write_body(
    n: &mut Node,
    boundaries: &[String],
    out: &mut Out<'_>,
    progress: &mut Option<&mut Progress>,
) -> io::Result<()> {
    match &mut n.body {
        Body::Multi {
            boundary,
            preamble,
            parts,
        } => {
            let b = boundaries[*boundary].as_bytes();
            if *preamble {
                out.write_all(b"This is a multi-part message in MIME format.")?;
                out.eol()?;
            }
            for p in parts.iter_mut() {
                out.write_all(b"--")?;
                out.write_all(b)?;
                out.eol()?;
                write_node(p, boundaries, out, progress)?;
                out.eol()?;
            }
            out.write_all(b"--")?;
            out.write_all(b)?;
            out.write_all(b"--")
        }
        Body::Entity { source } => {
            let input = Counted {
                inner: source.open()?,
                progress: progress.as_deref_mut(),
            };
            copy_lines(input, out)
        }
        Body::Leaf { source, cte } => {
            let crlf = out.crlf;
            let input = Counted {
                inner: source.open()?,
                progress: progress.as_deref_mut(),
            };
            match cte {
                TransferEncoding::Base64 => {
                    let o = base64::EncodeOptions {
                        wrap: base64::WRAP_DEFAULT,
                        crlf,
                    };
                    base64::encode(input, &mut *out, o).map_err(codec_io)?;
                }
                TransferEncoding::QuotedPrintable => {
                    let o = qp::EncodeOptions {
                        binary: false,
                        crlf,
                        safe: true,
                    };
                    qp::encode(input, &mut *out, &o).map_err(codec_io)?;
                }
                _ => copy_lines(input, out)?,
            }
            Ok(())
        }
    }
}

impl Prepared {
    /// Content-IDs generated for inline files: (input label, id).
    pub fn content_ids(&self) -> &[(String, String)] {
        &self.content_ids
    }

    /// Total size of the inputs, when known.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Writes the message (or entity); returns the bytes written. `out` is
    /// flushed.
    pub fn write(
        &mut self,
        out: &mut dyn Write,
        progress: Option<&mut Progress>,
    ) -> io::Result<u64> {
        let mut out = Out {
            inner: out,
            crlf: self.crlf,
            written: 0,
        };
        let mut progress = progress;
        for f in &self.fields {
            out.field(f)?;
        }
        write_node(&mut self.root, &self.boundaries, &mut out, &mut progress)?;
        if matches!(self.root.body, Body::Multi { .. }) {
            out.eol()?;
        }
        if let Some(p) = progress {
            p.done();
        }
        out.flush()?;
        Ok(out.written)
    }
}
