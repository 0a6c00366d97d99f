//! What a walk reports about each entity: its kind, encoding and header
//! ([`Part`]), what was malformed ([`Defect`], [`Report`]) and why a walk
//! stopped ([`Error`]). A leaf of the folder: the walker and the tools
//! built on it import these, never the other way round.

use std::fmt;
use std::io;

use crate::limits::{MAX_MIME_DEPTH, MAX_PARTS};
use crate::message::mime::{self, ContentType, Disposition};

/// What kind of entity a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A part with content: decoded, listed, extracted.
    Leaf,
    /// A multipart whose children are walked.
    Multipart,
    /// A message/rfc822 (or message/global) whose message is walked.
    Message,
}

/// A Content-Transfer-Encoding (RFC 2045 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// `7bit`, also the default when the field is absent (§6.1).
    SevenBit,
    /// `8bit`.
    EightBit,
    /// `binary`.
    Binary,
    /// `base64` (§6.8).
    Base64,
    /// `quoted-printable` (§6.7).
    QuotedPrintable,
    /// Anything else: the body is taken as it is (a defect).
    Unknown(String),
}

impl Encoding {
    /// Parses a field value: the first token, ASCII case-insensitive
    /// (`Base64`, `base64; x`, `7bit (comment)` are all read).
    pub fn parse(value: &[u8]) -> Encoding {
        let value = crate::message::header::unfold(value);
        let token = value
            .trim_ascii()
            .split(|&b| matches!(b, b';' | b'(' | b' ' | b'\t' | b'\r' | b'\n'))
            .next()
            .unwrap_or(b"");
        match token.to_ascii_lowercase().as_slice() {
            b"" | b"7bit" => Encoding::SevenBit,
            b"8bit" => Encoding::EightBit,
            b"binary" => Encoding::Binary,
            b"base64" => Encoding::Base64,
            b"quoted-printable" => Encoding::QuotedPrintable,
            other => Encoding::Unknown(String::from_utf8_lossy(other).into_owned()),
        }
    }

    /// The name as RFC 2045 spells it (an unknown one as given, lowercased).
    pub fn name(&self) -> &str {
        match self {
            Encoding::SevenBit => "7bit",
            Encoding::EightBit => "8bit",
            Encoding::Binary => "binary",
            Encoding::Base64 => "base64",
            Encoding::QuotedPrintable => "quoted-printable",
            Encoding::Unknown(s) => s,
        }
    }

    /// Whether the body is the content as it is (no decoding).
    pub fn is_identity(&self) -> bool {
        !matches!(self, Encoding::Base64 | Encoding::QuotedPrintable)
    }
}

/// One entity of the tree, as its header describes it.
#[derive(Debug, Clone)]
pub struct Part {
    /// The IMAP section specifier (see the module docs): `1.2`, `TEXT`.
    pub number: String,
    /// Containers around it (0 for the message itself).
    pub depth: usize,
    /// Its Content-Type, or the default (text/plain; message/rfc822 in a
    /// multipart/digest, RFC 2046 §5.1.5).
    pub content_type: ContentType,
    /// Whether the header had a Content-Type field.
    pub typed: bool,
    /// Its Content-Transfer-Encoding.
    pub encoding: Encoding,
    /// Its Content-Disposition, if any.
    pub disposition: Option<Disposition>,
    /// The file name the part gives (see [`filename::of`](super::filename::of)), decoded but not
    /// yet made safe.
    pub filename: Option<String>,
    /// Subtype of the multipart it is a child of (`mixed`); `None` for the
    /// body of a message.
    pub parent: Option<String>,
    /// How it is walked.
    pub kind: Kind,
    /// Whether lines end with CRLF: for a leaf, its body's first line
    /// (or the message's first line when the body has none), which
    /// quoted-printable decoding follows for hard line breaks.
    pub crlf: bool,
    /// Offset of the first byte of its header in the input.
    pub offset: u64,
    /// What was wrong with it (its children's defects are their own).
    pub defects: Vec<Defect>,
}

impl Part {
    /// `type/subtype`, lowercased.
    pub fn essence(&self) -> String {
        self.content_type.essence()
    }

    /// The charset parameter, if any.
    pub fn charset(&self) -> Option<&str> {
        self.content_type.charset()
    }

    /// Whether the disposition type is `attachment`.
    pub fn is_attachment_disposition(&self) -> bool {
        self.disposition.as_ref().is_some_and(|d| d.is_attachment())
    }

    /// Whether `mime-unpack -x` extracts this part: a leaf that has the
    /// disposition `attachment`, or a file name, or is neither text nor
    /// message nor multipart and is the body of a message or a child of a
    /// multipart other than alternative, related, signed or encrypted
    /// (whose parts are the message's own text, its inline resources, or
    /// its security wrapping: RFC 2046 §5.1.4, RFC 2387, RFC 1847); or a
    /// message/rfc822 part with the disposition `attachment` or a file name
    /// (an attached message, saved whole as mail clients save it).
    pub fn is_attachment(&self) -> bool {
        let named = self.is_attachment_disposition() || self.filename.is_some();
        match self.kind {
            Kind::Multipart => return false,
            Kind::Message => return named,
            Kind::Leaf if named => return true,
            Kind::Leaf => {}
        }
        let mtype = self.content_type.mtype.as_str();
        let structural = matches!(
            self.parent.as_deref(),
            Some("alternative" | "related" | "signed" | "encrypted")
        );
        !matches!(mtype, "text" | "message" | "multipart") && !structural
    }
}

/// A malformed construct and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Defect {
    /// The header did not end with an empty line: the first line that is
    /// not a field starts the body.
    NoHeaderSeparator,
    /// The header began with a continuation line (ignored).
    HeaderStartsWithContinuation,
    /// A Content-Type or Content-Disposition value was malformed; it was
    /// read as the [`mime::Defect`] says.
    BadParameter(mime::Defect),
    /// A multipart without a boundary parameter (or an empty one): its
    /// body is one part of text (Python does the same).
    NoBoundary,
    /// A boundary longer than the scanner compares: treated as
    /// [`Defect::NoBoundary`].
    BoundaryTooLong,
    /// A multipart whose first delimiter never came: no children; its body
    /// is all preamble.
    StartBoundaryNotFound,
    /// A multipart ended without its close delimiter (at the end of the
    /// input or of an enclosing part): its parts so far are kept.
    CloseBoundaryNotFound,
    /// Lines that start with `--` and an open boundary but are not
    /// delimiters (`--bX`, RFC 2046 §5.1.1): kept as text.
    LooksLikeBoundary,
    /// A delimiter line right after another: no empty part is made
    /// between them (Python's reading).
    RepeatedDelimiter,
    /// A bare CR ended the line before a delimiter (taken as a line end).
    BareCr,
    /// A multipart or message/rfc822 declared an encoding other than
    /// 7bit, 8bit or binary (RFC 2045 §6.4): ignored for a multipart; a
    /// message/rfc822 so encoded is a leaf (decoded, not walked).
    EncodedContainer(Encoding),
    /// An unknown Content-Transfer-Encoding: the body is taken as it is.
    UnknownEncoding(String),
    /// Base64 with bytes outside the alphabet: they were skipped.
    Base64Junk,
    /// Base64 that went on after its padding: decoded as a new quantum.
    Base64AfterPadding,
    /// Base64 that ended inside a quantum (one character left): dropped.
    Base64Truncated,
    /// Quoted-printable with malformed `=` escapes: kept literally.
    BadQuotedPrintable,
    /// A charset no decoder knows: the text was left as it is.
    UnknownCharset(String),
    /// Bytes that are invalid in the part's charset: replaced by U+FFFD.
    InvalidText(String),
}

impl Defect {
    /// Defects of the same kind share this (one warning line per kind).
    fn kind_index(&self) -> usize {
        match self {
            Defect::NoHeaderSeparator => 0,
            Defect::HeaderStartsWithContinuation => 1,
            Defect::BadParameter(_) => 2,
            Defect::NoBoundary => 3,
            Defect::BoundaryTooLong => 4,
            Defect::StartBoundaryNotFound => 5,
            Defect::CloseBoundaryNotFound => 6,
            Defect::LooksLikeBoundary => 7,
            Defect::RepeatedDelimiter => 8,
            Defect::BareCr => 9,
            Defect::EncodedContainer(_) => 10,
            Defect::UnknownEncoding(_) => 11,
            Defect::Base64Junk => 12,
            Defect::Base64AfterPadding => 13,
            Defect::Base64Truncated => 14,
            Defect::BadQuotedPrintable => 15,
            Defect::UnknownCharset(_) => 16,
            Defect::InvalidText(_) => 17,
        }
    }

    /// A short name for scripts (`--json`): `no-header-separator`.
    pub fn name(&self) -> &'static str {
        [
            "no-header-separator",
            "header-starts-with-continuation",
            "bad-parameter",
            "no-boundary",
            "boundary-too-long",
            "start-boundary-not-found",
            "close-boundary-not-found",
            "looks-like-boundary",
            "repeated-delimiter",
            "bare-cr",
            "encoded-container",
            "unknown-encoding",
            "base64-junk",
            "base64-after-padding",
            "base64-truncated",
            "bad-quoted-printable",
            "unknown-charset",
            "invalid-text",
        ][self.kind_index()]
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Defect::NoHeaderSeparator => f.write_str(
                "no empty line after the header (the body starts at the first non-field line)",
            ),
            Defect::HeaderStartsWithContinuation => {
                f.write_str("header starts with a continuation line (ignored)")
            }
            Defect::BadParameter(d) => write!(f, "malformed header parameter: {d}"),
            Defect::NoBoundary => f.write_str("multipart without a boundary (read as one part)"),
            Defect::BoundaryTooLong => write!(
                f,
                "boundary longer than {} bytes (read as one part)",
                crate::limits::MAX_BOUNDARY
            ),
            Defect::StartBoundaryNotFound => {
                f.write_str("multipart boundary never found (no parts; the body is preamble)")
            }
            Defect::CloseBoundaryNotFound => {
                f.write_str("multipart without its close delimiter (parts kept)")
            }
            Defect::LooksLikeBoundary => f.write_str(
                "lines that start with a boundary but are not delimiters (kept as text)",
            ),
            Defect::RepeatedDelimiter => f.write_str("repeated delimiter line (no empty part)"),
            Defect::BareCr => f.write_str("bare CR line end before a delimiter"),
            Defect::EncodedContainer(e) => {
                write!(
                    f,
                    "{} encoding on a multipart or message (not walked)",
                    e.name()
                )
            }
            Defect::UnknownEncoding(e) => {
                write!(f, "unknown transfer encoding {e:?} (body taken as it is)")
            }
            Defect::Base64Junk => f.write_str("bytes outside the base64 alphabet (skipped)"),
            Defect::Base64AfterPadding => {
                f.write_str("base64 data after padding (decoded as more data)")
            }
            Defect::Base64Truncated => {
                f.write_str("base64 ends inside a quantum (last character dropped)")
            }
            Defect::BadQuotedPrintable => {
                f.write_str("malformed quoted-printable escapes (kept literally)")
            }
            Defect::UnknownCharset(c) => write!(f, "unknown charset {c:?} (text left as it is)"),
            Defect::InvalidText(c) => {
                write!(f, "bytes invalid in charset {c:?} (replaced by U+FFFD)")
            }
        }
    }
}

/// The defects of a whole walk, one entry per kind: the first of the kind,
/// the part it was in, and how many parts had one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `(first defect, its part number, number of parts)` per kind, in the
    /// order first seen.
    pub kinds: Vec<(Defect, String, u64)>,
}

impl Report {
    /// Records the defects of one part.
    pub fn add(&mut self, number: &str, defects: &[Defect]) {
        for (i, d) in defects.iter().enumerate() {
            // A kind counts once per part.
            if defects[..i]
                .iter()
                .any(|e| e.kind_index() == d.kind_index())
            {
                continue;
            }
            match self
                .kinds
                .iter_mut()
                .find(|(e, _, _)| e.kind_index() == d.kind_index())
            {
                Some((_, _, n)) => *n += 1,
                None => self.kinds.push((d.clone(), number.to_owned(), 1)),
            }
        }
    }

    /// Whether nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// One line per kind: `part 1.2: <defect>` and, when more parts had
    /// one, `(and N more parts)`.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.kinds.iter().map(|(d, part, n)| match n {
            1 => format!("part {part}: {d}"),
            n => format!("part {part}: {d} (and {} more parts)", n - 1),
        })
    }
}

/// Why a walk stopped.
#[derive(Debug)]
pub enum Error {
    /// Reading the input or writing the output failed.
    Io(io::Error),
    /// A header block over its limits.
    Parse(crate::message::ParseError),
    /// Containers nested deeper than [`MAX_MIME_DEPTH`]; `offset` is the
    /// byte where the too-deep part's header starts.
    TooDeep {
        /// Input byte offset.
        offset: u64,
    },
    /// More than [`MAX_PARTS`] entities.
    TooManyParts {
        /// Input byte offset.
        offset: u64,
    },
    /// Malformed input a task cannot go on with (an incomplete
    /// message/partial set, say).
    Data(String),
}

impl Error {
    /// Whether the input was at fault (exit 65), not the system.
    pub fn is_data(&self) -> bool {
        !matches!(self, Error::Io(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => e.fmt(f),
            Error::Parse(e) => e.fmt(f),
            Error::TooDeep { offset } => write!(
                f,
                "parts nested deeper than {MAX_MIME_DEPTH} levels (at byte {offset})"
            ),
            Error::TooManyParts { offset } => {
                write!(f, "more than {MAX_PARTS} parts (at byte {offset})")
            }
            Error::Data(msg) => f.write_str(msg),
        }
    }
}

crate::io::io_transparent_error!(Error {
    _ => crate::exit::DATAERR,
});

impl From<crate::message::Error> for Error {
    fn from(e: crate::message::Error) -> Self {
        match e {
            crate::message::Error::Io(e) => Error::Io(e),
            crate::message::Error::Parse(e) => Error::Parse(e),
        }
    }
}

impl From<crate::codec::Error> for Error {
    fn from(e: crate::codec::Error) -> Self {
        match e {
            crate::codec::Error::Io(e) => Error::Io(e),
            crate::codec::Error::Decode(e) => Error::Data(e.to_string()),
        }
    }
}
