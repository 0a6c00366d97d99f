//! The walk over a message's tree of entities: an explicit stack of open
//! containers over one boundary scanner, calling a [`Visitor`].

use std::io::{self, BufRead, Read};

use super::filename;
use super::part::{Defect, Encoding, Error, Kind, Part, Report};
use super::scan::{self, PartReader, Scanner};
use crate::limits::{LINE_END_PEEK, MAX_BOUNDARY, MAX_MIME_DEPTH, MAX_PARTS};
use crate::message::header::Block;
use crate::message::mime::{ContentType, Disposition};

/// What the walk does after [`Visitor::enter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Walk a container's children (for a leaf: go on).
    Descend,
    /// Do not walk a container's children (its body is skipped or was read).
    Skip,
    /// Stop the walk here (successfully).
    Stop,
}

/// What the walk calls for each entity, in document order.
pub trait Visitor {
    /// An entity's header has been read. `body` reads its body as it is in
    /// the message (transfer-encoded; for a container, the raw bytes of all
    /// its children). A visitor that reads from `body` must not return
    /// [`Flow::Descend`]. Defects it finds go into `part.defects`.
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error>;

    /// An entity's header block, just before [`Visitor::enter`]: for a
    /// visitor that shows header fields other than the Content-* ones
    /// the walk reads (`mime-unpack --show`). By default it is ignored.
    fn fields(&mut self, part: &Part, block: &Block) -> Result<(), Error> {
        let _ = (part, block);
        Ok(())
    }

    /// The preamble of a multipart: the text before its first delimiter.
    /// When that delimiter never comes, the preamble is all the multipart
    /// holds (its `leave` then has [`Defect::StartBoundaryNotFound`], and
    /// Python reads it as a leaf with this text). By default it is skipped.
    fn preamble(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<(), Error> {
        let _ = (part, body);
        Ok(())
    }

    /// An entity ended; `size` is the length of its body in the message.
    /// `part.defects` now also holds what the walk found after `enter`
    /// (a missing close delimiter, say).
    fn leave(&mut self, part: &Part, size: u64) -> Result<(), Error>;
}

/// The raw body of one entity: its bytes in the message up to the line end
/// before the next delimiter (RFC 2046 §5.1.1) or the end of the input.
pub struct Body<'a> {
    prefix: &'a [u8],
    at: usize,
    src: &'a mut dyn Source,
    read: u64,
}

/// The scanner, without its type parameter.
trait Source {
    fn fill(&mut self) -> io::Result<&[u8]>;
    fn consume(&mut self, n: usize);
    fn stopped(&mut self) -> io::Result<bool>;
}

impl<R: Read> Source for Scanner<R> {
    fn fill(&mut self) -> io::Result<&[u8]> {
        Scanner::fill(self)
    }

    fn consume(&mut self, n: usize) {
        Scanner::consume(self, n);
    }

    /// No data before a delimiter.
    fn stopped(&mut self) -> io::Result<bool> {
        Ok(self.at_delimiter()?.is_some())
    }
}

impl Body<'_> {
    /// Bytes read from the body so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Reads and drops the rest; returns how many bytes that was.
    pub fn skip(&mut self) -> io::Result<u64> {
        let mut n = 0;
        loop {
            let len = self.fill_buf()?.len();
            if len == 0 {
                return Ok(n);
            }
            self.consume(len);
            n += len as u64;
        }
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::io::lines::read_buffered(self, out)
    }
}

impl BufRead for Body<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at < self.prefix.len() {
            // The first line was read with the header (it ended the header
            // without an empty line). Its line end belongs to a delimiter
            // that follows at once.
            let rest = &self.prefix[self.at..];
            let eol = rest.len() - crate::io::lines::trim_eol(rest).len();
            if rest.len() > eol {
                return Ok(&self.prefix[self.at..self.prefix.len() - eol]);
            }
            if !self.src.stopped()? {
                return Ok(&self.prefix[self.at..]);
            }
            self.at = self.prefix.len();
        }
        self.src.fill()
    }

    fn consume(&mut self, n: usize) {
        self.read += n as u64;
        if self.at < self.prefix.len() {
            self.at += n;
        } else {
            self.src.consume(n);
        }
    }
}

/// Walks the message in `input`, calling `visitor` for every entity.
///
/// An empty input is no message: the visitor is not called. Returns the
/// defects found, one entry per kind.
pub fn walk(input: impl Read, visitor: &mut impl Visitor) -> Result<Report, Error> {
    Walker {
        sc: Scanner::new(input),
        block: Block::default(),
        prefix: Vec::new(),
        stack: Vec::new(),
        parts: 0,
        report: Report::default(),
        crlf: false,
        carry: false,
    }
    .run(visitor)
}

/// Where an entity stands in the tree, before its header is read.
struct Place {
    /// How its number is made.
    number: Numbering,
    depth: usize,
    /// Subtype of the enclosing multipart.
    parent: Option<String>,
}

enum Numbering {
    /// The message itself: `TEXT` when multipart, else `1`.
    Root,
    /// Child `n` of the multipart numbered `of`.
    Child { of: String, n: usize },
    /// The message in the message/rfc822 part numbered `of`.
    Message { of: String },
}

impl Numbering {
    fn number(&self, multipart: bool) -> String {
        match self {
            Numbering::Root if multipart => "TEXT".to_owned(),
            Numbering::Root => "1".to_owned(),
            Numbering::Child { of, n } => {
                let base = match of.as_str() {
                    "TEXT" => "",
                    s => s.strip_suffix(".TEXT").unwrap_or(s),
                };
                if base.is_empty() {
                    n.to_string()
                } else {
                    format!("{base}.{n}")
                }
            }
            Numbering::Message { of } if multipart => format!("{of}.TEXT"),
            Numbering::Message { of } => format!("{of}.1"),
        }
    }
}

/// An open container.
struct Frame {
    part: Part,
    /// Input offset where its body starts.
    start: u64,
    /// Its boundary's index in the scanner's stack (multipart only).
    level: usize,
    /// Children started so far.
    children: usize,
}

struct Walker<R> {
    sc: Scanner<R>,
    block: Block,
    /// The line that ended the current header without an empty line.
    prefix: Vec<u8>,
    stack: Vec<Frame>,
    parts: usize,
    report: Report,
    crlf: bool,
    /// `prefix` is the first line of the next entity, not yet read.
    carry: bool,
}

impl<R: Read> Walker<R> {
    fn run(mut self, visitor: &mut impl Visitor) -> Result<Report, Error> {
        if self.sc.fill()?.is_empty() {
            return Ok(self.report);
        }
        self.crlf = self.sc.first_line_crlf(LINE_END_PEEK)?.unwrap_or(false);
        let mut next = Some(Place {
            number: Numbering::Root,
            depth: 0,
            parent: None,
        });
        loop {
            if let Some(place) = next.take() {
                match self.entity(place, visitor)? {
                    Flow::Stop => return Ok(self.report),
                    Flow::Descend => {
                        let depth = self.stack.len();
                        if let Some(top) = self.stack.last_mut() {
                            if top.part.kind == Kind::Message {
                                // A line that ended the part's header
                                // without an empty line starts the message.
                                self.carry = !self.prefix.is_empty();
                                next = Some(Place {
                                    number: Numbering::Message {
                                        of: top.part.number.clone(),
                                    },
                                    depth,
                                    parent: None,
                                });
                                continue;
                            }
                            // A multipart: its preamble comes first.
                            self.sc.trim_at_eof = false;
                            let mut body = Body {
                                prefix: &self.prefix,
                                at: 0,
                                src: &mut self.sc,
                                read: 0,
                            };
                            visitor.preamble(&mut top.part, &mut body)?;
                        }
                    }
                    Flow::Skip => {}
                }
            }
            // The innermost data has ended, at a delimiter or the end of
            // the input: close containers until one goes on.
            let (_, mut stop) = self.sc.skip()?;
            loop {
                let depth = self.stack.len();
                let Some(top) = self.stack.last_mut() else {
                    return Ok(self.report);
                };
                if top.part.kind == Kind::Message {
                    self.close(visitor)?;
                    continue;
                }
                let level = top.level;
                match stop {
                    Some(d) if d.level == level => {
                        self.sc.take_delimiter();
                        if d.bare_cr {
                            top.part.defects.push(Defect::BareCr);
                        }
                        if d.close {
                            if top.children == 0 {
                                top.part.defects.push(Defect::StartBoundaryNotFound);
                            }
                            // The epilogue runs to an enclosing delimiter.
                            self.sc.truncate(level);
                            self.sc.trim_at_eof = false;
                            stop = self.sc.skip()?.1;
                            self.close(visitor)?;
                            continue;
                        }
                        // Two delimiter lines in a row make no empty part
                        // (Python's reading: by the grammar of RFC 2046
                        // §5.1.1 the second lacks its leading line end).
                        loop {
                            match self.sc.at_delimiter()? {
                                Some(a) if a.level == level && a.lead == 0 && !a.close => {
                                    self.sc.take_delimiter();
                                    top.part.defects.push(Defect::RepeatedDelimiter);
                                }
                                _ => break,
                            }
                        }
                        top.children += 1;
                        self.sc.trim_at_eof = true;
                        next = Some(Place {
                            number: Numbering::Child {
                                of: top.part.number.clone(),
                                n: top.children,
                            },
                            depth,
                            parent: Some(top.part.content_type.subtype.clone()),
                        });
                        break;
                    }
                    _ => {
                        // An enclosing delimiter or the end of the input.
                        top.part.defects.push(if top.children == 0 {
                            Defect::StartBoundaryNotFound
                        } else {
                            Defect::CloseBoundaryNotFound
                        });
                        self.sc.truncate(level);
                        self.close(visitor)?;
                    }
                }
            }
        }
    }

    /// Pops the innermost container and reports its end.
    fn close(&mut self, visitor: &mut impl Visitor) -> Result<(), Error> {
        if let Some(mut frame) = self.stack.pop() {
            if self.sc.near_misses > 0 && frame.part.kind == Kind::Multipart {
                frame.part.defects.push(Defect::LooksLikeBoundary);
                self.sc.near_misses = 0;
            }
            let size = self.sc.offset() - frame.start;
            visitor.leave(&frame.part, size)?;
            self.report.add(&frame.part.number, &frame.part.defects);
        }
        Ok(())
    }

    /// Reads one entity's header and handles it: a leaf is visited and its
    /// body skipped; a container is visited and, on [`Flow::Descend`],
    /// opened (pushed on the stack). Returns the visitor's flow.
    fn entity(&mut self, place: Place, visitor: &mut impl Visitor) -> Result<Flow, Error> {
        let offset = self.sc.offset();
        self.parts += 1;
        if self.parts > MAX_PARTS {
            return Err(Error::TooManyParts { offset });
        }
        let mut part = self.header(place, offset)?;
        let start = self.sc.offset() - self.prefix.len() as u64;
        if part.kind != Kind::Leaf && self.stack.len() >= MAX_MIME_DEPTH {
            return Err(Error::TooDeep { offset });
        }
        if part.kind == Kind::Leaf {
            part.crlf = match self.prefix.last() {
                Some(_) => self.prefix.ends_with(b"\r\n"),
                None => self.sc.first_line_crlf(LINE_END_PEEK)?.unwrap_or(self.crlf),
            };
        }
        visitor.fields(&part, &self.block)?;
        let mut body = Body {
            prefix: &self.prefix,
            at: 0,
            src: &mut self.sc,
            read: 0,
        };
        let flow = visitor.enter(&mut part, &mut body)?;
        if part.kind == Kind::Leaf || flow != Flow::Descend {
            if flow == Flow::Stop {
                self.report.add(&part.number, &part.defects);
                return Ok(flow);
            }
            body.skip()?;
            let size = body.bytes_read();
            visitor.leave(&part, size)?;
            self.report.add(&part.number, &part.defects);
            return Ok(Flow::Skip);
        }
        let mut level = 0;
        if part.kind == Kind::Multipart {
            // RFC 2046 §5.1.1: a boundary cannot end in white space; as in
            // Python, trailing blanks are taken as transport padding.
            let boundary = part
                .content_type
                .boundary()
                .unwrap_or_default()
                .trim_ascii_end()
                .to_vec();
            level = self.sc.depth();
            self.sc.push(&boundary);
            // The line that ended the header may be the first delimiter.
            if let Some(close) = scan::delimiter_line(&self.prefix, &boundary) {
                self.sc.inject(level, close);
                self.prefix.clear();
            }
        }
        self.stack.push(Frame {
            part,
            start,
            level,
            children: 0,
        });
        Ok(Flow::Descend)
    }

    /// Reads a header block and describes the entity.
    fn header(&mut self, place: Place, offset: u64) -> Result<Part, Error> {
        let mut defects = Vec::new();
        if std::mem::take(&mut self.carry) {
            // The line already read is not a field: no header, and that
            // line starts the body.
            self.block = Block::default();
            defects.push(Defect::NoHeaderSeparator);
        } else {
            let first = self.sc.fill()?.first().copied();
            if matches!(first, Some(b' ' | b'\t')) {
                defects.push(Defect::HeaderStartsWithContinuation);
            }
            self.block.read_from(&mut PartReader {
                scanner: &mut self.sc,
            })?;
            self.prefix.clear();
            if let Some(line) = self.block.body_start() {
                self.prefix.extend_from_slice(line);
                defects.push(Defect::NoHeaderSeparator);
            }
        }
        let digest = place.parent.as_deref() == Some("digest");
        let field = self.block.get(b"content-type");
        let typed = field.is_some();
        let content_type = match field {
            Some(f) => ContentType::parse(f.value),
            None if digest => ContentType::parse(b"message/rfc822"),
            None => ContentType::default(),
        };
        if let Some(d) = content_type.params.defects.first() {
            defects.push(Defect::BadParameter(d.clone()));
        }
        let encoding = self
            .block
            .get(b"content-transfer-encoding")
            .map_or(Encoding::SevenBit, |f| Encoding::parse(f.value));
        let disposition = self
            .block
            .get(b"content-disposition")
            .map(|f| Disposition::parse(f.value));
        if let Some(d) = disposition.as_ref().and_then(|d| d.params.defects.first()) {
            defects.push(Defect::BadParameter(d.clone()));
        }
        let kind = kind(&content_type, &encoding, &mut defects);
        if let Encoding::Unknown(e) = &encoding
            && kind == Kind::Leaf
        {
            defects.push(Defect::UnknownEncoding(e.clone()));
        }
        let filename = filename::of(&content_type, disposition.as_ref());
        Ok(Part {
            number: place.number.number(kind == Kind::Multipart),
            depth: place.depth,
            content_type,
            typed,
            encoding,
            disposition,
            filename,
            parent: place.parent,
            kind,
            crlf: self.crlf,
            offset,
            defects,
        })
    }
}

/// How an entity is walked (RFC 2046 §5.1, §5.2.1).
fn kind(ct: &ContentType, encoding: &Encoding, defects: &mut Vec<Defect>) -> Kind {
    let encoded = !encoding.is_identity();
    if ct.is_multipart() {
        match ct.boundary().map(<[u8]>::trim_ascii_end) {
            None | Some([]) => {
                defects.push(Defect::NoBoundary);
                return Kind::Leaf;
            }
            Some(b) if b.len() > MAX_BOUNDARY => {
                defects.push(Defect::BoundaryTooLong);
                return Kind::Leaf;
            }
            Some(_) => {}
        }
        // RFC 2045 §6.4: a multipart is never encoded; the declaration is
        // wrong, not the body (Python ignores it too).
        if encoded {
            defects.push(Defect::EncodedContainer(encoding.clone()));
        }
        return Kind::Multipart;
    }
    if ct.mtype == "message" && matches!(ct.subtype.as_str(), "rfc822" | "global") {
        if encoded {
            // RFC 2046 §5.2.1 forbids it; the message is then decoded as a
            // leaf rather than walked.
            defects.push(Defect::EncodedContainer(encoding.clone()));
            return Kind::Leaf;
        }
        return Kind::Message;
    }
    Kind::Leaf
}

#[cfg(test)]
mod tests;
