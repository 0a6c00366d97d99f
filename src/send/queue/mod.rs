//! The retry queue of `smtp-send`: `--queue DIR` stores a message that met
//! a failure a retry (or a fix of the configuration) may get past
//! ([`is_queueable`]), `--flush DIR` retries what is due, `--list DIR`
//! shows it, `--drop ID` removes one.
//!
//! # Layout
//!
//! - `DIR/ID`: one queued message: a small text head (format below), an
//!   empty line, then the message exactly as it would be sent. Written once
//!   (in `DIR/tmp/`, fsync'd, renamed into `DIR`, the directory fsync'd) and
//!   never rewritten; removed right after the server's `250`.
//! - `DIR/ID.state`: the attempts so far (count, time of the last one, last
//!   reply), replaced atomically after each failed attempt. Absent: one
//!   attempt (the one that queued the message) at queue time.
//! - `DIR/tmp/`: files being written (ignored otherwise).
//! - `DIR/failed/ID` and `DIR/failed/ID.state`: messages given up (a
//!   permanent refusal, or older than `--max-age`), with the last reply.
//!
//! # The file format (version 1)
//!
//! ```text
//! mailpipe-queue 1
//! created 1795721492
//! from <a@example.org>
//! rcpt <b@example.net>
//! reply 451 4.3.0 try again later
//!
//! message text...
//! ```
//!
//! One `key value` per line, LF ends, UTF-8; `from` and `rcpt` are SMTP
//! paths in brackets (RFC 5321 §4.1.2), parsed by the same grammar as the
//! receiver's. Unknown keys are ignored (a later version may add some); a
//! different version number, a missing key, a malformed path, a head over
//! [`MAX_HEAD`] bytes or [`MAX_RCPTS`] recipients make the file unreadable:
//! it is skipped with a one-line warning naming it, never trusted.
//!
//! # Exactly once, as far as SMTP allows
//!
//! A flush takes a non-blocking `flock(2)` on `DIR/ID` before sending it
//! and keeps it until the file is gone: a second flush skips a locked
//! message, so two flushes never send the same one. After the lock it
//! checks that the file is still there (another flush may have delivered
//! it between listing and locking). The file is removed right after the
//! server's `250` to the end of data, before anything else (no output, no
//! state update): a crash (or power loss before the directory fsync) in
//! that window leaves the message queued though delivered, and the next
//! flush sends it again: at-least-once, the window RFC 5321 §6.1 and
//! RFC 1047 accept for every MTA. When only some recipients have it, the
//! file is rewritten for the others (a copy, then a rename over it): the
//! window is then the time of that copy. A crash at any other point leaves
//! the message queued, never lost.
//!
//! # Retry schedule
//!
//! Exponential by age: after an attempt, the next is due once as much time
//! has passed as the message's age at that attempt, at least
//! [`MIN_RETRY`] (5 minutes) and at most [`MAX_RETRY`] (4 hours). So the
//! tries come at about 0, 5, 10, 20, 40, 80, 160 and 320 minutes (the wait
//! after the 160-minute try is 160 minutes), then every 4 hours until
//! `--max-age` (default 5 days, [`DEFAULT_MAX_AGE`]).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::exit::Status as _;
use crate::io::strip_os_error;
use crate::io::sync::sync_dir;
use crate::limits::IO_BUF;
use crate::send::error::Error;
use crate::send::log::{Fate, Log};
use crate::send::notice::Notices;
use crate::send::outcome::{self, RcptResult, Status};
use crate::send::prepare::{self, PrepareOptions, Prepared, Source};
use crate::send::route::{self, Deliverer};
use crate::send::session::Connection;
use crate::smtp::client;
use crate::smtp::envelope::{self, Mailbox, ReversePath};

/// The first line of a queue file.
pub const MAGIC: &str = "mailpipe-queue 1";
/// The first line of a state file.
pub const STATE_MAGIC: &str = "mailpipe-queue-state 1";
/// [`limits::QUEUE_MAX_HEAD`](crate::limits::QUEUE_MAX_HEAD).
pub const MAX_HEAD: usize = crate::limits::QUEUE_MAX_HEAD;
/// [`limits::QUEUE_MAX_RCPTS`](crate::limits::QUEUE_MAX_RCPTS).
pub const MAX_RCPTS: usize = crate::limits::QUEUE_MAX_RCPTS;
/// [`limits::QUEUE_MAX_HEAD_LINE`](crate::limits::QUEUE_MAX_HEAD_LINE).
const MAX_HEAD_LINE: usize = crate::limits::QUEUE_MAX_HEAD_LINE;
/// The shortest wait between two attempts, in seconds.
pub const MIN_RETRY: u64 = 5 * 60;
/// The longest wait between two attempts, in seconds.
pub const MAX_RETRY: u64 = 4 * 3600;
/// [`limits::QUEUE_STALE_TMP_SECS`](crate::limits::QUEUE_STALE_TMP_SECS).
pub const STALE_TMP: u64 = crate::limits::QUEUE_STALE_TMP_SECS;
/// `--max-age` by default, as [`parse_duration`] reads it (clap's
/// `default_value`): 5 days, like most MTAs (Postfix's
/// `maximal_queue_lifetime`, sendmail's `Timeout.queuereturn`).
pub const DEFAULT_MAX_AGE: &str = "5d";

// ---------------------------------------------------------------------------
// Schedule

/// The wait after an attempt made when the message was `age` seconds old.
pub fn retry_interval(age: u64) -> u64 {
    age.clamp(MIN_RETRY, MAX_RETRY)
}

/// When the next attempt is due (seconds since the epoch).
pub fn next_attempt(created: u64, last_attempt: u64) -> u64 {
    last_attempt.saturating_add(retry_interval(last_attempt.saturating_sub(created)))
}

/// Parses a duration: a number of seconds, or a number with `s`, `m`, `h`,
/// `d` or `w` (`5d`, `36h`).
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{s:?}: want a number with s, m, h, d or w")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{s:?}: want a number above 0 with s, m, h, d or w"))
}

/// `3d4h`, `2h5m`, `40s`: an age for people.
pub fn format_age(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ---------------------------------------------------------------------------
// The file format

/// The head of a queue file: the envelope and when it was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Queue time, seconds since the epoch.
    pub created: u64,
    /// MAIL FROM.
    pub from: ReversePath,
    /// RCPT TO (those still to deliver).
    pub rcpts: Vec<Mailbox>,
    /// The reply (or error) that had it queued, one line.
    pub reply: String,
}

/// The attempts made on a queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Attempts so far (the one that queued it included).
    pub attempts: u32,
    /// Time of the last attempt, seconds since the epoch.
    pub last: u64,
    /// The last reply or error, one line.
    pub reply: String,
}

/// One line of text safe in a head: control characters (a multi-line
/// reply's line ends included) become spaces, the length is bounded. The
/// characters `--list` must not show raw either
/// ([`is_bad_control`](crate::codec::encoded_word::is_bad_control): bidi
/// overrides, line separators) become spaces too: the head is read back and
/// printed on a terminal.
fn one_line(s: &str) -> String {
    let mut out = printable(s);
    out.truncate(crate::io::floor_char_boundary(&out, MAX_HEAD_LINE - 16));
    out
}

/// `s` with every control character and bidi control a space: what
/// `--list` prints to a terminal, whatever a queue file holds (issue 17:
/// a file not written by us, or an SMTPUTF8 address).
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || crate::codec::encoded_word::is_bad_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Writes `head` in the version-1 format, the empty line included.
pub fn write_head(head: &Head, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "{MAGIC}")?;
    writeln!(w, "created {}", head.created)?;
    writeln!(w, "from <{}>", head.from)?;
    for r in &head.rcpts {
        writeln!(w, "rcpt <{r}>")?;
    }
    writeln!(w, "reply {}", one_line(&head.reply))?;
    writeln!(w)
}

/// Reads `key value` lines up to the empty line (or the end, for a state
/// file), after checking the first line is `magic`. Returns the pairs and
/// the bytes read.
fn read_fields(
    r: &mut impl BufRead,
    magic: &str,
    need_blank: bool,
) -> Result<(Vec<(String, String)>, u64), String> {
    let mut line = Vec::new();
    let mut total = 0u64;
    let mut fields = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        let n = crate::io::lines::read_line(r, &mut line, MAX_HEAD_LINE)
            .map_err(|e| format!("reading: {e}"))?;
        total += n as u64;
        if total > MAX_HEAD as u64 {
            return Err(format!("head longer than {MAX_HEAD} bytes"));
        }
        if n == 0 {
            if need_blank {
                return Err("truncated: no empty line after the head".to_owned());
            }
            break;
        }
        let Some(text) = line.strip_suffix(b"\n") else {
            return Err("truncated: last line has no line end".to_owned());
        };
        let text = std::str::from_utf8(text).map_err(|_| "not UTF-8".to_owned())?;
        if first {
            if text != magic {
                return Err(format!(
                    "not a version-1 queue file (first line {text:.40?})"
                ));
            }
            first = false;
            continue;
        }
        if text.is_empty() {
            break;
        }
        let (k, v) = text.split_once(' ').unwrap_or((text, ""));
        fields.push((k.to_owned(), v.to_owned()));
    }
    if first {
        return Err("empty file".to_owned());
    }
    Ok((fields, total))
}

fn number<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{key}: not a number: {v:.40?}"))
}

/// Parses a head (version 1); returns it and the offset of the message.
pub fn read_head(r: &mut impl BufRead) -> Result<(Head, u64), String> {
    let (fields, len) = read_fields(r, MAGIC, true)?;
    let (mut created, mut from, mut rcpts, mut reply) = (None, None, Vec::new(), String::new());
    for (k, v) in fields {
        match k.as_str() {
            "created" => created = Some(number("created", &v)?),
            "from" => match envelope::parse_reverse_path(&v, true) {
                Ok((p, "")) => from = Some(p),
                _ => return Err(format!("from: not an SMTP path: {v:.80?}")),
            },
            "rcpt" => {
                if rcpts.len() >= MAX_RCPTS {
                    return Err(format!("more than {MAX_RCPTS} recipients"));
                }
                match envelope::parse_forward_path(&v, true) {
                    Ok((m, "")) => rcpts.push(m),
                    _ => return Err(format!("rcpt: not an SMTP path: {v:.80?}")),
                }
            }
            "reply" => reply = v,
            _ => {}
        }
    }
    let created = created.ok_or("no created line")?;
    let from = from.ok_or("no from line")?;
    if rcpts.is_empty() {
        return Err("no rcpt line".to_owned());
    }
    Ok((
        Head {
            created,
            from,
            rcpts,
            reply,
        },
        len,
    ))
}

/// Writes a state file's text.
pub fn write_state(s: &State, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "{STATE_MAGIC}")?;
    writeln!(w, "attempts {}", s.attempts)?;
    writeln!(w, "last {}", s.last)?;
    writeln!(w, "reply {}", one_line(&s.reply))
}

/// Parses a state file.
pub fn read_state(r: &mut impl BufRead) -> Result<State, String> {
    let (fields, _) = read_fields(r, STATE_MAGIC, false)?;
    let (mut attempts, mut last, mut reply) = (None, None, String::new());
    for (k, v) in fields {
        match k.as_str() {
            "attempts" => attempts = Some(number("attempts", &v)?),
            "last" => last = Some(number("last", &v)?),
            "reply" => reply = v,
            _ => {}
        }
    }
    Ok(State {
        attempts: attempts.ok_or("no attempts line")?,
        last: last.ok_or("no last line")?,
        reply,
    })
}

// ---------------------------------------------------------------------------
// The directory

/// Whether `id` can be a queue id: `[A-Za-z0-9._-]`, 1 to 100 characters,
/// not starting with a dot, not a state file's name. Ids never become
/// anything but one path component.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && !id.ends_with(".state")
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A queued (or failed) message as listed.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its id (file name).
    pub id: String,
    /// Whether it is in `failed/`.
    pub failed: bool,
    /// Envelope and queue time.
    pub head: Head,
    /// Attempts so far.
    pub state: State,
}

impl Entry {
    /// When the next attempt is due.
    pub fn next_attempt(&self) -> u64 {
        next_attempt(self.head.created, self.state.last)
    }

    /// The `--list --json` object.
    pub fn json(&self, now: u64) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "state": if self.failed { "failed" } else { "queued" },
            "created": self.head.created,
            "age": now.saturating_sub(self.head.created),
            "from": self.head.from.to_string(),
            "to": self.head.rcpts.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "attempts": self.state.attempts,
            "last_attempt": self.state.last,
            "next_attempt": (!self.failed).then(|| self.next_attempt()),
            "reply": self.state.reply,
        })
    }

    /// The `--list` line: printable whatever the files hold ([`printable`]).
    pub fn line(&self, now: u64) -> String {
        let to: Vec<String> = self.head.rcpts.iter().map(|r| format!("<{r}>")).collect();
        let when = if self.failed {
            "failed".to_owned()
        } else {
            let next = self.next_attempt();
            if next <= now {
                "due now".to_owned()
            } else {
                format!("next in {}", format_age(next - now))
            }
        };
        printable(&format!(
            "{}  {}  {} attempt{}, {when}  <{}> -> {}  last: {}",
            self.id,
            format_age(now.saturating_sub(self.head.created)),
            self.state.attempts,
            if self.state.attempts == 1 { "" } else { "s" },
            self.head.from,
            to.join(" "),
            self.state.reply
        ))
    }
}

/// A queue directory.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
}

fn io_ctx(what: impl std::fmt::Display, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {}", strip_os_error(&e)))
}

/// Opens a file without following a symbolic link (a hostile queue
/// directory cannot point a flush at another file), read-only.
fn open_nofollow(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let f = File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    Ok(f)
}

/// A queued message locked by this process: no other flush or drop can
/// take it until it is dropped (the lock goes with the file handle).
#[derive(Debug)]
pub struct Locked {
    file: File,
    path: PathBuf,
    /// The message.
    pub entry: Entry,
    /// Where the message text starts in the file.
    pub offset: u64,
}

/// What [`Queue::lock`] found.
#[derive(Debug)]
pub enum Lock {
    /// Locked by us.
    Held(Box<Locked>),
    /// Another process holds it (a flush delivering it).
    Busy,
    /// No longer there (delivered or dropped meanwhile).
    Gone,
}

impl Queue {
    /// The queue in `dir`, creating it (and `tmp/`, `failed/`) with mode
    /// 0700 when missing: queued mail is private.
    pub fn open(dir: &Path) -> io::Result<Queue> {
        let mut b = fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        for d in [dir.to_owned(), dir.join("tmp"), dir.join("failed")] {
            let new = fs::symlink_metadata(&d).is_err();
            b.create(&d).map_err(|e| io_ctx(d.display(), e))?;
            // A new directory's own entry is durable only once its parent
            // is fsync'd: else a message stored in a queue made just now
            // could vanish with it in a crash, after we said "queued".
            // Best effort: a parent we may write but not read cannot be
            // opened to fsync, and that must not stop the queueing.
            if new && let Some(parent) = d.parent() {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                let _ = sync_dir(parent);
            }
        }
        Ok(Queue {
            dir: dir.to_owned(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str, failed: bool) -> PathBuf {
        if failed {
            self.dir.join("failed").join(id)
        } else {
            self.dir.join(id)
        }
    }

    /// Writes `path` atomically: `DIR/tmp/` then fsync, rename, fsync of
    /// the directory.
    fn write_atomic(
        &self,
        path: &Path,
        fill: impl FnOnce(&mut io::BufWriter<&File>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.write_atomic_locked(path, false, fill).map(drop)
    }

    /// [`Queue::write_atomic`], returning the new file open for reading
    /// too; with `lock`, flock'd before it is renamed into place (a
    /// message being replaced is never visible unlocked).
    fn write_atomic_locked(
        &self,
        path: &Path,
        lock: bool,
        fill: impl FnOnce(&mut io::BufWriter<&File>) -> io::Result<()>,
    ) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = self.dir.join("tmp").join(crate::io::temp::unique_suffix());
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io_ctx(tmp.display(), e))?;
        let result = (|| {
            let mut w = io::BufWriter::with_capacity(IO_BUF, &f);
            fill(&mut w)?;
            w.flush()?;
            drop(w);
            f.sync_all()?;
            if lock {
                rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
            }
            fs::rename(&tmp, path)?;
            sync_dir(path.parent().unwrap_or(&self.dir))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| io_ctx(path.display(), e))?;
        Ok(f)
    }

    /// Removes what a crash left in `DIR/tmp/` (files older than
    /// [`STALE_TMP`] seconds: nothing still being written), best effort.
    pub fn clean_tmp(&self) {
        let Ok(rd) = fs::read_dir(self.dir.join("tmp")) else {
            return;
        };
        for ent in rd.flatten() {
            let old = ent
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > STALE_TMP);
            if old {
                let _ = fs::remove_file(ent.path());
            }
        }
    }

    /// Stores a message for `rcpts`: the text of `msg` (rewound first) and
    /// its envelope, with `reply` (why it was queued). Returns the id.
    pub fn store(
        &self,
        msg: &mut Prepared,
        rcpts: &[Mailbox],
        reply: &str,
        now: u64,
    ) -> io::Result<String> {
        msg.rewind()?;
        let head = Head {
            created: now,
            from: msg.envelope.from.clone(),
            rcpts: rcpts.to_vec(),
            reply: reply.to_owned(),
        };
        // The id starts with the time (`ls` sorts the queue by age), then
        // what makes it unique on this host: pid, nanoseconds, a counter.
        let id = {
            use std::sync::atomic::{AtomicU64, Ordering};
            static SEQ: AtomicU64 = AtomicU64::new(0);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            format!("{now}.{}.{nanos}.{seq}", std::process::id())
        };
        let path = self.path(&id, false);
        self.write_atomic(&path, |w| {
            write_head(&head, w)?;
            // Unsigned: a flush signs again (with the time it sends).
            io::copy(&mut msg.text(), w)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Every message in the queue (and in `failed/` with `failed`), oldest
    /// first. A file that cannot be read or parsed is reported to `warn`
    /// (its path and why) and skipped.
    pub fn entries(
        &self,
        failed: bool,
        warn: &mut dyn FnMut(&Path, &str),
    ) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for in_failed in [false, true] {
            if in_failed && !failed {
                break;
            }
            let dir = if in_failed {
                self.dir.join("failed")
            } else {
                self.dir.clone()
            };
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if in_failed && e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_ctx(dir.display(), e)),
            };
            for ent in rd {
                let ent = ent.map_err(|e| io_ctx(dir.display(), e))?;
                let name = ent.file_name();
                let Some(name) = name.to_str() else {
                    warn(&ent.path(), "not a queue file name: skipped");
                    continue;
                };
                if name.starts_with('.')
                    || name.ends_with(".state")
                    || (!in_failed && (name == "tmp" || name == "failed"))
                {
                    continue;
                }
                if !valid_id(name) {
                    warn(&ent.path(), "not a queue file name: skipped");
                    continue;
                }
                match self.read_entry(name, in_failed) {
                    Ok(Some((e, _, _))) => out.push(e),
                    Ok(None) => {}
                    Err(why) => warn(&ent.path(), &format!("{why}: skipped")),
                }
            }
        }
        out.sort_by(|a, b| (a.head.created, &a.id).cmp(&(b.head.created, &b.id)));
        Ok(out)
    }

    /// Reads one entry; `Ok(None)` when the file is gone.
    fn read_entry(&self, id: &str, failed: bool) -> Result<Option<(Entry, File, u64)>, String> {
        let path = self.path(id, failed);
        let file = match open_nofollow(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(strip_os_error(&e)),
        };
        let mut r = BufReader::with_capacity(8192, &file);
        let (mut head, offset) = read_head(&mut r)?;
        let state_path = path.with_file_name(format!("{id}.state"));
        let state = match open_nofollow(&state_path) {
            Ok(f) => read_state(&mut BufReader::new(f))
                .map_err(|e| format!("{}: {e}", state_path.display()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => State {
                // No reply: queued before any attempt (--each --queue).
                attempts: u32::from(!head.reply.is_empty()),
                last: head.created,
                reply: head.reply.clone(),
            },
            Err(e) => return Err(format!("{}: {}", state_path.display(), strip_os_error(&e))),
        };
        // Times ahead of the clock (written while it was wrong) count as
        // now: else the message is neither due nor expired until the
        // clock catches up, maybe years later.
        let now = now_secs();
        let mut state = state;
        head.created = head.created.min(now);
        state.last = state.last.min(now);
        Ok(Some((
            Entry {
                id: id.to_owned(),
                failed,
                head,
                state,
            },
            file,
            offset,
        )))
    }

    /// Takes the lock on a queued message (not blocking).
    pub fn lock(&self, id: &str, failed: bool) -> Result<Lock, String> {
        if !valid_id(id) {
            return Err(format!("{id:?}: not a queue id"));
        }
        let path = self.path(id, failed);
        let Some((_, file, _)) = self.read_entry(id, failed)? else {
            return Ok(Lock::Gone);
        };
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(Lock::Busy),
            Err(e) => return Err(format!("lock: {e}")),
        }
        // Delivered and removed (or moved to failed/) by another process
        // between our open and our lock: the file we hold is no longer
        // the queued one.
        let ours = file.metadata().map_err(|e| strip_os_error(&e))?;
        match fs::symlink_metadata(&path) {
            Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {}
            _ => return Ok(Lock::Gone),
        }
        // Read it again under the lock: the state may have changed since.
        let Some((entry, _, offset)) = self.read_entry(id, failed)? else {
            return Ok(Lock::Gone);
        };
        Ok(Lock::Held(Box::new(Locked {
            file,
            path,
            entry,
            offset,
        })))
    }

    /// `--drop ID`: removes a message from the queue (or from `failed/`).
    /// `Ok(false)` when a flush holds it (it is being delivered).
    pub fn drop_message(&self, id: &str) -> Result<bool, Error> {
        for failed in [false, true] {
            match self.lock(id, failed) {
                Ok(Lock::Held(l)) => {
                    let state = state_path(&l.path);
                    fs::remove_file(&l.path)
                        .map_err(|e| Error::Output(io_ctx(l.path.display(), e)))?;
                    let _ = fs::remove_file(state);
                    let _ = sync_dir(l.path.parent().unwrap_or(&self.dir));
                    return Ok(true);
                }
                Ok(Lock::Busy) => return Ok(false),
                Ok(Lock::Gone) => {}
                Err(e) if valid_id(id) => {
                    // Unreadable (the flush skips it with a warning): it
                    // can still be dropped, or it would stay forever.
                    if let Some(dropped) = self.drop_unreadable(id, failed)? {
                        return Ok(dropped);
                    }
                    return Err(Error::Open(format!("--drop {id}: {e}")));
                }
                Err(e) => return Err(Error::Open(format!("--drop {id}: {e}"))),
            }
        }
        Err(Error::Open(format!(
            "--drop {id}: no such message in {}",
            self.dir.display()
        )))
    }
}

impl Queue {
    /// Removes `DIR/ID` (or `DIR/failed/ID`) that cannot be read as a
    /// queue file, a symbolic link itself (never its target), and its
    /// state. `None` when there is no such entry (or a directory);
    /// `Some(false)` when a regular file is locked by someone.
    fn drop_unreadable(&self, id: &str, failed: bool) -> Result<Option<bool>, Error> {
        let path = self.path(id, failed);
        match fs::symlink_metadata(&path) {
            Ok(m) if !m.is_dir() => {}
            _ => return Ok(None),
        }
        let _held = match open_nofollow(&path) {
            Ok(f) => {
                match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                    Err(rustix::io::Errno::WOULDBLOCK) => return Ok(Some(false)),
                    _ => Some(f),
                }
            }
            Err(_) => None,
        };
        fs::remove_file(&path).map_err(|e| Error::Output(io_ctx(path.display(), e)))?;
        let _ = fs::remove_file(state_path(&path));
        let _ = sync_dir(path.parent().unwrap_or(&self.dir));
        Ok(Some(true))
    }
}

fn state_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".state");
    PathBuf::from(s)
}

impl Locked {
    /// The message, ready to send as it was queued (verbatim, for its
    /// queued envelope; `downgrade`: `--downgrade`).
    pub fn prepare(&self, downgrade: bool) -> Result<Prepared, Error> {
        let mut f = self.file.try_clone().map_err(Error::Input)?;
        f.seek(SeekFrom::Start(self.offset)).map_err(Error::Input)?;
        let opts = PrepareOptions {
            from: Some(self.entry.head.from.clone()),
            recipients: self.entry.head.rcpts.clone(),
            verbatim: true,
            downgrade,
            hostname: "localhost".to_owned(),
            ..PrepareOptions::default()
        };
        prepare::prepare(Source::File(f), &opts)
    }

    /// Delivered: removes the message at once (the at-least-once window is
    /// from the server's `250` to this unlink), then its state. The removal
    /// is not fsync'd here: a crash of this process cannot undo an unlink,
    /// and after a power loss a removal not yet on disk only re-sends a
    /// message (the documented at-least-once window); the caller syncs the
    /// directory once at the end of its run ([`flush`], [`send_each`])
    /// instead of once per message.
    pub fn delivered(self) -> io::Result<()> {
        fs::remove_file(&self.path).map_err(|e| io_ctx(self.path.display(), e))?;
        let _ = fs::remove_file(state_path(&self.path));
        Ok(())
    }

    /// Keeps only `rcpts` in the queued message (the others have it, or are
    /// refused for good): a new file with the same id replaces it
    /// atomically (a flush that opened the old one finds it gone).
    pub fn narrow(&mut self, q: &Queue, rcpts: &[Mailbox]) -> io::Result<()> {
        let head = Head {
            rcpts: rcpts.to_vec(),
            ..self.entry.head.clone()
        };
        let mut src = self.file.try_clone()?;
        src.seek(SeekFrom::Start(self.offset))?;
        let mut head_text = Vec::new();
        write_head(&head, &mut head_text)?;
        // The new file is locked before it replaces the old one, and the
        // lock is kept (the old file's lock guards nothing once replaced).
        let file = q.write_atomic_locked(&self.path, true, |w| {
            w.write_all(&head_text)?;
            io::copy(&mut src, w)?;
            Ok(())
        })?;
        self.file = file;
        self.offset = head_text.len() as u64;
        self.entry.head = head;
        Ok(())
    }

    /// A failed attempt: records it in the state file.
    pub fn attempted(&mut self, q: &Queue, reply: &str, now: u64) -> io::Result<()> {
        self.entry.state = State {
            attempts: self.entry.state.attempts.saturating_add(1),
            last: now,
            reply: one_line(reply),
        };
        let state = self.entry.state.clone();
        q.write_atomic(&state_path(&self.path), |w| write_state(&state, w))
    }

    /// Gives up: moves the message (and its state) to `failed/`.
    pub fn fail(self, q: &Queue) -> io::Result<()> {
        let to = q.path(&self.entry.id, true);
        let state_from = state_path(&self.path);
        if state_from.exists() {
            fs::rename(&state_from, state_path(&to)).map_err(|e| io_ctx(to.display(), e))?;
        }
        fs::rename(&self.path, &to).map_err(|e| io_ctx(to.display(), e))?;
        sync_dir(&q.dir.join("failed"))?;
        sync_dir(&q.dir)
    }
}

// ---------------------------------------------------------------------------
// Queueing after a failure, flushing

/// One line for a set of results: what went wrong for those without the
/// message ([`outcome::summary`]), else the server's reply.
fn results_text(results: &[RcptResult]) -> String {
    outcome::summary(results).unwrap_or_else(|| match results.first() {
        Some(RcptResult {
            reply: Some(r),
            server,
            ..
        }) => format!("{server}: {}", one_line(&r.to_string())),
        Some(r) => r.detail.clone(),
        None => String::new(),
    })
}

/// Whether `--queue` keeps a message that met `err` (issue 14): every
/// failure except a final refusal of the message or of a recipient. What
/// a later attempt may get through stays queued, with `err` as its reason:
/// a 4xx reply, a connection refused, lost or timed out, a resolver not
/// answering, an unknown relay host; and what the admin has to fix
/// without the message changing: AUTH refused (535: an expired password
/// or token; Postfix's `smtp_sasl_auth_soft_bounce`), a certificate that
/// stopped verifying, a policy refusal, a failing `--password-cmd`, a
/// missing server, a `--pipe` command that failed, a server answering
/// 5xx before the transaction (its greeting, EHLO, STARTTLS, AUTH), a
/// protocol error. Not kept: a 5xx to MAIL, RCPT, DATA or the end of data
/// (RFC 5321 §4.2.1: the message or recipient is refused for good, and
/// 530/534/535/538 there are AUTH problems, so kept), the message
/// refused by our own checks (65) or not readable (74), a queue that
/// cannot be written. A message delivered to some recipients already
/// ([`Error::Partial`]) is not queued whole (the others would get it
/// twice). A message not tried at all because the server could not be
/// reached for an earlier one ([`Error::NotSent`]) stays queued: nothing
/// happened to it. smtp-send(1) has the table.
pub fn is_queueable(err: &Error) -> bool {
    match err {
        Error::Usage(_)
        | Error::Message(_)
        | Error::Input(_)
        | Error::Open(_)
        | Error::Output(_)
        | Error::Partial { .. } => false,
        Error::Refused(_, code) => *code == crate::exit::TEMPFAIL,
        Error::Smtp { err, .. } => !refuses_message(err),
        Error::Connect(_)
        | Error::Tls { .. }
        | Error::Security(_)
        | Error::Command { .. }
        | Error::Config(_)
        | Error::Unavailable(_)
        | Error::NotSent(..) => true,
    }
}

/// A session error that refuses this message, or its recipients, for
/// good: retrying it unchanged gets the same answer.
fn refuses_message(err: &client::Error) -> bool {
    use crate::smtp::Stage;
    use crate::smtp::client::ErrorKind;
    match err.kind() {
        // Our own checks against this server's extensions (65), or the
        // message could not be read (74).
        ErrorKind::Unsendable(_) | ErrorKind::Input(_) => true,
        ErrorKind::Rejected(list) => list.iter().any(|(_, r)| r.is_permanent()),
        ErrorKind::Reply(r) => {
            r.is_permanent()
                && matches!(
                    err.stage(),
                    Stage::Mail | Stage::Rcpt | Stage::Data | Stage::Dot
                )
                && !matches!(r.code, 530 | 534 | 535 | 538)
        }
        ErrorKind::Io(_) | ErrorKind::Protocol(..) | ErrorKind::Sasl(_) => false,
    }
}

/// `--queue DIR` after a failure [`is_queueable`] keeps: stores `msg` for `rcpts` and
/// says so to `notices`. Returns the id.
pub fn queue_message(
    dir: &Path,
    msg: &mut Prepared,
    rcpts: &[Mailbox],
    why: &str,
    notices: &dyn Notices,
) -> Result<String, Error> {
    let q = Queue::open(dir).map_err(|e| Error::Output(queueing(e)))?;
    let id = q
        .store(msg, rcpts, why, now_secs())
        .map_err(|e| Error::Output(queueing(e)))?;
    let whom = if rcpts.len() == msg.envelope.rcpts.len() {
        String::new()
    } else {
        let list: Vec<String> = rcpts.iter().map(|r| format!("<{r}>")).collect();
        format!(" for {}", list.join(" "))
    };
    notices.say(&format_args!(
        "{why}: queued{whom} as {id} in {} (will retry with --flush)",
        dir.display()
    ));
    Ok(id)
}

fn queueing(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("queueing: {e}"))
}

/// The end of a send with `--queue DIR` (one message, or one of `-bs`):
/// the deferred recipients (all of them after a failure of the session
/// [`is_queueable`] keeps) are queued; returns the results of the others
/// (to decide the exit code: 0 when they were delivered) and the queue
/// id, when something was queued. A refusal of the message is returned as
/// it is: never queued; so is a queue that cannot be written
/// ([`Error::Output`]).
pub fn after_send(
    dir: &Path,
    msg: &mut Prepared,
    sent: Result<Vec<RcptResult>, Error>,
    notices: &dyn Notices,
) -> Result<(Vec<RcptResult>, Option<String>), Error> {
    match sent {
        Ok(results) => {
            let summary = outcome::summary(&results);
            let (deferred, rest): (Vec<_>, Vec<_>) = results
                .into_iter()
                .partition(|r| r.status == Status::Deferred);
            let Some(first) = deferred.first() else {
                return Ok((rest, None));
            };
            let rcpts: Vec<Mailbox> = deferred.iter().map(|r| r.rcpt.clone()).collect();
            let why = summary.unwrap_or_else(|| first.detail.clone());
            let id = queue_message(dir, msg, &rcpts, &why, notices)?;
            Ok((rest, Some(id)))
        }
        Err(e) if is_queueable(&e) => {
            let rcpts = msg.envelope.rcpts.clone();
            let id = queue_message(dir, msg, &rcpts, &e.to_string(), notices)?;
            Ok((Vec::new(), Some(id)))
        }
        Err(e) => Err(e),
    }
}

/// `--each` with `--queue DIR`: every message is queued first (durable
/// before the first attempt, as an MTA accepts mail), then tried at once
/// along `route` ([`Deliverer`]: one relay session), as a flush does: delivered ones are
/// removed right after the `250`; deferred recipients stay queued (said on
/// stderr, not an error); a permanent failure is removed from the queue and
/// reported, with its exit code. `results` and `report` are those of
/// [`route::send_each`]. Returns the worst exit code of what was neither
/// delivered nor queued.
pub fn send_each<C: Connection>(
    dir: &Path,
    messages: impl IntoIterator<Item = (String, Result<Prepared, Error>)>,
    route: &mut Deliverer<C>,
    results: &mut dyn FnMut(&str, route::EachOutcome<'_>),
    report: &mut dyn FnMut(&str, &Error),
    notices: &dyn Notices,
) -> u8 {
    let q = match Queue::open(dir) {
        Ok(q) => q,
        Err(e) => {
            let e = Error::Output(queueing(e));
            report("--queue", &e);
            return e.exit_code();
        }
    };
    let log = route.log().clone();
    let worst = route::each_message(messages, report, |name, mut msg, fail| {
        let rcpts = msg.envelope.rcpts.clone();
        let id = match q.store(&mut msg, &rcpts, "", now_secs()) {
            Ok(id) => id,
            Err(e) => {
                fail(&Error::Output(queueing(e)));
                return crate::exit::OK;
            }
        };
        let downgrade = msg.downgrade();
        drop(msg);
        let queued = |why: &str| {
            notices.say(&format_args!(
                "{name}: {why}: queued as {id} in {} (will retry with --flush)",
                dir.display()
            ))
        };
        let locked = match q.lock(&id, false) {
            Ok(Lock::Held(l)) => l,
            // A flush of the same queue took it first: it is its now.
            Ok(Lock::Busy | Lock::Gone) => {
                queued("taken by a flush");
                return crate::exit::OK;
            }
            Err(why) => {
                queued(&why);
                return crate::exit::OK;
            }
        };
        let sent = deliver(&locked, route, downgrade);
        // Delivered to all: first remove the file (the at-least-once
        // window), then anything else.
        let all = matches!(&sent, Ok(list) if list.iter().all(|r| r.status != Status::Deferred));
        let mut locked = Some(locked);
        if all
            && let Some(l) = locked.take()
            && let Err(e) = l.delivered()
        {
            notices.warn(&format_args!(
                "{e}: delivered but not removed: a flush sends it again"
            ));
        }
        match &sent {
            Ok(list) => results(name, Ok(list)),
            Err(e) => results(name, Err((&rcpts, e))),
        }
        let now = now_secs();
        match sent {
            Ok(list) => {
                let summary = outcome::summary(&list);
                let (deferred, rest): (Vec<_>, Vec<_>) =
                    list.into_iter().partition(|r| r.status == Status::Deferred);
                let why = summary.unwrap_or_default();
                if let Some(mut l) = locked {
                    let keep: Vec<Mailbox> = deferred.iter().map(|r| r.rcpt.clone()).collect();
                    let kept = l
                        .narrow(&q, &keep)
                        .and_then(|()| l.attempted(&q, &why, now));
                    match kept {
                        Ok(()) => queued(&why),
                        Err(e) => fail(&Error::Output(queueing(e))),
                    }
                }
                let code = outcome::exit_code(&rest);
                log.settled((!deferred.is_empty()).then_some(id.as_str()), code);
                if code != crate::exit::OK && deferred.is_empty() {
                    fail(&Error::Refused(why, code));
                } else {
                    return code;
                }
            }
            Err(e) => {
                let Some(mut l) = locked else { return 0 };
                if is_queueable(&e) {
                    log.settled(Some(&id), crate::exit::OK);
                    match l.attempted(&q, &e.to_string(), now) {
                        Ok(()) => queued(&e.to_string()),
                        Err(io) => fail(&Error::Output(queueing(io))),
                    }
                } else {
                    // Never queued for good: out of the queue, reported.
                    log.settled(None, e.exit_code());
                    let _ = l.delivered();
                    fail(&e);
                }
            }
        }
        crate::exit::OK
    });
    // The removals of delivered messages, made durable once (see
    // [`Locked::delivered`]); at worst a message is sent again.
    let _ = sync_dir(dir);
    worst
}

/// How to flush.
#[derive(Debug, Clone)]
pub struct FlushOptions {
    /// Give up on messages older than this (seconds).
    pub max_age: u64,
    /// Try every message now, due or not.
    pub force: bool,
    /// One JSON object per message on `out`.
    pub json: bool,
    /// `--downgrade`: queued messages are read back with it, so that
    /// [`Prepared::fit`] applies at flush time as it does at once.
    pub downgrade: bool,
}

/// What happened to one message in a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Sent; removed from the queue.
    Delivered,
    /// Temporary failure (or not tried: not due, or another flush has it);
    /// still queued.
    Deferred,
    /// Permanent failure or too old: moved to `failed/`.
    Failed,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Deferred => "deferred",
            Outcome::Failed => "failed",
        }
    }
}

/// Where a flush reports each message: `--json` objects on `out`, lines
/// to `notices`.
struct Reports<'a> {
    json: bool,
    out: &'a mut dyn Write,
    notices: &'a dyn Notices,
    /// `--log`: the fate of each message tried.
    log: Log,
}

/// Reports one message of a flush: `ID: status: text` on stderr (not for
/// a message merely not due yet: a flush from cron stays quiet), and with
/// `--json` an object with the entry ([`Entry::json`]; `reply` is the last
/// reply), `status`, `tried` and `text`.
fn report(
    to: &mut Reports<'_>,
    e: &Entry,
    outcome: Outcome,
    tried: bool,
    text: &str,
    now: u64,
) -> Result<(), Error> {
    let Reports {
        json,
        out,
        notices,
        log,
    } = to;
    if !tried && outcome == Outcome::Failed {
        log.given_up(&e.id, &e.head.from.to_string(), &e.head.rcpts, text);
    }
    if tried {
        match outcome {
            Outcome::Delivered => log.settled_as(Fate::Delivered, Some(crate::exit::OK)),
            Outcome::Deferred => log.settled_as(Fate::Queued(&e.id), Some(crate::exit::TEMPFAIL)),
            Outcome::Failed => log.settled_as(Fate::Failed, None),
        }
    }
    if *json {
        let mut v = e.json(now);
        v["status"] = outcome.name().into();
        v["tried"] = tried.into();
        v["text"] = text.into();
        if outcome == Outcome::Delivered {
            v["reply"] = text.into();
        }
        writeln!(out, "{v}").map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
    }
    let not_due = outcome == Outcome::Deferred && !tried && text.starts_with("not due");
    if !not_due {
        notices.say(&format_args!("{}: {}: {text}", e.id, outcome.name()));
    }
    Ok(())
}

/// `--flush DIR`: tries every due message along `route` ([`Deliverer`]:
/// one relay session, reopened when a connection is lost; after a failure
/// to connect the rest are not tried; or by MX). Reports each message on stderr (and as JSON on
/// `out`). Returns 0 when the queue is empty at the end, 75 when messages
/// still wait.
pub fn flush<C: Connection>(
    dir: &Path,
    opts: &FlushOptions,
    route: &mut Deliverer<C>,
    out: &mut dyn Write,
    notices: &dyn Notices,
) -> Result<u8, Error> {
    existing(dir)?;
    let mut to = Reports {
        json: opts.json,
        out,
        notices,
        log: route.log().clone(),
    };
    let q = Queue::open(dir).map_err(Error::Output)?;
    q.clean_tmp();
    let list = q
        .entries(false, &mut |p, why| {
            notices.warn(&format_args!("{}: {why}", p.display()))
        })
        .map_err(Error::Output)?;
    let mut waiting = 0usize;
    // Messages not yet due, and the soonest of them (seconds from now, id).
    let mut not_due = 0usize;
    let mut soonest: Option<(u64, String)> = None;
    for listed in list {
        let now = now_secs();
        let age = now.saturating_sub(listed.head.created);
        let expired = age >= opts.max_age;
        let due = opts.force || listed.next_attempt() <= now;
        if !due && !expired {
            waiting += 1;
            not_due += 1;
            let wait = listed.next_attempt().saturating_sub(now);
            if soonest.as_ref().is_none_or(|(w, _)| wait < *w) {
                soonest = Some((wait, listed.id.to_string()));
            }
            let text = format!(
                "not due (next attempt in {})",
                format_age(listed.next_attempt().saturating_sub(now))
            );
            report(&mut to, &listed, Outcome::Deferred, false, &text, now)?;
            continue;
        }
        let mut locked = match q.lock(&listed.id, false) {
            Ok(Lock::Held(l)) => l,
            Ok(Lock::Busy) => {
                waiting += 1;
                report(
                    &mut to,
                    &listed,
                    Outcome::Deferred,
                    false,
                    "another flush is delivering it",
                    now,
                )?;
                continue;
            }
            Ok(Lock::Gone) => continue,
            Err(why) => {
                notices.warn(&format_args!(
                    "{}: {why}: skipped",
                    q.path(&listed.id, false).display()
                ));
                continue;
            }
        };
        if !due {
            // Too old, and not due: no point in one more try.
            let text = format!(
                "expired after {} (--max-age): {}",
                format_age(age),
                locked.entry.state.reply
            );
            let entry = locked.entry.clone();
            locked.fail(&q).map_err(Error::Output)?;
            report(&mut to, &entry, Outcome::Failed, false, &text, now)?;
            continue;
        }
        // A route that cannot be set up (no server configured, no DNS) is
        // no fault of the message: stop, and leave the queue as it is.
        route.ready()?;
        let result = deliver(&locked, route, opts.downgrade);
        let (text, outcome) = match result {
            Ok(results) => {
                let by = |st: Status| -> Vec<Mailbox> {
                    results
                        .iter()
                        .filter(|r| r.status == st)
                        .map(|r| r.rcpt.clone())
                        .collect()
                };
                let (deferred, rejected) = (by(Status::Deferred), by(Status::Rejected));
                let text = results_text(&results);
                if deferred.is_empty() && rejected.is_empty() {
                    // First remove the file: this is the at-least-once window.
                    let entry = locked.entry.clone();
                    let removed = locked.delivered();
                    report(&mut to, &entry, Outcome::Delivered, true, &text, now)?;
                    if let Err(e) = removed {
                        notices.warn(&format_args!(
                            "{e}: delivered but not removed: a later flush sends it again"
                        ));
                        waiting += 1;
                    }
                    continue;
                }
                // Some recipients have it: the queue keeps the others only.
                let keep = if deferred.is_empty() {
                    rejected
                } else {
                    deferred.clone()
                };
                locked.narrow(&q, &keep).map_err(Error::Output)?;
                if deferred.is_empty() {
                    (text, Outcome::Failed)
                } else {
                    (text, Outcome::Deferred)
                }
            }
            Err(e) => {
                let outcome = if is_queueable(&e) || e.exit_code() == crate::exit::TEMPFAIL {
                    Outcome::Deferred
                } else {
                    Outcome::Failed
                };
                (e.to_string(), outcome)
            }
        };
        let _ = locked.attempted(&q, &text, now_secs());
        if outcome == Outcome::Deferred && !expired {
            waiting += 1;
            let next = format_age(locked.entry.next_attempt().saturating_sub(now_secs()));
            let entry = locked.entry.clone();
            let text = format!("{text} (next attempt in {next})");
            report(&mut to, &entry, Outcome::Deferred, true, &text, now)?;
        } else {
            let entry = locked.entry.clone();
            let text = if outcome == Outcome::Deferred {
                format!("expired after {} (--max-age): {text}", format_age(age))
            } else {
                text
            };
            locked.fail(&q).map_err(Error::Output)?;
            report(&mut to, &entry, Outcome::Failed, true, &text, now)?;
        }
    }
    // The removals of delivered messages, made durable once (see
    // [`Locked::delivered`]); at worst a message is sent again.
    let _ = sync_dir(dir);
    // Issue 12: a flush that found nothing due exited 75 in silence; say
    // what waits (each message is on `--list`).
    if let Some((wait, id)) = soonest {
        notices.say(&format_args!(
            "{not_due} message{} not due yet; the next attempt is in {} ({id}); \
             --force sends now",
            if not_due == 1 { "" } else { "s" },
            format_age(wait)
        ));
    }
    Ok(if waiting == 0 {
        crate::exit::OK
    } else {
        crate::exit::TEMPFAIL
    })
}

/// The one place a queued message is handed to a route (with
/// `--downgrade` when given, so that [`Prepared::fit`] applies at flush
/// time as it does at once). Returns the result per recipient.
fn deliver<C: Connection>(
    locked: &Locked,
    route: &mut Deliverer<C>,
    downgrade: bool,
) -> Result<Vec<RcptResult>, Error> {
    route.deliver_queued(&mut locked.prepare(downgrade)?, &locked.entry.id)
}

/// A queue to read (`--flush`, `--list`, `--drop`) must exist: only
/// `--queue`, which stores, creates one. Else a typo in a cron job's
/// `--flush` would make an empty queue and exit 0 every night, unnoticed.
fn existing(dir: &Path) -> Result<(), Error> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::Open(format!(
            "{}: no such queue directory",
            dir.display()
        )))
    }
}

/// `--list DIR`: one line per message (or one JSON object with `json`),
/// the queue then `failed/`.
pub fn list(
    dir: &Path,
    json: bool,
    out: &mut dyn Write,
    notices: &dyn Notices,
) -> Result<u8, Error> {
    let q = Queue {
        dir: dir.to_owned(),
    };
    existing(dir)?;
    let list = q
        .entries(true, &mut |p, why| {
            notices.warn(&format_args!("{}: {why}", p.display()))
        })
        .map_err(|e| Error::Open(e.to_string()))?;
    let now = now_secs();
    for e in &list {
        if json {
            writeln!(out, "{}", e.json(now))
        } else {
            writeln!(out, "{}", e.line(now))
        }
        .map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(crate::exit::OK)
}

/// `--queue DIR --drop ID`.
pub fn drop_message(dir: &Path, id: &str, notices: &dyn Notices) -> Result<u8, Error> {
    existing(dir)?;
    let q = Queue {
        dir: dir.to_owned(),
    };
    if q.drop_message(id)? {
        Ok(crate::exit::OK)
    } else {
        notices.say(&format_args!(
            "--drop {id}: not dropped: a flush is delivering it now"
        ));
        Ok(75)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod regressions;
