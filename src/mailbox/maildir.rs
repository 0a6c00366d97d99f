//! Maildir names (the maildir(5) convention of qmail and Courier, and
//! <https://cr.yp.to/proto/maildir.html>): a message is written to `tmp/`
//! under a name unique to this host, then renamed into `new/`.

use std::time::{SystemTime, UNIX_EPOCH};

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
