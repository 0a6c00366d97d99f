//! RFC 2046 §5.2.2 message/partial: a prepared message cut into pieces.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::{Error, usage};
use super::fields::text_field;
use super::random::message_id;
use super::source::temp_file;
use super::tree::{Body, Node, Prepared, domain_from_fields};
use super::write::Out;
use crate::codec::TransferEncoding;
use crate::limits::IO_BUF;
use crate::message::mime::FieldWriter;

impl Prepared {
    /// Writes the message as RFC 2046 §5.2.2 message/partial pieces of at
    /// most `max` bytes each, into the writers `create(number, total)`
    /// gives; returns the number of pieces.
    ///
    /// Each piece is a message whose header holds the original's fields
    /// except Content-*, Subject, Message-ID, Encrypted and MIME-Version
    /// (§5.2.2.1), a Subject with ` (k/n)`, its own Message-ID,
    /// MIME-Version and `Content-Type: message/partial; id=…; number=k;
    /// total=n`. The bodies, joined in order, are the whole original
    /// message, cut between lines. message/partial must be 7bit (§5.2.2):
    /// a message that is not is an error.
    pub fn split<W: Write>(
        &mut self,
        max: u64,
        mut create: impl FnMut(u32, u32) -> io::Result<W>,
    ) -> Result<u32, Error> {
        if let Some(label) = not_seven(&self.root) {
            return Err(usage(format!(
                "--split needs a 7-bit message (RFC 2046 §5.2.2): {label} would be 8bit (drop --8bit)"
            )));
        }
        let mut spool = temp_file()?;
        {
            let mut w = io::BufWriter::with_capacity(IO_BUF, &mut spool);
            self.write(&mut w, None)?;
            w.flush()?;
        }
        let domain = domain_from_fields(&self.fields);
        let id = message_id(&domain);
        let id = id.trim_start_matches('<').trim_end_matches('>').to_owned();
        let outer: Vec<&String> = self
            .fields
            .iter()
            .filter(|f| {
                let name = f.split(':').next().unwrap_or("").to_ascii_lowercase();
                !(name.starts_with("content-")
                    || matches!(
                        &name[..],
                        "subject" | "message-id" | "encrypted" | "mime-version"
                    ))
            })
            .collect();
        let eol = if self.crlf { 2 } else { 1 };
        let head = |k: u32, n: u32| -> Result<String, Error> {
            let mut s = String::new();
            for f in &outer {
                s.push_str(f);
                s.push('\n');
            }
            let subj = format!("{} ({k}/{n})", self.subject.as_deref().unwrap_or(""));
            s.push_str(&text_field("Subject", "-s", subj.trim_start())?);
            s.push('\n');
            s.push_str(&format!("Message-ID: {}\n", message_id(&domain)));
            s.push_str("MIME-Version: 1.0\n");
            let mut f = FieldWriter::new("Content-Type", "message/partial");
            f.param("id", &id);
            f.param("number", &k.to_string());
            f.param("total", &n.to_string());
            s.push_str(&f.finish());
            s.push_str("\n\n");
            Ok(s)
        };
        let head_len = |k: u32, n: u32| -> Result<u64, Error> {
            let s = head(k, n)?;
            Ok(s.len() as u64 + (eol as u64 - 1) * s.matches('\n').count() as u64)
        };
        // Cut points: the header size depends on the number of digits of
        // the total, so plan with a guess until it holds.
        let mut guess = 1u32;
        let cuts = loop {
            let room = max.saturating_sub(head_len(guess, guess)? + 16);
            if room < 1000 {
                return Err(usage(format!(
                    "--split {max}: too small for a piece with its header"
                )));
            }
            let cuts = plan(&mut spool, room)?;
            let n = u32::try_from(cuts.len()).unwrap_or(u32::MAX);
            if n.to_string().len() <= guess.to_string().len() {
                break cuts;
            }
            guess = n;
        };
        let n = cuts.len() as u32;
        spool.seek(SeekFrom::Start(0))?;
        let mut input = BufReader::with_capacity(IO_BUF, &spool);
        for (k, &(start, end)) in cuts.iter().enumerate() {
            let k = k as u32 + 1;
            let mut w = create(k, n)?;
            let mut out = Out {
                inner: &mut w,
                crlf: self.crlf,
                written: 0,
            };
            let h = head(k, n)?;
            out.field(h.trim_end_matches('\n'))?;
            out.eol()?;
            io::copy(&mut (&mut input).take(end - start), &mut w)?;
            w.flush()?;
        }
        Ok(n)
    }

    /// [`split`](Self::split) into files `PREFIX.01`, `PREFIX.02`, … (two
    /// digits, or as many as the count has); returns their paths in order.
    ///
    /// All the files are created (new: an existing file is an error, never
    /// overwritten) before the first is written, and on any error every
    /// file created is removed again: no partial set is left behind.
    pub fn split_to_files(&mut self, max: u64, prefix: &Path) -> Result<Vec<PathBuf>, Error> {
        let mut files = Pieces::default();
        let result = self.split(max, |k, n| files.open(prefix, k, n));
        match result {
            Ok(_) => Ok(std::mem::take(&mut files.created)
                .into_iter()
                .map(|(p, _)| p)
                .collect()),
            Err(e) => Err(e), // `files` removes what it created
        }
    }
}

/// The files of [`Prepared::split_to_files`]: created all at once, and
/// removed on drop unless taken.
#[derive(Default)]
struct Pieces {
    /// Each path with the device and inode of the file created there.
    created: Vec<(PathBuf, (u64, u64))>,
}

impl Pieces {
    /// The writer of piece `k` of `n`; the first call creates all `n`.
    fn open(&mut self, prefix: &Path, k: u32, n: u32) -> io::Result<io::BufWriter<File>> {
        let named =
            |e: io::Error, p: &Path| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
        if self.created.is_empty() {
            let width = n.to_string().len().max(2);
            for j in 1..=n {
                let mut name = prefix.as_os_str().to_owned();
                name.push(format!(".{j:0width$}"));
                let path = PathBuf::from(name);
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o666)
                    .open(&path)
                    .map_err(|e| named(e, &path))?;
                let m = file.metadata()?;
                self.created.push((path, (m.dev(), m.ino())));
            }
        }
        let (path, id) = &self.created[k as usize - 1];
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| named(e, path))?;
        // Still the file created above (not one put in its place since).
        let m = file.metadata()?;
        if (m.dev(), m.ino()) != *id {
            return Err(named(
                io::Error::new(io::ErrorKind::AlreadyExists, "replaced while writing"),
                path,
            ));
        }
        Ok(io::BufWriter::with_capacity(IO_BUF, file))
    }
}

impl Drop for Pieces {
    fn drop(&mut self) {
        for (path, _) in &self.created {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The label of the first part that is not 7bit, if any.
fn not_seven(n: &Node) -> Option<String> {
    let label = || {
        n.info
            .as_ref()
            .map_or_else(String::new, |i| i.label.clone())
    };
    match &n.body {
        Body::Leaf { cte, .. } => (*cte == TransferEncoding::EightBit).then(label),
        Body::Entity { .. } => {
            let sum = n
                .info
                .as_ref()
                .and_then(|i| i.summary.clone())
                .unwrap_or_default();
            (sum.eight_bit > 0 || !sum.is_line_safe()).then(label)
        }
        Body::Multi { parts, .. } => parts.iter().find_map(not_seven),
    }
}

/// Cuts the spooled message into pieces of at most `room` bytes, between
/// lines: (start, end) offsets.
pub(super) fn plan(spool: &mut File, room: u64) -> Result<Vec<(u64, u64)>, Error> {
    spool.seek(SeekFrom::Start(0))?;
    let mut input = BufReader::with_capacity(IO_BUF, &*spool);
    let mut cuts = Vec::new();
    let (mut start, mut pos) = (0u64, 0u64);
    let mut line = 0u64;
    crate::io::each_block(&mut input, |mut rest| -> io::Result<()> {
        while !rest.is_empty() {
            let (take, eol) = match memchr::memchr(b'\n', rest) {
                Some(i) => (i + 1, true),
                None => (rest.len(), false),
            };
            line += take as u64;
            rest = &rest[take..];
            if eol {
                if pos + line - start > room && pos > start {
                    cuts.push((start, pos));
                    start = pos;
                }
                pos += line;
                line = 0;
            }
        }
        Ok(())
    })?;
    if line > 0 {
        if pos + line - start > room && pos > start {
            cuts.push((start, pos));
            start = pos;
        }
        pos += line;
    }
    if pos > start || cuts.is_empty() {
        cuts.push((start, pos));
    }
    Ok(cuts)
}
