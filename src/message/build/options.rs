//! What `mime-build` asks for: its options and file operands (clap
//! arguments with their help text), the parsed `FILE;key=value` operands and
//! the [`Spec`] they fill.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::error::{Error, Shown, usage};
use super::source::{Source, label};

// ---------------------------------------------------------------- the spec

/// A part's per-file settings: what an operand's `;key=value` pairs give
/// (`parse_operand`), and what a [`Leaf`] carries into the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The file name written in `filename`/`name` parameters (`name=`;
    /// for a leaf, else the operand's base name).
    pub name: Option<String>,
    /// `type=`: a `type/subtype` that replaces the guessed one.
    pub content_type: Option<String>,
    /// `disposition=`: `inline` or `attachment`, replacing the default.
    pub disposition: Option<String>,
    /// `cid=`: the Content-ID (without `<>`), for inline files.
    pub cid: Option<String>,
    /// `charset=`: the charset of this text file.
    pub charset: Option<String>,
}

/// One file to put in the message, with its per-file overrides.
#[derive(Debug)]
pub struct Leaf {
    /// The content.
    pub source: Source,
    /// How messages name the input (`report.pdf`, `stdin`).
    pub label: String,
    /// Its file name and overrides.
    pub overrides: Overrides,
}

impl Leaf {
    /// A leaf named `filename`, with no other overrides.
    pub fn new(source: Source, label: impl Into<String>, filename: Option<String>) -> Leaf {
        Leaf {
            source,
            label: label.into(),
            overrides: Overrides {
                name: filename,
                ..Overrides::default()
            },
        }
    }
}

/// An attachment operand: a file and its overrides.
#[derive(Debug)]
pub enum Item {
    /// A file to encode as a part.
    Leaf(Leaf),
    /// A ready MIME entity (header block and body), copied as it is.
    Entity(Leaf),
}

/// Options that are not parts or header fields (`mime-build`'s, with
/// their help text).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Charset of text input that is not UTF-8.
    #[arg(long, value_name = "CS")]
    pub charset: Option<String>,
    /// Convert the UTF-8 text and HTML bodies to charset CS.
    #[arg(long, value_name = "CS")]
    pub to_charset: Option<String>,
    /// Send 8-bit text and messages as 8bit (the transport has 8BITMIME).
    #[arg(long = "8bit")]
    pub eight_bit: bool,
    /// Base64 for every part except message/*.
    #[arg(long)]
    pub binary_safe: bool,
    /// Write CRLF line ends (the wire form).
    #[arg(long)]
    pub crlf: bool,
    /// Boundaries to use before random ones (tests).
    #[doc(hidden)]
    #[arg(skip)]
    pub boundaries: Vec<String>,
}

/// The file operands of `mime-build` (with their help text), before they
/// are opened: each is `FILE` or `FILE;key=value;…` (`parse_operand`),
/// `-` for standard input.
#[derive(Debug, Default, clap::Args)]
pub struct Files {
    /// Text body from FILE (- is stdin). Default: stdin when nothing else is given.
    #[arg(long, value_name = "FILE")]
    pub text: Option<OsString>,
    /// HTML body from FILE (with --text: multipart/alternative).
    #[arg(long, value_name = "FILE")]
    pub html: Option<OsString>,
    /// File the HTML shows inline (FILE;cid=ID sets the Content-ID); repeatable.
    #[arg(long, value_name = "FILE")]
    pub inline: Vec<OsString>,
    /// Ready MIME entity (header block and body) to insert as a part; repeatable.
    #[arg(long = "part", value_name = "FILE")]
    pub entities: Vec<OsString>,
    /// Files to attach, each with optional overrides: FILE;type=T;name=N;disposition=inline;charset=CS.
    pub attachments: Vec<OsString>,
}

impl Files {
    /// Every operand, in the order they are opened.
    fn all(&self) -> impl Iterator<Item = &OsString> {
        (self.text.iter().chain(&self.html).chain(&self.inline))
            .chain(&self.attachments)
            .chain(&self.entities)
    }

    /// Applies `mime-build`'s rules: standard input (`-`) may be read
    /// once only; with no HTML body, attachment or entity the text body
    /// is standard input.
    pub(super) fn settle(&mut self) -> Result<(), Error> {
        let stdin = |op: &&OsString| op.as_bytes().split(|&b| b == b';').next() == Some(b"-");
        if self.all().filter(stdin).count() > 1 {
            return Err(usage("standard input (-) can be used only once"));
        }
        if self.text.is_none()
            && self.html.is_none()
            && self.attachments.is_empty()
            && self.entities.is_empty()
        {
            self.text = Some("-".into());
        }
        Ok(())
    }

    /// `settle`s the operands, parses them and puts them
    /// into `spec` as leaves, each file's content from `open` (see
    /// [`Source::file`]).
    pub fn open_into(
        mut self,
        spec: &mut Spec,
        mut open: impl FnMut(&Path) -> anyhow::Result<Source>,
    ) -> anyhow::Result<()> {
        self.settle().map_err(Error::into_anyhow)?;
        let mut leaf = |arg: &OsString| -> anyhow::Result<Leaf> {
            let (path, mut overrides) =
                parse_operand(arg, |p| p.exists()).map_err(Error::into_anyhow)?;
            if overrides.name.is_none() {
                overrides.name = basename(&path);
            }
            Ok(Leaf {
                source: open(&path)?,
                label: label(&path),
                overrides,
            })
        };
        spec.text = self.text.as_ref().map(&mut leaf).transpose()?;
        spec.html = self.html.as_ref().map(&mut leaf).transpose()?;
        for f in &self.inline {
            spec.inline.push(leaf(f)?);
        }
        for f in &self.attachments {
            spec.parts.push(Item::Leaf(leaf(f)?));
        }
        for f in &self.entities {
            spec.parts.push(Item::Entity(leaf(f)?));
        }
        Ok(())
    }
}

/// Everything `mime-build` was asked for.
#[derive(Debug, Default)]
pub struct Spec {
    /// `-f`: the From address.
    pub from: Option<String>,
    /// `-t`: To addresses (each value may be a list).
    pub to: Vec<String>,
    /// `-c`: Cc addresses.
    pub cc: Vec<String>,
    /// `-b`: Bcc addresses.
    pub bcc: Vec<String>,
    /// `-r`: Reply-To addresses.
    pub reply_to: Vec<String>,
    /// `-s`: the subject.
    pub subject: Option<String>,
    /// `-H`: extra fields `Name: value`.
    pub fields: Vec<String>,
    /// `--list-unsubscribe`: the URIs of a `List-Unsubscribe` field
    /// (RFC 2369 §3.2).
    pub list_unsubscribe: Vec<String>,
    /// `--one-click`: `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
    /// (RFC 8058).
    pub one_click: bool,
    /// The text body.
    pub text: Option<Leaf>,
    /// The HTML body.
    pub html: Option<Leaf>,
    /// Files the HTML refers to by Content-ID.
    pub inline: Vec<Leaf>,
    /// Attachments and ready entities, in order.
    pub parts: Vec<Item>,
    /// Put the attachments in a multipart/digest.
    pub digest: bool,
    /// Write only a MIME entity, without message header fields.
    pub entity: bool,
    /// Everything else.
    pub options: Options,
}

const KEYS: [&str; 5] = ["type", "name", "disposition", "cid", "charset"];

/// Splits `FILE;type=…;name=…;disposition=…;cid=…;charset=…` into the
/// file (`-` is standard input) and its overrides. An operand
/// naming an existing file (`exists`) is that file, `;` and all;
/// otherwise the file is what comes before the first `;key=`. The file
/// name may be any bytes; a `name=` value that is not UTF-8 is read as
/// [`file_name_text`] reads names; other values must be UTF-8.
pub(super) fn parse_operand(
    arg: impl AsRef<OsStr>,
    exists: impl Fn(&Path) -> bool,
) -> Result<(PathBuf, Overrides), Error> {
    let arg = arg.as_ref();
    let bytes = arg.as_bytes();
    let first = KEYS
        .iter()
        .filter_map(|k| memchr::memmem::find(bytes, format!(";{k}=").as_bytes()))
        .min();
    let Some(at) = first.filter(|_| !exists(Path::new(arg))) else {
        return Ok((PathBuf::from(arg), Overrides::default()));
    };
    let shown = String::from_utf8_lossy(bytes);
    let shown = Shown(&shown);
    let path = PathBuf::from(OsStr::from_bytes(&bytes[..at]));
    let mut op = Overrides::default();
    for kv in bytes[at + 1..].split(|&b| b == b';') {
        let eq = memchr::memchr(b'=', kv).unwrap_or(kv.len());
        let (k, v) = (&kv[..eq], kv.get(eq + 1..).unwrap_or_default());
        let slot = match k {
            b"type" => &mut op.content_type,
            b"name" => &mut op.name,
            b"disposition" => &mut op.disposition,
            b"cid" => &mut op.cid,
            b"charset" => &mut op.charset,
            _ => {
                let k = String::from_utf8_lossy(k);
                return Err(usage(format!("{shown:?}: unknown override {k:?}")));
            }
        };
        *slot = Some(match std::str::from_utf8(v) {
            Ok(v) => v.to_owned(),
            Err(_) if k == b"name" => file_name_text(v),
            Err(_) => {
                let k = String::from_utf8_lossy(k);
                return Err(usage(format!("{shown:?}: {k}= is not UTF-8")));
            }
        });
    }
    // Only the last component of a name is sent, whichever separator a
    // reader's system uses: `name=../../etc/passwd` must not tell a
    // careless reader where to write.
    if let Some(n) = &mut op.name {
        let base = n.rsplit(['/', '\\']).next().unwrap_or("");
        if matches!(base, "" | "." | "..") {
            return Err(usage(format!(
                "{shown:?}: name={:?} has no file name",
                Shown(n)
            )));
        }
        *n = base.to_owned();
    }
    if let Some(d) = &op.disposition
        && !matches!(&d.to_ascii_lowercase()[..], "inline" | "attachment")
    {
        return Err(usage(format!(
            "{shown:?}: disposition must be inline or attachment"
        )));
    }
    Ok((path, op))
}

/// The last component of `path` as text (`None` for `-` and paths ending
/// in `..`), read by [`file_name_text`].
pub(super) fn basename(path: &Path) -> Option<String> {
    if path.as_os_str() == "-" {
        return None;
    }
    path.file_name().map(|n| file_name_text(n.as_bytes()))
}

/// A file name's bytes as text: UTF-8 where they are valid UTF-8, and
/// every other byte as the windows-1252 character it is (the superset of
/// ISO-8859-1 that such names are nearly always in: `lat\xe9.txt` is
/// `laté.txt`). Nothing is lost to U+FFFD, and valid UTF-8 names are
/// untouched.
pub(super) fn file_name_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).min(bad.len());
                for b in bad[..n].chunks(1) {
                    let (c, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(b);
                    out.push_str(&c);
                }
                rest = &bad[n..];
            }
        }
    }
    out
}
