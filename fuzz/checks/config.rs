//! The configuration readers of `smtp-send`: its TOML file and
//! `~/.msmtprc` (`send::config`), netrc (`send::credentials`) and the
//! server URL (`send::url`).

use mailpipe::send::config::{msmtp, toml};
use mailpipe::send::{credentials, url};

use super::assert_printable;

/// Byte 0 chooses the reader. TOML and msmtprc: no panic. netrc: the entry found for a host is
/// one parsed, for that host or the default. A server URL that parses
/// prints as a URL that parses back to the same server.
pub fn config(data: &[u8]) {
    let [which, input @ ..] = data else {
        return;
    };
    match which % 4 {
        // No property beyond "no panic": an error may quote the file's
        // bytes as they are (the binary escapes controls when it prints).
        0 => {
            if let Ok(text) = std::str::from_utf8(input) {
                let _ = toml::parse_toml(text, "fuzz.toml");
            }
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(input) {
                let _ = msmtp::parse_msmtprc(text, "msmtprc");
            }
        }
        2 => {
            let entries = credentials::parse_netrc(input);
            for host in entries.iter().filter_map(|e| e.machine.as_deref()).take(4) {
                let found = credentials::netrc_lookup(input, host, None).expect("its own entry");
                assert!(entries.contains(&found));
                assert!(
                    found
                        .machine
                        .as_deref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(host))
                );
            }
        }
        _ => {
            let spec = String::from_utf8_lossy(input);
            let Ok(server) = url::parse(&spec) else {
                return;
            };
            let shown = server.to_string();
            assert_printable("server URL", &shown, false);
            assert_eq!(url::parse(&shown).as_ref(), Ok(&server), "{shown:?}");
        }
    }
}
