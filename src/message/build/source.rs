//! Where a part's content comes from, and the streaming scan of it.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::codec::Summary;
use crate::limits::IO_BUF;

/// Bytes looked at to sniff a file of unknown type.
const SNIFF: usize = 64 * 1024;

// ---------------------------------------------------------------- sources

type Opener = Box<dyn FnMut() -> io::Result<Box<dyn BufRead>>>;

enum SourceKind {
    Bytes(Vec<u8>),
    Spool(File),
    Reopen(Opener),
}

/// Where a part's content comes from. Content is read once to scan it
/// (text) and once to encode it, so a source can be opened again: a
/// regular file is reopened ([`Source::reopen`]); a pipe, FIFO, terminal
/// or standard input can be read only once and is copied to a temporary
/// file first ([`Source::spool`]).
pub struct Source {
    kind: SourceKind,
    len: Option<u64>,
    /// The length a scan found: later reads of a reopened file give
    /// exactly these bytes, so that what is written is what was checked
    /// (a file that grows meanwhile cannot bring in a boundary line; one
    /// that shrinks is an I/O error).
    scanned: Option<u64>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Content held in memory.
    pub fn bytes(data: impl Into<Vec<u8>>) -> Source {
        let data = data.into();
        Source {
            len: Some(data.len() as u64),
            kind: SourceKind::Bytes(data),
            scanned: None,
        }
    }

    /// Content that `open` gives afresh each time it is called: a regular
    /// file the caller has already checked it can open (anything else can
    /// be read once only: [`spool`](Self::spool) it); `len` is its size if
    /// known (for progress).
    pub fn reopen(
        len: Option<u64>,
        open: impl FnMut() -> io::Result<Box<dyn BufRead>> + 'static,
    ) -> Source {
        Source {
            kind: SourceKind::Reopen(Box::new(open)),
            len,
            scanned: None,
        }
    }

    /// The file at `path`, opened with `open` (`-` is standard input, for
    /// `open` to give): a regular file is opened again for each read
    /// ([`reopen`](Self::reopen)); anything else (standard input, a pipe,
    /// a FIFO, a device) can be read once only and is spooled. `open`'s
    /// errors are returned as they are.
    pub fn file(
        path: &Path,
        open: impl Fn(&Path) -> anyhow::Result<Box<dyn BufRead>> + 'static,
    ) -> anyhow::Result<Source> {
        let input = open(path)?;
        Ok(match std::fs::metadata(path) {
            Ok(m) if m.is_file() && path.as_os_str() != "-" => {
                let path = path.to_owned();
                Source::reopen(Some(m.len()), move || {
                    open(&path).map_err(|e| io::Error::other(format!("{e:#}")))
                })
            }
            _ => Source::spool(input).map_err(|e| anyhow::Error::from(e).context(label(path)))?,
        })
    }

    /// Copies `input` (standard input, a pipe, a FIFO: anything that is not
    /// a regular file) to an unnamed temporary file, so that it can be read
    /// twice in constant memory.
    pub fn spool(mut input: impl Read) -> io::Result<Source> {
        let mut file = temp_file()?;
        let len = io::copy(&mut input, &mut file)?;
        Ok(Source::spooled(file, len))
    }

    /// The content's size, when known.
    pub fn len(&self) -> Option<u64> {
        self.len
    }

    /// Whether the content is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len == Some(0)
    }

    /// Content spooled to `file` (rewound before each read), `len` bytes.
    pub(super) fn spooled(file: File, len: u64) -> Source {
        Source {
            kind: SourceKind::Spool(file),
            len: Some(len),
            scanned: None,
        }
    }

    pub(super) fn open(&mut self) -> io::Result<Box<dyn BufRead + '_>> {
        Ok(match &mut self.kind {
            SourceKind::Bytes(b) => Box::new(&b[..]),
            SourceKind::Spool(f) => {
                f.seek(SeekFrom::Start(0))?;
                Box::new(BufReader::with_capacity(IO_BUF, &*f))
            }
            SourceKind::Reopen(open) => match self.scanned {
                Some(n) => Box::new(Exact(open()?.take(n))),
                None => open()?,
            },
        })
    }
}

/// Exactly the bytes a [`Take`](io::Take) allows: ending early (the file
/// shrank since it was scanned) is an error, not a short part.
struct Exact(io::Take<Box<dyn BufRead>>);

impl Exact {
    fn check(&mut self) -> io::Result<()> {
        if self.0.limit() > 0 && self.0.fill_buf()?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was read",
            ));
        }
        Ok(())
    }
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        self.0.read(buf)
    }
}

impl BufRead for Exact {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check()?;
        self.0.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.0.consume(n);
    }
}

/// An unnamed read-write temporary file (0600 in the temporary directory,
/// unlinked at once).
pub(super) fn temp_file() -> io::Result<File> {
    crate::io::temp::unlinked_temp(&std::env::temp_dir())
}

// ---------------------------------------------------------------- scanning

/// A streaming scan of content: the [`Summary`] for [`codec::choose`],
/// and whether a line starts with `--` and one of the boundaries.
pub(super) struct Scanner<'b> {
    sum: Summary,
    boundaries: &'b [String],
    collision: bool,
    line: u64,
    qp_line: u64,
    prev_cr: bool,
    head: Vec<u8>,
    utf8_carry: Vec<u8>,
    /// Offset and value of the first byte that is not UTF-8.
    bad_utf8: Option<(u64, u8)>,
    /// Bytes of the current block that completed the carry.
    utf8_skipped: usize,
}

/// Bytes of a line kept to compare with boundaries: `--` plus the
/// longest boundary (70, RFC 2046 §5.1.1).
const HEAD: usize = 72;

impl<'b> Scanner<'b> {
    pub(super) fn new(boundaries: &'b [String]) -> Self {
        Scanner {
            sum: Summary {
                utf8: true,
                ..Summary::default()
            },
            boundaries,
            collision: false,
            line: 0,
            qp_line: 0,
            prev_cr: false,
            head: Vec::with_capacity(HEAD),
            utf8_carry: Vec::with_capacity(4),
            bad_utf8: None,
            utf8_skipped: 0,
        }
    }

    fn end_line(&mut self) {
        let len = self.line - u64::from(self.prev_cr);
        self.sum.longest_line = self.sum.longest_line.max(len);
        // Soft line breaks: `=` + line end per 75 encoded characters.
        let soft = self.qp_line.saturating_sub(1) / 75 * 2;
        self.sum.qp_len += self.qp_line + soft + 1;
        if self.head.starts_with(b"--")
            && self
                .boundaries
                .iter()
                .any(|b| self.head[2..].starts_with(b.as_bytes()))
        {
            self.collision = true;
        }
        self.head.clear();
        self.line = 0;
        self.qp_line = 0;
    }

    fn utf8(&mut self, mut data: &[u8]) {
        if !self.sum.utf8 {
            return;
        }
        if !self.utf8_carry.is_empty() {
            let width = match self.utf8_carry[0] {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - self.utf8_carry.len()).min(data.len());
            self.utf8_carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.utf8_skipped = take;
            if self.utf8_carry.len() < width {
                return;
            }
            if std::str::from_utf8(&self.utf8_carry).is_err() {
                self.sum.utf8 = false;
                let at = self.sum.len - (self.utf8_carry.len() - take) as u64;
                self.bad_utf8 = Some((at, self.utf8_carry[0]));
                return;
            }
            self.utf8_carry.clear();
        }
        if let Err(e) = std::str::from_utf8(data) {
            if e.error_len().is_some() {
                self.sum.utf8 = false;
                let at = self.sum.len + (self.utf8_skipped + e.valid_up_to()) as u64;
                self.bad_utf8 = Some((at, data[e.valid_up_to()]));
            } else {
                self.utf8_carry.extend_from_slice(&data[e.valid_up_to()..]);
            }
        }
    }

    pub(super) fn update(&mut self, data: &[u8]) {
        self.utf8_skipped = 0;
        self.utf8(data);
        self.sum.len += data.len() as u64;
        for &b in data {
            if b == b'\n' {
                self.end_line();
                self.prev_cr = false;
                continue;
            }
            if self.prev_cr {
                self.sum.bare_cr += 1;
            }
            self.prev_cr = b == b'\r';
            if self.head.len() < HEAD {
                self.head.push(b);
            }
            self.line += 1;
            self.qp_line += match b {
                b'\t' | b' ' => 1,
                b'=' => 3,
                0 => {
                    self.sum.nul += 1;
                    3
                }
                b'\r' => 3,
                0x01..=0x1F | 0x7F => 3,
                0x80..=0xFF => {
                    self.sum.eight_bit += 1;
                    3
                }
                _ => 1,
            };
        }
    }

    pub(super) fn finish(mut self) -> (Summary, bool, Option<(u64, u8)>) {
        if self.prev_cr {
            self.sum.bare_cr += 1;
            self.prev_cr = false;
        }
        if self.line > 0 {
            self.end_line();
            // No line end was there to encode.
            self.sum.qp_len -= 1;
        }
        if !self.utf8_carry.is_empty() && self.sum.utf8 {
            self.sum.utf8 = false;
            let at = self.sum.len - self.utf8_carry.len() as u64;
            self.bad_utf8 = Some((at, self.utf8_carry[0]));
        }
        (self.sum, self.collision, self.bad_utf8)
    }
}

pub(super) type Scan = (Summary, bool, Option<(u64, u8)>);

pub(super) fn scan(source: &mut Source, boundaries: &[String]) -> io::Result<Scan> {
    let mut input = source.open()?;
    let mut s = Scanner::new(boundaries);
    crate::io::each_block(&mut input, |block| -> io::Result<()> {
        s.update(block);
        Ok(())
    })?;
    drop(input);
    let scan = s.finish();
    source.scanned = Some(scan.0.len);
    Ok(scan)
}

/// Whether the start of a file looks like binary data: a NUL, invalid
/// UTF-8 (a character cut at the end is fine), or more than 1 % control
/// characters other than TAB, LF, CR, FF and ESC.
pub(super) fn looks_binary(head: &[u8]) -> bool {
    if memchr::memchr(0, head).is_some() {
        return true;
    }
    if let Err(e) = std::str::from_utf8(head)
        && (e.error_len().is_some() || head.len() - e.valid_up_to() > 3)
    {
        return true;
    }
    let controls = head
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)) || b == 0x7F)
        .count();
    controls * 100 > head.len()
}

pub(super) fn sniff(source: &mut Source) -> io::Result<bool> {
    let mut input = source.open()?;
    let mut head = Vec::with_capacity(SNIFF);
    input.by_ref().take(SNIFF as u64).read_to_end(&mut head)?;
    Ok(looks_binary(&head))
}

/// How messages name an input: `-` is `stdin`.
pub(super) fn label(path: &Path) -> String {
    match path.as_os_str() == "-" {
        true => "stdin".to_owned(),
        false => path.display().to_string(),
    }
}
