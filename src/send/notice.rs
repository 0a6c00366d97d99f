//! What `smtp-send` tells its user while it works, without printing: the
//! library never writes to stderr itself. Warnings, per-message reports,
//! the `-v` transcript and the progress bar go to a [`Notices`] the caller
//! gives (the binary prints each as it comes, so their order is kept).

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

/// Where the library's notices go; shared by the sessions of a run (they
/// keep it for their transcript), hence `Send + Sync` behind an [`Arc`].
pub trait Notices: Send + Sync + fmt::Debug {
    /// A report line of its own (`prog: text`): a message queued or not
    /// relayed, a failed file of `--each`, a `--flush` result.
    fn say(&self, text: &dyn fmt::Display);
    /// A warning (`prog: warning: text`).
    fn warn(&self, text: &dyn fmt::Display);
    /// Bytes of the `-v` transcript (the SMTP dialogue and `=== ` notes),
    /// as they come.
    fn trace(&self, bytes: &[u8]);
    /// Where a progress bar for a large message is drawn, or `None` for
    /// no bar (the user is not watching a terminal).
    fn progress(&self) -> Option<indicatif::ProgressDrawTarget>;
}

/// The shared handle sessions keep.
pub type Shared = Arc<dyn Notices>;

/// The `-v` transcript as a writer (the SMTP client writes its dialogue to
/// one): every write goes to [`Notices::trace`] at once.
pub(crate) struct Trace(pub(crate) Shared);

impl Write for Trace {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.trace(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Notices kept in memory, for tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Recorded(pub(crate) std::sync::Mutex<Vec<String>>);

#[cfg(test)]
impl Notices for Recorded {
    fn say(&self, text: &dyn fmt::Display) {
        self.0.lock().unwrap().push(text.to_string());
    }
    fn warn(&self, text: &dyn fmt::Display) {
        self.0.lock().unwrap().push(format!("warning: {text}"));
    }
    fn trace(&self, _: &[u8]) {}
    fn progress(&self) -> Option<indicatif::ProgressDrawTarget> {
        None
    }
}
