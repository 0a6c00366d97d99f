//! smtp-send as the send_* tests run it: with a deadline, and with the
//! caller's SMTP_* variables and ~/.netrc kept out; what its wire bytes look
//! like; the message most of them send. The tests are by feature:
//! send_submit (the message and its envelope), send_sendmail (sendmail
//! compatibility), send_connect (reaching the server), send_replies (what
//! the server answers), send_tls, send_auth, send_proto (LMTP, DSN, BDAT,
//! SMTPUTF8, --partial, --json), send_each, send_queue, send_config,
//! send_downgrade, send_bs (`-bs`), send_mx (`--mx`). The peers are in
//! [`crate::peers`].

use std::process::Command;
use std::time::Duration;

use crate::util::*;

/// Longest any one run lasts: a hang fails instead of blocking the suite.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// Keeps the caller's SMTP_SERVER, SMTP_USER, SMTP_PASSWORD and ~/.netrc
/// out of `cmd` (smtp-send, or a program that runs it).
pub(crate) fn isolated(cmd: &mut Command) -> &mut Command {
    for v in ["SMTP_SERVER", "SMTP_USER", "SMTP_PASSWORD"] {
        cmd.env_remove(v);
    }
    // Nor the machine's /etc/mailpipe or /etc/msmtprc.
    cmd.env("NETRC", "/nonexistent/netrc")
        .env("MAILPIPE_SYSCONFDIR", "/nonexistent/etc")
}

/// Runs smtp-send with `args`, `env` and `stdin`, with a deadline, the
/// caller's settings kept out ([`isolated`]).
pub(crate) fn send_env(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(bin("smtp-send"));
    isolated(cmd.args(args));
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd_within(cmd, PATIENCE, stdin)
}

/// smtp-send with `args` and `stdin`, with a deadline ([`send_env`]).
pub(crate) fn send(args: &[&str], stdin: &[u8]) -> Run {
    send_env(args, &[], stdin)
}

/// What `to_wire` does to message text: every line end CRLF (a bare CR or
/// LF too), a final CRLF when missing. (Dot-stuffing is undone by the
/// receiver, so it does not show.)
pub(crate) fn wire(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\r' if text.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The message most tests send.
pub(crate) const MSG: &[u8] = b"From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\nSubject: hi\nDate: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <1@example.org>\n\nHello.\n";
