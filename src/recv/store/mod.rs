//! Durable message storage for receivers: stdout, a file, Maildir, mbox, a
//! directory of `.eml` files, or a command per message.
//!
//! # Durability contract
//!
//! A receiver says `250` only after [`Pending::commit`] returned `Ok`: the
//! message is then completely written and, where the output supports it,
//! fsync'd — renamed into place (Maildir, `--dir`) with the directory
//! fsync'd too, or appended under a lock (mbox). A failure is an
//! [`StoreError`] (temporary unless a command refused the message) and
//! leaves nothing partial: temporary files are removed and appended files
//! are truncated back to their previous length. [`Pending::abort`] (or
//! dropping a `Pending`) stores nothing.
//!
//! Messages are stored with LF line ends, after the trace fields the driver
//! built with [`trace_header`]. Targets that hold several messages (mbox,
//! and stdout or `-o FILE` when the receiver takes more than one message)
//! use the mboxrd format: a `From ` line, `>From ` quoting, a blank line
//! after each message.
//!
//! Where bytes wait until commit:
//! - Maildir and `--dir` write straight into their temporary file.
//! - stdout, `-o FILE`, mbox and `--exec` spool the message (in memory up
//!   to 256 KiB, then in an unlinked file under `$TMPDIR`), so the target
//!   sees a message only once it was fully received and accepted, and
//!   appends from concurrent sessions never interleave. `--exec` always
//!   spools to a file, which becomes the command's stdin.
//! - `-o /dev/null` discards at once: no spool, no lock, no fsync (a sink for
//!   benchmarks).
//!
//! Write errors while a message is received do not interrupt the transfer
//! (the session must read to the end of data to stay in sync): the first
//! error is kept and reported by `commit`.
//!
//! Envelope data never becomes a file name, a path or a shell word: names
//! come from the time, the pid, a counter, the host name and the queue id
//! (checked to be `[A-Za-z0-9._-]`), and `--exec` gets the envelope in
//! environment variables only.

mod exec;

pub use crate::smtp::server::{StoreError, Stored};
pub use crate::smtp::trace::{add_results, authentication_results, envelope_json, trace_header};

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::io::spool;
use crate::io::sync::{sync, sync_dir};
use crate::limits;
use crate::mailbox::{maildir, mbox};
use crate::smtp::envelope::Envelope;

use crate::io::spool::Spool;

/// Where accepted messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output (the default).
    Stdout,
    /// `-o FILE`: appended; `/dev/null` is a fast sink.
    File(PathBuf),
    /// `--maildir DIR`: `tmp/` then `new/`, created as needed.
    Maildir(PathBuf),
    /// `--mbox FILE`: appended in mboxrd format under an fcntl lock.
    Mbox(PathBuf),
    /// `--dir DIR`: one `<queue-id>.eml` file per message.
    Dir(PathBuf),
    /// `--exec CMD`: `sh -c CMD` per message, message on stdin.
    Exec(String),
}

impl Target {
    /// The target of `smtp-recv`'s options: the first given of `-o`,
    /// `--maildir`, `--mbox`, `--dir` and `--exec` (they exclude each
    /// other), else stdout.
    pub fn choose(
        output: Option<PathBuf>,
        maildir: Option<PathBuf>,
        mbox: Option<PathBuf>,
        dir: Option<PathBuf>,
        exec: Option<String>,
    ) -> Target {
        output
            .map(Target::File)
            .or(maildir.map(Target::Maildir))
            .or(mbox.map(Target::Mbox))
            .or(dir.map(Target::Dir))
            .or(exec.map(Target::Exec))
            .unwrap_or(Target::Stdout)
    }
}

/// A storage failure that may pass (451).
pub(super) fn temp_error(what: impl fmt::Display, e: &io::Error) -> StoreError {
    StoreError {
        temporary: true,
        message: format!("{what}: {e}"),
    }
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Message storage shared by all sessions (`Send + Sync`; appends to one
/// file are serialized).
#[derive(Debug, Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    kind: Kind,
    /// mboxrd framing (From_ line, quoting, blank line).
    mbox: bool,
    /// Host name escaped for Maildir names.
    host: String,
    counter: AtomicU64,
    /// Writing stdout failed with EPIPE: its reader went away.
    output_closed: AtomicBool,
}

#[derive(Debug)]
enum Kind {
    Null,
    Stdout(Mutex<Out>),
    Append {
        path: PathBuf,
        file: Mutex<File>,
        /// fcntl write lock during the append (mbox).
        lock: bool,
    },
    Maildir(PathBuf),
    Dir(PathBuf),
    Exec {
        cmd: String,
        /// The commands' stdout and stderr.
        err: OwnedFd,
    },
}

/// The process's standard output and error, handed over by the binary: the
/// library never opens them itself (only `src/bin` and `cli` print).
/// Messages for [`Target::Stdout`] are written to `out`; `--exec` commands
/// get `err` as their stdout and stderr, so what they print never mixes
/// with the messages on our stdout.
#[derive(Debug)]
pub struct Std {
    /// Where [`Target::Stdout`] writes (a duplicate of fd 1).
    pub out: File,
    /// What `--exec` commands write to (a duplicate of fd 2).
    pub err: OwnedFd,
}

/// The test process's own streams, as the binary would hand them over.
#[cfg(test)]
pub(crate) fn test_std() -> Std {
    use std::os::fd::AsFd;
    Std {
        out: io::stdout().as_fd().try_clone_to_owned().unwrap().into(),
        err: io::stderr().as_fd().try_clone_to_owned().unwrap(),
    }
}

/// The stdout of the process (or, in tests, a buffer).
#[derive(Debug)]
enum Out {
    Stdout(File),
    #[cfg(test)]
    Buffer(Vec<u8>),
    /// A stdout whose reader went away.
    #[cfg(test)]
    Closed,
}

impl Store {
    /// Prepares `target`: creates directories (mode 0700, with parents) and
    /// opens append files (mode 0600 when created), checking early that
    /// they are writable and that a spool file can be made. `count_hint` is
    /// the number of messages the receiver will take (0: unlimited): stdout
    /// and `-o FILE` are mbox-framed unless it is 1.
    pub fn open(target: Target, count_hint: u64, std: Std) -> io::Result<Store> {
        let several = count_hint != 1;
        let (kind, mbox) = match target {
            Target::File(p) if p == Path::new("/dev/null") => (Kind::Null, false),
            Target::Stdout => {
                check_spool()?;
                (Kind::Stdout(Mutex::new(Out::Stdout(std.out))), several)
            }
            Target::File(p) => (open_append(p, false)?, several),
            Target::Mbox(p) => (open_append(p, true)?, true),
            Target::Maildir(dir) => {
                for sub in ["tmp", "new", "cur"] {
                    make_dir(&dir.join(sub))?;
                }
                probe(&dir.join("tmp"))?;
                (Kind::Maildir(dir), false)
            }
            Target::Dir(dir) => {
                make_dir(&dir)?;
                probe(&dir)?;
                (Kind::Dir(dir), false)
            }
            Target::Exec(cmd) => {
                check_spool()?;
                (Kind::Exec { cmd, err: std.err }, false)
            }
        };
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        Ok(Store {
            shared: Arc::new(Shared {
                kind,
                mbox,
                host: maildir::escape_host(&host),
                counter: AtomicU64::new(0),
                output_closed: AtomicBool::new(false),
            }),
        })
    }

    /// Whether the reader of standard output went away (a write failed
    /// with EPIPE): no message can be stored any more, and the receiver
    /// should stop, as any filter does when its reader leaves.
    pub fn output_closed(&self) -> bool {
        self.shared.output_closed.load(Ordering::Relaxed)
    }

    /// Starts one message: `trace` (from [`trace_header`]) is written first,
    /// then whatever is written to the [`Pending`]. `queue_id` names the
    /// `--dir` file and is `SMTP_QUEUE_ID` for `--exec`; it must match
    /// `[A-Za-z0-9._-]+` and not start with `.`.
    ///
    /// An error here (no spool file, cannot create the Maildir file) means
    /// the message cannot be taken: reply 451.
    pub fn begin(&self, env: &Envelope, queue_id: &str, trace: &[u8]) -> io::Result<Pending> {
        let sh = &self.shared;
        let now = SystemTime::now();
        let mut exec_env = Vec::new();
        let mut body = match &sh.kind {
            Kind::Null => {
                return Ok(Pending {
                    shared: Arc::clone(sh),
                    body: Body::Null,
                    quote: None,
                    env: Vec::new(),
                    error: None,
                });
            }
            Kind::Stdout(_) | Kind::Append { .. } => Body::Spool(Spool::new(spool::SPOOL_MEM)),
            Kind::Exec { .. } => {
                exec_env = exec_env_of(env, queue_id);
                Body::Spool(Spool::new(0))
            }
            Kind::Maildir(dir) => {
                let name = loop {
                    let n = sh.counter.fetch_add(1, Ordering::Relaxed);
                    let name = maildir::unique_name(now, std::process::id(), n, &sh.host);
                    match create_excl(&dir.join("tmp").join(&name)) {
                        Ok(f) => break (name, f),
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                        Err(e) => return Err(e),
                    }
                };
                let (name, file) = name;
                Body::Tmp(TmpFile {
                    file: BufWriter::with_capacity(limits::IO_BUF, file),
                    tmp: dir.join("tmp").join(&name),
                    dir: dir.join("new"),
                    name,
                    exclusive: false,
                })
            }
            Kind::Dir(dir) => {
                if !queue_id_ok(queue_id) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("queue id {queue_id:?} is not usable as a file name"),
                    ));
                }
                let (tmp, file) = loop {
                    let tmp = dir.join(format!(".tmp.{}.eml", crate::io::temp::unique_suffix()));
                    match create_excl(&tmp) {
                        Ok(f) => break (tmp, f),
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                        Err(e) => return Err(e),
                    }
                };
                Body::Tmp(TmpFile {
                    file: BufWriter::with_capacity(limits::IO_BUF, file),
                    tmp,
                    dir: dir.clone(),
                    name: format!("{queue_id}.eml"),
                    exclusive: true,
                })
            }
        };
        let quote = if sh.mbox {
            body.write_all(&mbox::from_line(
                env.mail_from.mailbox().map(ToString::to_string).as_deref(),
                now,
            ))?;
            Some(mbox::Quote::default())
        } else {
            None
        };
        body.write_all(trace)?;
        Ok(Pending {
            shared: Arc::clone(sh),
            body,
            quote,
            env: exec_env,
            error: None,
        })
    }
}

fn exec_env_of(env: &Envelope, queue_id: &str) -> Vec<(&'static str, String)> {
    let rcpts: Vec<String> = env.recipients().map(ToString::to_string).collect();
    let mut v = vec![
        ("SMTP_MAIL_FROM", env.mail_from.to_string()),
        ("SMTP_RCPT_TO", rcpts.join(" ")),
        ("SMTP_RCPT_COUNT", rcpts.len().to_string()),
        ("SMTP_HELO", env.helo.clone()),
        ("SMTP_CLIENT_ADDR", env.client.to_string()),
        ("SMTP_QUEUE_ID", queue_id.to_owned()),
    ];
    if let Some(u) = &env.auth_user {
        v.push(("SMTP_AUTH_USER", u.clone()));
    }
    v
}

fn queue_id_ok(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn make_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| with_path(dir, e))
}

fn create_excl(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                e
            } else {
                with_path(path, e)
            }
        })
}

/// Checks that files can be created in `dir`.
fn probe(dir: &Path) -> io::Result<()> {
    let p = dir.join(format!(".probe.{}", crate::io::temp::unique_suffix()));
    create_excl(&p)?;
    fs::remove_file(&p).map_err(|e| with_path(&p, e))
}

fn check_spool() -> io::Result<()> {
    crate::io::temp::unlinked_temp(&std::env::temp_dir()).map(drop)
}

fn open_append(path: PathBuf, lock: bool) -> io::Result<Kind> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| with_path(&path, e))?;
    check_spool()?;
    Ok(Kind::Append {
        path,
        file: Mutex::new(file),
        lock,
    })
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a half-written message behind (the
    // append is truncated on error), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Appends what `write` produces to `file` under its lock; on any error the
/// file is cut back to its previous length (regular files) so no partial
/// message remains.
fn append(
    file: &File,
    lock: bool,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if lock {
        rustix::fs::fcntl_lock(file, rustix::fs::FlockOperation::LockExclusive)?;
    }
    let result = (|| {
        let meta = file.metadata()?;
        let before = meta.is_file().then_some(meta.len());
        let mut w = BufWriter::with_capacity(limits::IO_BUF, file);
        let r = write(&mut w)
            .and_then(|()| w.flush())
            .and_then(|()| sync(file));
        if r.is_err() {
            // Drop the unwritten rest, then cut back what reached the file.
            let _ = w.into_parts();
            if let Some(len) = before {
                let _ = file.set_len(len);
            }
        }
        r
    })();
    if lock {
        let _ = rustix::fs::fcntl_lock(file, rustix::fs::FlockOperation::Unlock);
    }
    result
}

/// A message being received; see [`Store::begin`]. Write the message (LF
/// line ends) to it, then [`commit`](Pending::commit) or
/// [`abort`](Pending::abort). Dropping it aborts.
#[derive(Debug)]
pub struct Pending {
    shared: Arc<Shared>,
    body: Body,
    quote: Option<mbox::Quote>,
    env: Vec<(&'static str, String)>,
    /// The first write error, reported by `commit`.
    error: Option<io::Error>,
}

#[derive(Debug)]
enum Body {
    Null,
    Spool(Spool),
    Tmp(TmpFile),
}

/// A file written under a temporary name, renamed into `dir/name` on commit.
#[derive(Debug)]
struct TmpFile {
    file: BufWriter<File>,
    tmp: PathBuf,
    dir: PathBuf,
    name: String,
    /// Never replace an existing file (`--dir`): on a clash add `-N`.
    exclusive: bool,
}

impl Write for Body {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Body::Null => Ok(buf.len()),
            Body::Spool(s) => s.write(buf),
            Body::Tmp(t) => t.file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Body::Null => Ok(()),
            Body::Spool(s) => s.write_all(buf),
            Body::Tmp(t) => t.file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Body::Null => Ok(()),
            Body::Spool(s) => s.flush(),
            Body::Tmp(t) => t.file.flush(),
        }
    }
}

impl Write for Pending {
    /// Never fails: a storage error is kept for `commit` (the transfer goes
    /// on so the session stays in sync), later bytes are dropped.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if matches!(self.body, Body::Null) || self.error.is_some() {
            return Ok(buf.len());
        }
        let r = match &mut self.quote {
            Some(q) => q.write(buf, &mut self.body),
            None => self.body.write_all(buf),
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Pending {
    /// Makes the message durable (see the module docs). Only after `Ok` may
    /// the receiver acknowledge it.
    pub fn commit(mut self) -> Result<Stored, StoreError> {
        let body = std::mem::replace(&mut self.body, Body::Null);
        self.commit_body(body)
    }

    fn commit_body(&mut self, mut body: Body) -> Result<Stored, StoreError> {
        let shared = Arc::clone(&self.shared);
        if let Some(q) = &mut self.quote
            && self.error.is_none()
            && let Err(e) = q.finish(&mut body)
        {
            self.error = Some(e);
        }
        if let Some(e) = self.error.take() {
            if let Body::Tmp(t) = body {
                let _ = fs::remove_file(&t.tmp);
            }
            return Err(temp_error("writing the message", &e));
        }
        match (&shared.kind, body) {
            (Kind::Null, _) => Ok(Stored {
                location: "/dev/null".into(),
            }),
            (Kind::Stdout(out), Body::Spool(mut spool)) => {
                let mut out = locked(out);
                let written = match &mut *out {
                    Out::Stdout(w) => spool.copy_to(w).and_then(|_| sync(&*w)),
                    #[cfg(test)]
                    Out::Buffer(b) => spool.copy_to(b).map(drop),
                    #[cfg(test)]
                    Out::Closed => Err(io::ErrorKind::BrokenPipe.into()),
                };
                if let Err(e) = written {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        shared.output_closed.store(true, Ordering::Relaxed);
                    }
                    return Err(temp_error("stdout", &e));
                }
                Ok(Stored {
                    location: "stdout".into(),
                })
            }
            (Kind::Append { path, file, lock }, Body::Spool(mut spool)) => {
                let file = locked(file);
                append(&file, *lock, |w| spool.copy_to(w).map(drop))
                    .map_err(|e| temp_error(path.display(), &e))?;
                Ok(Stored {
                    location: path.display().to_string(),
                })
            }
            (Kind::Exec { cmd, err }, Body::Spool(spool)) => {
                let file = spool
                    .into_file()
                    .map_err(|e| temp_error("exec: spool", &e))?;
                exec::run(cmd, file, &self.env, err)?;
                Ok(Stored {
                    location: "exec".into(),
                })
            }
            (Kind::Maildir(_) | Kind::Dir(_), Body::Tmp(t)) => {
                let tmp = t.tmp.clone();
                let r = place(t);
                if r.is_err() {
                    let _ = fs::remove_file(&tmp);
                }
                r
            }
            _ => Err(StoreError {
                temporary: true,
                message: "internal error: storage mismatch".into(),
            }),
        }
    }

    /// Drops the message: nothing of it remains.
    pub fn abort(self) {
        drop(self);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Body::Tmp(t) = &self.body {
            let _ = fs::remove_file(&t.tmp);
        }
    }
}

/// Flush, fsync, rename into place (never over an existing `--dir` file),
/// fsync the directory. On error the final name is removed again: the
/// client will be told 451 and retry, so a copy left would be a duplicate.
fn place(t: TmpFile) -> Result<Stored, StoreError> {
    let TmpFile {
        file,
        tmp,
        dir,
        name,
        exclusive,
    } = t;
    let file = file
        .into_inner()
        .map_err(|e| temp_error(tmp.display(), e.error()))?;
    sync(&file).map_err(|e| temp_error(tmp.display(), &e))?;
    drop(file);
    let dest = if exclusive {
        link_unique(&tmp, &dir, &name)?
    } else {
        let dest = dir.join(&name);
        fs::rename(&tmp, &dest).map_err(|e| temp_error(dest.display(), &e))?;
        dest
    };
    if let Err(e) = sync_dir(&dir) {
        let _ = fs::remove_file(&dest);
        return Err(temp_error("fsync", &e));
    }
    Ok(Stored {
        location: dest.display().to_string(),
    })
}

/// Hard-links `tmp` as `dir/name`, or `dir/STEM-2.eml`… if taken (link(2)
/// never replaces), then removes `tmp`.
fn link_unique(tmp: &Path, dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    let stem = name.strip_suffix(".eml").unwrap_or(name);
    for n in 1..1000 {
        let dest = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}.eml"))
        };
        match fs::hard_link(tmp, &dest) {
            Ok(()) => {
                let _ = fs::remove_file(tmp);
                return Ok(dest);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(temp_error(dest.display(), &e)),
        }
    }
    Err(StoreError {
        temporary: true,
        message: format!("{}: too many files named {stem}", dir.display()),
    })
}

#[cfg(test)]
mod tests;
