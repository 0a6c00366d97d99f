//! What smtp-send makes of a message and its envelope: the dry run's
//! envelope and wire bytes, `-t` with Bcc and Resent- blocks, the checks
//! before connecting (usage, unsendable messages, unreadable input), the
//! exact bytes a server no one here wrote receives (aiosmtpd), a 100 MB
//! message in constant memory (Postfix smtp-sink), a closed stdout.
//!
//! Free ports only, loopback only; every process is killed and reaped by a
//! guard; every wait has a deadline.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::peers::*;
use crate::send::{MSG, PATIENCE, send, send_env, wire};
use crate::util::*;

#[test]
fn dry_run_prints_the_envelope_and_the_wire_bytes() {
    let msg =
        b"From: a@example.org\nBcc: hidden@example.net\nSubject: x\n\n.leading dot\n.\nno newline";
    let r = send(&["--dry-run", "-t", "-f", "<>", "b@example.net"], msg);
    let out = r.ok().to_vec();
    let out = String::from_utf8(out).expect("utf-8");
    let mut lines = out.split("\r\n");
    assert!(
        lines
            .next()
            .expect("MAIL")
            .starts_with("MAIL FROM:<> SIZE="),
        "{out}"
    );
    assert_eq!(lines.next(), Some("RCPT TO:<b@example.net>"));
    assert_eq!(lines.next(), Some("RCPT TO:<hidden@example.net>"));
    assert_eq!(lines.next(), Some("DATA"));
    assert!(
        !out.contains("Bcc") && out.contains("\r\nDate: ") && out.contains("\r\nMessage-ID: <")
    );
    assert!(
        out.ends_with("\r\n\r\n..leading dot\r\n..\r\nno newline\r\n.\r\n"),
        "{out:?}"
    );
    assert!(r.stderr.is_empty());
}

#[test]
fn usage_and_config_errors() {
    let cases: &[(&[&str], i32)] = &[
        (&["--no-such-flag"], 64),
        (&["-S", "127.0.0.1:1"], 64), // no recipients
        (&["-S", "127.0.0.1:1", "-f", "a@b, c@d", "x@y"], 64), // two senders
        (&["-S", "127.0.0.1:1", "not an address"], 64),
        (&["-S", "smtp://[::1", "x@example.org"], 64),
        (
            &[
                "-S",
                "127.0.0.1:1",
                "--auth",
                "NOPE",
                "--user",
                "u",
                "x@example.org",
            ],
            64,
        ),
        (
            &["-S", "127.0.0.1:1", "--timeout", "-1", "x@example.org"],
            64,
        ),
        (
            &[
                "-S",
                "127.0.0.1:1",
                "--tls-fingerprint",
                "SHA256:zz",
                "x@example.org",
            ],
            64,
        ),
        (&["x@example.org"], 78), // no server at all
        (
            &[
                "-S",
                "127.0.0.1:1",
                "--ca-file",
                "/nonexistent",
                "x@example.org",
            ],
            78,
        ),
        (&["--each", "/nonexistent/file", "--dry-run"], 66),
    ];
    for (args, code) in cases {
        send(args, MSG).code(*code).one_line_error("smtp-send");
    }
    let r = send(&["x@example.org"], MSG);
    assert!(r.stderr.contains("no server"), "{}", r.stderr);
    send_env(&["x@example.org"], &[("SMTP_SERVER", "smtp://[bad")], MSG).code(78);
}

#[test]
fn unsendable_messages_are_refused_before_connecting() {
    // Port 1 would give 75 if anything connected.
    let long = [
        b"From: a@example.org\n\n".to_vec(),
        vec![b'x'; 999],
        b"\n".to_vec(),
    ]
    .concat();
    send(&["-S", "127.0.0.1:1", "b@example.net"], &long)
        .code(65)
        .one_line_error("smtp-send");
    let huge_line = vec![b'y'; 10 << 20];
    send(&["-S", "127.0.0.1:1", "b@example.net"], &huge_line).code(65);
    send(
        &["-S", "127.0.0.1:1", "-t"],
        b"From: a@example.org\nSubject: no rcpt\n\nx\n",
    )
    .code(65);
    let garbage = pseudo_random(1 << 20, 9);
    let r = send(&["-S", "127.0.0.1:1", "b@example.net"], &garbage);
    assert!([65, 75].contains(&r.code), "{}: {}", r.code, r.stderr);
    r.one_line_error("smtp-send");
}

#[test]
fn unreadable_input_is_74() {
    // A directory as standard input opens but cannot be read.
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--dry-run", "b@example.net"])
        .stdin(std::fs::File::open("/").expect("open /"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(74),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("smtp-send: reading the message") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn dry_run_to_a_closed_pipe_is_a_quiet_success() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let big = [
        b"From: a@example.org\n\n".to_vec(),
        b"line\n".repeat(200_000),
    ]
    .concat();
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--dry-run", "b@example.net"])
        .stdout(Stdio::from(writer));
    cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&big);
    });
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn recv_delivers_and_reports_nothing() {
    let s = Recv::start(&[]);
    let r = send(&["-S", &s.server(), "rcpt@example.net"], MSG);
    r.code(0);
    assert!(r.stderr.is_empty() && r.stdout.is_empty(), "{}", r.stderr);
    assert_eq!(s.untraced(), vec![MSG.to_vec()]);
}

#[test]
fn bug_bare_cr_in_header_refused_end_to_end() {
    // The header reader took `Subject: hi<CR>Bcc: ...` as one field, the
    // wire writer sent the CR as a line end: the Bcc reached every
    // recipient (and -t did not send to it). `Subject: x<CR><CR><LF>`
    // ended the header early on the wire. Now both are refused (65) and
    // nothing reaches the server.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.eml");
    let cmd = format!(
        "{} --stdio -q -n 1 -o {}",
        bin("smtp-recv").display(),
        out.display()
    );
    let cases: &[(&[u8], &str)] = &[
        (
            b"From: a@b.example\nTo: t@b.example\nSubject: hi\rBcc: secret@x.example\n\nb\n",
            "bare CR in header line 3",
        ),
        (
            b"From: a@b.example\nTo: t@b.example\nSubject: x\r\r\nX: y\n\nb\n",
            "bare CR in header line 3",
        ),
    ];
    for (msg, want) in cases {
        for how in [&["-t"][..], &["--verbatim", "t@b.example"][..]] {
            let r = send(&[&["--pipe", &cmd][..], how].concat(), msg);
            r.code(65).one_line_error("smtp-send");
            assert!(r.stderr.contains(want), "{}", r.stderr);
            assert!(!out.exists(), "something was delivered");
        }
    }
    // A bare CR in the body is a line end, as before.
    let r = send(
        &["-t", "--pipe", &cmd],
        b"From: a@b.example\nTo: t@b.example\n\nx\ry\n",
    );
    r.code(0);
    let stored = std::fs::read(&out).expect("stored");
    assert!(stored.ends_with(b"\n\nx\ny\n"), "{stored:?}");
}

#[test]
fn bug_resent_blocks_end_to_end() {
    // -t merged adjacent Resent-* blocks (the older resend's recipients got
    // the message again) and used From: as MAIL FROM.
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("env.jsonl");
    let cmd = format!(
        "{} --stdio -q -n 1 -o /dev/null --envelope-json {}",
        bin("smtp-recv").display(),
        json.display()
    );
    let msg = b"Resent-Date: Mon, 2 Jan 2023 00:00:00 +0000\nResent-From: second@r.example\n\
                Resent-To: now@n.example\nResent-Bcc: hidden@n.example\n\
                Resent-Date: Sun, 1 Jan 2023 00:00:00 +0000\nResent-From: first@r.example\n\
                Resent-To: before@b.example\nFrom: a@a.example\nTo: b@b.example\n\nbody\n";
    send(&["-t", "--pipe", &cmd], msg).code(0);
    let text = std::fs::read_to_string(&json).expect("json");
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("one object");
    assert_eq!(v["mail_from"], "second@r.example", "{v}");
    assert_eq!(
        v["rcpt_to"],
        serde_json::json!(["now@n.example", "hidden@n.example"]),
        "{v}"
    );
}

/// Texts whose bytes must arrive exactly (after CRLF normalisation).
const EXACT: &[&[u8]] = &[
    b"From: a@example.org\n\n.starts with a dot\n..two dots\n.\n. \nend\n",
    b".first byte is a dot\n",
    b".",
    b"From: a@example.org\n\n.",
    "From: a@example.org\nSubject: 8-bit\n\nGr\u{fc}\u{df}e, \u{e9}t\u{e9} \u{2603}\n".as_bytes(),
    b"From: a@example.org\r\n\r\nCRLF\r\nLF\nCRLF\r\n\r\n\nmixed\r\n",
    b"From: a@example.org\n\nno final newline",
    b"From: a@example.org\n\nbare\rCR and \r\r\n stuff\n.\r.\n",
    b"",
];

#[test]
fn aiosmtpd_receives_exact_bytes() {
    let Some(s) = Aio::start("aiosmtpd_receives_exact_bytes", "plain", None, None) else {
        return;
    };
    for (i, text) in EXACT.iter().enumerate() {
        let r = send(
            &[
                "-S",
                &s.server(),
                "--verbatim",
                // One case is the empty message, sent as it is.
                "--allow-empty",
                "-f",
                "a@example.org",
                "b@example.net",
            ],
            text,
        );
        r.code(0);
        let (got, env) = s.message(i);
        assert_eq!(
            got,
            wire(text),
            "case {i}: {:?}",
            String::from_utf8_lossy(text)
        );
        let eight = text.iter().any(|&b| b >= 0x80);
        assert_eq!(env.contains("BODY=8BITMIME"), eight, "{env}");
        assert!(env.contains("SIZE="), "{env}");
    }
}

#[test]
fn aiosmtpd_extract_strips_bcc() {
    let Some(s) = Aio::start("aiosmtpd_extract_strips_bcc", "plain", None, None) else {
        return;
    };
    let msg = b"From: a@example.org\nTo: b@example.net\nCc: c@example.net\nBcc: secret@example.com\nSubject: t\n\nbody\n";
    send(&["-S", &s.server(), "-t"], msg).code(0);
    let (got, env) = s.message(0);
    let got = String::from_utf8(got).expect("utf-8");
    assert!(!got.contains("Bcc") && !got.contains("secret"), "{got}");
    assert!(
        got.starts_with(
            "From: a@example.org\r\nTo: b@example.net\r\nCc: c@example.net\r\nSubject: t\r\nDate: "
        ),
        "{got}"
    );
    assert!(
        got.contains("\r\nMessage-ID: <") && got.ends_with("@example.org>\r\n\r\nbody\r\n"),
        "{got}"
    );
    for a in ["b@example.net", "c@example.net", "secret@example.com"] {
        assert!(env.contains(a), "{env}");
    }
    assert!(env.contains("\"from\": \"a@example.org\""), "{env}");
}

/// Peak resident memory of a running process (VmHWM, KiB), polled until it
/// exits; returns the exit code and the highest value seen.
fn run_watching_memory(mut cmd: Command, input: &Path) -> (i32, u64, String) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let path = input.to_path_buf();
    // Through a pipe, so the spooling path is the one measured.
    let feeder = thread::spawn(move || {
        let mut f = std::fs::File::open(path).expect("input");
        let _ = std::io::copy(&mut f, &mut stdin);
    });
    let mut err = child.stderr.take().expect("stderr");
    let errr = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut peak = 0;
    let start = Instant::now();
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb);
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        assert!(start.elapsed() < PATIENCE * 4, "100 MB send hung");
        thread::sleep(Duration::from_millis(5));
    };
    feeder.join().expect("feeder");
    (
        status.code().unwrap_or(-1),
        peak,
        errr.join().expect("stderr"),
    )
}

#[test]
fn hundred_megabytes_in_constant_memory() {
    let Some(s) = Sink::start("hundred_megabytes_in_constant_memory", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.eml");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        f.write_all(b"From: a@example.org\nSubject: big\n\n")
            .expect("write");
        let line = b".0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n";
        for _ in 0..(100_000_000 / line.len()) {
            f.write_all(line).expect("write");
        }
        f.flush().expect("flush");
    }
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["-S", &s.server(), "x@example.net"]);
    let (code, peak_kb, stderr) = run_watching_memory(cmd, &path);
    assert_eq!(code, 0, "{stderr}");
    // No progress bar: stderr is not a terminal.
    assert!(stderr.is_empty(), "{stderr}");
    assert!(
        peak_kb > 0 && peak_kb < 40 * 1024,
        "peak RSS {peak_kb} KiB for a 100 MB message"
    );
}
