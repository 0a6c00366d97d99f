//! Making writes durable: nothing is acknowledged (a 250, an exit 0 for a
//! queued message) before the bytes and the directory entry naming them
//! have reached the disk.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// fsync, where the file supports it (pipes, ttys and character devices
/// answer EINVAL or ENOTSUP: nothing to make durable there).
pub(crate) fn sync(fd: impl AsFd) -> io::Result<()> {
    match rustix::fs::fsync(fd) {
        Ok(()) | Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOTSUP) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Makes a directory's entries durable (after a create, rename or unlink
/// in it); the error names the directory. File systems that cannot sync a
/// directory (EINVAL, ENOTSUP) count as done.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)
        .and_then(|d| sync(&d))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))
}
