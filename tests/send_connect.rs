//! How smtp-send reaches its server: `--pipe` to a command speaking SMTP
//! on stdio (our smtp-recv `--stdio`), `--timeout` there too, and a server
//! that is absent, unknown, silent, not SMTP or never ends a reply line
//! (scripted servers).
//!
//! Free ports only, loopback only; every process is killed and reaped by a
//! guard; every wait has a deadline.

use std::time::{Duration, Instant};

use crate::peers::*;
use crate::send::{MSG, send};
use crate::util::*;

#[test]
fn recv_over_pipe_stdio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.eml");
    let cmd = format!(
        "{} --stdio -q -n 1 -o {}",
        bin("smtp-recv").display(),
        out.display()
    );
    let r = send(&["--pipe", &cmd, "x@example.net"], MSG);
    r.code(0);
    assert_eq!(strip_trace(&std::fs::read(&out).expect("stored")), MSG);
    // A command that is not an SMTP server: it ends without a greeting.
    send(&["--pipe", "exit 0", "x@example.net"], MSG).code(69);
}

#[test]
fn bug_pipe_command_that_cannot_run_is_a_configuration_error() {
    // Issue 12: a missing command (sh: 127) exited 75, "try again later",
    // so a script or queue retried it forever. Exit codes by how the
    // command ended before its greeting: could not run (126, 127) 78, it
    // said "temporary" (75) 75, anything else 69.
    let dir = tempfile::tempdir().unwrap();
    let script = write_file(
        dir.path(),
        "not-executable",
        b"#!/bin/sh
",
    );
    for (cmd, code, says) in [
        (
            "no-such-command-mailpipe --stdio".to_owned(),
            78,
            "status 127 before the SMTP greeting: command not found",
        ),
        (
            script.to_str().unwrap().to_owned(),
            78,
            "status 126 before the SMTP greeting: not executable",
        ),
        (
            "exit 75".to_owned(),
            75,
            "status 75 before the SMTP greeting",
        ),
        ("exit 3".to_owned(), 69, "status 3 before the SMTP greeting"),
        ("kill -9 $$".to_owned(), 69, "killed by signal 9"),
    ] {
        let r = send(&["--pipe", &cmd, "x@example.net"], MSG);
        r.code(code);
        // The shell's own complaint may come first; ours is the last line
        // and names the command.
        let last = r.stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("smtp-send: --pipe {cmd:?}: ")) && last.contains(says),
            "{cmd}: {}",
            r.stderr
        );
    }
}

#[test]
fn bug_pipe_timeout_is_honoured() {
    // --timeout was ignored with --pipe: a silent command hung smtp-send
    // for as long as it lived. (`exec`: a `sleep` left behind by a killed
    // sh would hold our stderr pipe open for 100 s; the unit test in
    // url.rs covers a grandchild holding the SMTP pipe.)
    let start = Instant::now();
    let r = send(
        &[
            "--pipe",
            "exec sleep 100",
            "--timeout",
            "1",
            "x@example.net",
        ],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn silent_garbled_and_absent_servers() {
    // Nothing listens: refused, temporary.
    let port = free_port();
    let r = send(&["-S", &format!("127.0.0.1:{port}"), "x@example.net"], MSG);
    r.code(75).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("refused") && r.stderr.contains("not sent"),
        "{}",
        r.stderr
    );
    // A host name that does not exist: 68, EX_NOHOST (75 only where no
    // resolver answers at all).
    let r = send(&["-S", "no-such-host.invalid", "x@example.net"], MSG);
    assert!([68, 75].contains(&r.code), "{}: {}", r.code, r.stderr);
    r.one_line_error("smtp-send");
    if r.code == 68 {
        assert!(r.stderr.contains("host name unknown"), "{}", r.stderr);
    }
    // A server that never greets: --timeout.
    let (addr, _h) = fake(|line| match line {
        "" => Some(b""),
        _ => None,
    });
    let start = Instant::now();
    let r = send(
        &["-S", &addr.to_string(), "--timeout", "0.5", "x@example.net"],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(10));
    // Not SMTP at all.
    let (addr, _h) = fake(|line| match line {
        "" => Some(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        _ => None,
    });
    send(&["-S", &addr.to_string(), "x@example.net"], MSG)
        .code(76)
        .one_line_error("smtp-send");
    // A reply line without end.
    let (addr, _h) = fake(|line| match line {
        "" => Some(b"220 ok\r\n"),
        l if l.starts_with("EHLO") => Some(b"250-x\r\n250-x\r\n250-x\r\n"),
        _ => None,
    });
    let r = send(
        &["-S", &addr.to_string(), "--timeout", "2", "x@example.net"],
        MSG,
    );
    assert!([75, 76].contains(&r.code), "{}: {}", r.code, r.stderr);
}

#[test]
fn bug_silent_server_is_announced_after_ten_seconds() {
    // Issue 13: `-S host:465` (implicit TLS without smtps://) waited five
    // minutes in silence for a greeting an implicit-TLS server never sends.
    // After 10 s of silence one line says so, and smtp-send waits on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(10_500));
        drop(s);
    });
    let r = send(&["-S", &addr.to_string(), "x@example.net"], MSG);
    server.join().unwrap();
    r.code(75);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            format!(
                "smtp-send: warning: no greeting from {addr} after 10 s: an implicit-TLS port? \
                 use smtps://"
            )
            .as_str()
        ),
        "{}",
        r.stderr
    );
    assert_eq!(lines.len(), 2, "{}", r.stderr);
}
