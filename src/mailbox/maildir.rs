//! Maildir (the maildir(5) convention of qmail and Courier, and
//! <https://cr.yp.to/proto/maildir.html>).
//!
//! Writing: a message is written to `tmp/` under a name unique to this host
//! (`unique_name`, `escape_host`), then renamed into `new/`.
//!
//! Reading ([`files`]): the files of `cur/` then `new/` (never `tmp/`:
//! those are still being written), each sorted by name (which starts with
//! the delivery time), dot-files skipped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The message files of a Maildir: `cur/` then `new/`, each by name.
pub fn files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        let d = dir.join(sub);
        let rd = match fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for ent in rd {
            let ent = ent?;
            if ent.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            if ent.file_type()?.is_dir() {
                continue;
            }
            files.push(ent.path());
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

/// The host part of a name: `/` becomes `\057` and `:` becomes `\072`
/// (they would make a path or clash with the `:2,` info suffix); control
/// characters and white space are escaped the same way (octal), so the name
/// is one plain path component.
pub(crate) fn escape_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for c in host.chars() {
        if c == '/' || c == ':' || c == '\\' || c.is_control() || c.is_whitespace() {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\{b:03o}"));
            }
        } else {
            out.push(c);
        }
    }
    if out.is_empty() || out.starts_with('.') {
        out.insert_str(0, "localhost");
    }
    out
}

/// `SECONDS.M<usec>P<pid>Q<counter>.HOST`, the "modern" unique name: the
/// time, the process and a per-process counter make it unique on one host.
pub(crate) fn unique_name(now: SystemTime, pid: u32, counter: u64, host: &str) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "{}.M{}P{pid}Q{counter}.{host}",
        d.as_secs(),
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn host_escapes() {
        assert_eq!(escape_host("mx.example"), "mx.example");
        assert_eq!(escape_host("a/b:c"), "a\\057b\\072c");
        assert_eq!(escape_host("a\\b"), "a\\134b");
        assert_eq!(escape_host("a\nb c"), "a\\012b\\040c");
        assert_eq!(escape_host(""), "localhost");
        assert_eq!(escape_host(".."), "localhost..");
    }

    #[test]
    fn names() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_721_492_000_123);
        assert_eq!(unique_name(t, 42, 7, "h"), "1795721492.M123P42Q7.h");
    }
}
