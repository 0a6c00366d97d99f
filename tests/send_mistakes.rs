//! Issue 13: the mistakes a new user makes with smtp-send, each as typed,
//! each refused before anything is sent (or announced, where nothing is
//! wrong but nothing seems to happen).
//!
//! Free ports only, loopback only; every process is killed and reaped by a
//! guard; every wait has a deadline.

use std::process::Command;

use crate::peers::*;
use crate::send::{MSG, isolated, send};
use crate::util::*;

#[test]
fn bug_message_file_given_as_a_recipient() {
    // `smtp-send msg.eml` (for `< msg.eml`) with stdin not a terminal
    // sent an empty message to msg.eml@HOST.
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "msg.eml", MSG);
    let s = Recv::start(&[]);
    let mut cmd = Command::new(bin("smtp-send"));
    isolated(&mut cmd)
        .current_dir(dir.path())
        .args(["-S", &s.server(), "msg.eml"]);
    let r = run_cmd(cmd, b"");
    r.code(64).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("recipient \"msg.eml\" is a file")
            && r.stderr.contains("did you mean `< msg.eml`"),
        "{}",
        r.stderr
    );
    // A path too; an address with @ that happens to be a file name is an
    // address.
    let path = file.to_str().unwrap();
    send(&["-S", &s.server(), path], MSG).code(64);
    assert!(s.untraced().is_empty());
    let at = write_file(dir.path(), "me@example.org", b"");
    let mut cmd = Command::new(bin("smtp-send"));
    isolated(&mut cmd).current_dir(dir.path()).args([
        "-S",
        &s.server(),
        at.file_name().unwrap().to_str().unwrap(),
    ]);
    run_cmd(cmd, MSG).code(0);
    assert_eq!(s.untraced().len(), 1);
}

#[test]
fn bug_empty_input_is_not_a_message() {
    // 0 bytes (a generator that failed, a file given as an argument) is
    // refused, 65, unless --allow-empty.
    let s = Recv::start(&[]);
    let r = send(&["-S", &s.server(), "x@example.net"], b"");
    r.code(65).one_line_error("smtp-send");
    assert!(r.stderr.contains("the message is empty"), "{}", r.stderr);
    assert!(r.stderr.contains("--allow-empty"), "{}", r.stderr);
    send(&["--dry-run", "x@example.net"], b"").code(65);
    // --each: that file alone.
    let dir = tempfile::tempdir().unwrap();
    let empty = write_file(dir.path(), "empty.eml", b"");
    let r = send(&["-S", &s.server(), "--each", empty.to_str().unwrap()], b"");
    r.code(65);
    assert!(r.stderr.contains("empty.eml"), "{}", r.stderr);
    assert!(s.untraced().is_empty());
    send(&["-S", &s.server(), "--allow-empty", "x@example.net"], b"").code(0);
    let got = s.untraced();
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0]).contains("Message-ID:"));
}

/// Runs smtp-send on a pseudo-terminal (Python's pty module) typing
/// `typed` then Ctrl-D; what the terminal showed.
const PTY: &str = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
os.write(fd, sys.stdin.buffer.read().replace(b"\n", b"\r") + b"\x04")
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn reading_from_a_terminal_is_announced() {
    let Some(python) = peer("python3", "reading_from_a_terminal_is_announced") else {
        return;
    };
    let mut cmd = Command::new(python);
    isolated(&mut cmd)
        .args(["-c", PTY])
        .arg(bin("smtp-send"))
        .args(["--dry-run", "-f", "a@example.org", "b@example.net"]);
    let r = run_cmd(cmd, b"Subject: typed\n\nhello\n");
    let shown = r.stdout_str();
    r.code(0);
    assert!(
        shown.contains("smtp-send: reading the message from standard input; end it with Ctrl-D"),
        "{shown}"
    );
    assert!(shown.contains("Subject: typed"), "{shown}");
    // Not on a pipe: scripts see nothing new.
    let r = send(&["--dry-run", "-f", "a@example.org", "b@example.net"], MSG);
    r.code(0);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn bug_last_comma_first_in_a_recipient_field() {
    // `To: Doe, Jane <j@example.org>` went to Doe@HOST and j@example.org.
    let r = send(
        &["--dry-run", "-t"],
        b"From: a@example.org\nTo: Doe, Jane <j@example.org>\n\nhi\n",
    );
    r.code(65).one_line_error("smtp-send");
    assert!(
        r.stderr
            .contains("To: \"Doe\" and \"Jane\" are two addresses")
            && r.stderr.contains("\"Doe, Jane\" <j@example.org>"),
        "{}",
        r.stderr
    );
    // As an argument too (64).
    send(&["--dry-run", "Doe, Jane <j@example.org>"], MSG).code(64);
    // What is not that mistake still works: the quoted form, a local
    // account before a named mailbox, a bare word before a bare address.
    for (to, rcpts) in [
        ("\"Doe, Jane\" <j@example.org>", vec!["j@example.org"]),
        (
            "root, Bob <bob@example.org>",
            vec!["root@", "bob@example.org"],
        ),
        ("alice, bob@example.org", vec!["alice@", "bob@example.org"]),
    ] {
        let msg = format!("From: a@example.org\nTo: {to}\n\nhi\n");
        let r = send(&["--dry-run", "-t"], msg.as_bytes());
        r.code(0);
        let out = r.stdout_str();
        for want in rcpts {
            assert!(out.contains(&format!("RCPT TO:<{want}")), "{to}: {out}");
        }
    }
}

#[test]
fn msmtp_and_swaks_options_name_ours() {
    // Issue 13: an option of msmtp or swaks answers with the mailpipe
    // equivalent, not only clap's "unexpected argument"; exit 64.
    for (args, says) in [
        (
            &["--host=mail.example.org", "x@example.net"][..],
            "no --host option: use -S host:port",
        ),
        (&["--port", "587"], "no --port option: use -S host:port"),
        (
            &["--tls"],
            "no --tls option: TLS is the server URL's scheme",
        ),
        (
            &["--tls-starttls"],
            "no --tls-starttls option: use -S smtp+starttls://",
        ),
        (&["-C", "msmtprc"], "no -C option: use --config FILE"),
        (&["--file=msmtprc"], "no --file option: use --config FILE"),
        (&["--serverinfo"], "no --serverinfo option: use --probe"),
        (
            &["--read-envelope-from"],
            "no --read-envelope-from option: the sender is taken",
        ),
        (
            &["--password=s3cret"],
            "no --password option: passwords never go on the command line",
        ),
        (
            &["--to", "x@example.net"],
            "no --to option: recipients are operands",
        ),
    ] {
        let r = send(args, MSG);
        r.code(64).one_line_error("smtp-send");
        assert!(
            r.stderr.starts_with(&format!("smtp-send: {says}")),
            "{args:?}: {}",
            r.stderr
        );
        // A password given by mistake is never echoed.
        assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
    }
    let r = send(&["-S", "127.0.0.1:9", "--auth=on", "x@example.net"], MSG);
    r.code(64).one_line_error("smtp-send");
    assert!(
        r.stderr
            .contains("AUTH is used when a user is given (--user)"),
        "{}",
        r.stderr
    );
    // An option no one has is clap's error, as before.
    let r = send(&["--no-such-option"], MSG);
    r.code(64).one_line_error("smtp-send");
    assert!(r.stderr.contains("unexpected argument"), "{}", r.stderr);
}

#[test]
fn probe_failures_do_not_say_not_sent() {
    // Issue 13: --probe sends nothing, yet its failures ended "(not sent)".
    let port = free_port();
    let server = format!("127.0.0.1:{port}");
    let r = send(&["-S", &server, "--probe"], b"");
    r.code(75).one_line_error("smtp-send");
    assert!(!r.stderr.contains("not sent"), "{}", r.stderr);
    assert!(r.stderr.contains("check -S"), "{}", r.stderr);
    let r = send(&["-S", &server, "x@example.net"], MSG);
    r.code(75);
    assert!(r.stderr.contains("(not sent: check -S"), "{}", r.stderr);
    // A TLS failure: the same words, "(not sent)" only when sending.
    let c = certs();
    let s = Recv::start(&c.recv_args());
    let url = format!("smtp+starttls://{}", s.server());
    let r = send(&["-S", &url, "--probe"], b"");
    r.code(77).one_line_error("smtp-send");
    assert!(!r.stderr.contains("not sent"), "{}", r.stderr);
    let r = send(&["-S", &url, "x@example.net"], MSG);
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.trim_end().ends_with("(not sent)"), "{}", r.stderr);
}

#[test]
fn bug_line_breaks_and_a_bad_helo_are_named_before_connecting() {
    // Issue 17, finding 7: CRLF in a recipient said "unexpected '@' at
    // byte 1"; `--helo 'h x'` was checked only after connecting, and sent
    // as written. Now each is a usage error that names it, and the server
    // never hears from us.
    let s = Recv::start(&[]);
    let server = s.server();
    for (args, says) in [
        (
            vec!["-S", &server, "a@example.org\r\nRCPT TO:<x@example.net>"],
            "line break in an address",
        ),
        (
            vec!["-S", &server, "-f", "me@example.org\nx", "a@example.org"],
            "line break in an address",
        ),
        (
            vec!["-S", &server, "--helo", "h x", "a@example.org"],
            "want a domain name or an address literal",
        ),
        (
            vec![
                "-S",
                &server,
                "--helo",
                "h\r\nMAIL FROM:<x@y>",
                "a@example.org",
            ],
            "want a domain name or an address literal",
        ),
        (
            vec!["-S", &server, "--helo", "[300.1.1.1]", "a@example.org"],
            "want a domain name or an address literal",
        ),
    ] {
        let r = send(&args, MSG);
        r.code(64).one_line_error("smtp-send");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // Address literals are names too (RFC 5321 §4.1.3).
    for helo in ["[192.0.2.1]", "[IPv6:2001:db8::1]", "client.example.org"] {
        send(&["-S", &server, "--helo", helo, "a@example.org"], MSG).code(0);
    }
    assert_eq!(s.messages().len(), 3);
}
