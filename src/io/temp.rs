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
/// once: the data lives as long as the handle.
pub fn unlinked_temp(dir: &Path) -> io::Result<File> {
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
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("spool file in {}: {e}", dir.display()),
                ));
            }
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no unique spool name")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn temp_is_unlinked() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = unlinked_temp(dir.path()).unwrap();
        f.write_all(b"x").unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn suffixes_are_unique() {
        assert_ne!(unique_suffix(), unique_suffix());
    }
}
