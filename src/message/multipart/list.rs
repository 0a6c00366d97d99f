//! Listing a message's tree (`mime-unpack -l`), as aligned text or JSON,
//! and printing one part (`mime-unpack -p`).

use std::io::{self, Read, Write};

use super::decode::{self, Utf8Writer};
use super::part::{Defect, Error, Kind, Part, Report};
use super::walk::{Body, Flow, Visitor, walk};
use crate::codec::encoded_word::is_bad_control;
use crate::limits::{LIST_ALIGN_ROWS, MAX_NAME};

/// One line of the listing. Its strings are [`clean`]ed; the text listing
/// also [`cut`]s them.
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
    /// Decoded size of a leaf; `None` for a multipart or message/rfc822
    /// part, whose line is written before its parts are read (a multipart
    /// whose first delimiter never came is a leaf, with its body's size).
    pub size: Option<u64>,
    /// The disposition type.
    pub disposition: Option<String>,
    /// The file name as the part gives it (decoded, not sanitised).
    pub filename: Option<String>,
    /// `leaf`, `multipart` or `message`; a multipart whose first
    /// delimiter never came is a `leaf` (its preamble is its content).
    pub kind: &'static str,
    /// Whether `-x` extracts it.
    pub attachment: bool,
    /// Short names of its defects; for a container, those found by the
    /// time its line is written (before its first part), the rest go to
    /// the [`Report`] only.
    pub defects: Vec<&'static str>,
}

impl Entry {
    fn new(part: &Part) -> Entry {
        let opt = |o: Option<&str>| o.map(clean);
        Entry {
            number: clean(&part.number),
            depth: part.depth,
            content_type: clean(&part.essence()),
            charset: opt(part.charset()),
            encoding: clean(part.encoding.name()),
            size: None,
            disposition: opt(part.disposition.as_ref().map(|d| d.kind.as_str())),
            filename: opt(part.filename.as_deref()),
            kind: match part.kind {
                Kind::Leaf => "leaf",
                Kind::Multipart => "multipart",
                Kind::Message => "message",
            },
            attachment: part.is_attachment(),
            defects: defect_names(part),
        }
    }
}

fn defect_names(part: &Part) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = part.defects.iter().map(Defect::name).collect();
    names.dedup();
    names
}

/// Hands each entry of a walk on as soon as it is complete, so that the
/// listing needs the same memory for ten parts as for ten thousand.
struct Lister<F> {
    each: F,
    /// The leaf being read: written when it ends, with its defects.
    leaf: Option<Entry>,
    /// The multipart entered last, held until its first part comes (then
    /// it is written as a multipart) or it ends without one (then it is a
    /// leaf whose content is its body).
    multipart: Option<(Entry, String)>,
}

impl<F: FnMut(Entry) -> io::Result<()>> Lister<F> {
    fn flush_multipart(&mut self) -> io::Result<()> {
        match self.multipart.take() {
            Some((entry, _)) => (self.each)(entry),
            None => Ok(()),
        }
    }
}

impl<F: FnMut(Entry) -> io::Result<()>> Visitor for Lister<F> {
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        self.flush_multipart()?;
        let mut entry = Entry::new(part);
        match part.kind {
            Kind::Leaf => {
                entry.size = Some(decode::content(part, body, io::sink())?);
                self.leaf = Some(entry);
            }
            Kind::Multipart => self.multipart = Some((entry, part.number.clone())),
            Kind::Message => (self.each)(entry)?,
        }
        Ok(Flow::Descend)
    }

    fn leave(&mut self, part: &Part, size: u64) -> Result<(), Error> {
        if part.kind == Kind::Leaf {
            if let Some(mut entry) = self.leaf.take() {
                entry.defects = defect_names(part);
                (self.each)(entry)?;
            }
            return Ok(());
        }
        // A multipart still held had no parts: its body is its content.
        if let Some((mut entry, number)) = self.multipart.take() {
            if number == part.number {
                if part.defects.contains(&Defect::StartBoundaryNotFound) {
                    entry.kind = "leaf";
                }
                entry.size = Some(size);
                entry.defects = defect_names(part);
            }
            (self.each)(entry)?;
        }
        Ok(())
    }
}

/// Walks the message in `input` and calls `each` with its entries in
/// document order, each as soon as it is known (a leaf when it ends, a
/// container before its parts). When the walk fails, the entries before
/// the failure have been handed on.
pub fn each_entry(
    input: impl Read,
    each: impl FnMut(Entry) -> io::Result<()>,
) -> Result<Report, Error> {
    let mut lister = Lister {
        each,
        leaf: None,
        multipart: None,
    };
    let result = walk(input, &mut lister);
    // A multipart still held when the walk failed had begun its first
    // part (the one that failed): it goes out as a multipart.
    let flushed = lister.flush_multipart();
    let report = result?;
    flushed?;
    Ok(report)
}

/// A value from the message made safe to print: every character that
/// `is_bad_control` rejects (C0 controls but TAB, DEL, C1 controls, the
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

/// A value as the text listing shows it: at most [`MAX_NAME`] bytes, cut
/// at a character boundary and ending in `…` when longer (a file name
/// cannot be longer, and a 1 MB parameter is no use on a line).
pub fn cut(s: &str) -> String {
    if s.len() <= MAX_NAME {
        return s.to_owned();
    }
    let mut end = MAX_NAME - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Writes the listing of `input` to `out` as the walk goes (memory does
/// not grow with the number of parts): one line per entity, columns part
/// number, type, charset, encoding, size, disposition, file name (`-` for
/// none, and for the size of a container), each value [`cut`]; or, when
/// `json`, a JSON array with one object a line, values whole. Every value
/// is [`clean`]ed. The text columns are aligned over the first
/// [`LIST_ALIGN_ROWS`] lines, which are held back for that; later lines keep
/// those widths, and a longer value pushes the rest of its own line right.
/// With a `file` name, each line starts with it and `:` (as grep does),
/// and each JSON object has a `file` member. An empty input is no
/// message: nothing is written. When the walk fails, what was listed
/// before is written (the JSON array closed) and the error returned.
pub fn list(
    input: impl Read,
    out: &mut impl Write,
    json: bool,
    file: Option<&str>,
) -> Result<Report, Error> {
    let file = file.map(clean);
    let file = file.as_deref();
    if json {
        let mut rows = 0u64;
        let result = each_entry(input, |e| {
            out.write_all(if rows == 0 { b"[\n" } else { b",\n" })?;
            rows += 1;
            write_json(&e, file, out)
        });
        if rows > 0 {
            out.write_all(b"\n]\n")?;
        }
        result
    } else {
        let mut text = Text {
            out,
            file,
            held: Vec::new(),
            width: [0; 6],
            aligned: false,
        };
        let result = each_entry(input, |e| text.row(&e));
        text.flush()?;
        result
    }
}

/// The text listing.
struct Text<'a, W> {
    out: &'a mut W,
    file: Option<&'a str>,
    held: Vec<[String; 7]>,
    /// Widths of the padded columns (all but the file name), in chars.
    width: [usize; 6],
    /// The widths are set: lines are written as they come.
    aligned: bool,
}

impl<W: Write> Text<'_, W> {
    fn row(&mut self, e: &Entry) -> io::Result<()> {
        let opt = |o: &Option<String>| o.as_deref().map_or_else(|| "-".to_owned(), cut);
        let row = [
            cut(&e.number),
            cut(&e.content_type),
            opt(&e.charset),
            cut(&e.encoding),
            e.size.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            opt(&e.disposition),
            opt(&e.filename),
        ];
        if self.aligned {
            return self.write(&row);
        }
        self.held.push(row);
        if self.held.len() >= LIST_ALIGN_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Sets the widths from the lines held, and writes them.
    fn flush(&mut self) -> io::Result<()> {
        if !self.aligned {
            for row in &self.held {
                for (w, c) in self.width.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count());
                }
            }
            self.aligned = true;
        }
        for row in std::mem::take(&mut self.held) {
            self.write(&row)?;
        }
        Ok(())
    }

    fn write(&mut self, row: &[String; 7]) -> io::Result<()> {
        let mut line = String::new();
        if let Some(f) = self.file {
            line.push_str(&cut(f));
            line.push(':');
        }
        for (i, c) in row.iter().enumerate() {
            let pad = self
                .width
                .get(i)
                .map_or(0, |w| w.saturating_sub(c.chars().count()));
            match i {
                // Sizes right-aligned; the name is last, not padded.
                4 => line.push_str(&format!("{}{c}  ", " ".repeat(pad))),
                6 => line.push_str(c),
                _ => line.push_str(&format!("{c}{}  ", " ".repeat(pad))),
            }
        }
        writeln!(self.out, "{}", line.trim_end())
    }
}

/// One JSON object, on one line, its members in the order of the text
/// columns (`file` first when given).
fn write_json(e: &Entry, file: Option<&str>, out: &mut impl Write) -> io::Result<()> {
    use serde_json::Value;
    let members = [
        ("file", file.map(Value::from)),
        ("part", Some(e.number.as_str().into())),
        ("depth", Some(e.depth.into())),
        ("type", Some(e.content_type.as_str().into())),
        ("charset", Some(e.charset.as_deref().into())),
        ("encoding", Some(e.encoding.as_str().into())),
        ("size", Some(e.size.into())),
        ("disposition", Some(e.disposition.as_deref().into())),
        ("filename", Some(e.filename.as_deref().into())),
        ("kind", Some(e.kind.into())),
        ("attachment", Some(e.attachment.into())),
        ("defects", Some(e.defects.clone().into())),
    ];
    let mut sep = "{";
    for (name, value) in members {
        if let Some(v) = value {
            write!(out, "{sep}\"{name}\":")?;
            serde_json::to_writer(&mut *out, &v)?;
            sep = ",";
        }
    }
    out.write_all(b"}")
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

/// Checks a part number as `-p` takes it: an IMAP section specifier
/// (RFC 3501 §6.4.5) for a part, numbers from 1 joined by dots (`1.2`),
/// optionally followed by `.TEXT`, or `TEXT` alone (the message's body;
/// `TEXT` in any case). Returns it as the walk numbers parts (`TEXT` in
/// upper case), or `None` when it is not one.
pub fn part_number(s: &str) -> Option<String> {
    let nz =
        |n: &str| !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit());
    let mut out = Vec::new();
    let mut fields = s.split('.').peekable();
    while let Some(f) = fields.next() {
        if f.eq_ignore_ascii_case("TEXT") && fields.peek().is_none() {
            out.push("TEXT");
        } else if nz(f) {
            out.push(f);
        } else {
            return None;
        }
    }
    Some(out.join("."))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(msg: &[u8]) -> Vec<(String, &'static str, Option<u64>)> {
        let mut v = Vec::new();
        each_entry(msg, |e| {
            v.push((e.number, e.kind, e.size));
            Ok(())
        })
        .unwrap();
        v
    }

    #[test]
    fn entries_come_in_document_order_containers_without_size() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhi\n\
            --b\nContent-Type: message/rfc822\n\nSubject: x\n\nin\n\
            --b\nContent-Type: multipart/mixed; boundary=c\n\nonly preamble\n--b--\n";
        let s = |n: &str| n.to_owned();
        assert_eq!(
            entries(msg),
            vec![
                (s("TEXT"), "multipart", None),
                (s("1"), "leaf", Some(2)),
                (s("2"), "message", None),
                (s("2.1"), "leaf", Some(2)),
                // No delimiter: a leaf whose content is its body.
                (s("3"), "leaf", Some(13)),
            ]
        );
    }

    #[test]
    fn part_numbers_are_rfc3501_section_specifiers() {
        for (given, want) in [
            ("1", Some("1")),
            ("1.2", Some("1.2")),
            ("10.20.3", Some("10.20.3")),
            ("TEXT", Some("TEXT")),
            ("text", Some("TEXT")),
            ("3.Text", Some("3.TEXT")),
            ("99999999999999999999", Some("99999999999999999999")),
            ("0", None),
            ("1.0", None),
            ("01", None),
            ("a.b", None),
            ("", None),
            ("1.", None),
            (".1", None),
            ("1..2", None),
            ("TEXT.1", None),
            ("1.TEXT.TEXT", None),
            ("+1", None),
            (" 1", None),
            ("1.2\n", None),
        ] {
            assert_eq!(part_number(given).as_deref(), want, "{given:?}");
        }
    }

    #[test]
    fn values_are_cleaned_and_cut() {
        assert_eq!(
            clean("a\x1b[8m\u{202E}\u{2028}\u{85}\tb"),
            "a\u{FFFD}[8m\u{FFFD}\u{FFFD}\u{FFFD}\tb"
        );
        assert_eq!(clean("r\u{200F}é"), "r\u{200F}é");
        assert_eq!(cut("short"), "short");
        let long = "é".repeat(200);
        let c = cut(&long);
        assert!(c.len() <= MAX_NAME && c.ends_with('…'), "{}", c.len());
        assert_eq!(c, "é".repeat(126) + "…");
        assert_eq!(cut(&"x".repeat(MAX_NAME)), "x".repeat(MAX_NAME));
    }

    #[test]
    fn text_columns_align_over_the_lines_held() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhi\n--b\n\
            Content-Type: application/pdf; name=r.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n";
        let mut out = Vec::new();
        list(&msg[..], &mut out, false, None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TEXT  multipart/mixed  -  7bit    -  -  -\n\
             1     text/plain       -  7bit    2  -  -\n\
             2     application/pdf  -  base64  9  -  r.pdf\n"
        );
        let mut out = Vec::new();
        list(&msg[..], &mut out, true, Some("m")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[2]["filename"], "r.pdf");
        assert_eq!(v[0]["size"], serde_json::Value::Null);
        assert_eq!(v[1]["file"], "m");
        assert!(out.starts_with(b"[\n{\"file\":\"m\",\"part\":\"TEXT\","));
        assert!(out.ends_with(b"}\n]\n"));
    }
}
