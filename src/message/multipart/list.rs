//! Listing a message's tree (`mime-unpack -l`), as aligned text or JSON,
//! and printing one part (`mime-unpack -p`).

use std::io::{self, Read, Write};

use super::decode::{self, Utf8Writer};
use super::{Body, Defect, Error, Flow, Kind, Part, Report, Visitor, walk};
use crate::codec::encoded_word::is_bad_control;

/// One line of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Part number (IMAP section, see the module docs of [`super`]).
    pub number: String,
    /// Containers around it.
    pub depth: usize,
    /// `type/subtype`.
    pub content_type: String,
    /// The charset parameter.
    pub charset: Option<String>,
    /// The transfer encoding.
    pub encoding: String,
    /// Decoded size of a leaf; a container's body size in the message.
    pub size: u64,
    /// The disposition type.
    pub disposition: Option<String>,
    /// The file name as the part gives it (decoded, not sanitised).
    pub filename: Option<String>,
    /// `leaf`, `multipart` or `message`; a multipart whose first
    /// delimiter never came is a `leaf` (its preamble is its content).
    pub kind: &'static str,
    /// Whether `-x` extracts it.
    pub attachment: bool,
    /// Short names of its defects.
    pub defects: Vec<&'static str>,
}

/// Collects the entries of a walk.
#[derive(Default)]
struct Lister {
    entries: Vec<Entry>,
    /// Index of each open entity's entry, innermost last.
    open: Vec<usize>,
}

impl Visitor for Lister {
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        self.entries.push(Entry {
            number: part.number.clone(),
            depth: part.depth,
            content_type: part.essence(),
            charset: part.charset().map(str::to_owned),
            encoding: part.encoding.name().to_owned(),
            size: 0,
            disposition: part.disposition.as_ref().map(|d| d.kind.clone()),
            filename: part.filename.clone(),
            kind: match part.kind {
                Kind::Leaf => "leaf",
                Kind::Multipart => "multipart",
                Kind::Message => "message",
            },
            attachment: part.is_attachment(),
            defects: Vec::new(),
        });
        self.open.push(self.entries.len() - 1);
        if part.kind == Kind::Leaf {
            let size = decode::content(part, body, io::sink())?;
            if let Some(e) = self.entries.last_mut() {
                e.size = size;
            }
        }
        Ok(Flow::Descend)
    }

    fn leave(&mut self, part: &Part, size: u64) -> Result<(), Error> {
        if let Some(i) = self.open.pop() {
            let e = &mut self.entries[i];
            if part.kind != Kind::Leaf {
                e.size = size;
            }
            e.defects = part.defects.iter().map(Defect::name).collect();
            if part.defects.contains(&Defect::StartBoundaryNotFound) {
                e.kind = "leaf";
            }
            e.defects.dedup();
        }
        Ok(())
    }
}

/// Walks the message in `input` and returns its entries in document order.
pub fn entries(input: impl Read) -> Result<(Vec<Entry>, Report), Error> {
    let mut lister = Lister::default();
    let report = walk(input, &mut lister)?;
    Ok((lister.entries, report))
}

/// A value from the message made safe to print: every character that
/// [`is_bad_control`] rejects (C0 controls but TAB, DEL, C1 controls, the
/// bidirectional embedding, override and isolate controls, U+2028 and
/// U+2029) becomes U+FFFD, so a line of the listing is one line, drives no
/// terminal and shows its text in order. The one cleaner for every column
/// of the text listing and every string of the JSON one (reliability.md
/// K11; [`super::filename::sanitize`] builds on the same predicate).
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if is_bad_control(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// Writes the listing of `input` to `out`: one line per entity, columns
/// part number, type, charset, encoding, size, disposition, file name
/// (`-` for none), aligned; or a JSON array of objects when `json`.
/// With a `file` name, each line starts with it and `:` (as grep does),
/// and each JSON object has a `file` member. An empty input is no
/// message: nothing is written.
pub fn list(
    input: impl Read,
    out: &mut impl Write,
    json: bool,
    file: Option<&str>,
) -> Result<Report, Error> {
    let (entries, report) = entries(input)?;
    if entries.is_empty() {
        return Ok(report);
    }
    if json {
        write_json(&entries, file, out)?;
    } else {
        write_text(&entries, file, out)?;
    }
    Ok(report)
}

fn write_text(entries: &[Entry], file: Option<&str>, out: &mut impl Write) -> io::Result<()> {
    let cols = |e: &Entry| -> [String; 7] {
        let opt = |o: &Option<String>| o.as_deref().map_or("-".to_owned(), clean);
        [
            clean(&e.number),
            clean(&e.content_type),
            opt(&e.charset),
            clean(&e.encoding),
            e.size.to_string(),
            opt(&e.disposition),
            opt(&e.filename),
        ]
    };
    let rows: Vec<[String; 7]> = entries.iter().map(cols).collect();
    let mut width = [0usize; 7];
    for row in &rows {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            let pad = width[i].saturating_sub(c.chars().count());
            match i {
                // Sizes right-aligned; the name is last, not padded.
                4 => line.push_str(&format!("{}{c}  ", " ".repeat(pad))),
                6 => line.push_str(c),
                _ => line.push_str(&format!("{c}{}  ", " ".repeat(pad))),
            }
        }
        if let Some(f) = file {
            write!(out, "{}:", clean(f))?;
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn write_json(entries: &[Entry], file: Option<&str>, out: &mut impl Write) -> io::Result<()> {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let opt = |o: &Option<String>| o.as_deref().map(clean);
            let mut v = serde_json::json!({
                "part": clean(&e.number),
                "depth": e.depth,
                "type": clean(&e.content_type),
                "charset": opt(&e.charset),
                "encoding": clean(&e.encoding),
                "size": e.size,
                "disposition": opt(&e.disposition),
                "filename": opt(&e.filename),
                "kind": e.kind,
                "attachment": e.attachment,
                "defects": e.defects,
            });
            if let Some(f) = file {
                v["file"] = clean(f).into();
            }
            v
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &list)?;
    out.write_all(b"\n")
}

/// Prints one part.
struct Printer<'a, W: Write> {
    number: &'a str,
    raw: bool,
    out: &'a mut W,
    found: bool,
}

impl<W: Write> Visitor for Printer<'_, W> {
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        if part.number != self.number {
            // Only containers on the way to the part are walked.
            let on_the_way = self
                .number
                .strip_prefix(part.number.strip_suffix("TEXT").unwrap_or(&part.number))
                .is_some_and(|rest| part.number.ends_with("TEXT") || rest.starts_with('.'));
            return Ok(if on_the_way {
                Flow::Descend
            } else {
                Flow::Skip
            });
        }
        self.found = true;
        if part.kind != Kind::Leaf {
            // A container: its body as it is in the message.
            decode::copy(body, &mut *self.out)?;
        } else if self.raw || part.content_type.mtype != "text" {
            decode::content(part, body, &mut *self.out)?;
        } else {
            let label = part.charset().map(str::to_owned);
            let mut text = Utf8Writer::new(&mut *self.out, label.as_deref(), &mut part.defects);
            decode::content(part, body, &mut text)?;
            text.finish(label.as_deref(), &mut part.defects)?;
        }
        self.out.flush()?;
        Ok(Flow::Stop)
    }

    fn leave(&mut self, _: &Part, _: u64) -> Result<(), Error> {
        Ok(())
    }
}

/// Writes part `number` of the message in `input` to `out`, decoded (text
/// converted to UTF-8 unless `raw`; a container's body as it is). The walk
/// stops after the part. Returns whether the part exists.
pub fn print(
    input: impl Read,
    number: &str,
    raw: bool,
    out: &mut impl Write,
) -> Result<(bool, Report), Error> {
    let mut printer = Printer {
        number,
        raw,
        out,
        found: false,
    };
    let report = walk(input, &mut printer)?;
    Ok((printer.found, report))
}
