//! smtp-send's queue (`--queue`, `--flush`, `--list`, `--drop`,
//! `--max-age`) against our smtp-recv on free loopback ports (with its
//! failure and delay injection), and `--each` over mbox files and Maildir
//! folders. Every process is killed and reaped by a guard; every wait has a
//! deadline.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::peers::*;
use crate::send::send;
use crate::util::*;

const PATIENCE: Duration = Duration::from_secs(30);

fn msg(n: usize) -> Vec<u8> {
    format!(
        "From: a@a.example\nTo: b@b.example\nSubject: queued {n}\nMessage-ID: <{n}@a.example>\n\nhello {n}\n"
    )
    .into_bytes()
}

/// Queued message ids in `q` (not tmp/, failed/ or state files).
pub(crate) fn queued(q: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(q)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".state") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn failed(q: &Path) -> Vec<String> {
    queued(&q.join("failed"))
}

/// Queues `n` messages while nothing listens.
fn queue_while_down(q: &Path, n: usize) {
    let down = format!("127.0.0.1:{}", free_port());
    for i in 0..n {
        let r = send(
            &["-S", &down, "--queue", q.to_str().unwrap(), "-t"],
            &msg(i),
        );
        r.code(0);
        assert!(r.stderr.contains("queued as"), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    assert_eq!(queued(q).len(), n);
}

fn flush(q: &Path, server: &str, extra: &[&str]) -> Run {
    let mut args = vec!["-S", server, "--flush", q.to_str().unwrap()];
    args.extend_from_slice(extra);
    send(&args, b"")
}

#[test]
fn server_down_then_back_delivers_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    queue_while_down(&q, 2);
    let listed = send(&["--list", q.to_str().unwrap()], b"");
    listed.code(0);
    let text = listed.stdout_str();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("<a@a.example> -> <b@b.example>"), "{text}");
    assert!(text.contains("connection refused"), "{text}");
    // Not due yet (5 minutes): a flush leaves them and says 75, and (issue
    // 12: it said nothing) one line on what waits and how to send now.
    let recv = Recv::start(&[]);
    let r = flush(&q, &recv.server(), &[]);
    r.code(75).one_line_error("smtp-send");
    assert!(
        r.stderr
            .contains("2 messages not due yet; the next attempt is in 4m")
            || r.stderr
                .contains("2 messages not due yet; the next attempt is in 5m"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.trim_end().ends_with("--force sends now"),
        "{}",
        r.stderr
    );
    assert!(recv.messages().is_empty());
    // --force: all now, over one connection.
    let r = flush(&q, &recv.server(), &["--force", "--json"]);
    r.code(0);
    let lines: Vec<serde_json::Value> = r
        .stdout_str()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines.iter().all(|v| v["status"] == "delivered"),
        "{lines:?}"
    );
    assert!(queued(&q).is_empty());
    let got = recv.messages();
    assert_eq!(got.len(), 2);
    assert!(String::from_utf8_lossy(&got[0]).contains("hello"));
    // Again: nothing left, nothing sent twice.
    flush(&q, &recv.server(), &["--force"]).code(0);
    assert_eq!(recv.messages().len(), 2);
    assert!(send(&["--list", q.to_str().unwrap()], b"").ok().is_empty());
}

#[test]
fn reply_451_is_queued_and_the_text_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let busy = Recv::start(&["--reply", "dot=451 4.3.0 try later"]);
    let r = send(
        &["-S", &busy.server(), "--queue", q.to_str().unwrap(), "-t"],
        &msg(1),
    );
    r.code(0);
    assert!(r.stderr.contains("451"), "{}", r.stderr);
    assert_eq!(queued(&q).len(), 1);
    // RCPT 4xx too.
    let r = send(
        &[
            "-S",
            &Recv::start(&["--reply", "rcpt=450 busy"]).server(),
            "--queue",
            q.to_str().unwrap(),
            "-t",
        ],
        &msg(2),
    );
    r.code(0);
    assert_eq!(queued(&q).len(), 2);
    let good = Recv::start(&[]);
    flush(&q, &good.server(), &["--force"]).code(0);
    assert_eq!(good.messages().len(), 2);
}

#[test]
fn permanent_failures_are_never_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let qs = q.to_str().unwrap();
    let r = send(
        &[
            "-S",
            &Recv::start(&["--reply", "rcpt=550 5.1.1 unknown"]).server(),
            "--queue",
            qs,
            "-t",
        ],
        &msg(1),
    );
    r.code(67);
    let r = send(
        &[
            "-S",
            &Recv::start(&["--reply", "dot=554 5.6.0 no"]).server(),
            "--queue",
            qs,
            "-t",
        ],
        &msg(2),
    );
    r.code(69);
    assert!(queued(&q).is_empty());
}

#[test]
fn max_age_moves_to_failed_with_the_last_reply() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    queue_while_down(&q, 1);
    thread::sleep(Duration::from_millis(1100));
    let busy = Recv::start(&["--reply", "rcpt=452 4.2.2 mailbox full"]);
    let r = flush(
        &q,
        &busy.server(),
        &["--max-age", "1s", "--json", "--force"],
    );
    r.code(0);
    assert!(r.stderr.contains("expired"), "{}", r.stderr);
    assert!(queued(&q).is_empty());
    assert_eq!(failed(&q).len(), 1);
    let list = send(&["--list", q.to_str().unwrap(), "--json"], b"");
    let v: serde_json::Value = serde_json::from_str(list.stdout_str().trim()).expect("json");
    assert_eq!(v["state"], "failed");
    assert!(v["reply"].as_str().unwrap().contains("452"), "{v}");
    // Bad --max-age: 64.
    flush(&q, &busy.server(), &["--max-age", "soon"]).code(64);
}

#[test]
fn two_concurrent_flushes_send_each_message_once() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    queue_while_down(&q, 6);
    // Each message takes a while at the end of data: the flushes overlap.
    let recv = Recv::start(&["--delay", "dot=0.2"]);
    let spawn = || {
        Command::new(bin("smtp-send"))
            .args(["-S", &recv.server(), "--force", "--flush"])
            .arg(&q)
            .env("NETRC", "/nonexistent/netrc")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let errs = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(recv.messages().len(), 6, "{errs}");
    assert!(queued(&q).is_empty(), "{errs}");
    assert_eq!(errs.matches(": delivered").count(), 6, "{errs}");
}

#[test]
fn a_flush_killed_before_the_reply_leaves_the_message_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    queue_while_down(&q, 1);
    let slow = Recv::start(&["--delay", "dot=20"]);
    let mut child = Guard(
        Command::new(bin("smtp-send"))
            .args(["-S", &slow.server(), "--force", "--flush"])
            .arg(&q)
            .env("NETRC", "/nonexistent/netrc")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    // Wait until the whole message arrived: smtp-recv stored it and holds
    // its reply to the end of data (the at-least-once window, from the
    // server's side).
    let start = Instant::now();
    while slow.messages().is_empty() {
        assert!(start.elapsed() < PATIENCE, "the message never arrived");
        thread::sleep(Duration::from_millis(20));
    }
    child.0.kill().expect("kill -9");
    child.0.wait().expect("reap");
    assert_eq!(queued(&q).len(), 1, "the message was lost");
    // The lock died with the process: the next flush sends it (again: the
    // documented at-least-once case, since no 250 was seen).
    let good = Recv::start(&[]);
    flush(&q, &good.server(), &["--force"]).code(0);
    assert_eq!(good.messages().len(), 1);
    assert!(queued(&q).is_empty());
}

#[test]
fn list_and_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let qs = q.to_str().unwrap();
    queue_while_down(&q, 2);
    let ids = queued(&q);
    send(&["--queue", qs, "--drop", &ids[0]], b"").code(0);
    assert_eq!(queued(&q), ids[1..]);
    let r = send(&["--queue", qs, "--drop", &ids[0]], b"");
    r.code(66).one_line_error("smtp-send");
    let r = send(&["--queue", qs, "--drop", "../../etc/passwd"], b"");
    r.code(66).one_line_error("smtp-send");
    // --drop needs a queue directory; --list of a missing directory.
    send(&["--drop", &ids[1]], b"").code(64);
    send(&["--list", "/nonexistent/q"], b"")
        .code(66)
        .one_line_error("smtp-send");
    let json = send(&["--list", qs, "--json"], b"");
    let v: serde_json::Value = serde_json::from_str(json.stdout_str().trim()).expect("json");
    assert_eq!(v["id"], ids[1].as_str());
    assert_eq!(v["attempts"], 1);
    assert_eq!(v["to"][0], "b@b.example");
    // `--drop ID DIR`, as --list DIR and --flush DIR take it (issue 13).
    send(&["--drop", &ids[1], qs, "x"], b"").code(64);
    send(&["--drop", &ids[1], qs], b"").code(0);
    assert!(queued(&q).is_empty());
}

#[test]
fn corrupt_queue_files_are_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    queue_while_down(&q, 1);
    let w = |name: &str, data: &[u8]| std::fs::write(q.join(name), data).unwrap();
    w("1.garbage", &pseudo_random(5000, 3));
    w("2.empty", b"");
    w("3.version", b"mailpipe-queue 9\ncreated 1\n\n");
    w(
        "4.truncated",
        b"mailpipe-queue 1\ncreated 1\nfrom <a@b>\nrcpt <c@",
    );
    w(
        "5.injection",
        b"mailpipe-queue 1\ncreated 1\nfrom <a@b>\nrcpt <c@d>\r\nDATA\n\nx\n",
    );
    let mut huge = b"mailpipe-queue 1\ncreated 1\nreply ".to_vec();
    huge.resize(20 * 1024 * 1024, b'x');
    w("6.huge", &huge);
    std::os::unix::fs::symlink("/etc/passwd", q.join("7.symlink")).unwrap();
    w("8.state", b"garbage");
    // A valid head, but a message that cannot be sent (a 2000-octet line):
    // given up, moved to failed/ with the reason.
    let unsendable = format!(
        "mailpipe-queue 1\ncreated 1\nfrom <a@b.example>\nrcpt <c@d.example>\nreply x\n\nSubject: s\n\n{}\n",
        "x".repeat(2000)
    );
    w("9.unsendable", unsendable.as_bytes());
    w("bad name", b"x");
    let recv = Recv::start(&[]);
    let r = flush(&q, &recv.server(), &["--force"]);
    r.code(0);
    assert_eq!(recv.messages().len(), 1, "{}", r.stderr);
    for n in [
        "1.garbage",
        "2.empty",
        "3.version",
        "4.truncated",
        "5.injection",
        "6.huge",
        "7.symlink",
        "bad name",
    ] {
        let lines: Vec<&str> = r.stderr.lines().filter(|l| l.contains(n)).collect();
        assert_eq!(lines.len(), 1, "{n}: {}", r.stderr);
        assert!(lines[0].starts_with("smtp-send: warning: "), "{}", lines[0]);
    }
    assert_eq!(failed(&q), ["9.unsendable"]);
    assert!(r.stderr.contains("9.unsendable: failed: "), "{}", r.stderr);
    let l = send(&["--list", q.to_str().unwrap()], b"");
    l.code(0);
    let text = l.stdout_str();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("failed") && text.contains("998"), "{text}");
}

#[test]
fn queue_flags_are_checked() {
    send(&["--flush", "/tmp/x", "--queue", "/tmp/y"], b"").code(64);
    send(&["--force"], b"").code(64);
    send(&["--max-age", "1d"], b"").code(64);
}

#[test]
fn bug_flush_needs_a_server_only_for_messages_due() {
    // An empty queue (cron's `--flush DIR` without SMTP_SERVER): nothing to
    // send needs no server.
    let tmp = tempfile::tempdir().unwrap();
    let qs = tmp.path().to_str().unwrap();
    let r = send(&["--flush", qs], b"");
    r.code(0);
    assert_eq!(r.stderr, "");
    // A message due and no server: 78, one line, the message still queued.
    queue_while_down(tmp.path(), 1);
    send(&["--flush", qs, "--force"], b"")
        .code(78)
        .one_line_error("smtp-send");
    assert_eq!(queued(tmp.path()).len(), 1);
    assert!(failed(tmp.path()).is_empty());
    // A bad --max-age is a usage error before the queue or the server are
    // looked at.
    let r = send(&["--flush", "/nonexistent/q", "--max-age", "soon"], b"");
    r.code(64);
    assert!(r.stderr.contains("--max-age"), "{}", r.stderr);
}

#[test]
fn each_with_queue_queues_the_deferred_and_reports_the_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let file = |name: &str, to: &str| {
        let p = tmp.path().join(name);
        let text = format!("From: a@a.example\nTo: {to}\nSubject: {name}\n\nbody\n");
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let (ok, later, bad) = (
        file("ok", "b@b.example"),
        file("later", "c@c.example"),
        file("bad", "bad@b.example"),
    );
    let recv = Recv::start(&[
        "--reply",
        "rcpt:c@*=451 4.7.1 greylisted",
        "--reply",
        "rcpt:bad@*=550 5.1.1 unknown",
    ]);
    let r = send(
        &[
            "-S",
            &recv.server(),
            "--queue",
            q.to_str().unwrap(),
            "--each",
            &ok,
            &later,
            &bad,
            "--json",
        ],
        b"",
    );
    r.code(67);
    assert_eq!(recv.messages().len(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("queued as"), "{}", r.stderr);
    assert!(r.stderr.contains("greylisted"), "{}", r.stderr);
    assert!(r.stderr.contains("unknown"), "{}", r.stderr);
    assert_eq!(r.stdout_str().lines().count(), 3, "{}", r.stdout_str());
    // Only the greylisted one waits, tried once.
    let list = send(&["--list", q.to_str().unwrap(), "--json"], b"");
    let v: serde_json::Value = serde_json::from_str(list.stdout_str().trim()).expect("one entry");
    assert_eq!(v["to"][0], "c@c.example");
    assert_eq!(v["attempts"], 1);
    assert!(failed(&q).is_empty());
    let good = Recv::start(&[]);
    flush(&q, &good.server(), &["--force"]).code(0);
    assert_eq!(good.messages().len(), 1);
}

// ------------------------------------------- the queue with the other modes

#[test]
fn each_with_queue_keeps_every_message_while_the_server_is_down() {
    // The first message meets the refused connection, the others are not
    // tried: all stay queued (none dropped), exit 0.
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let files: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = tmp.path().join(format!("{i}.eml"));
            std::fs::write(&p, msg(i)).unwrap();
            p
        })
        .collect();
    let down = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["-S", &down, "--queue", q.to_str().unwrap(), "--each"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let r = send(&args, b"");
    r.code(0);
    assert_eq!(queued(&q).len(), 3, "{}", r.stderr);
    let recv = Recv::start(&[]);
    flush(&q, &recv.server(), &["--force"]).code(0);
    assert_eq!(recv.messages().len(), 3);
    assert!(queued(&q).is_empty());
}

#[test]
fn downgrade_applies_when_a_queued_message_is_flushed() {
    // Queued with --downgrade while down (8-bit, and a line over 998
    // octets), flushed with --downgrade to a server without 8BITMIME.
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let long = "x".repeat(1200);
    let text = format!(
        "From: a@a.example\nTo: b@b.example\nSubject: 8bit\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
         caf\u{e9}\n{long}\n"
    );
    let down = format!("127.0.0.1:{}", free_port());
    let qs = q.to_str().unwrap();
    send(
        &["-S", &down, "--queue", qs, "--downgrade", "-t"],
        text.as_bytes(),
    )
    .code(0);
    assert_eq!(queued(&q).len(), 1);
    let recv = Recv::start(&["--no-8bitmime"]);
    let r = flush(&q, &recv.server(), &["--force", "--downgrade"]);
    r.code(0);
    let got = recv.messages();
    assert_eq!(got.len(), 1, "{}", r.stderr);
    assert!(got[0].is_ascii());
    assert!(
        String::from_utf8_lossy(&got[0]).contains("quoted-printable"),
        "{}",
        String::from_utf8_lossy(&got[0])
    );
}

#[test]
fn bug_flush_and_drop_of_a_missing_queue_directory_are_66() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("typo");
    let qs = q.to_str().unwrap();
    let down = format!("127.0.0.1:{}", free_port());
    let want = format!("smtp-send: {qs}: no such queue directory\n");
    let r = send(&["-S", &down, "--flush", qs], b"");
    r.code(66).one_line_error("smtp-send");
    assert_eq!(r.stderr, want);
    assert!(!q.exists(), "--flush created {qs}");
    let r = send(&["--queue", qs, "--drop", "1.2.3.4"], b"");
    r.code(66).one_line_error("smtp-send");
    assert_eq!(r.stderr, want);
    assert!(!q.exists(), "--drop created {qs}");
    // --queue, which stores, still creates it (0700).
    queue_while_down(&q, 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&q).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// Issue 14: the one line `--queue` says on stderr for a queued message,
/// with its reason; the run's last line when it still fails.
fn queued_line(r: &Run) -> &str {
    r.stderr
        .lines()
        .find(|l| l.contains(": queued as "))
        .unwrap_or_else(|| panic!("no 'queued as' line: {}", r.stderr))
}

#[test]
fn auth_refused_is_queued_then_flushed_once_the_password_is_fixed() {
    // An expired password (535) no longer loses the mail: queued with
    // its reason, deferred (not failed) by a flush that still meets it,
    // delivered once by the flush after the fix.
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let qs = q.to_str().unwrap();
    let users = write_file(tmp.path(), "users", b"me:s3cret\n");
    let pw = write_file(tmp.path(), "pw", b"expired\n");
    let c = certs();
    let recv = Recv::start(
        &[
            &c.recv_args()[..],
            &["--auth-file", users.to_str().unwrap()],
        ]
        .concat(),
    );
    let url = format!("smtp+starttls://{}", recv.server());
    let auth = [
        "-S",
        &url,
        "--ca-file",
        c.cert.to_str().unwrap(),
        "--user",
        "me",
        "--password-file",
        pw.to_str().unwrap(),
    ];
    let r = send(&[&auth[..], &["--queue", qs, "-t"]].concat(), &msg(1));
    r.code(0);
    assert!(queued_line(&r).contains("535"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("expired"),
        "the password shown: {}",
        r.stderr
    );
    assert_eq!(queued(&q).len(), 1);
    let listed = send(&["--list", qs], b"");
    assert!(
        listed.stdout_str().contains("535"),
        "{}",
        listed.stdout_str()
    );
    // Still refused: deferred, kept, not moved to failed/.
    let r = send(&[&auth[..], &["--flush", qs, "--force"]].concat(), b"");
    r.code(75);
    assert!(
        r.stderr.contains("deferred") && r.stderr.contains("535"),
        "{}",
        r.stderr
    );
    assert_eq!((queued(&q).len(), failed(&q).len()), (1, 0));
    assert!(recv.messages().is_empty());
    std::fs::write(&pw, "s3cret\n").unwrap();
    send(&[&auth[..], &["--flush", qs, "--force"]].concat(), b"").code(0);
    send(&[&auth[..], &["--flush", qs, "--force"]].concat(), b"").code(0);
    assert_eq!(recv.messages().len(), 1);
    assert!(queued(&q).is_empty());
}

#[test]
fn tls_verification_and_password_command_failures_are_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let qs = q.to_str().unwrap();
    let c = certs();
    let recv = Recv::start(&c.recv_args());
    let url = format!("smtp+starttls://{}", recv.server());
    // A certificate that does not verify (no --ca-file for it): 77 before,
    // now queued, and the flush with the trust anchor delivers it.
    let r = send(&["-S", &url, "--queue", qs, "-t"], &msg(1));
    r.code(0);
    assert!(queued_line(&r).contains("TLS"), "{}", r.stderr);
    // The password command fails: queued with its reason.
    let users = write_file(tmp.path(), "users", b"me:pw\n");
    let authed = Recv::start(
        &[
            &c.recv_args()[..],
            &["--auth-file", users.to_str().unwrap()],
        ]
        .concat(),
    );
    let aurl = format!("smtp+starttls://{}", authed.server());
    let ca = c.cert.to_str().unwrap();
    let r = send(
        &[
            "-S",
            &aurl,
            "--ca-file",
            ca,
            "--user",
            "me",
            "--password-cmd",
            "exit 1",
            "--queue",
            qs,
            "-t",
        ],
        &msg(2),
    );
    r.code(0);
    assert!(queued_line(&r).contains("password command"), "{}", r.stderr);
    assert_eq!(queued(&q).len(), 2);
    // A refusal of the sender is final: not queued.
    let refusing = Recv::start(&["--reply", "mail=550 5.7.1 not you"]);
    send(&["-S", &refusing.server(), "--queue", qs, "-t"], &msg(3)).code(69);
    assert_eq!(queued(&q).len(), 2);
    let r = send(
        &["-S", &url, "--ca-file", ca, "--flush", qs, "--force"],
        b"",
    );
    r.code(0);
    assert_eq!(recv.messages().len(), 2);
}

#[test]
fn a_configuration_error_is_78_and_the_message_is_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let qs = q.to_str().unwrap();
    // No server anywhere: 78, said once, and the message waits.
    let r = send(&["--queue", qs, "-t"], &msg(1));
    r.code(78);
    assert!(queued_line(&r).contains("no server"), "{}", r.stderr);
    assert!(
        r.stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("smtp-send: no server"),
        "{}",
        r.stderr
    );
    // A configuration file that does not parse, --queue on the command line.
    let bad = write_file(tmp.path(), "config.toml", b"[default\nserver = \n");
    let r = send(
        &["--config", bad.to_str().unwrap(), "--queue", qs, "-t"],
        &msg(2),
    );
    r.code(78);
    assert!(queued_line(&r).contains("config.toml"), "{}", r.stderr);
    assert_eq!(queued(&q).len(), 2);
    // --each: every message queued, the run still 78.
    let m3 = write_file(tmp.path(), "m3", &msg(3));
    let r = send(&["--queue", qs, "--each", m3.to_str().unwrap()], b"");
    r.code(78);
    assert_eq!(queued(&q).len(), 3, "{}", r.stderr);
    let recv = Recv::start(&[]);
    flush(&q, &recv.server(), &["--force"]).code(0);
    assert_eq!(recv.messages().len(), 3);
}
