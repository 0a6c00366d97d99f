//! `smtp-send --each`: many messages over one connection, a result for
//! each file; mbox files and Maildir folders written by Python's mailbox
//! module and by our smtp-recv; a bad operand does not stop the rest. (With
//! `--queue` in send_queue, with `--mx` in send_mx, with `--downgrade` in
//! send_downgrade.)
//!
//! smtp-recv listens on free loopback ports; every process is killed and
//! reaped by a guard; every wait has a deadline.

use std::process::Command;

use crate::peers::*;
use crate::send::send;
use crate::util::*;

#[test]
fn each_sends_many_over_one_connection_and_reports_per_file() {
    let s = Recv::start(&["--reply", "rcpt:bad*=550 unknown"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for i in 0..5 {
        let to = if i == 2 {
            "bad@example.net"
        } else {
            "ok@example.net"
        };
        let msg = format!("From: a@example.org\nTo: {to}\nSubject: {i}\n\nmessage {i}\n");
        files.push(write_file(dir.path(), &format!("{i}.eml"), msg.as_bytes()));
    }
    let mut args: Vec<String> = vec!["-S".into(), s.server(), "--each".into(), "-v".into()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    args.push("/nonexistent/x.eml".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = send(&args, b"");
    r.code(67);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("smtp-send: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", r.stderr);
    assert!(
        errors[0].contains("2.eml") && errors[1].contains("/nonexistent/x.eml"),
        "{errors:?}"
    );
    assert_eq!(r.stderr.matches("C: EHLO").count(), 1, "one connection");
    assert_eq!(s.untraced().len(), 4);
}

/// Python's mailbox module writes an mbox (From quoting, mboxo style) and a
/// Maildir; smtp-send --each sends every message, unquoted, in order.
const PY_MAILBOXES: &str = r#"
import mailbox, sys
box = mailbox.mbox(sys.argv[1])
for i, body in enumerate(["first\nFrom here on\n", "second\n\n", "third\nno final newline"]):
    m = mailbox.mboxMessage("From: a@a.example\nTo: b@b.example\nSubject: mbox %d\n\n%s" % (i, body))
    m.set_from("a@a.example", True)
    box.add(m)
box.flush()
md = mailbox.Maildir(sys.argv[2], create=True)
for i in range(2):
    md.add("From: a@a.example\nTo: c@c.example\nSubject: maildir %d\n\nmd %d\n" % (i, i))
"#;

fn body(stored: &[u8]) -> String {
    let text = String::from_utf8_lossy(stored).replace("\r\n", "\n");
    text.split_once("\n\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn subject(stored: &[u8]) -> String {
    let text = String::from_utf8_lossy(stored).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
        .to_owned()
}

#[test]
fn each_reads_an_mbox_and_a_maildir_written_by_python() {
    let Some(python) = peer(
        "python3",
        "each_reads_an_mbox_and_a_maildir_written_by_python",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (mbox, md) = (tmp.path().join("box"), tmp.path().join("md"));
    let st = Command::new(python)
        .args(["-c", PY_MAILBOXES])
        .arg(&mbox)
        .arg(&md)
        .status()
        .expect("python3");
    assert!(st.success());
    let recv = Recv::start(&[]);
    let r = send(
        &[
            "-S",
            &recv.server(),
            "--each",
            mbox.to_str().unwrap(),
            md.to_str().unwrap(),
        ],
        b"",
    );
    r.code(0);
    let got = recv.messages();
    assert_eq!(got.len(), 5, "{}", r.stderr);
    let mut subjects: Vec<String> = got.iter().map(|m| subject(m)).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        ["maildir 0", "maildir 1", "mbox 0", "mbox 1", "mbox 2"]
    );
    let by = |s: &str| {
        got.iter()
            .find(|m| subject(m) == s)
            .map(|m| body(m))
            .unwrap()
    };
    assert_eq!(by("mbox 0"), "first\nFrom here on\n");
    assert_eq!(by("mbox 1"), "second\n\n");
    assert_eq!(by("mbox 2"), "third\nno final newline\n");
    assert_eq!(by("maildir 1"), "md 1\n");
}

/// smtp-recv --mbox (our mboxrd writer) as the peer: what it stored, sent
/// again with --each, arrives with the same bodies (>From lines intact).
#[test]
fn each_reads_back_what_smtp_recv_mbox_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let mbox = tmp.path().join("box");
    let bodies = [
        "From the start\n>From quoted\n>>From twice\nplain\n",
        "\n\nblank lines first\n\n",
        ".dot\n..two\n",
    ];
    {
        let first = Recv::start(&["--mbox", mbox.to_str().unwrap()]);
        for (i, b) in bodies.iter().enumerate() {
            let m = format!("From: a@a.example\nTo: b@b.example\nSubject: {i}\n\n{b}");
            send(&["-S", &first.server(), "-t"], m.as_bytes()).code(0);
        }
    }
    let second = Recv::start(&[]);
    let r = send(
        &["-S", &second.server(), "--each", mbox.to_str().unwrap()],
        b"",
    );
    r.code(0);
    let got = second.messages();
    assert_eq!(got.len(), 3, "{}", r.stderr);
    for (i, b) in bodies.iter().enumerate() {
        let m = got
            .iter()
            .find(|m| subject(m) == i.to_string())
            .expect("message");
        assert_eq!(body(m), *b, "message {i}");
    }
}

#[test]
fn each_with_a_bad_operand_sends_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let plain_dir = tmp.path().join("plain");
    std::fs::create_dir(&plain_dir).unwrap();
    let mbox = tmp.path().join("box");
    std::fs::write(&mbox, b"From x\nFrom: a@a.example\nTo: b@b.example\n\nx\n").unwrap();
    let recv = Recv::start(&[]);
    let r = send(
        &[
            "-S",
            &recv.server(),
            "--each",
            plain_dir.to_str().unwrap(),
            "/nonexistent/box",
            mbox.to_str().unwrap(),
        ],
        b"",
    );
    r.code(66);
    assert_eq!(r.stderr.lines().count(), 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a Maildir"), "{}", r.stderr);
    assert_eq!(recv.messages().len(), 1);
}
