//! Signing (RFC 6376 §5): the message is read once into a spool (memory,
//! then an unlinked file: [`crate::io::spool`]) while nothing is hashed,
//! then read back to hash its header and stream its body, then written
//! out after the new DKIM-Signature fields, byte for byte as it came.
//!
//! Choices: never `l=` (§8.2: it lets anyone append to the body); `t=`
//! always; `x=` on request; the signing fields are those of
//! [`DEFAULT_FIELDS`] present in the message, each instance once, plus
//! one more `from` so no From can be added after signing (over-signing,
//! §8.15). A new field ends its lines as the message's first line does
//! (LF or CRLF), so a file stays consistent.

use std::io::{self, BufRead, Read, Write};

use super::canon::{self, Body, Canon, FIELD, hash_body, signed_fields};
use super::key::{KeyError, SigningKey};
use crate::codec::base64;
use crate::io::spool::{Spool, Spooled};
use crate::limits::{IO_BUF, MAX_LINE, SPOOL_MEM};
use crate::message::header::{is_mbox_from_line, read_block};

/// The fields signed by default, when present (RFC 6376 §5.4.1's list,
/// with the list fields of RFC 2369 and RFC 8058).
pub const DEFAULT_FIELDS: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
    "list-unsubscribe-post",
];

/// One signature to add: whose and with which key.
#[derive(Debug)]
pub struct Signer {
    /// The key (its type chooses `a=`).
    pub key: SigningKey,
    /// `d=`: the signing domain.
    pub domain: String,
    /// `s=`: the selector.
    pub selector: String,
}

/// How to sign.
#[derive(Debug, Clone)]
pub struct Options {
    /// Header canonicalization.
    pub header: Canon,
    /// Body canonicalization.
    pub body: Canon,
    /// Field names for `h=` as given (`-h`): each signs one instance,
    /// bottom-up; `None` for [`DEFAULT_FIELDS`] as present, From over-signed.
    pub fields: Option<Vec<String>>,
    /// `t=`: seconds since the epoch.
    pub time: u64,
    /// `x=` is `t=` plus this many seconds.
    pub expire: Option<u64>,
}

/// Why a message could not be signed.
#[derive(Debug)]
pub enum Error {
    /// Reading the message or writing the output failed, or the header is
    /// over a limit.
    Message(crate::message::Error),
    /// The key would not sign.
    Key(KeyError),
    /// The message has no From field, which every signature must cover
    /// (RFC 6376 §5.4).
    NoFrom,
    /// A folded line before the first field: the header reader ignores it,
    /// but a field put on top would take it as its own continuation, and
    /// its signature would not decode.
    LeadingFold,
    /// A domain, selector or field name that cannot go in the field (CR,
    /// LF, `;`, white space...): refused, never written (no header
    /// injection).
    BadName(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Message(e) => e.fmt(f),
            Error::Key(e) => e.fmt(f),
            Error::NoFrom => f.write_str("the message has no From field (RFC 6376 §5.4)"),
            Error::LeadingFold => f.write_str(
                "the message starts with a folded line, before any field (RFC 5322 §2.2.3)",
            ),
            Error::BadName(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Message(e) => Some(e),
            Error::Key(e) => Some(e),
            Error::NoFrom | Error::LeadingFold | Error::BadName(_) => None,
        }
    }
}

impl crate::exit::Status for Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::Message(e) => e.exit_code(),
            Error::Key(e) => e.exit_code(),
            Error::NoFrom | Error::LeadingFold => crate::exit::DATAERR,
            Error::BadName(_) => crate::exit::USAGE,
        }
    }

    fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Message(e) => e.io_error(),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Message(crate::message::Error::Io(e))
    }
}

/// Signs the message read from `input` with every signer, in order (the
/// first signer's field comes first), and writes it to `out`.
pub fn sign(
    mut input: impl Read,
    out: &mut impl Write,
    signers: &[Signer],
    opts: &Options,
) -> Result<(), Error> {
    check_names(signers, opts)?;
    let mut spool = Spool::new(SPOOL_MEM);
    io::copy(&mut input, &mut spool)?;
    let mut fields = Vec::new();
    match spool.into_spooled()? {
        Spooled::Mem(bytes) => {
            for s in signers {
                fields.push(signature(&mut &bytes[..], s, opts)?);
            }
            write_signed(out, &fields, &mut &bytes[..])?;
        }
        Spooled::File(mut file) => {
            for s in signers {
                io::Seek::rewind(&mut file)?;
                fields.push(signature(
                    &mut io::BufReader::with_capacity(IO_BUF, &mut file),
                    s,
                    opts,
                )?);
            }
            io::Seek::rewind(&mut file)?;
            write_signed(
                out,
                &fields,
                &mut io::BufReader::with_capacity(IO_BUF, &mut file),
            )?;
        }
    }
    Ok(())
}

/// The DKIM-Signature field (CRLF-terminated, to go on top) of `s` for
/// the message read from `input`, which is read to its end: for a caller
/// that holds the message itself and can read it again (smtp-send signs
/// its prepared message this way, once per version of its text).
pub fn signature_field(
    input: &mut impl BufRead,
    s: &Signer,
    opts: &Options,
) -> Result<String, Error> {
    check_names(std::slice::from_ref(s), opts)?;
    signature(input, s, opts)
}

/// Refuses what would break the field: `d=` and `s=` are dot-atoms of
/// letters, digits, `-` and `_` (RFC 6376 §3.5, the selector §3.1); a
/// field name of `h=` is printable ASCII but `:` (RFC 5322 §3.6.8) and
/// `;` (the tag separator); From among them (§5.4).
fn check_names(signers: &[Signer], opts: &Options) -> Result<(), Error> {
    let dot_atom = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    for s in signers {
        if !dot_atom(&s.domain) {
            return Err(Error::BadName(format!("bad signing domain {:?}", s.domain)));
        }
        if !dot_atom(&s.selector) {
            return Err(Error::BadName(format!("bad selector {:?}", s.selector)));
        }
    }
    if let Some(names) = &opts.fields
        && !names.iter().any(|n| n.eq_ignore_ascii_case("from"))
    {
        return Err(Error::BadName(
            "the fields to sign must include From (RFC 6376 §5.4)".to_owned(),
        ));
    }
    for name in opts.fields.iter().flatten() {
        let good = |b: u8| (33..=126).contains(&b) && b != b':' && b != b';';
        if name.is_empty() || !name.bytes().all(good) {
            return Err(Error::BadName(format!("bad field name {name:?}")));
        }
    }
    Ok(())
}

/// Whether the first line ends with CRLF.
fn crlf(start: &[u8]) -> bool {
    memchr::memchr(b'\n', start).is_some_and(|i| i > 0 && start[i - 1] == b'\r')
}

/// Writes `fields`, then the message of `input` unchanged; an mbox `From `
/// line that opens it (not part of the message: the header reader skips
/// it) stays first.
fn write_signed(
    out: &mut impl Write,
    fields: &[String],
    input: &mut impl BufRead,
) -> io::Result<()> {
    let head = input.fill_buf()?;
    let crlf = crlf(head);
    if is_mbox_from_line(first_line(head)) {
        let mut line = Vec::new();
        input
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)?;
        out.write_all(&line)?;
    }
    for field in fields {
        if crlf {
            out.write_all(field.as_bytes())?;
        } else {
            out.write_all(field.replace("\r\n", "\n").as_bytes())?;
        }
    }
    io::copy(input, out)?;
    Ok(())
}

/// Appends `items` to the field being built, separated by `sep`, folding
/// before an item that would pass 78 columns (RFC 5322 §2.1.1).
fn fold_list(field: &mut String, column: &mut usize, items: &[&str], sep: &str) {
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item}{sep}")
        } else {
            (*item).to_owned()
        };
        if *column + piece.len() > 78 {
            field.push_str("\r\n\t");
            *column = 1;
        }
        field.push_str(&piece);
        *column += piece.len();
    }
}

/// The first line of `text` (what of it is there), line end included.
fn first_line(text: &[u8]) -> &[u8] {
    memchr::memchr(b'\n', text).map_or(text, |i| &text[..=i])
}

/// The DKIM-Signature field of one signer, CRLF-terminated.
fn signature(input: &mut impl BufRead, s: &Signer, opts: &Options) -> Result<String, Error> {
    // The line a field on top would be followed by: the first, or the
    // second after an mbox `From ` line (as far as the buffer shows).
    let head = input.fill_buf()?;
    let line = first_line(head);
    let next = if is_mbox_from_line(line) {
        first_line(&head[line.len()..])
    } else {
        line
    };
    if next.starts_with(b" ") || next.starts_with(b"\t") {
        return Err(Error::LeadingFold);
    }
    let block = read_block(input).map_err(Error::Message)?;
    if block.get(b"from").is_none() {
        return Err(Error::NoFrom);
    }
    let mut body = [Body::new(opts.body, None)];
    hash_body(input, &block, &mut body)?;
    let [body] = body;
    let bh = base64::encode_to_string(&body.finish().digest);

    let names: Vec<String> = match &opts.fields {
        Some(list) => list.clone(),
        None => {
            let mut names = Vec::new();
            for name in DEFAULT_FIELDS {
                for _ in block.get_all(name.as_bytes()) {
                    names.push((*name).to_owned());
                }
            }
            names.push("from".to_owned());
            names
        }
    };

    let mut field = format!(
        "{FIELD}: v=1; a={}; c={}/{};\r\n\td={}; s={}; t={};",
        s.key.algorithm().name(),
        opts.header.name(),
        opts.body.name(),
        s.domain,
        s.selector,
        opts.time
    );
    let mut column = field.len() - field.rfind('\t').unwrap_or(0);
    if let Some(x) = opts.expire {
        let x = format!(" x={};", opts.time.saturating_add(x));
        column += x.len();
        field.push_str(&x);
    }
    field.push_str(" h=");
    column += 3;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    fold_list(&mut field, &mut column, &refs, ":");
    field.push_str(";\r\n\tbh=");
    field.push_str(&bh);
    field.push_str(";\r\n\tb=");

    // §3.7: the selected fields, then this field with b= empty and no
    // final CRLF.
    let mut data = Vec::new();
    signed_fields(&block, &names, opts.header, &mut data);
    let value = &field.as_bytes()[FIELD.len() + 1..];
    canon::header(opts.header, FIELD.as_bytes(), value, &mut data);
    data.truncate(data.len() - 2);
    let sig = base64::encode_to_string(&s.key.sign(&data).map_err(Error::Key)?);
    let mut column = 3;
    for chunk in sig.as_bytes().chunks(8) {
        if column + chunk.len() > 76 {
            field.push_str("\r\n\t");
            column = 1;
        }
        field.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        column += chunk.len();
    }
    field.push_str("\r\n");
    Ok(field)
}
