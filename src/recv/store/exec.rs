//! `--exec CMD`: one command per message.
//!
//! CMD is run as `/bin/sh -c CMD` (CMD is the operator's text, never
//! envelope data). The message, already fully spooled, is its stdin (a
//! regular file, so CMD may also seek); the envelope is in the environment
//! only, never in arguments or paths:
//!
//! | variable | value |
//! | --- | --- |
//! | `SMTP_MAIL_FROM` | reverse-path, empty for `<>` |
//! | `SMTP_RCPT_TO` | recipients separated by single spaces, each as sent: a quoted local part keeps its quotes (`"a b"@d`), so split at spaces outside quotes |
//! | `SMTP_RCPT_COUNT` | the number of recipients |
//! | `SMTP_HELO` | HELO/EHLO argument |
//! | `SMTP_CLIENT_ADDR` | `address:port`, or `stdio` |
//! | `SMTP_QUEUE_ID` | the queue id in the Received field |
//! | `SMTP_AUTH_USER` | the AUTH user (unset when not authenticated) |
//!
//! CMD's stdout and stderr go to our stderr (stdout may carry messages).
//! Exit status: 0 stores the message; 75 (`EX_TEMPFAIL`) or death by a
//! signal is a temporary failure (451); any other status is permanent (554).

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use crate::smtp::server::StoreError;

/// The exit status that stores the message.
const EX_OK: i32 = crate::exit::OK as i32;
/// The exit status meaning "try again later" (sysexits.h `EX_TEMPFAIL`).
const EX_TEMPFAIL: i32 = crate::exit::TEMPFAIL as i32;

/// Runs `cmd` with `stdin` as its standard input and `env` added to our
/// environment (`SMTP_AUTH_USER` removed unless given), its stdout and
/// stderr both going to `err` (our stderr, as the binary handed it over).
pub(crate) fn run(
    cmd: &str,
    stdin: File,
    env: &[(&str, String)],
    err: &OwnedFd,
) -> Result<(), StoreError> {
    let spawn_err = |e: io::Error| StoreError {
        temporary: true,
        message: format!("exec: cannot run /bin/sh: {e}"),
    };
    let err_out = err.try_clone().map_err(spawn_err)?;
    let err_err = err.try_clone().map_err(spawn_err)?;
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(cmd)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(err_out))
        .stderr(Stdio::from(err_err))
        .env_remove("SMTP_AUTH_USER");
    for (k, v) in env {
        c.env(k, v);
    }
    let status = c.status().map_err(spawn_err)?;
    match (status.code(), status.signal()) {
        (Some(EX_OK), _) => Ok(()),
        (Some(EX_TEMPFAIL), _) => Err(StoreError {
            temporary: true,
            message: format!("exec: command exited with status {EX_TEMPFAIL} (temporary failure)"),
        }),
        (Some(code), _) => Err(StoreError {
            temporary: false,
            message: format!("exec: command exited with status {code}"),
        }),
        (None, sig) => Err(StoreError {
            temporary: true,
            message: format!("exec: command killed by signal {}", sig.unwrap_or(0)),
        }),
    }
}
