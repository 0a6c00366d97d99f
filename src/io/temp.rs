//! Temporary files: unique names, and unnamed (unlinked) spool files.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh name no other process or thread uses: pid, time and a counter.
pub fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}.{}.{}",
        std::process::id(),
        nanos,
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a read-write file in `dir` (O_EXCL, mode 0600) and unlinks it at
/// once: the data lives as long as the handle. Errors name `dir`.
pub fn unlinked_temp(dir: &Path) -> io::Result<File> {
    anonymous(dir).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => e,
        kind => io::Error::new(kind, format!("spool file in {}: {e}", dir.display())),
    })
}

/// An anonymous read-write file in `dir`, mode 0600: `O_TMPFILE` where the
/// file system has it (no name ever exists), else a unique name (O_EXCL)
/// removed at once. Errors are the system's, for the caller to explain.
pub fn anonymous(dir: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    if let Ok(fd) = rustix::fs::open(
        dir,
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        return Ok(File::from(fd));
    }
    let mut last = None;
    for _ in 0..16 {
        let path = dir.join(format!(".mailpipe-spool.{}", unique_suffix()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => {
                fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no unique spool name")))
}

/// A file that replaces `dest` whole or not at all: written under a
/// temporary name in the same directory (so the rename stays on one file
/// system), then synced and renamed over `dest` by [`commit`](Self::commit).
/// Dropped without a commit, the temporary is removed and `dest` is as it
/// was: a reader never sees half a file.
#[derive(Debug)]
pub struct Replacement {
    file: File,
    tmp: std::path::PathBuf,
    dest: std::path::PathBuf,
    done: bool,
}

impl Replacement {
    /// Starts the replacement of `dest` (mode 0666 less the umask, as a
    /// new file from the shell).
    pub fn create(dest: &Path) -> io::Result<Replacement> {
        Replacement::open(dest, 0o666)
    }

    /// Starts the replacement of `dest` with a file of exactly `mode`
    /// (0600 for a secret): created with it, so the file is never open
    /// to others, not even between its creation and a chmod, and set to
    /// it whatever the umask, so it is what a later check expects.
    pub fn create_mode(dest: &Path, mode: u32) -> io::Result<Replacement> {
        use std::os::unix::fs::PermissionsExt;
        let r = Replacement::open(dest, mode)?;
        r.file.set_permissions(fs::Permissions::from_mode(mode))?;
        Ok(r)
    }

    fn open(dest: &Path, mode: u32) -> io::Result<Replacement> {
        let name = dest
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp.{}", unique_suffix()));
        let tmp = dest.with_file_name(tmp_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        Ok(Replacement {
            file,
            tmp,
            dest: dest.to_owned(),
            done: false,
        })
    }

    /// Makes the new content durable and puts it in place.
    pub fn commit(mut self) -> io::Result<()> {
        self.file.sync_all()?;
        fs::rename(&self.tmp, &self.dest)?;
        self.done = true;
        Ok(())
    }
}

impl io::Write for Replacement {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Replacement {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn replacement_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.eml");
        fs::write(&dest, b"old").unwrap();
        let mut r = Replacement::create(&dest).unwrap();
        r.write_all(b"new").unwrap();
        // Not committed: the old content stays, the temporary goes.
        drop(r);
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut r = Replacement::create(&dest).unwrap();
        r.write_all(b"new").unwrap();
        r.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn replacement_of_a_mode_has_it_exactly_from_the_start() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("secret");
        let mut r = Replacement::create_mode(&dest, 0o600).unwrap();
        // Before the commit too: the temporary is the file renamed.
        let tmp = fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap();
        assert_eq!(tmp.metadata().unwrap().permissions().mode() & 0o7777, 0o600);
        r.write_all(b"s").unwrap();
        r.commit().unwrap();
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        // Exactly the mode asked for, also where the umask would add none
        // of it (0o640: group read kept).
        Replacement::create_mode(&dest, 0o640)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
            0o640
        );
    }

    #[test]
    fn temp_is_unlinked() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = unlinked_temp(dir.path()).unwrap();
        f.write_all(b"x").unwrap();
        let mut g = anonymous(dir.path()).unwrap();
        g.write_all(b"y").unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn suffixes_are_unique() {
        assert_ne!(unique_suffix(), unique_suffix());
    }
}
