//! Reading a message in one command (`mime-unpack --show`, as mblaze's
//! `mshow`): the main header fields decoded, each text part decoded to
//! UTF-8, then a numbered list of the other parts.
//!
//! - Header: From, To, Cc, Date, Subject and Reply-To, those present, in
//!   that order; address fields through the address parser (RFC 5322
//!   §3.4, display names RFC 2047-decoded after the structure is known),
//!   the others through [`header::decode`].
//! - Text: a `text/plain` leaf whose disposition is not `attachment`
//!   (RFC 2183 §2.1: inline is shown at once) is written decoded
//!   (transfer encoding, then charset to UTF-8), each after the first
//!   headed by a `--- N type ---` line. Inside a multipart/alternative
//!   (RFC 2046 §5.1.4) the first text/plain is shown and the rest of the
//!   alternative is listed. `text/html` is never rendered by us: with an
//!   HTML command (`--html-cmd`), an HTML part that is the text (outside
//!   an alternative, or in one without text/plain) is given to it on
//!   standard input and its output shown; otherwise it is listed.
//! - The other parts are listed after the text, numbered as `-l` and `-p`
//!   number them (the walk's IMAP section numbers, one numbering), with
//!   type, decoded size and file name. An attached message is one entry
//!   (not walked into: `mime-unpack -p N | mime-unpack --show` reads it).
//! - Everything written is neutralised as the listing is ([`clean`]):
//!   controls other than TAB and LF, the bidirectional controls and the
//!   line separators become U+FFFD, in the header, the text, and the HTML
//!   command's output; CRLF becomes LF.
//!
//! Memory stays bounded: text streams through; the entries of the list
//! are at most [`MAX_PARTS`](crate::limits::MAX_PARTS), their names
//! [`cut`]; an HTML part waiting for the end of its alternative is spooled
//! (memory, then an unlinked file); the command's output is bounded by
//! [`HTML_CMD_OUTPUT`] and its run by [`HTML_CMD_SECS`].

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::decode::{self, Utf8Writer};
use super::list::{clean, cut};
use super::part::{Error, Kind, Part, Report};
use super::walk::{Body, Flow, Visitor, walk};
use crate::codec::encoded_word::is_bad_control;
use crate::io::spool::Spool;
use crate::limits::{HTML_CMD_OUTPUT, HTML_CMD_SECS, SPOOL_MEM};
use crate::message::address;
use crate::message::header::{self, Block};

/// The header fields shown, in this order.
pub const FIELDS: [&str; 6] = ["From", "To", "Cc", "Date", "Subject", "Reply-To"];

/// How [`show`] shows a message.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A shell command (`sh -c`) that turns HTML on its standard input
    /// into text on its standard output (`lynx -dump -stdin`).
    pub html_cmd: Option<String>,
}

/// What [`show`] found besides the defects of the walk.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    /// The defects of the walk, one per kind.
    pub report: Report,
    /// Problems with the HTML command, one line each.
    pub warnings: Vec<String>,
}

/// Writes the message in `input` to `out` as the module docs describe.
pub fn show(input: impl Read, out: &mut dyn Write, opts: &Options) -> Result<Shown, Error> {
    let mut s = Shower {
        out,
        opts,
        texts: 0,
        alternatives: Vec::new(),
        others: Vec::new(),
        seq: 0,
        warnings: Vec::new(),
    };
    let report = walk(input, &mut s)?;
    s.list()?;
    s.out.flush()?;
    Ok(Shown {
        report,
        warnings: s.warnings,
    })
}

/// One part of the list.
struct Other {
    /// Walk order, which the list keeps.
    seq: usize,
    number: String,
    content_type: String,
    size: Option<u64>,
    name: Option<String>,
    /// Why an HTML part was not shown.
    note: Option<&'static str>,
}

/// An open multipart/alternative.
struct Alternative {
    number: String,
    /// A text of it has been shown.
    shown: bool,
    /// Its HTML part, decoded to UTF-8, waiting for the end (shown if no
    /// text/plain comes), and its list entry.
    html: Option<(Spool, Other)>,
}

struct Shower<'a> {
    out: &'a mut dyn Write,
    opts: &'a Options,
    /// Texts shown so far.
    texts: usize,
    alternatives: Vec<Alternative>,
    others: Vec<Other>,
    seq: usize,
    warnings: Vec<String>,
}

impl Shower<'_> {
    fn other(&mut self, part: &Part, size: Option<u64>, note: Option<&'static str>) -> Other {
        self.seq += 1;
        Other {
            seq: self.seq,
            number: clean(&part.number),
            content_type: clean(&part.essence()),
            size,
            name: part.filename.as_deref().map(|n| cut(&clean(n))),
            note,
        }
    }

    /// The line before a text that is not the first.
    fn heading(&mut self, number: &str, content_type: &str) -> io::Result<()> {
        if self.texts > 0 {
            writeln!(
                self.out,
                "\n--- {} {} ---",
                clean(number),
                clean(content_type)
            )?;
        }
        self.texts += 1;
        Ok(())
    }

    /// Shows the text of `part`, decoded to UTF-8.
    fn text(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<(), Error> {
        self.heading(&part.number, &part.essence())?;
        let label = part.charset().map(str::to_owned);
        let mut clean = Clean::new(&mut *self.out);
        let mut text = Utf8Writer::new(&mut clean, label.as_deref(), &mut part.defects);
        decode::content(part, body, &mut text)?;
        text.finish(label.as_deref(), &mut part.defects)?;
        clean.finish()?;
        Ok(())
    }

    /// Runs the HTML command on `html`; shows its output, or, when it
    /// fails, lists the part (`entry`) and records why.
    fn render(&mut self, html: Spool, entry: Other) -> Result<(), Error> {
        let cmd = self.opts.html_cmd.as_deref().unwrap_or_default();
        let number = entry.number.clone();
        let rendered = html.into_file().map_err(Error::Io).and_then(|file| {
            run_filter(cmd, file).map_err(|why| Error::Data(format!("--html-cmd: {why}")))
        });
        match rendered {
            Ok(text) => {
                self.heading(&entry.number, &entry.content_type)?;
                let mut clean = Clean::new(&mut *self.out);
                clean.write_all(&text)?;
                clean.finish()?;
            }
            Err(Error::Data(why)) => {
                self.warnings.push(format!("part {number}: {why}"));
                self.others.push(entry);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Writes the list of the other parts.
    fn list(&mut self) -> io::Result<()> {
        if self.others.is_empty() {
            return Ok(());
        }
        self.others.sort_by_key(|o| o.seq);
        if self.texts > 0 {
            self.out.write_all(b"\n")?;
        }
        writeln!(
            self.out,
            "--- other parts: mime-unpack -x -p N saves part N, -p N prints it ---"
        )?;
        let width = |f: &dyn Fn(&Other) -> usize| self.others.iter().map(f).max().unwrap_or(0);
        let wn = width(&|o| o.number.chars().count());
        let wt = width(&|o| o.content_type.chars().count());
        let ws = width(&|o| o.size.map_or(1, |s| s.to_string().len()));
        for o in &self.others {
            let mut line = String::new();
            let size = o.size.map_or_else(|| "-".to_owned(), |s| s.to_string());
            let _ = write!(
                line,
                "{:<wn$}  {:<wt$}  {:>ws$}",
                o.number, o.content_type, size
            );
            if let Some(n) = &o.name {
                line.push_str("  ");
                line.push_str(n);
            }
            if let Some(n) = o.note {
                line.push_str("  (");
                line.push_str(n);
                line.push(')');
            }
            writeln!(self.out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// Writes the header fields of the message.
    fn header(&mut self, block: &Block) -> io::Result<()> {
        let mut any = false;
        for name in FIELDS {
            let mut values = Vec::new();
            for field in block.get_all(name.as_bytes()) {
                values.push(if header::is_address_field(name) {
                    mailboxes(field.value)
                } else {
                    header::decode(field.value)
                });
            }
            if !values.is_empty() {
                writeln!(self.out, "{name}: {}", clean(&values.join(", ")))?;
                any = true;
            }
        }
        if any {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// An address field's value for reading: its mailboxes (`Name <addr>`)
/// joined by `, `; the decoded value when it has none (`undisclosed
/// recipients:;`, or damage).
fn mailboxes(value: &[u8]) -> String {
    let mut shown = Vec::new();
    let _: Result<(), ()> = address::for_each_mailbox(
        value,
        |_| {},
        |m| {
            shown.push(m.to_string());
            Ok(())
        },
    );
    if shown.is_empty() {
        header::decode(value)
    } else {
        shown.join(", ")
    }
}

impl Visitor for Shower<'_> {
    fn fields(&mut self, part: &Part, block: &Block) -> Result<(), Error> {
        if part.depth == 0 {
            self.header(block)?;
        }
        Ok(())
    }

    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        match part.kind {
            Kind::Multipart => {
                if part.content_type.subtype == "alternative" {
                    self.alternatives.push(Alternative {
                        number: part.number.clone(),
                        shown: false,
                        html: None,
                    });
                }
                return Ok(Flow::Descend);
            }
            Kind::Message => {
                let entry = self.other(part, None, None);
                self.others.push(entry);
                return Ok(Flow::Skip);
            }
            Kind::Leaf => {}
        }
        let essence = part.essence();
        let inline = !part.is_attachment_disposition();
        let done = self.alternatives.last().is_some_and(|a| a.shown);
        if inline && !done && essence == "text/plain" {
            self.text(part, body)?;
            if let Some(a) = self.alternatives.last_mut() {
                a.shown = true;
            }
            return Ok(Flow::Descend);
        }
        let html = inline && !done && essence == "text/html";
        if html && self.opts.html_cmd.is_some() {
            let mut spool = Spool::new(SPOOL_MEM);
            let label = part.charset().map(str::to_owned);
            let mut text = Utf8Writer::new(&mut spool, label.as_deref(), &mut part.defects);
            let size = decode::content(part, body, &mut text)?;
            text.finish(label.as_deref(), &mut part.defects)?;
            let entry = self.other(part, Some(size), None);
            match self.alternatives.last_mut() {
                // A text/plain may follow: wait for the alternative's end.
                Some(a) if a.html.is_none() => a.html = Some((spool, entry)),
                Some(_) => self.others.push(entry),
                None => self.render(spool, entry)?,
            }
            return Ok(Flow::Descend);
        }
        let size = decode::content(part, body, io::sink())?;
        let note = (html && self.opts.html_cmd.is_none()).then_some("HTML: --html-cmd shows it");
        let entry = self.other(part, Some(size), note);
        self.others.push(entry);
        Ok(Flow::Descend)
    }

    fn leave(&mut self, part: &Part, size: u64) -> Result<(), Error> {
        if part.kind == Kind::Message
            && let Some(o) = self
                .others
                .iter_mut()
                .rev()
                .find(|o| o.number == part.number)
        {
            o.size = Some(size);
        }
        if self
            .alternatives
            .last()
            .is_some_and(|a| a.number == part.number)
        {
            let a = self.alternatives.pop().expect("checked");
            if let Some((spool, entry)) = a.html {
                if a.shown {
                    self.others.push(entry);
                } else {
                    self.render(spool, entry)?;
                }
            }
            // An alternative shown counts for the one around it.
            if a.shown
                && let Some(outer) = self.alternatives.last_mut()
            {
                outer.shown = true;
            }
        }
        Ok(())
    }
}

/// Runs `sh -c cmd` with `input` as its standard input and returns its
/// standard output: at most [`HTML_CMD_OUTPUT`] bytes (the rest cut), in
/// at most [`HTML_CMD_SECS`] seconds (then it is killed). Its standard
/// error is ours. Errors say why, for a warning.
fn run_filter(cmd: &str, input: std::fs::File) -> Result<Vec<u8>, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::from(input))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("no pipe from the command".to_owned());
    };
    let (tx, rx) = mpsc::channel();
    // A thread reads, so that a command that never ends cannot hold us:
    // the wait below has a deadline.
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = stdout.take(HTML_CMD_OUTPUT).read_to_end(&mut buf);
        let _ = tx.send(r.map(|_| buf));
    });
    let deadline = Instant::now() + Duration::from_secs(HTML_CMD_SECS);
    let kill = |child: &mut std::process::Child, why: String| {
        let _ = child.kill();
        let _ = child.wait();
        Err(why)
    };
    let output = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(buf)) => buf,
        Ok(Err(e)) => return kill(&mut child, format!("reading its output: {e}")),
        Err(_) => {
            return kill(
                &mut child,
                format!("{cmd:?} ran longer than {HTML_CMD_SECS} s (killed)"),
            );
        }
    };
    if output.len() as u64 >= HTML_CMD_OUTPUT {
        // Cut: the command need not finish what is not shown.
        let _ = child.kill();
        let _ = child.wait();
        return Ok(output);
    }
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(output),
            Ok(Some(status)) => return Err(format!("{cmd:?} failed ({status})")),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                return kill(
                    &mut child,
                    format!("{cmd:?} ran longer than {HTML_CMD_SECS} s (killed)"),
                );
            }
            Err(e) => return kill(&mut child, format!("cannot wait for it: {e}")),
        }
    }
}

/// Writes text through with what [`clean`] replaces replaced, line ends
/// kept: LF stays, CRLF becomes LF; a lone CR, other controls, bidi
/// controls and bytes that are not UTF-8 become U+FFFD. Streams: a CR or
/// an incomplete UTF-8 sequence at the end of a write waits for the next.
/// Call [`Clean::finish`] at the end.
struct Clean<W: Write> {
    out: W,
    pending: Vec<u8>,
    text: String,
    /// Something was written, and whether it ended with LF.
    wrote: bool,
    ends_lf: bool,
}

impl<W: Write> Clean<W> {
    fn new(out: W) -> Self {
        Clean {
            out,
            pending: Vec::new(),
            text: String::new(),
            wrote: false,
            ends_lf: false,
        }
    }

    /// Writes what is complete of `pending` (all of it when `last`).
    fn drain(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::take(&mut self.pending);
        let keep = if last { 0 } else { incomplete_tail(&data) };
        let (now, later) = data.split_at(data.len() - keep);
        self.text.clear();
        for chunk in now.utf8_chunks() {
            let mut chars = chunk.valid().chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\n' => self.text.push('\n'),
                    '\r' if chars.peek() == Some(&'\n') => {}
                    c if is_bad_control(c) => self.text.push('\u{FFFD}'),
                    c => self.text.push(c),
                }
            }
            if !chunk.invalid().is_empty() {
                self.text.push('\u{FFFD}');
            }
        }
        if !self.text.is_empty() {
            self.out.write_all(self.text.as_bytes())?;
            self.wrote = true;
            self.ends_lf = self.text.ends_with('\n');
        }
        self.pending.extend_from_slice(later);
        Ok(())
    }

    /// Ends the text: what waits is written, and text that does not end
    /// with a line end gets one.
    fn finish(mut self) -> io::Result<()> {
        self.drain(true)?;
        if self.wrote && !self.ends_lf {
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }
}

/// How many bytes at the end of `data` may be the start of a character
/// or of a CRLF that the next write completes.
fn incomplete_tail(data: &[u8]) -> usize {
    if data.last() == Some(&b'\r') {
        return 1;
    }
    for i in 1..=data.len().min(3) {
        let b = data[data.len() - i];
        if b < 0x80 {
            return 0;
        }
        if b >= 0xC0 {
            let width = match b {
                0xF0.. => 4,
                0xE0.. => 3,
                _ => 2,
            };
            return if width > i { i } else { 0 };
        }
    }
    0
}

impl<W: Write> Write for Clean<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.drain(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests;
