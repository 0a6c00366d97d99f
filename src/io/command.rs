//! A shell command run for a secret: `sh -c CMD` in a process group of
//! its own, fed bytes on stdin (or /dev/null), its stdout read bounded,
//! the whole within a time limit, killed with its children when it is
//! too slow or too talkative (issue 17: `sleep 1000` hung a run, `yes
//! secret` spun for ever, output over the limit was cut and used). Its
//! stderr is ours, so a pinentry's or gpg's prompts and errors show.
//! Shared by smtp-send's `--password-cmd` and smtp-oauth's
//! `--load-cmd`/`--store-cmd`.

use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Why a command gave no output. The text never quotes its output.
#[derive(Debug)]
pub enum Failure {
    /// `sh` could not be started.
    Spawn(io::Error),
    /// Its stdout could not be read.
    Read(io::Error),
    /// The time limit passed: it was killed.
    TooSlow(Duration),
    /// It printed more than this many octets: it was killed.
    TooLong(u64),
    /// Its exit could not be waited for.
    Wait(io::Error),
    /// It exited unsuccessfully.
    Exit(ExitStatus),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Spawn(e) => write!(f, "cannot run sh: {e}"),
            Failure::Read(e) => write!(f, "reading its output: {e}"),
            Failure::TooSlow(limit) => {
                write!(f, "no answer within {} s: killed", limit.as_secs_f64())
            }
            Failure::TooLong(max) => write!(f, "printed more than {max} octets"),
            Failure::Wait(e) => write!(f, "cannot wait for it: {e}"),
            Failure::Exit(status) => match (
                status.code(),
                std::os::unix::process::ExitStatusExt::signal(status),
            ) {
                (Some(code), _) => write!(f, "exited with status {code}"),
                (None, Some(sig)) => write!(f, "killed by signal {sig}"),
                _ => write!(f, "failed ({status})"),
            },
        }
    }
}

/// Runs `sh -c cmd` with `env` added to its environment and `input` on its
/// stdin (`None`: /dev/null), and returns its stdout once it has exited
/// successfully. Within `limit` it must print and exit, printing at most
/// `max_output` octets; else it is killed with SIGKILL to its process
/// group (a `pass` or `gpg` it started must not linger). `input` is
/// written on a thread of its own, so a command that prints before it
/// reads (or never reads) cannot deadlock us; it is overwritten once
/// written. The output is overwritten when it is not returned; the
/// caller overwrites what it is given.
pub fn run(
    cmd: &str,
    env: &[(&str, &str)],
    input: Option<Vec<u8>>,
    limit: Duration,
    max_output: u64,
) -> Result<Vec<u8>, Failure> {
    use std::os::unix::process::CommandExt as _;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .envs(env.iter().copied())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(Failure::Spawn)?;
    let deadline = Instant::now() + limit;
    if let (Some(mut stdin), Some(mut input)) = (child.stdin.take(), input) {
        std::thread::spawn(move || {
            // A command that exits without reading all of it closes the
            // pipe (EPIPE): its exit status says whether that was right.
            let _ = stdin.write_all(&input);
            input.fill(0);
        });
    }
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let read = stdout.take(max_output + 1).read_to_end(&mut out);
            let _ = tx.send(read.map(|_| out));
        });
    }
    let mut out = match rx.recv_timeout(limit) {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(kill(&mut child, Failure::Read(e))),
        Err(_) => return Err(kill(&mut child, Failure::TooSlow(limit))),
    };
    let status = if out.len() as u64 > max_output {
        Err(kill(&mut child, Failure::TooLong(max_output)))
    } else {
        // Its output is complete: now its exit, within what is left.
        wait_until(&mut child, deadline, limit)
    };
    match status {
        Ok(status) if status.success() => Ok(out),
        other => {
            out.fill(0);
            Err(other.map_or_else(|f| f, Failure::Exit))
        }
    }
}

/// The exit status of `child`, which has closed its stdout, by `deadline`.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
    limit: Duration,
) -> Result<ExitStatus, Failure> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => return Err(kill(child, Failure::TooSlow(limit))),
            Err(e) => return Err(kill(child, Failure::Wait(e))),
        }
    }
}

/// Kills `child`'s process group, reaps `child`, and returns `why`.
fn kill(child: &mut Child, why: Failure) -> Failure {
    let pgid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(10);

    #[test]
    fn input_in_output_out_env_set() {
        let out = run(
            "printf '%s:' \"$WHO\"; cat",
            &[("WHO", "me")],
            Some(b"secret".to_vec()),
            SEC,
            100,
        )
        .unwrap();
        assert_eq!(out, b"me:secret");
        // No input: stdin is /dev/null, not ours.
        assert_eq!(run("cat", &[], None, SEC, 100).unwrap(), b"");
    }
}
